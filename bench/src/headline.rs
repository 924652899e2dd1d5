//! The headline ratio, measured exactly as the issue words it: `wrk -t2 -c16 -d10s`
//! sending `PUT /api/v1/encounters/<random uuid>` (one adult encounter body, one worker's
//! token, one open raid) against the release server on PostgreSQL, and right before it
//! `pgbench -n -c16 -j2 -T10` doing bare INSERTs into the same database.

use std::process::Command;
use std::time::Duration;

use crate::api::{Api, adult};
use crate::ceiling;
use crate::database::Fresh;
use crate::logging::describe_ceiling;
use crate::stats::{opt_ms, percent, rate, thousands};
use crate::table::Row;
use crate::{Error, Result};

const CONNECTIONS: usize = 16;

pub struct Wrk {
    pub requests_per_second: f64,
    pub requests: u64,
    /// Answers outside 2xx/3xx (a colliding id would be one).
    pub non_2xx: u64,
    pub socket_errors: Option<String>,
    pub p50: Option<Duration>,
    pub p99: Option<Duration>,
}

pub async fn run(api: &Api, store: &Fresh, token: &str, duration: Duration) -> Result<Row> {
    let shift_id = api.open_shift(token, "raid", &["mika"]).await?;
    let script = store.dir.join("put_encounter.lua");
    std::fs::write(
        &script,
        lua(token, &adult(&shift_id, "selling").to_string()),
    )?;
    let seconds = duration.as_secs().max(1);
    let (ceiling, wrk) = tokio::task::block_in_place(|| -> Result<_> {
        let ceiling = ceiling::pgbench(store, &shift_id, CONNECTIONS, duration)?;
        let output = Command::new("wrk")
            .args(["-t2", &format!("-c{CONNECTIONS}"), &format!("-d{seconds}s")])
            .arg("--latency")
            .arg("-s")
            .arg(&script)
            .arg(format!("{}/", api.base_url))
            .output()
            .map_err(|e| format!("wrk: {e}"))?;
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        if !output.status.success() {
            return Err(format!("wrk: {text}{}", String::from_utf8_lossy(&output.stderr)).into());
        }
        eprintln!("{text}");
        Ok((ceiling, parse(&text)?))
    })?;
    let mut result = format!(
        "{} · p50 {} · p99 {} ({} requests",
        rate(wrk.requests_per_second),
        opt_ms(wrk.p50),
        opt_ms(wrk.p99),
        thousands(wrk.requests),
    );
    if wrk.non_2xx > 0 {
        result.push_str(&format!(", {} not 2xx", thousands(wrk.non_2xx)));
    }
    if let Some(errors) = &wrk.socket_errors {
        result.push_str(&format!(", socket errors: {errors}"));
    }
    result.push(')');
    let ratio = wrk.requests_per_second / ceiling.tps;
    let p99_ok = wrk.p99.is_some_and(|p99| p99 < Duration::from_millis(50));
    Ok(Row::new(
        format!("**Headline**: `wrk -t2 -c16 -d{seconds}s` PUT one encounter"),
        result,
    )
    .ceiling(
        format!(
            "`pgbench -n -c16 -j2 -T{seconds}`: {}",
            describe_ceiling(&ceiling)
        ),
        percent(ratio),
    )
    .target(
        "≥ 40% of the ceiling (want 50%), p99 < 50 ms",
        ratio >= 0.40 && p99_ok && wrk.non_2xx == 0,
    ))
}

/// A wrk script: the body and token fixed, a random version-4 UUID per request. Each
/// thread seeds its own generator, so two threads never walk the same sequence.
fn lua(token: &str, body: &str) -> String {
    format!(
        r#"-- Written by faltlogg-bench.
local body = [==[{body}]==]
local headers = {{
  ["Content-Type"] = "application/json",
  ["Authorization"] = "Bearer {token}",
}}
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end
function init(args)
  math.randomseed(os.time() * 1000 + thread_number)
end
local hex = "0123456789abcdef"
local function digits(n)
  local out = {{}}
  for i = 1, n do
    local d = math.random(1, 16)
    out[i] = hex:sub(d, d)
  end
  return table.concat(out)
end
local function uuid4()
  local variant = math.random(9, 12)
  return digits(8) .. "-" .. digits(4) .. "-4" .. digits(3) .. "-" ..
    hex:sub(variant, variant) .. digits(3) .. "-" .. digits(12)
end
function request()
  return wrk.format("PUT", "/api/v1/encounters/" .. uuid4(), headers, body)
end
"#
    )
}

/// Reads wrk's summary: `Requests/sec:`, the `--latency` distribution, the counts.
pub fn parse(text: &str) -> Result<Wrk> {
    let requests_per_second = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("Requests/sec:"))
        .and_then(|rest| rest.trim().parse().ok())
        .ok_or_else(|| Error::from(format!("no Requests/sec in wrk's output: {text}")))?;
    let requests = text
        .lines()
        .find(|line| line.contains(" requests in "))
        .and_then(|line| line.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let non_2xx = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("Non-2xx or 3xx responses:"))
        .and_then(|rest| rest.trim().parse().ok())
        .unwrap_or(0);
    let socket_errors = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("Socket errors:"))
        .map(|rest| rest.trim().to_owned());
    let percentile = |label: &str| -> Option<Duration> {
        let mut lines = text
            .lines()
            .skip_while(|l| !l.contains("Latency Distribution"));
        lines.next()?;
        lines
            .take(4)
            .find_map(|line| line.trim().strip_prefix(label))
            .and_then(|rest| duration(rest.trim()))
    };
    Ok(Wrk {
        requests_per_second,
        requests,
        non_2xx,
        socket_errors,
        p50: percentile("50%"),
        p99: percentile("99%"),
    })
}

/// wrk's units: `us`, `ms`, `s`, `m`.
fn duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let seconds = match unit {
        "us" => number / 1e6,
        "ms" => number / 1e3,
        "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = "Running 10s test @ http://127.0.0.1:8080/
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.12ms    2.01ms  40.00ms   80.00%
    Req/Sec     1.57k   100.00     1.80k    70.00%
  Latency Distribution
     50%    4.80ms
     75%    6.00ms
     90%    7.50ms
     99%  812.00us
  31234 requests in 10.01s, 10.00MB read
  Non-2xx or 3xx responses: 3
Requests/sec:   3120.12
Transfer/sec:      1.00MB
";

    #[test]
    fn reads_wrks_summary() {
        let wrk = parse(OUTPUT).unwrap();
        assert!((wrk.requests_per_second - 3120.12).abs() < 1e-9);
        assert_eq!(wrk.requests, 31234);
        assert_eq!(wrk.non_2xx, 3);
        assert_eq!(micros(wrk.p50), 4800.0);
        assert_eq!(micros(wrk.p99), 812.0);
        assert!(wrk.socket_errors.is_none());
    }

    fn micros(d: Option<Duration>) -> f64 {
        (d.unwrap().as_secs_f64() * 1e6).round()
    }

    #[test]
    fn units() {
        assert_eq!(micros(duration("1.50s")), 1_500_000.0);
        assert_eq!(micros(duration("2m")), 120_000_000.0);
        assert_eq!(duration("abc"), None);
    }
}
