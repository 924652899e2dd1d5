//! Everything only one backend can say, in one place: connection pragmas, how a write
//! transaction begins, migrations and the lock around them.

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::{DbConnection, StoreError};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Set on every SQLite connection. `busy_timeout` comes first so that even switching to
/// WAL waits for a lock instead of failing; WAL lets readers work beside the writer;
/// `synchronous=FULL` makes an acknowledged write survive a power cut; foreign keys are
/// off by default in SQLite.
pub(crate) const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 10000;
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
PRAGMA foreign_keys = ON;";

/// Any number that is ours alone: instances starting together queue on it, so the
/// migrations run once.
const MIGRATION_LOCK_KEY: i64 = 0x0046_4c4f_4747; // "FLOGG"

/// Runs `f` in a transaction meant to write. On SQLite it begins `IMMEDIATE`, taking the
/// write lock up front: a deferred transaction that reads first and writes later can fail
/// with SQLITE_BUSY half-way, where waiting for the lock at the start cannot. Inside an
/// open transaction it becomes a savepoint, so one item of a batch can fail alone.
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    match conn {
        DbConnection::Sqlite(inner) => {
            if transaction_depth(inner)? == 0 {
                AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?;
            } else {
                AnsiTransactionManager::begin_transaction(inner)?;
            }
        }
        DbConnection::Postgres(inner) => AnsiTransactionManager::begin_transaction(inner)?,
    }
    match f(conn) {
        Ok(value) => {
            match conn {
                DbConnection::Sqlite(inner) => AnsiTransactionManager::commit_transaction(inner)?,
                DbConnection::Postgres(inner) => AnsiTransactionManager::commit_transaction(inner)?,
            }
            Ok(value)
        }
        Err(error) => {
            let rolled_back = match conn {
                DbConnection::Sqlite(inner) => AnsiTransactionManager::rollback_transaction(inner),
                DbConnection::Postgres(inner) => {
                    AnsiTransactionManager::rollback_transaction(inner)
                }
            };
            if let Err(rollback_error) = rolled_back {
                tracing::error!(error = %rollback_error, "rollback failed");
            }
            Err(error)
        }
    }
}

fn transaction_depth<C>(conn: &mut C) -> Result<u32, diesel::result::Error>
where
    C: diesel::Connection<TransactionManager = AnsiTransactionManager>,
{
    Ok(AnsiTransactionManager::transaction_manager_status_mut(conn)
        .transaction_depth()?
        .map_or(0, |depth| depth.get()))
}

/// Applies every pending migration under a lock, so that instances starting at once
/// migrate once and the others find nothing left to do.
pub(crate) fn run_pending_migrations(conn: &mut DbConnection) -> Result<usize, StoreError> {
    match conn {
        // SQLite's lock is the write lock itself: a second process waits for it, then
        // finds the migrations applied.
        DbConnection::Sqlite(inner) => inner.immediate_transaction(|inner| {
            inner
                .run_pending_migrations(SQLITE_MIGRATIONS)
                .map(|applied| applied.len())
                .map_err(|e| StoreError::Migration(e.to_string()))
        }),
        DbConnection::Postgres(inner) => {
            inner.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))?;
            let applied = inner
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|applied| applied.len())
                .map_err(|e| StoreError::Migration(e.to_string()));
            inner.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))?;
            applied
        }
    }
}

/// Reverts every migration, newest first: the down scripts are tested by running this
/// and then migrating up again.
pub fn revert_all_migrations(conn: &mut DbConnection) -> Result<usize, StoreError> {
    let reverted = match conn {
        DbConnection::Sqlite(inner) => inner.revert_all_migrations(SQLITE_MIGRATIONS),
        DbConnection::Postgres(inner) => inner.revert_all_migrations(POSTGRES_MIGRATIONS),
    };
    reverted
        .map(|versions| versions.len())
        .map_err(|e| StoreError::Migration(e.to_string()))
}
