//! Fältlogg end to end: the real server on port 0, a fresh database per test, every test
//! on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

mod audit;
mod auth;
mod cli;
mod contract;
mod faults;
mod fieldlog;
mod http;
mod notifications;
mod operations;
mod reports;
mod storage;
mod sync;
