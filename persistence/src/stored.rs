//! Turning stored columns back into domain values. The database held only what the
//! domain once accepted, so a value that does not parse is corruption, not user error.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use faltlogg_domain::codes::Coded;
use faltlogg_domain::text::FreeText;
use faltlogg_domain::time::DeviceTime;
use faltlogg_domain::unit::ReferralTarget;

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

/// The referral targets an encounter stores beside its referrals, for the reports to
/// count in one pass: each target once, codes sorted and joined by commas ("" for none),
/// so that encounters referred to the same targets group together.
pub(crate) fn targets(targets: impl IntoIterator<Item = ReferralTarget>) -> String {
    let codes: BTreeSet<&str> = targets.into_iter().map(ReferralTarget::code).collect();
    codes.into_iter().collect::<Vec<_>>().join(",")
}

/// The targets that [`targets`] stored.
pub(crate) fn referral_targets(stored: &str) -> Result<Vec<ReferralTarget>, StoreError> {
    stored
        .split(',')
        .filter(|code| !code.is_empty())
        .map(coded)
        .collect()
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use faltlogg_domain::unit::ReferralTarget;
    use proptest::prelude::*;

    use super::{referral_targets, targets};

    fn target() -> impl Strategy<Value = ReferralTarget> {
        proptest::sample::select(ReferralTarget::ALL.to_vec())
    }

    proptest! {
        /// Whatever an encounter names, and however often, its stored targets read back as
        /// each target once, and the same set of targets is stored as the same text.
        #[test]
        fn stored_targets_read_back_as_each_target_once(
            named in proptest::collection::vec(target(), 0..20),
        ) {
            let stored = targets(named.iter().copied());
            let read = referral_targets(&stored).unwrap();
            let set: BTreeSet<&str> = named.iter().map(|t| t.code()).collect();
            prop_assert_eq!(read.len(), set.len());
            prop_assert_eq!(
                read.iter().map(|t| t.code()).collect::<BTreeSet<_>>(),
                set
            );
            let mut reversed = named.clone();
            reversed.reverse();
            prop_assert_eq!(targets(reversed), stored);
        }
    }

    #[test]
    fn an_unknown_stored_target_is_corruption() {
        assert!(referral_targets("stodcentrum,nowhere").is_err());
        assert_eq!(referral_targets("").unwrap(), vec![]);
    }
}
