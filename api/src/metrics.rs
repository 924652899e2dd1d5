//! Prometheus metrics: requests by method, route pattern and status, their latency, the
//! connection pool, and the audit entries waiting to be sealed. Nothing personal: route
//! patterns, never paths with ids.

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry};

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pool_connections: IntGauge,
    pool_idle: IntGauge,
    audit_unsealed: IntGauge,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("faltlogg".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "Requests answered, by route pattern and status",
            ),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time to answer, by route pattern",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
            &["method", "route"],
        )?;
        let pool_connections = IntGauge::new("db_pool_connections", "Database connections open")?;
        let pool_idle = IntGauge::new("db_pool_idle_connections", "Database connections idle")?;
        let audit_unsealed = IntGauge::new(
            "audit_unsealed_entries",
            "Audit entries written but not yet sealed into the hash chain",
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(pool_connections.clone()))?;
        registry.register(Box::new(pool_idle.clone()))?;
        registry.register(Box::new(audit_unsealed.clone()))?;
        Ok(Self {
            registry,
            requests,
            latency,
            pool_connections,
            pool_idle,
            audit_unsealed,
        })
    }

    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .with_label_values(&[method, route, &status.to_string()])
            .inc();
        self.latency
            .with_label_values(&[method, route])
            .observe(seconds);
    }

    /// The text exposition, with the gauges read now.
    pub fn render(
        &self,
        pool: (u32, u32),
        audit_unsealed: u64,
    ) -> Result<String, prometheus::Error> {
        self.pool_connections.set(i64::from(pool.0));
        self.pool_idle.set(i64::from(pool.1));
        self.audit_unsealed
            .set(i64::try_from(audit_unsealed).unwrap_or(i64::MAX));
        let mut out = Vec::new();
        prometheus::TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        String::from_utf8(out).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}
