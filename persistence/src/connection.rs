//! Which database, and a pool of connections to it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use diesel::Connection;
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;

use crate::group_commit::GroupCommit;
use crate::{StoreError, dialect};

/// One connection to whichever backend the installation runs on.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

pub type PooledConnection = r2d2::PooledConnection<Manager>;

/// diesel's backend of [`DbConnection`]: the one queries are built for, whichever database
/// it is connected to, for what is written out by hand (a boxed filter, a query fragment).
pub(crate) type DbBackend = <DbConnection as diesel::Connection>::Backend;

/// The backend, chosen by the URL's scheme.
#[derive(Clone, PartialEq, Eq)]
pub enum Backend {
    /// `postgres://` or `postgresql://`, handed to libpq as it is.
    Postgres(String),
    /// `sqlite://PATH` or a bare path: a file, created with its folder on first use.
    Sqlite(PathBuf),
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Backend::Postgres(url.to_owned()));
        }
        if let Some(path) = url.strip_prefix("sqlite://") {
            return Self::sqlite_path(path);
        }
        match url.split_once("://") {
            Some((scheme, _)) => Err(StoreError::InvalidUrl(format!(
                "unsupported scheme `{scheme}`: use sqlite://PATH, a file path, or postgres://"
            ))),
            None => Self::sqlite_path(url),
        }
    }

    fn sqlite_path(path: &str) -> Result<Self, StoreError> {
        // An in-memory database would be a different, empty one for each pooled connection.
        if path.is_empty() || path.starts_with(":memory:") || path.contains("mode=memory") {
            return Err(StoreError::InvalidUrl(
                "SQLite needs a file path; in-memory databases are not supported".into(),
            ));
        }
        Ok(Backend::Sqlite(PathBuf::from(path)))
    }

    pub fn name(&self) -> &'static str {
        match self {
            Backend::Postgres(_) => "postgres",
            Backend::Sqlite(_) => "sqlite",
        }
    }
}

impl std::fmt::Debug for Backend {
    /// A PostgreSQL URL may carry a password, so it is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::Postgres(_) => f.write_str("Postgres(<url hidden>)"),
            Backend::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
        }
    }
}

/// Opens connections of the configured variant: the derive's own `establish` tries
/// each variant in turn, and SQLite would accept any string as a file name.
#[derive(Debug, Clone)]
pub struct Manager {
    backend: Backend,
}

impl r2d2::ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = diesel::ConnectionError;

    fn connect(&self) -> Result<DbConnection, Self::Error> {
        match &self.backend {
            Backend::Postgres(url) => PgConnection::establish(url).map(DbConnection::Postgres),
            Backend::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(&path.to_string_lossy())?;
                conn.batch_execute(dialect::SQLITE_BUSY_TIMEOUT)
                    .and_then(|()| conn.batch_execute(dialect::SQLITE_PRAGMAS))
                    .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }

    /// Checked at every checkout without a round trip (a `SELECT 1` was two of the
    /// seventeen statements of a logged encounter). An idle PostgreSQL connection is sent
    /// nothing, unless the server ends it: then libpq reads the goodbye and, on the next
    /// read, the closed socket, both without waiting. A SQLite connection is a file handle
    /// that cannot be ended under us.
    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), Self::Error> {
        if let DbConnection::Postgres(pg) = conn {
            for _ in 0..2 {
                if let Some(Err(ended)) = pg.notifications_iter().next() {
                    return Err(diesel::ConnectionError::CouldntSetupConfiguration(ended));
                }
            }
        }
        Ok(())
    }

    /// Checked when a connection comes back. One still inside a transaction (a panic
    /// half-way through a write) is closed, which rolls it back: handed to the next
    /// request, its writes would be savepoints in a transaction that never commits.
    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        let depth = match conn {
            DbConnection::Postgres(inner) => {
                AnsiTransactionManager::transaction_manager_status_mut(inner).transaction_depth()
            }
            DbConnection::Sqlite(inner) => {
                AnsiTransactionManager::transaction_manager_status_mut(inner).transaction_depth()
            }
        };
        !matches!(depth, Ok(None))
    }
}

