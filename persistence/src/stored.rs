//! Turning stored columns back into domain values. The database held only what the
//! domain once accepted, so a value that does not parse is corruption, not user error.

use chrono::NaiveDate;
use faltlogg_domain::codes::Coded;
use faltlogg_domain::text::FreeText;
use faltlogg_domain::time::DeviceTime;

use crate::StoreError;

pub(crate) fn corrupt(error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(error.to_string())
}

pub(crate) fn parse<T: std::str::FromStr>(s: &str) -> Result<T, StoreError> {
    s.parse().map_err(|_| {
        corrupt(format!(
            "unparseable stored value of {}",
            std::any::type_name::<T>()
        ))
    })
}

pub(crate) fn coded<T: Coded>(code: &str) -> Result<T, StoreError> {
    T::from_code(code).ok_or_else(|| {
        corrupt(format!(
            "unknown stored code of {}",
            std::any::type_name::<T>()
        ))
    })
}

pub(crate) fn date(day: &str) -> Result<NaiveDate, StoreError> {
    parse(day)
}

pub(crate) fn time(sent: &str) -> Result<DeviceTime, StoreError> {
    DeviceTime::parse("", sent).map_err(corrupt)
}

/// Stored text is checked by the same rules it was written under, with room to spare so
/// that tightening a limit later does not make old records unreadable.
pub(crate) fn text(value: &str) -> Result<FreeText, StoreError> {
    FreeText::parse("", value, usize::MAX).map_err(corrupt)
}

pub(crate) fn opt<T>(
    value: Option<&str>,
    f: impl Fn(&str) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    value.map(f).transpose()
}
