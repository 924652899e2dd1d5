//! What every route over a versioned record shares: `If-Match` in, `ETag` out, 201 for a
//! create, and the one mapping of a refused write to its problem.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use faltlogg_domain::access::field_unit;
use faltlogg_domain::write::{Applied, Conflict, Refusal};
use faltlogg_persistence::accounts::Principal;
use faltlogg_persistence::write::{WriteError, Writer};
use serde::Serialize;

use crate::error::ApiError;

/// An id in the path that does not parse names nothing: 404, as for an unknown id.
pub fn path_id<T: std::str::FromStr>(raw: &str) -> Result<T, ApiError> {
    raw.parse().map_err(|_| ApiError::NotFound)
}

/// The server's clock for records: cut to microseconds like every stored instant, so
/// list cursors compare equal on both backends.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    faltlogg_domain::time::to_micros(chrono::Utc::now())
}

/// The version an update is based on, from `If-Match: "<version>"`. A value that names no
/// version of ours can never match, so it counts as version 0, which no record has.
pub fn if_match(req: &HttpRequest) -> Option<i64> {
    let value = req.headers().get(header::IF_MATCH)?;
    let version = value
        .to_str()
        .ok()
        .map(|v| v.trim().trim_start_matches("W/"))
        .and_then(|v| v.strip_prefix('"')?.strip_suffix('"'))
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(0);
    Some(version)
}

/// A record in the answer, with its version as the ETag.
pub fn record_response<V: Serialize>(applied: Applied, version: i64, view: &V) -> HttpResponse {
    let mut response = match applied {
        Applied::Created => HttpResponse::Created(),
        Applied::Updated | Applied::Unchanged => HttpResponse::Ok(),
    };
    response
        .insert_header((header::ETAG, format!("\"{version}\"")))
        .json(view)
}

/// The caller as a writer of the field log: an outreach worker and their unit.
pub fn writer(principal: &Principal) -> Result<Writer, ApiError> {
    field_unit(&principal.assignment)
        .map(|unit| Writer {
            user_id: principal.user_id,
            unit,
        })
        .ok_or(ApiError::Forbidden)
}

/// Maps a refused or failed write to its problem; `view` shows a stale write the record
/// as GET would.
pub fn write_error<T: std::fmt::Debug, V: Serialize>(
    error: WriteError<T>,
    view: impl FnOnce(T) -> V,
) -> ApiError {
    match error {
        WriteError::Store(error) => error.into(),
        WriteError::Stale(current) => ApiError::PreconditionFailed {
            current: serde_json::to_value(view(*current)).ok(),
        },
        WriteError::Refused(refusal) => refusal_error(refusal),
    }
}

pub fn refusal_error(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::NotFound => ApiError::NotFound,
        Refusal::PreconditionRequired => ApiError::PreconditionRequired,
        Refusal::Stale => ApiError::PreconditionFailed { current: None },
        Refusal::Invalid(errors) => ApiError::Validation(errors),
        Refusal::Conflict(Conflict::SafeguardingMissing(ids)) => {
            ApiError::SafeguardingMissing(ids.iter().map(ToString::to_string).collect())
        }
        Refusal::Conflict(conflict) => ApiError::Conflict(
            match conflict {
                Conflict::Voided => "The encounter is voided and no longer changes.",
                Conflict::ShiftStillOpen => {
                    "The shift is still open; its summary is reviewed once it is closed."
                }
                Conflict::AlreadyReviewed => "The shift's summary has already been acknowledged.",
                Conflict::NotificationSettled => "The notification is no longer open.",
                Conflict::SafeguardingMissing(_) => "Safeguarding is incomplete.",
            }
            .into(),
        ),
    }
}
