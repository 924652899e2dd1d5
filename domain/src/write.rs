//! How a write meets what is stored: a phone's retry changes nothing, an update names the
//! version it was based on, and what cannot be done is a [`Refusal`] the API can explain.

use crate::ValidationErrors;
use crate::ids::EncounterId;

/// The outcome of a write that was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Created,
    Updated,
    /// The same content as stored: a retry. Nothing changed, the version stays.
    Unchanged,
}

/// Why a write was not done. The record, when the caller may see it, travels beside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No such record, or not the caller's to see.
    NotFound,
    /// An update that did not say which version it was based on.
    PreconditionRequired,
    /// An update based on a version that is no longer current.
    Stale,
    Invalid(ValidationErrors),
    Conflict(Conflict),
}

/// A write that contradicts the record's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conflict {
    /// A voided encounter no longer changes.
    Voided,
    /// Minors in the shift whose guardian contact or report of concern is missing.
    SafeguardingMissing(Vec<EncounterId>),
    ShiftStillOpen,
    AlreadyReviewed,
    /// The notification was withdrawn or resolved otherwise.
    NotificationSettled,
}

impl From<ValidationErrors> for Refusal {
    fn from(errors: ValidationErrors) -> Self {
        Refusal::Invalid(errors)
    }
}

/// Decides an update of a stored record: equal content is a retry whatever the
/// precondition says; anything else needs `If-Match` with the current version.
pub fn decide_update<T: PartialEq>(
    stored: &T,
    stored_version: i64,
    incoming: &T,
    if_match: Option<i64>,
) -> Result<Applied, Refusal> {
    if stored == incoming {
        return Ok(Applied::Unchanged);
    }
    match if_match {
        None => Err(Refusal::PreconditionRequired),
        Some(version) if version != stored_version => Err(Refusal::Stale),
        Some(_) => Ok(Applied::Updated),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn only_equal_content_or_the_current_version_passes(
            stored in 0u8..4, incoming in 0u8..4, version in 1i64..5, if_match in proptest::option::of(1i64..5)
        ) {
            let decision = decide_update(&stored, version, &incoming, if_match);
            let expected = if stored == incoming {
                Ok(Applied::Unchanged)
            } else {
                match if_match {
                    None => Err(Refusal::PreconditionRequired),
                    Some(v) if v == version => Ok(Applied::Updated),
                    Some(_) => Err(Refusal::Stale),
                }
            };
            prop_assert_eq!(decision, expected);
        }
    }
}
