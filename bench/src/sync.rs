//! Offline sync as one phone does it: a push of many encounters in batches of 500, then a
//! fresh device of the same unit pulling all of them, gzipped, page by page.
//!
//! The pushing worker's unit (KAST) logs nothing in the other steps, so the fresh device
//! pulls exactly the pushed encounters and the reference data.

use std::io::Read;
use std::time::{Duration, Instant};

use reqwest::header::{ACCEPT_ENCODING, CONTENT_ENCODING};
use serde_json::{Value, json};

use crate::api::{Api, adult};
use crate::database::Backend;
use crate::stats::{Latencies, opt_ms, rate_of, thousands};
use crate::table::Row;
use crate::{Error, Result};

const BATCH: usize = 500;
/// How long the pull waits, in all, for changes behind a running transaction.
const PULL_PATIENCE: Duration = Duration::from_secs(30);
/// The most a page may hold.
const PAGE: usize = 500;

pub async fn run(api: &Api, backend: Backend, username: &str, encounters: usize) -> Vec<Row> {
    match push(api, backend, username, encounters).await {
        Ok((row, pushed)) => {
            let pulled = pull(api, username, pushed)
                .await
                .unwrap_or_else(|error| Row::failed("Pull to a fresh device", &error));
            vec![row, pulled]
        }
        Err(error) => vec![
            Row::failed("Batch push", &error),
            Row::failed("Pull to a fresh device", &"nothing was pushed"),
        ],
    }
}

async fn push(
    api: &Api,
    backend: Backend,
    username: &str,
    encounters: usize,
) -> Result<(Row, usize)> {
    let token = api.login(username, "bench phone").await?;
    let shift_id = api.open_shift(&token, "street_outreach", &["kast"]).await?;
    let body = adult(&shift_id, "buyer");
    let batches: Vec<Vec<u8>> = (0..encounters)
        .collect::<Vec<_>>()
        .chunks(BATCH)
        .map(|chunk| {
            let items: Vec<Value> = chunk
                .iter()
                .map(|_| {
                    json!({
                        "type": "encounter",
                        "id": uuid::Uuid::new_v4().to_string(),
                        "base_version": null,
                        "data": body,
                    })
                })
                .collect();
            serde_json::to_vec(&json!({ "items": items }))
        })
        .collect::<std::result::Result<_, _>>()?;
    let batch_count = batches.len();
    let url = api.url("/api/v1/sync/push");
    let started = Instant::now();
    let mut created = 0;
    let mut latencies = Vec::with_capacity(batch_count);
    for batch in batches {
        let sent = Instant::now();
        let response = api
            .client
            .post(&url)
            .bearer_auth(&token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(batch)
            .send()
            .await?;
        let status = response.status();
        let answer: Value = response.json().await?;
        latencies.push(sent.elapsed());
        if status != 200 {
            return Err(format!("push: {status} {answer}").into());
        }
        let results = answer["results"].as_array().map_or(&[][..], Vec::as_slice);
        created += results.iter().filter(|r| r["status"] == "created").count();
    }
    let elapsed = started.elapsed();
    if created != encounters {
        return Err(format!("push: {created} of {encounters} created").into());
    }
    let latencies = Latencies::new(latencies);
    let per_second = created as f64 / elapsed.as_secs_f64();
    eprintln!("  push: {}", rate_of(per_second, "encounters"));
    let row = Row::new(
        format!(
            "Batch push, {} encounters in batches of {BATCH}",
            thousands(encounters as u64)
        ),
        format!(
            "{} · {batch_count} batches, p50 {} · max {} per batch",
            rate_of(per_second, "encounters"),
            opt_ms(latencies.median()),
            opt_ms(latencies.max()),
        ),
    );
    let row = match backend {
        Backend::Postgres => row.target("≥ 5,000 encounters/s", per_second >= 5000.0),
        Backend::Sqlite => row,
    };
    Ok((row, created))
}

async fn pull(api: &Api, username: &str, expected: usize) -> Result<Row> {
    // A new session is a new device: it starts with no cursor.
    let token = api.login(username, "bench fresh phone").await?;
    let started = Instant::now();
    let mut cursor: Option<String> = None;
    let mut wire_bytes = 0usize;
    let mut json_bytes = 0usize;
    let mut encounters = 0usize;
    let mut pages = 0;
    loop {
        let mut url = api.url(&format!("/api/v1/sync/pull?limit={PAGE}"));
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let response = api
            .client
            .get(&url)
            .bearer_auth(&token)
            .header(ACCEPT_ENCODING, "gzip")
            .send()
            .await?;
        let status = response.status();
        let gzipped = response
            .headers()
            .get(CONTENT_ENCODING)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
        let body = response.bytes().await?;
        if status != 200 {
            return Err(format!("pull: {status} {}", String::from_utf8_lossy(&body)).into());
        }
        wire_bytes += body.len();
        let text = if gzipped {
            let mut text = Vec::new();
            flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut text)?;
            text
        } else {
            body.to_vec()
        };
        json_bytes += text.len();
        let page: Value = serde_json::from_slice(&text)?;
        pages += 1;
        encounters += page["changes"].as_array().map_or(0, |changes| {
            changes
                .iter()
                .filter(|c| c["type"] == "encounter" && c["evicted"].is_null())
                .count()
        });
        cursor = Some(
            page["next_cursor"]
                .as_str()
                .ok_or_else(|| Error::from("pull: a page without next_cursor"))?
                .to_owned(),
        );
        if page["has_more"] != true {
            if encounters >= expected || started.elapsed() > PULL_PATIENCE {
                break;
            }
            // The feed stops before a change that a running transaction (the audit
            // sealer's) may still commit behind: a phone pulls again a moment later.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let elapsed = started.elapsed();
    if encounters != expected {
        return Err(format!("pull: {encounters} encounters, {expected} pushed").into());
    }
    let per_encounter = |bytes: usize| bytes as f64 / encounters.max(1) as f64;
    eprintln!(
        "  pull: {}, {:.0} B/encounter gzipped",
        rate_of(encounters as f64 / elapsed.as_secs_f64(), "encounters"),
        per_encounter(wire_bytes)
    );
    Ok(Row::new(
        format!(
            "Pull of the {} to a fresh device (`Accept-Encoding: gzip`, pages of {PAGE})",
            thousands(expected as u64)
        ),
        format!(
            "{} · {:.0} B/encounter on the wire ({:.0} B as JSON) · {pages} pages in {}",
            rate_of(encounters as f64 / elapsed.as_secs_f64(), "encounters"),
            per_encounter(wire_bytes),
            per_encounter(json_bytes),
            seconds(elapsed),
        ),
    ))
}

fn seconds(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}
