//! A closed-loop load generator: a fixed number of clients, each sending its next request
//! as soon as the last one was answered, for a fixed time. Throughput is then what the
//! server sustains at that concurrency, and latency is what each client waited.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::Result;
use crate::stats::Latencies;

pub struct Outcome {
    pub elapsed: Duration,
    /// Answers with the status the step expects.
    pub ok: u64,
    /// Every other answer, by status.
    pub other: BTreeMap<u16, u64>,
    /// Requests that got no answer (refused, reset, timed out).
    pub transport_errors: u64,
    /// Of every answer with the expected status, body read to the end (a 503 turned away
    /// at once would otherwise pass for a fast request).
    pub latencies: Latencies,
}

impl Outcome {
    pub fn throughput(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    pub fn count(&self, status: u16) -> u64 {
        self.other.get(&status).copied().unwrap_or(0)
    }

    /// `none`, or e.g. `503×12, no answer×1`.
    pub fn failures(&self) -> String {
        let mut parts: Vec<String> = self
            .other
            .iter()
            .map(|(status, n)| format!("{status}×{n}"))
            .collect();
        if self.transport_errors > 0 {
            parts.push(format!("no answer×{}", self.transport_errors));
        }
        if parts.is_empty() {
            "none".to_owned()
        } else {
            parts.join(", ")
        }
    }
}

struct Client {
    ok: u64,
    other: BTreeMap<u16, u64>,
    transport_errors: u64,
    latencies: Vec<Duration>,
}

/// A 503 or 429 says when to come back.
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    if !matches!(response.status().as_u16(), 429 | 503) {
        return None;
    }
    let seconds = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds))
}

/// Runs `concurrency` clients for `duration`; `request` builds each client's next request.
/// A client turned away with Retry-After waits that long before its next request.
pub async fn closed_loop<F>(
    concurrency: usize,
    duration: Duration,
    success: u16,
    request: F,
) -> Result<Outcome>
where
    F: Fn() -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let request = Arc::new(request);
    let started = Instant::now();
    let deadline = started + duration;
    let clients: Vec<_> = (0..concurrency)
        .map(|_| {
            let request = Arc::clone(&request);
            tokio::spawn(async move {
                let mut client = Client {
                    ok: 0,
                    other: BTreeMap::new(),
                    transport_errors: 0,
                    latencies: Vec::with_capacity(16 * 1024),
                };
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    let answered = match request().send().await {
                        // The body is read so that the connection can carry the next request.
                        Ok(response) => {
                            let status = response.status().as_u16();
                            let retry_after = retry_after(&response);
                            response.bytes().await.map(|_| (status, retry_after))
                        }
                        Err(error) => Err(error),
                    };
                    match answered {
                        Ok((status, retry_after)) => {
                            if status == success {
                                client.latencies.push(sent.elapsed());
                                client.ok += 1;
                            } else {
                                *client.other.entry(status).or_default() += 1;
                            }
                            // As the API asks of every client (and the app does).
                            if let Some(wait) = retry_after {
                                tokio::time::sleep(
                                    wait.min(deadline.saturating_duration_since(Instant::now())),
                                )
                                .await;
                            }
                        }
                        Err(_) => {
                            client.transport_errors += 1;
                            // A refused connection fails at once; do not spin on it.
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    }
                }
                client
            })
        })
        .collect();
    let mut ok = 0;
    let mut other = BTreeMap::new();
    let mut transport_errors = 0;
    let mut latencies = Vec::new();
    for client in clients {
        let client = client.await?;
        ok += client.ok;
        transport_errors += client.transport_errors;
        for (status, n) in client.other {
            *other.entry(status).or_default() += n;
        }
        latencies.extend(client.latencies);
    }
    Ok(Outcome {
        elapsed: started.elapsed(),
        ok,
        other,
        transport_errors,
        latencies: Latencies::new(latencies),
    })
}

/// Requests one at a time with a pause between them: a probe that measures latency
/// without adding load of its own.
pub async fn probe<F>(duration: Duration, every: Duration, request: F) -> Result<Outcome>
where
    F: Fn() -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut ok = 0;
    let mut other = BTreeMap::new();
    let mut transport_errors = 0;
    while started.elapsed() < duration {
        let sent = Instant::now();
        match request().send().await {
            Ok(response) => {
                let status = response.status();
                let _ = response.bytes().await;
                if status.is_success() {
                    latencies.push(sent.elapsed());
                    ok += 1;
                } else {
                    *other.entry(status.as_u16()).or_default() += 1;
                }
            }
            Err(_) => transport_errors += 1,
        }
        tokio::time::sleep(every).await;
    }
    Ok(Outcome {
        elapsed: started.elapsed(),
        ok,
        other,
        transport_errors,
        latencies: Latencies::new(latencies),
    })
}
