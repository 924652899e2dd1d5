//! Fältlogg's storage: one schema over embedded SQLite (the default) or PostgreSQL,
//! through diesel's `MultiConnection`. What only one backend can say lives in [`dialect`].

mod connection;
pub mod dialect;
mod error;
pub mod reference;
pub mod schema;

pub use connection::{Backend, Database, DbConnection, PooledConnection};
pub use error::StoreError;
