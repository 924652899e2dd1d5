//! Fältlogg's storage: one schema over embedded SQLite (the default) or PostgreSQL,
//! through diesel's `MultiConnection`. What only one backend can say lives in [`dialect`].

pub mod accounts;
pub mod audit;
mod connection;
pub mod dialect;
pub mod encounters;
mod error;
pub mod feed;
pub mod group_commit;
pub mod notifications;
pub mod reference;
pub mod reports;
pub mod retention;
pub mod schema;
pub mod shifts;
mod stored;
pub mod write;

pub(crate) use connection::DbBackend;
pub use connection::{Backend, Database, DbConnection, PooledConnection};
pub use error::StoreError;

/// diesel's error type, for layers that pass `write_transaction` a closure of their own.
pub use diesel::result as diesel_error;
