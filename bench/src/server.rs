//! The release `faltlogg` binary: its command line (migrate, add users) and the server it
//! serves, stopped when the handle is dropped so that no run leaves one behind.

use std::fs::File;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::database::Fresh;
use crate::{Error, Result};

/// Every account of the run shares this password; the CLI reads it from stdin.
pub const PASSWORD: &str = "bench-password-0123456789";

pub struct Binary {
    path: PathBuf,
    env: Vec<(String, String)>,
    log: PathBuf,
}

impl Binary {
    pub fn new(path: &Path, store: &Fresh, extra: &[(String, String)]) -> Result<Self> {
        if !path.is_file() {
            return Err(format!(
                "no server binary at {}: build it with `cargo build --release -p faltlogg-api`",
                path.display()
            )
            .into());
        }
        let mut env = vec![
            ("FALTLOGG_DATABASE_URL".to_owned(), store.url.clone()),
            (
                "FALTLOGG_DATA_DIR".to_owned(),
                store.data_dir().display().to_string(),
            ),
            ("FALTLOGG_LOG_FORMAT".to_owned(), "json".to_owned()),
            ("FALTLOGG_ACCESS_TOKEN_TTL".to_owned(), "3600".to_owned()),
            ("RUST_LOG".to_owned(), "warn".to_owned()),
        ];
        env.extend(extra.iter().cloned());
        Ok(Self {
            path: path.to_owned(),
            env,
            log: store.dir.join("server.log"),
        })
    }

    fn command(&self) -> Command {
        let mut command = Command::new(&self.path);
        // The server refuses a FALTLOGG_ variable it does not know; ours are the only ones.
        for (name, _) in std::env::vars() {
            if name.starts_with("FALTLOGG_") {
                command.env_remove(name);
            }
        }
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Result<()> {
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        if let (Some(mut pipe), Some(input)) = (child.stdin.take(), stdin) {
            writeln!(pipe, "{input}")?;
        }
        let output = child.wait_with_output()?;
        if !output.status.success() {
            return Err(format!(
                "faltlogg {}: {}{}",
                args.join(" "),
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )
            .into());
        }
        Ok(())
    }

    pub fn migrate(&self) -> Result<()> {
        self.run(&["migrate"], None)
    }

    /// `unit` only for an outreach worker.
    pub fn add_user(&self, username: &str, role: &str, unit: Option<&str>) -> Result<()> {
        let mut args = vec!["user", "add", "--username", username, "--role", role];
        if let Some(unit) = unit {
            args.extend(["--unit", unit]);
        }
        args.push("--password-stdin");
        self.run(&args, Some(PASSWORD))
    }

    /// Starts `faltlogg serve` on a free port and waits until `/healthz` answers.
    pub async fn start(&self) -> Result<Running> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let log = File::options().create(true).append(true).open(&self.log)?;
        let child = self
            .command()
            .arg("serve")
            .env("FALTLOGG_LISTEN", format!("127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        let mut running = Running {
            child,
            base_url: format!("http://127.0.0.1:{port}"),
            log: self.log.clone(),
        };
        running.wait_ready().await?;
        Ok(running)
    }
}

pub struct Running {
    child: Child,
    pub base_url: String,
    log: PathBuf,
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    async fn wait_ready(&mut self) -> Result<()> {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        let url = format!("{}/healthz", self.base_url);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                return Err(format!(
                    "the server exited ({status}); see {}:\n{}",
                    self.log.display(),
                    self.log_tail()
                )
                .into());
            }
            if let Ok(response) = client.get(&url).send().await
                && response.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(format!(
            "the server did not answer within a minute; see {}",
            self.log.display()
        )
        .into())
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Resident memory now and at its peak so far, from the kernel's own account.
    pub fn memory(&self) -> Result<Memory> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        let field = |name: &str| -> Result<u64> {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
                .ok_or_else(|| Error::from(format!("no {name} in /proc/<pid>/status")))
        };
        Ok(Memory {
            rss_kib: field("VmRSS:")?,
            peak_kib: field("VmHWM:")?,
            threads: field("Threads:")?,
        })
    }

    /// SIGTERM, as an orchestrator stops it; SIGKILL if it lingers.
    pub fn stop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let asked = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        if asked {
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if matches!(self.child.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Memory {
    pub rss_kib: u64,
    pub peak_kib: u64,
    /// Blocking-pool threads come and go with the load; each may hold a malloc arena.
    pub threads: u64,
}

impl Memory {
    pub fn describe(&self) -> String {
        format!(
            "peak {} · now {} · {} threads",
            mib(self.peak_kib),
            mib(self.rss_kib),
            self.threads
        )
    }
}

pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}
