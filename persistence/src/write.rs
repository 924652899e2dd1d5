//! What a write of a field record can end in, beside success.

use faltlogg_domain::write::{Applied, Refusal, decide_update};

use crate::StoreError;

/// A write that did not happen: refused by a rule, stale (with the record as it now
/// stands, for the caller to show), or failed in storage.
#[derive(Debug, thiserror::Error)]
pub enum WriteError<T: std::fmt::Debug> {
    #[error("refused: {0:?}")]
    Refused(Refusal),
    #[error("based on a version that is no longer current")]
    Stale(Box<T>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl<T: std::fmt::Debug> From<Refusal> for WriteError<T> {
    fn from(refusal: Refusal) -> Self {
        WriteError::Refused(refusal)
    }
}

impl<T: std::fmt::Debug> From<diesel::result::Error> for WriteError<T> {
    fn from(error: diesel::result::Error) -> Self {
        WriteError::Store(error.into())
    }
}

impl<T: std::fmt::Debug> From<faltlogg_domain::ValidationErrors> for WriteError<T> {
    fn from(errors: faltlogg_domain::ValidationErrors) -> Self {
        WriteError::Refused(Refusal::Invalid(errors))
    }
}

/// Runs a write once more when its first attempt lost a race the second can settle.
pub(crate) fn retry_once<T: std::fmt::Debug, R>(
    mut attempt: impl FnMut() -> Result<R, WriteError<T>>,
    retry_if: fn(&WriteError<T>) -> bool,
) -> Result<R, WriteError<T>> {
    match attempt() {
        Err(error) if retry_if(&error) => attempt(),
        other => other,
    }
}

/// A create that lost the race for its id: the second attempt finds the record and
/// answers as a retry or a conflict, never as a failure.
pub(crate) fn lost_create_race<T: std::fmt::Debug>(error: &WriteError<T>) -> bool {
    matches!(error, WriteError::Store(StoreError::Duplicate))
}

/// A state change (close, review, void) whose record moved under it: it carries no
/// version of its own, so it simply runs again on the new one.
pub(crate) fn record_moved<T: std::fmt::Debug>(error: &WriteError<T>) -> bool {
    matches!(error, WriteError::Stale(_))
}

/// Meets an update with the stored record (see [`decide_update`]): `true` for a retry,
/// answered with the record as stored; `false` to go on with the update.
pub(crate) fn is_retry<T: std::fmt::Debug + Clone, D: PartialEq>(
    stored: &T,
    stored_draft: &D,
    stored_version: i64,
    incoming: &D,
    if_match: Option<i64>,
) -> Result<bool, WriteError<T>> {
    match decide_update(stored_draft, stored_version, incoming, if_match) {
        Ok(applied) => Ok(applied == Applied::Unchanged),
        Err(Refusal::Stale) => Err(WriteError::Stale(Box::new(stored.clone()))),
        Err(refusal) => Err(refusal.into()),
    }
}

/// Who writes: an outreach worker and their unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Writer {
    pub user_id: faltlogg_domain::ids::UserId,
    pub unit: faltlogg_domain::unit::Unit,
}

/// Keeps the reason a record of a closed shift was changed.
pub(crate) fn record_amendment(
    conn: &mut crate::DbConnection,
    record_type: &str,
    record_id: &str,
    version: i64,
    reason: &faltlogg_domain::text::FreeText,
    by: faltlogg_domain::ids::UserId,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), StoreError> {
    use crate::schema::amendments;
    use diesel::prelude::*;
    diesel::insert_into(amendments::table)
        .values((
            amendments::id.eq(uuid::Uuid::new_v4().to_string()),
            amendments::record_type.eq(record_type),
            amendments::record_id.eq(record_id),
            amendments::version.eq(version),
            amendments::reason.eq(reason.as_str()),
            amendments::user_id.eq(by.to_string()),
            amendments::at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

/// A change to a closed shift's records needs a reason.
pub(crate) fn require_amendment_reason(
    closed: bool,
    reason: Option<&faltlogg_domain::text::FreeText>,
) -> Result<(), Refusal> {
    if closed && reason.is_none() {
        return Err(Refusal::Invalid(
            faltlogg_domain::FieldError::new(
                "amendment_reason",
                "amendment_reason_required",
                "the shift is closed: a change is an amendment and needs a reason",
            )
            .into(),
        ));
    }
    Ok(())
}
