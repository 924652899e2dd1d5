//! Fältlogg's HTTP API: routes, DTOs, problem+json errors, and the `faltlogg` binary.

pub mod audit;
pub mod auth;
pub mod batches;
pub mod cli;
pub mod config;
pub mod error;
pub mod extract;
pub mod jobs;
pub mod low_priority;
pub mod metrics;
pub mod openapi;
pub mod pagination;
pub mod records;
pub mod routes;
pub mod schema;
pub mod startup;
pub mod table;
pub mod telemetry;
pub mod together;
