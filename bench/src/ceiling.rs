//! The database's own ceiling: bare one-row INSERT transactions at a given concurrency, in
//! the run's own database, with nothing of Fältlogg in the way. pgbench on PostgreSQL; on
//! SQLite a minimal loop of threads, each with its own connection under the server's pragmas.

use std::process::Command;
use std::time::{Duration, Instant};

use diesel::RunQueryDsl;
use diesel::connection::SimpleConnection;
use diesel::sql_types::Text;

use crate::database::{Backend, Fresh};
use crate::stats::Latencies;
use crate::{Error, Result};

/// What the database alone sustains at one concurrency.
pub struct Ceiling {
    pub tps: f64,
    /// pgbench reports only the mean; the SQLite loop keeps every sample.
    pub latency_mean: Option<Duration>,
    pub latencies: Option<Latencies>,
}

/// The table the issue names, in the run's database.
pub fn prepare(store: &Fresh) -> Result<()> {
    match store.backend {
        Backend::Postgres => store.connect_postgres()?.batch_execute(
            "CREATE TABLE IF NOT EXISTS bench_raw(id text primary key, shift_id text, body text, \
             at timestamp default now())",
        )?,
        Backend::Sqlite => store.connect_sqlite()?.batch_execute(
            "CREATE TABLE IF NOT EXISTS bench_raw(id text primary key, shift_id text, body text, \
             at timestamp default CURRENT_TIMESTAMP)",
        )?,
    }
    Ok(())
}

pub fn measure(
    store: &Fresh,
    shift_id: &str,
    concurrency: usize,
    duration: Duration,
) -> Result<Ceiling> {
    match store.backend {
        Backend::Postgres => pgbench(store, shift_id, concurrency, duration),
        Backend::Sqlite => sqlite_loop(store, shift_id, concurrency, duration),
    }
}

/// `pgbench -n -c<c> -j<min(c,2)> -T<seconds> -f bench_raw.sql`.
pub fn pgbench(
    store: &Fresh,
    shift_id: &str,
    concurrency: usize,
    duration: Duration,
) -> Result<Ceiling> {
    let script = format!(
        "INSERT INTO bench_raw(id, shift_id, body) VALUES (gen_random_uuid()::text, '{shift_id}', repeat('x', 260));\n"
    );
    pgbench_script(store, "bench_raw.sql", &script, &[], concurrency, duration)
}

/// Runs a pgbench script (written to the run's folder as `name`) with extra flags.
pub fn pgbench_script(
    store: &Fresh,
    name: &str,
    script: &str,
    flags: &[&str],
    concurrency: usize,
    duration: Duration,
) -> Result<Ceiling> {
    let path = store.dir.join(name);
    std::fs::write(&path, script)?;
    let output = Command::new("pgbench")
        .arg("-n")
        .args(flags)
        .arg(format!("-c{concurrency}"))
        .arg(format!("-j{}", concurrency.min(2)))
        .arg(format!("-T{}", duration.as_secs().max(1)))
        .arg("-f")
        .arg(&path)
        .arg(&store.url)
        .output()
        .map_err(|e| format!("pgbench: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!("pgbench: {text}{}", String::from_utf8_lossy(&output.stderr)).into());
    }
    let value = |prefix: &str| -> Option<f64> {
        text.lines()
            .find_map(|line| line.strip_prefix(prefix))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
    };
    let tps = value("tps = ").ok_or_else(|| Error::from(format!("no tps in: {text}")))?;
    Ok(Ceiling {
        tps,
        latency_mean: value("latency average = ").map(|ms| Duration::from_secs_f64(ms / 1000.0)),
        latencies: None,
    })
}

/// One thread per client, each committing `BEGIN IMMEDIATE; INSERT; COMMIT` in a loop, as
/// the server's write path begins its transactions.
pub fn sqlite_loop(
    store: &Fresh,
    shift_id: &str,
    concurrency: usize,
    duration: Duration,
) -> Result<Ceiling> {
    let body = "x".repeat(260);
    let mut connections = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        connections.push(store.connect_sqlite()?);
    }
    // Writers queue on a mutex for the write lock, as the server's do: SQLite's busy
    // handler alone starves some of 64 polling threads past the busy timeout.
    let turn = std::sync::Mutex::new(());
    let started = Instant::now();
    let deadline = started + duration;
    let results: Vec<std::result::Result<Vec<Duration>, String>> = std::thread::scope(|scope| {
        let threads: Vec<_> = connections
            .into_iter()
            .map(|mut conn| {
                let body = body.as_str();
                let turn = &turn;
                scope.spawn(move || {
                    let mut latencies = Vec::new();
                    while Instant::now() < deadline {
                        let sent = Instant::now();
                        let _turn = turn
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        conn.immediate_transaction(|conn| {
                            diesel::sql_query(
                                "INSERT INTO bench_raw(id, shift_id, body) VALUES (?, ?, ?)",
                            )
                            .bind::<Text, _>(uuid::Uuid::new_v4().to_string())
                            .bind::<Text, _>(shift_id)
                            .bind::<Text, _>(body)
                            .execute(conn)
                        })
                        .map_err(|e| e.to_string())?;
                        latencies.push(sent.elapsed());
                    }
                    Ok(latencies)
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| {
                t.join()
                    .unwrap_or_else(|_| Err("a ceiling thread failed".to_owned()))
            })
            .collect()
    });
    let elapsed = started.elapsed();
    let mut all = Vec::new();
    for result in results {
        all.extend(result?);
    }
    let latencies = Latencies::new(all);
    Ok(Ceiling {
        tps: latencies.len() as f64 / elapsed.as_secs_f64(),
        latency_mean: None,
        latencies: Some(latencies),
    })
}
