//! Single-record encounter logging (`PUT /api/v1/encounters/{id}`, a new id each time)
//! at concurrency 1, 16 and 64, each beside the bare-INSERT ceiling at the same
//! concurrency, measured right before it so that both see the same machine.

use std::time::Duration;

use reqwest::header::CONTENT_TYPE;

use crate::Result;
use crate::api::{Api, adult};
use crate::ceiling::{self, Ceiling};
use crate::database::{Backend, Fresh};
use crate::load::{self, Outcome};
use crate::stats::{ms, opt_ms, percent, rate};
use crate::table::Row;

pub const CONCURRENCIES: [usize; 3] = [1, 16, 64];

/// What each client sends: one adult encounter into `shift_id` under a fresh id.
pub fn encounter_request(
    api: &Api,
    token: &str,
    shift_id: &str,
) -> Result<impl Fn() -> reqwest::RequestBuilder + Send + Sync + 'static> {
    let body = serde_json::to_vec(&adult(shift_id, "selling"))?;
    let client = api.client.clone();
    let base = api.url("/api/v1/encounters/");
    let token = token.to_owned();
    Ok(move || {
        client
            .put(format!("{base}{}", uuid::Uuid::new_v4()))
            .bearer_auth(&token)
            .header(CONTENT_TYPE, "application/json")
            .body(body.clone())
    })
}

pub fn describe(outcome: &Outcome) -> String {
    let mut text = format!(
        "{} · p50 {} · p99 {}",
        rate(outcome.throughput()),
        opt_ms(outcome.latencies.median()),
        opt_ms(outcome.latencies.p99()),
    );
    let failures = outcome.failures();
    if failures != "none" {
        text.push_str(&format!(" · failed: {failures}"));
    }
    text
}

pub fn describe_ceiling(ceiling: &Ceiling) -> String {
    let mut text = rate(ceiling.tps);
    if let Some(mean) = ceiling.latency_mean {
        text.push_str(&format!(" · mean {}", ms(mean)));
    }
    if let Some(latencies) = &ceiling.latencies {
        text.push_str(&format!(
            " · p50 {} · p99 {}",
            opt_ms(latencies.median()),
            opt_ms(latencies.p99())
        ));
    }
    text
}

pub async fn run(
    api: &Api,
    store: &Fresh,
    token: &str,
    shift_id: &str,
    duration: Duration,
) -> Vec<Row> {
    let mut rows = Vec::new();
    for concurrency in CONCURRENCIES {
        let measure = format!("Logging `PUT /encounters/{{id}}`, concurrency {concurrency}");
        match one(api, store, token, shift_id, concurrency, duration).await {
            Ok(row) => rows.push(row),
            Err(error) => rows.push(Row::failed(measure, &error)),
        }
    }
    rows
}

async fn one(
    api: &Api,
    store: &Fresh,
    token: &str,
    shift_id: &str,
    concurrency: usize,
    duration: Duration,
) -> Result<Row> {
    let ceiling =
        tokio::task::block_in_place(|| ceiling::measure(store, shift_id, concurrency, duration))?;
    eprintln!("  ceiling c={concurrency}: {}", describe_ceiling(&ceiling));
    let request = encounter_request(api, token, shift_id)?;
    let outcome = load::closed_loop(concurrency, duration, 201, request).await?;
    eprintln!("  logging c={concurrency}: {}", describe(&outcome));
    let ratio = outcome.throughput() / ceiling.tps;
    let row = Row::new(
        format!("Logging `PUT /encounters/{{id}}`, concurrency {concurrency}"),
        describe(&outcome),
    )
    .ceiling(describe_ceiling(&ceiling), percent(ratio));
    Ok(match (store.backend, concurrency) {
        (Backend::Postgres, 16) => {
            let p99_ok = outcome
                .latencies
                .p99()
                .is_some_and(|p99| p99 < Duration::from_millis(50));
            row.target(
                "≥ 40% of the ceiling (want 50%), p99 < 50 ms",
                ratio >= 0.40 && p99_ok,
            )
        }
        (Backend::Sqlite, 16) => row.target("≥ 2,000/s", outcome.throughput() >= 2000.0),
        _ => row,
    })
}
