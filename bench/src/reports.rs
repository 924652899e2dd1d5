//! Each report, as a coordinator asks for it (every unit's figures), over the seeded year.
//! One run first so that every report meets a warm cache, then timed runs one at a time:
//! reports share a small cap on CPU-heavy work and would turn each other away.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::api::Api;
use crate::database::Backend;
use crate::seed::Seeded;
use crate::stats::{Latencies, ms, opt_ms, thousands};
use crate::table::Row;
use crate::{Error, Result};
use crate::{load, logging};

pub const RUNS: usize = 5;

const REPORTS: [(&str, &str); 3] = [
    ("cooperation", "/api/v1/reports/cooperation"),
    ("sugar-dating", "/api/v1/reports/sugar-dating"),
    ("municipalities", "/api/v1/reports/municipalities"),
];

pub async fn run(api: &Api, backend: Backend, token: &str, seeded: &Seeded) -> Vec<Row> {
    let mut rows = Vec::new();
    for (name, path) in REPORTS {
        let measure = format!(
            "Report `{name}` over {} encounters in {} shifts",
            thousands(seeded.encounters),
            thousands(seeded.shifts)
        );
        let row = match one(api, token, path, seeded).await {
            Ok((latencies, counted)) => {
                let (limit, target) = match backend {
                    Backend::Postgres => (Duration::from_millis(250), "< 250 ms (median)"),
                    Backend::Sqlite => (Duration::from_secs(1), "< 1 s (median)"),
                };
                let median = latencies.median();
                eprintln!("  {name}: median {}", opt_ms(median));
                Row::new(
                    measure,
                    format!(
                        "median {} · max {} ({RUNS} runs; it counted {})",
                        opt_ms(median),
                        opt_ms(latencies.max()),
                        thousands(counted)
                    ),
                )
                .target(target, median.is_some_and(|m| m < limit))
            }
            Err(error) => Row::failed(measure, &error),
        };
        rows.push(row);
    }
    rows
}

/// Phones logging at concurrency 16 while a coordinator runs the year's cooperation
/// report back to back: a report reads beside the writes, so logging should keep its
/// pace (on SQLite a report once held the one writer for its whole run).
pub async fn logging_meanwhile(
    api: &Api,
    coordinator: &str,
    logger: &str,
    seeded: &Seeded,
    duration: Duration,
) -> Row {
    let measure = "Logging at concurrency 16 while the cooperation report runs back to back";
    let measured = async {
        let shift_id = api.open_shift(logger, "raid", &["mika"]).await?;
        let request = logging::encounter_request(api, logger, &shift_id)?;
        let url = api.url(&format!(
            "{}?from={}&to={}",
            REPORTS[0].1, seeded.from, seeded.to
        ));
        let reporting = {
            let (api, token) = (api.clone(), coordinator.to_owned());
            let until = Instant::now() + duration;
            tokio::spawn(async move {
                let mut runs = Vec::new();
                while Instant::now() < until {
                    runs.push(fetch(&api, &token, &url).await?.0);
                }
                Ok::<_, Error>(Latencies::new(runs))
            })
        };
        let outcome = load::closed_loop(16, duration, 201, request).await?;
        let reports = reporting.await??;
        Ok::<_, Error>(format!(
            "{} · {} reports meanwhile, median {}",
            logging::describe(&outcome),
            reports.len(),
            opt_ms(reports.median())
        ))
    };
    match measured.await {
        Ok(result) => Row::new(measure, result),
        Err(error) => Row::failed(measure, &error),
    }
}

async fn one(api: &Api, token: &str, path: &str, seeded: &Seeded) -> Result<(Latencies, u64)> {
    let url = api.url(&format!("{path}?from={}&to={}", seeded.from, seeded.to));
    let (_, report) = fetch(api, token, &url).await?;
    let mut latencies = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let (took, _) = fetch(api, token, &url).await?;
        latencies.push(took);
    }
    Ok((Latencies::new(latencies), counted(&report)))
}

async fn fetch(api: &Api, token: &str, url: &str) -> Result<(Duration, Value)> {
    let sent = Instant::now();
    let response = api.client.get(url).bearer_auth(token).send().await?;
    let status = response.status();
    let body = response.bytes().await?;
    let took = sent.elapsed();
    if status != 200 {
        return Err(format!(
            "{status} after {}: {}",
            ms(took),
            String::from_utf8_lossy(&body)
        )
        .into());
    }
    Ok((took, serde_json::from_slice(&body).map_err(Error::from)?))
}

/// The encounters a report counted, to show it read the seeded year: meetings selling or
/// buying in shifts with police, sugar-dating contacts, or meetings by home municipality.
fn counted(report: &Value) -> u64 {
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    if report.get("shifts_with_police").is_some() {
        n(&report["selling"]["encounters"]) + n(&report["buyer"]["encounters"])
    } else if report.get("contacts").is_some() {
        n(&report["contacts"])
    } else {
        report["municipalities"].as_array().map_or(0, |all| {
            all.iter()
                .map(|m| {
                    let e = &m["encounters"];
                    n(&e["selling"]) + n(&e["buyer"]) + n(&e["sugar_dating"])
                })
                .sum()
        })
    }
}
