//! A login storm (a shift change where every phone signs in at once) and, during it, what
//! the rest of the server still answers: `/healthz` and single-record logging.
//!
//! Every login uses the right password, so the throttle on failed logins never applies.
//! A client turned away with 503 (every password-hashing slot busy) waits for its
//! Retry-After as the API asks; the 503s are counted on their own.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::Result;
use crate::api::Api;
use crate::load::{self, Outcome};
use crate::logging::{describe, encounter_request};
use crate::stats::{opt_ms, rate_of, thousands};
use crate::table::Row;

pub const CLIENTS: usize = 32;
/// How often the health probe asks.
const PROBE_EVERY: Duration = Duration::from_millis(10);

pub async fn run(
    api: &Api,
    usernames: &[String],
    logging_token: &str,
    shift_id: &str,
    duration: Duration,
) -> Result<Vec<Row>> {
    let accounts = usernames.len();
    let usernames: Arc<[String]> = usernames.into();
    let next = Arc::new(AtomicUsize::new(0));
    let storm_api = api.clone();
    let logins = load::closed_loop(CLIENTS, duration, 200, move || {
        let n = next.fetch_add(1, Ordering::Relaxed);
        let username = usernames
            .get(n % usernames.len().max(1))
            .map_or("", String::as_str);
        storm_api.login_request(username, &format!("bench storm {n}"))
    });
    let client = api.client.clone();
    let healthz = api.url("/healthz");
    let probe = load::probe(duration, PROBE_EVERY, move || client.get(&healthz));
    let logging = load::closed_loop(
        1,
        duration,
        201,
        encounter_request(api, logging_token, shift_id)?,
    );
    let (logins, probe, logging) = tokio::join!(logins, probe, logging);
    let (logins, probe, logging) = (logins?, probe?, logging?);
    eprintln!(
        "  storm: {} · healthz p99 {} · logging {}",
        describe_logins(&logins),
        opt_ms(probe.latencies.p99()),
        describe(&logging)
    );
    let healthz_p99 = probe.latencies.p99();
    Ok(vec![
        Row::new(
            format!("Login storm: {CLIENTS} clients, {accounts} accounts"),
            describe_logins(&logins),
        ),
        Row::new(
            "`GET /healthz` during the storm (one probe every 10 ms)",
            format!(
                "p50 {} · p99 {} · max {} ({} probes{})",
                opt_ms(probe.latencies.median()),
                opt_ms(healthz_p99),
                opt_ms(probe.latencies.max()),
                thousands(probe.latencies.len() as u64),
                match probe.failures().as_str() {
                    "none" => String::new(),
                    failures => format!(", failed: {failures}"),
                }
            ),
        )
        .target(
            "p99 < 5 ms",
            healthz_p99.is_some_and(|p99| p99 < Duration::from_millis(5))
                && probe.failures() == "none",
        ),
        Row::new(
            "Logging, concurrency 1, during the storm",
            describe(&logging),
        ),
    ])
}

fn describe_logins(logins: &Outcome) -> String {
    let busy = logins.count(503);
    let mut text = format!(
        "{} · p50 {} · p99 {} · 503 busy ×{}",
        rate_of(logins.throughput(), "logins"),
        opt_ms(logins.latencies.median()),
        opt_ms(logins.latencies.p99()),
        thousands(busy),
    );
    let others: Vec<String> = logins
        .other
        .iter()
        .filter(|(status, _)| **status != 503)
        .map(|(status, n)| format!("{status}×{n}"))
        .collect();
    if !others.is_empty() || logins.transport_errors > 0 {
        text.push_str(&format!(
            " · other failures: {}{}",
            others.join(", "),
            if logins.transport_errors > 0 {
                format!(" no answer×{}", logins.transport_errors)
            } else {
                String::new()
            }
        ));
    }
    text
}
