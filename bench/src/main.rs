//! The benchmark of issue #9: starts the release server on a fresh database of the chosen
//! backend, loads it as a fleet of phones would, measures the database's own ceiling
//! beside it, and prints a Markdown table of the figures against their targets.
//!
//! It builds nothing: `bench/run` builds the release server and this tool, then runs it
//! on both backends.

mod api;
mod ceiling;
mod database;
mod headline;
mod load;
mod logging;
mod reports;
mod seed;
mod server;
mod statements;
mod stats;
mod storm;
mod sync;
mod table;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use crate::api::Api;
use crate::database::{Backend, Fresh};
use crate::server::{Binary, Memory, Running};
use crate::stats::thousands;
use crate::table::{Row, Table};

pub type Error = Box<dyn std::error::Error + Send + Sync>;
pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Step {
    /// Single-record logging at concurrency 1, 16, 64 beside the bare-INSERT ceiling.
    Logging,
    /// Batch push of many encounters, then a pull of them to a fresh device.
    Push,
    /// Every report over a seeded year.
    Reports,
    /// A login storm, with /healthz and logging measured during it.
    Storm,
    /// wrk against pgbench, PostgreSQL only.
    Headline,
    /// A logged encounter's own statements run by pgbench, PostgreSQL only.
    Statements,
}

#[derive(Parser)]
#[command(
    name = "faltlogg-bench",
    about = "Fältlogg's benchmarks (BENCHMARKS.md)"
)]
struct Args {
    #[arg(long, value_enum)]
    backend: Backend,
    /// An admin URL: the run creates and afterwards drops a database `faltlogg_bench_…`.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres_url: String,
    /// The release server binary [default: $CARGO_TARGET_DIR/release/faltlogg, or
    /// target/release/faltlogg].
    #[arg(long)]
    server: Option<PathBuf>,
    /// Seconds each timed load step runs.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Encounters seeded for the reports (20 per shift).
    #[arg(long, default_value_t = 1_000_000)]
    report_encounters: u64,
    /// Encounters pushed in batches of 500, then pulled.
    #[arg(long, default_value_t = 10_000)]
    push_encounters: usize,
    /// The steps to run [default: all].
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Step>,
    /// Also write the table to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Keep the database and the scratch folder (with the server's log) for inspection.
    #[arg(long)]
    keep: bool,
    /// An extra variable for the server, NAME=VALUE (repeatable): for trying a setting,
    /// e.g. FALTLOGG_DATABASE_POOL_SIZE=16 or MALLOC_ARENA_MAX=2.
    #[arg(long, value_parser = parse_variable)]
    server_env: Vec<(String, String)>,
}

fn parse_variable(text: &str) -> std::result::Result<(String, String), String> {
    text.split_once('=')
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .ok_or_else(|| format!("`{text}` is not NAME=VALUE"))
}

impl Args {
    fn runs(&self, step: Step) -> bool {
        self.only.is_empty() || self.only.contains(&step)
    }

    /// How long each timed load step runs.
    fn duration(&self) -> Duration {
        Duration::from_secs(self.duration.max(1))
    }

    fn server_path(&self) -> PathBuf {
        self.server.clone().unwrap_or_else(|| {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map_or_else(|| PathBuf::from("target"), PathBuf::from);
            target.join("release").join("faltlogg")
        })
    }
}

