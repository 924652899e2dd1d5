//! Lists come in pages: `limit` items at most (500 at the very most) and an opaque cursor
//! to the next page. The cursor is the sort key of the last item, which the client
//! never needs to read.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use faltlogg_domain::FieldError;
use serde::Serialize;
use utoipa::ToSchema;

pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 500;

/// A page of a list.
#[derive(Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

pub fn parse_limit(value: Option<&str>) -> Result<i64, FieldError> {
    let Some(value) = value else {
        return Ok(DEFAULT_LIMIT);
    };
    value
        .parse::<i64>()
        .ok()
        .filter(|n| (1..=MAX_LIMIT).contains(n))
        .ok_or_else(|| {
            FieldError::new(
                "limit",
                "out_of_range",
                format!("a whole number from 1 to {MAX_LIMIT}"),
            )
        })
}

/// A position in a list ordered by a time and then an id.
pub fn encode_cursor(at: DateTime<Utc>, id: impl std::fmt::Display) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{id}", at.timestamp_micros()))
}

pub fn decode_cursor<Id: std::str::FromStr>(
    value: Option<&str>,
) -> Result<Option<(DateTime<Utc>, Id)>, FieldError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let invalid = || FieldError::new("cursor", "invalid_cursor", "not a cursor this list gave");
    let bytes = URL_SAFE_NO_PAD.decode(value).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (micros, id) = text.split_once('|').ok_or_else(invalid)?;
    let at = micros
        .parse::<i64>()
        .ok()
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(invalid)?;
    let id = id.parse().map_err(|_| invalid())?;
    Ok(Some((at, id)))
}

/// Builds a page from `limit + 1` loaded items: the extra one only says there is more.
pub fn page<R, T: ToSchema>(
    mut records: Vec<R>,
    limit: i64,
    key: impl Fn(&R) -> String,
    view: impl Fn(R) -> T,
) -> Page<T> {
    let more = usize::try_from(limit).is_ok_and(|limit| records.len() > limit);
    if more {
        records.truncate(usize::try_from(limit).unwrap_or(0));
    }
    let next_cursor = if more { records.last().map(&key) } else { None };
    Page {
        items: records.into_iter().map(view).collect(),
        next_cursor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_cursor_decodes_to_what_it_encoded(micros in 0i64..4_102_444_800_000_000, id in any::<u128>()) {
            let at = DateTime::from_timestamp_micros(micros).unwrap();
            let id = uuid::Uuid::from_u128(id);
            let cursor = encode_cursor(at, id);
            prop_assert_eq!(decode_cursor::<uuid::Uuid>(Some(&cursor)).unwrap(), Some((at, id)));
        }

        #[test]
        fn anything_else_is_an_invalid_cursor_not_a_failure(s in "\\\\PC{0,40}") {
            let _ = decode_cursor::<uuid::Uuid>(Some(&s));
        }

        #[test]
        fn limits_outside_1_to_500_are_refused(n in any::<i64>()) {
            prop_assert_eq!(parse_limit(Some(&n.to_string())).is_ok(), (1..=500).contains(&n));
        }
    }
}
