//! Fältlogg's domain: the types and rules of the field log, free of any I/O.
//!
//! Every type here is parsed, not validated: its constructor is the only way in, so a
//! value that exists is valid and nothing downstream checks it again.

pub mod access;
pub mod account;
pub mod audit;
pub mod codes;
pub mod encounter;
pub mod identity_number;
pub mod ids;
pub mod municipality;
pub mod notification;
pub mod report;
pub mod shift;
pub mod text;
pub mod time;
pub mod unit;
pub mod validation;
pub mod write;

pub use validation::{FieldError, ValidationErrors};
