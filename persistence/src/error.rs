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
            other => StoreError::Query(other),
        }
    }
}
