//! Work the server does on its own: sealing the audit log's hash chain shortly after
//! entries are written, and the daily retention run. Both are safe on several instances
//! at once (the sealers take turns; erasing what is already erased finds nothing).

use std::time::Duration;

use chrono::{DateTime, Utc};
use faltlogg_persistence::{Database, DbConnection, StoreError, audit, retention};

use crate::config::Config;
use crate::error::error_chain;
use crate::telemetry::spawn_blocking;

const SEAL_EVERY: Duration = Duration::from_secs(1);
const RETAIN_EVERY: Duration = Duration::from_secs(24 * 60 * 60);

/// What one retention run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionRun {
    pub erased: usize,
    pub pruned: usize,
}

/// Erases encounter details older than the retention period and prunes audit entries
/// older than theirs; each step records itself in the audit log in its own transaction.
pub fn run_retention(
    conn: &mut DbConnection,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<RetentionRun, StoreError> {
    let erased = retention::erase_before(conn, now - config.retention, now)?;
    let pruned = audit::prune(conn, now - config.audit_retention, now)?;
    Ok(RetentionRun { erased, pruned })
}

/// Starts the background work on the current runtime.
pub fn spawn(db: Database, config: Config) {
    let sealing = db.clone();
    tokio::spawn(async move {
        loop {
            let db = sealing.clone();
            match spawn_blocking(move || audit::seal(&mut *db.get()?)).await {
                Ok(Err(error)) => {
                    tracing::warn!(error = %error_chain(&error), "audit sealing failed")
                }
                Err(error) => tracing::warn!(error = %error, "audit sealing did not run"),
                Ok(Ok(_)) => {}
            }
            tokio::time::sleep(SEAL_EVERY).await;
        }
    });
    tokio::spawn(async move {
        loop {
            let (db, config) = (db.clone(), config.clone());
            let run = spawn_blocking(move || {
                let run = run_retention(&mut *db.get()?, &config, crate::records::now())?;
                db.refresh_statistics()?;
                Ok::<_, StoreError>(run)
            })
            .await;
            match run {
                Ok(Ok(run)) => {
                    tracing::info!(erased = run.erased, pruned = run.pruned, "retention ran")
                }
                Ok(Err(error)) => tracing::error!(error = %error_chain(&error), "retention failed"),
                Err(error) => tracing::error!(error = %error, "retention did not run"),
            }
            tokio::time::sleep(RETAIN_EVERY).await;
        }
    });
}
