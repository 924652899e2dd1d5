use thiserror::Error;

/// Everything the storage layer can fail with. Causes are kept for the log; the API
/// decides what, if anything, a client is told.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("the database URL is not usable: {0}")]
    InvalidUrl(String),
    #[error("could not prepare the database folder {path}")]
    DataFolder {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("no database connection available")]
    Pool(#[from] r2d2::Error),
    #[error("could not connect to the database")]
    Connect(#[from] diesel::ConnectionError),
    #[error("database query failed")]
    Query(#[source] diesel::result::Error),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("stored data does not parse: {0}")]
    Corrupt(String),
    /// A unique key already holds this value: the caller turns it into a domain outcome.
    #[error("a record with this key already exists")]
    Duplicate,
    #[error("record not found")]
    NotFound,
    /// The database gave up on this transaction because of a concurrent one (a deadlock,
    /// or a serialization failure); running it again may well succeed.
    #[error("conflict with a concurrent transaction")]
    Contention(#[source] diesel::result::Error),
    /// The connection died under the query (the server stopped, or an administrator
    /// ended it), or another process holds the SQLite file locked past the busy timeout.
    /// The pool replaces a dead connection at its next checkout.
    #[error("the database went away or is locked")]
    Unreachable(#[source] diesel::result::Error),
    /// The transaction holding this write did not commit (on SQLite, a group of writes
    /// shares one; the cause is logged where it happened): nothing of it was stored, and
    /// running it again may well succeed.
    #[error("the write's transaction did not commit")]
    NotCommitted,
    /// Too many writes are waiting for the database already; this one was not started.
    #[error("too many writes waiting")]
    Busy,
    /// The database was out of reach for a batch of requests' work this one was part of
    /// (the cause is logged where it happened): nothing of it was done.
    #[error("the database was out of reach for this request's batch")]
    BatchOutOfReach,
    #[error("could not start the database writer's thread")]
    Thread(#[source] std::io::Error),
}

/// What PostgreSQL and SQLite say when the database itself is out of reach; diesel
/// reports these as unknown errors, so the message is all there is to go on.
const UNREACHABLE_MESSAGES: [&str; 6] = [
    "terminating connection",
    "server closed the connection",
    "no connection to the server",
    "connection to server",
    "database is locked",
    "database is busy",
];

impl StoreError {
    /// Whether the database as a whole was out of reach, rather than one statement
    /// refused: doing a batch's items one by one would only wait as long again for each.
    pub fn out_of_reach(&self) -> bool {
        matches!(
            self,
            StoreError::Pool(_)
                | StoreError::Connect(_)
                | StoreError::Unreachable(_)
                | StoreError::Busy
                | StoreError::BatchOutOfReach
        )
    }
}

impl From<diesel::result::Error> for StoreError {
    fn from(error: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match error {
            Error::NotFound => StoreError::NotFound,
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => StoreError::Duplicate,
            Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => {
                StoreError::Contention(error)
            }
            Error::DatabaseError(_, ref info) if info.message().contains("deadlock detected") => {
                StoreError::Contention(error)
            }
            Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => {
                StoreError::Unreachable(error)
            }
            Error::DatabaseError(_, ref info)
                if UNREACHABLE_MESSAGES
                    .iter()
                    .any(|m| info.message().contains(m)) =>
            {
                StoreError::Unreachable(error)
            }
            other => StoreError::Query(other),
        }
    }
}