/// The accounts of a run. Every unit has a worker, so the seeded shifts have authors.
const LOGGER: &str = "logger";
const PUSHER: &str = "pusher";
const COORDINATOR: &str = "coordinator";
const STORM_ACCOUNTS: usize = 8;
const OTHER_UNITS: [&str; 3] = [
    "ungdomsjouren",
    "regionkoordinator_vuxna",
    "regionkoordinator_barn",
];

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args).await {
        Ok(table) => {
            let markdown = table.markdown();
            println!("{markdown}");
            if let Some(path) = &args.out
                && let Err(error) = std::fs::write(path, &markdown)
            {
                eprintln!("faltlogg-bench: writing {}: {error}", path.display());
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("faltlogg-bench: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> Result<Table> {
    let duration = args.duration();
    let store = Fresh::create(args.backend, &args.postgres_url, args.keep)?;
    let binary = Binary::new(&args.server_path(), &store, &args.server_env)?;
    eprintln!(
        "{}: setting up {}",
        args.backend.name(),
        store.dir.display()
    );
    binary.migrate()?;
    let storm_users: Vec<String> = (1..=STORM_ACCOUNTS).map(|n| format!("storm-{n}")).collect();
    binary.add_user(LOGGER, "outreach_worker", Some("mika"))?;
    binary.add_user(PUSHER, "outreach_worker", Some("kast"))?;
    binary.add_user(COORDINATOR, "coordinator", None)?;
    for unit in OTHER_UNITS {
        binary.add_user(&format!("worker-{unit}"), "outreach_worker", Some(unit))?;
    }
    if args.runs(Step::Storm) {
        for username in &storm_users {
            binary.add_user(username, "outreach_worker", Some("mika"))?;
        }
    }
    ceiling::prepare(&store)?;

    let mut server = binary.start().await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = server.memory()?;
    let api = Api::new(&server.base_url)?;
    let token = api.login(LOGGER, "bench logger").await?;
    let shift_id = api.open_shift(&token, "raid", &["mika"]).await?;
    let mut rows = Vec::new();

    // VmHWM only grows, so the peak read after each step is the peak up to it: the step
    // that raised it is the one to look at.
    let mut memory = vec![("idle after start", idle)];
    if args.runs(Step::Logging) {
        eprintln!("logging");
        rows.extend(logging::run(&api, &store, &token, &shift_id, duration).await);
        memory.push(("after logging", server.memory()?));
    }
    if args.runs(Step::Headline) && args.backend == Backend::Postgres {
        eprintln!("headline");
        rows.push(
            headline::run(&api, &store, &token, duration)
                .await
                .unwrap_or_else(|e| Row::failed("Headline: wrk against pgbench", &e)),
        );
        memory.push(("after the headline", server.memory()?));
    }
    if args.runs(Step::Statements) && args.backend == Backend::Postgres {
        eprintln!("the database alone");
        let alone = tokio::task::block_in_place(|| statements::run(&store, &shift_id, duration));
        rows.extend(alone.unwrap_or_else(|e| {
            vec![Row::failed(
                "The database alone: a logged encounter's statements",
                &e,
            )]
        }));
    }
    if args.runs(Step::Push) {
        eprintln!("push and pull");
        rows.extend(sync::run(&api, args.backend, PUSHER, args.push_encounters).await);
        memory.push(("after push and pull", server.memory()?));
    }
    if args.runs(Step::Storm) {
        eprintln!("login storm");
        rows.extend(
            storm::run(&api, &storm_users, &token, &shift_id, duration)
                .await
                .unwrap_or_else(|e| vec![Row::failed("Login storm", &e)]),
        );
        memory.push(("after the login storm", server.memory()?));
    }
    let under_load = memory.len() > 1;
    for (i, (when, reading)) in memory.iter().enumerate() {
        let row = Row::new(format!("Server RSS, {when}"), reading.describe());
        rows.push(if under_load && i == memory.len() - 1 {
            row.target("< 100 MB under load", reading.peak_kib * 1024 < 100_000_000)
        } else {
            row
        });
    }

    let mut notes = Vec::new();
    if args.runs(Step::Reports) {
        eprintln!(
            "reports: seeding {} encounters",
            thousands(args.report_encounters)
        );
        match reports_step(args, &binary, &store, &mut server).await {
            Ok((report_rows, seeded, after)) => {
                notes.push(format!(
                    "Reports: {} encounters in {} shifts seeded by SQL in {:.1} s{}",
                    thousands(seeded.encounters),
                    thousands(seeded.shifts),
                    seeded.took.as_secs_f64(),
                    match args.backend {
                        Backend::Postgres => ", then VACUUM ANALYZE",
                        Backend::Sqlite =>
                            " with the server stopped (the server runs ANALYZE itself when it starts)",
                    }
                ));
                rows.extend(report_rows);
                let when = match args.backend {
                    Backend::Postgres => "Server RSS after the reports",
                    Backend::Sqlite => "Server RSS after the reports (restarted for the seed)",
                };
                rows.push(Row::new(when, after.describe()));
            }
            Err(error) => rows.push(Row::failed("Reports", &error)),
        }
    }
    server.stop();

    let mut all_notes = machine_notes(args, duration);
    for (name, value) in &args.server_env {
        all_notes.push(format!("Server run with {name}={value}"));
    }
    all_notes.extend(notes);
    let missed = rows.iter().filter(|r| r.missed()).count();
    if missed > 0 {
        eprintln!("{missed} target(s) missed");
    }
    Ok(Table {
        title: format!(
            "{} — {}",
            args.backend.name(),
            chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
        ),
        notes: all_notes,
        rows,
    })
}

/// Seeds the year the reports count and measures them. SQLite's single writer would make
/// the running server wait out the seed's long transaction, so there the server is
/// stopped for the seed and started again after it.
async fn reports_step(
    args: &Args,
    binary: &Binary,
    store: &Fresh,
    server: &mut Running,
) -> Result<(Vec<Row>, seed::Seeded, Memory)> {
    let seeded = match args.backend {
        Backend::Postgres => {
            tokio::task::block_in_place(|| seed::seed(store, args.report_encounters))?
        }
        Backend::Sqlite => {
            server.stop();
            let seeded = tokio::task::block_in_place(|| seed::seed(store, args.report_encounters))?;
            *server = binary.start().await?;
            seeded
        }
    };
    eprintln!("  seeded in {:.1} s", seeded.took.as_secs_f64());
    let api = Api::new(&server.base_url)?;
    let token = api.login(COORDINATOR, "bench coordinator").await?;
    let mut rows = reports::run(&api, args.backend, &token, &seeded).await;
    let logger = api.login(LOGGER, "bench logger meanwhile").await?;
    rows.push(reports::logging_meanwhile(&api, &token, &logger, &seeded, args.duration()).await);
    Ok((rows, seeded, server.memory()?))
}

fn machine_notes(args: &Args, duration: Duration) -> Vec<String> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map_or("unknown CPU", |(_, name)| name.trim());
    let cores = cpuinfo
        .lines()
        .filter(|line| line.starts_with("processor"))
        .count();
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("MemTotal:"))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
        })
        .map_or_else(
            || "unknown memory".to_owned(),
            |kib| format!("{:.0} GiB", kib as f64 / 1024.0 / 1024.0),
        );
    vec![
        format!("Machine: {model}, {cores} cores, {memory}; load generator and server share it"),
        format!(
            "Server: {} ({}), {} s per timed step",
            args.server_path().display(),
            args.backend.name(),
            duration.as_secs()
        ),
        "Throughput counts only the expected answers (201 for logging); p50/p99 are of those, \
         body read; ratios are to the bare-INSERT ceiling at the same concurrency, measured \
         right before"
            .to_owned(),
    ]
}