/// The pool every request draws from, and on SQLite the thread that writes.
#[derive(Clone)]
pub struct Database {
    pool: r2d2::Pool<Manager>,
    backend: Backend,
    writer: Option<GroupCommit>,
}

impl Database {
    /// Opens the pool. A SQLite file's folder is created if missing.
    pub fn connect(backend: Backend, max_connections: u32) -> Result<Self, StoreError> {
        if let Backend::Sqlite(path) = &backend {
            ensure_parent(path)?;
        }
        let manager = Manager {
            backend: backend.clone(),
        };
        let writer = match &backend {
            Backend::Sqlite(_) => Some(GroupCommit::start(manager.clone())?),
            Backend::Postgres(_) => None,
        };
        let pool = r2d2::Pool::builder()
            .max_size(max_connections)
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(10))
            .build(manager)?;
        Ok(Self {
            pool,
            backend,
            writer,
        })
    }

    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// Connections open, and how many of them are idle.
    pub fn pool_state(&self) -> (u32, u32) {
        let state = self.pool.state();
        (state.connections, state.idle_connections)
    }

    pub fn get(&self) -> Result<PooledConnection, StoreError> {
        Ok(self.pool.get()?)
    }

    /// On SQLite, the writer thread that takes requests' writes (see
    /// [`Database::with_writer`]); `None` on PostgreSQL.
    pub fn writer(&self) -> Option<&GroupCommit> {
        self.writer.as_ref()
    }

    /// Runs a request's write: `f` takes its transactions with
    /// [`dialect::write_transaction`]. On PostgreSQL it runs on a pooled connection; on
    /// SQLite in the open transaction of the writer thread, with other requests' writes
    /// (see [`crate::group_commit`]), and returns when that transaction has committed.
    pub fn with_writer<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        match &self.writer {
            Some(group) => group.run(f),
            None => f(&mut *self.get()?),
        }
    }

    /// Applies every pending migration, once even when several instances start together.
    pub fn migrate(&self) -> Result<usize, StoreError> {
        dialect::run_pending_migrations(&mut *self.get()?)
    }

    /// Brings the query planner's statistics up to date (at start and daily).
    pub fn refresh_statistics(&self) -> Result<(), StoreError> {
        dialect::refresh_statistics(&mut *self.get()?)
    }

    /// Whether the database takes work now: a read of a migrated table, so that an
    /// unreadable file or a dropped database shows, not just an open socket; on SQLite
    /// also the write lock, which another process may be holding.
    pub fn ping(&self) -> Result<(), StoreError> {
        // A probe answers within its caller's patience, not the pool's ten seconds.
        let mut conn = self.pool.get_timeout(Duration::from_secs(2))?;
        conn.batch_execute("SELECT code FROM units LIMIT 1")?;
        dialect::probe_write_lock(&mut conn)
    }
}

fn ensure_parent(path: &Path) -> Result<(), StoreError> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::DataFolder {
                path: parent.display().to_string(),
                source,
            })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_chooses_the_backend() {
        assert_eq!(
            Backend::from_url("postgres://u@h/db").unwrap(),
            Backend::Postgres("postgres://u@h/db".into())
        );
        assert_eq!(
            Backend::from_url("postgresql://h/db").unwrap().name(),
            "postgres"
        );
        assert_eq!(
            Backend::from_url("sqlite://data/f.db").unwrap(),
            Backend::Sqlite("data/f.db".into())
        );
        assert_eq!(
            Backend::from_url("sqlite:///var/lib/f.db").unwrap(),
            Backend::Sqlite("/var/lib/f.db".into())
        );
        assert_eq!(
            Backend::from_url("data/f.db").unwrap(),
            Backend::Sqlite("data/f.db".into())
        );
    }

    #[test]
    fn other_schemes_and_memory_are_refused() {
        for url in [
            "mysql://h/db",
            "http://x",
            "sqlite://",
            "sqlite://:memory:",
            "",
        ] {
            assert!(Backend::from_url(url).is_err(), "{url}");
        }
    }

    #[test]
    fn a_postgres_url_is_never_printed() {
        let backend = Backend::from_url("postgres://u:secret@h/db").unwrap();
        assert!(!format!("{backend:?}").contains("secret"));
    }
}
