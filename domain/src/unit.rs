//! The city's units that log encounters, and every place a person can be referred to.
//!
//! Units change only by migration, so they are a closed set here; the database holds the
//! same set, in its units table and, on PostgreSQL, in the check on an encounter's unit
//! (tests keep all three in step).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::codes::Coded;

/// A unit whose staff log shifts and encounters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Mikamottagningen: adults (18+) selling sex or exploited in prostitution.
    Mika,
    /// KAST, Köpare Av Sexuella Tjänster: adults (18+) who buy sex.
    Kast,
    /// Ungdomsjouren: outreach to children and young people, sugar dating included.
    Ungdomsjouren,
    /// The regional coordinator against prostitution and trafficking of adults.
    RegionkoordinatorVuxna,
    /// The regional coordinator against trafficking of children and young people.
    RegionkoordinatorBarn,
}

impl Unit {
    pub const ALL: [Unit; 5] = [
        Unit::Mika,
        Unit::Kast,
        Unit::Ungdomsjouren,
        Unit::RegionkoordinatorVuxna,
        Unit::RegionkoordinatorBarn,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Unit::Mika => "mika",
            Unit::Kast => "kast",
            Unit::Ungdomsjouren => "ungdomsjouren",
            Unit::RegionkoordinatorVuxna => "regionkoordinator_vuxna",
            Unit::RegionkoordinatorBarn => "regionkoordinator_barn",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Unit::Mika => "Mikamottagningen",
            Unit::Kast => "KAST – Köpare Av Sexuella Tjänster",
            Unit::Ungdomsjouren => "Ungdomsjouren",
            Unit::RegionkoordinatorVuxna => {
                "Regionkoordinator mot prostitution och människohandel (vuxna)"
            }
            Unit::RegionkoordinatorBarn => "Regionkoordinator mot människohandel (barn och unga)",
        }
    }

    /// Mikamottagningen and KAST serve adults only; anyone under 18 goes to Stödcentrum
    /// and the children's regional coordinator instead.
    pub fn adults_only(self) -> bool {
        matches!(self, Unit::Mika | Unit::Kast)
    }
}

/// Where a person can be referred: one of the units, or a service outside them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReferralTarget {
    Unit(Unit),
    /// Stödcentrum för unga brottsoffer.
    Stodcentrum,
    /// Mika hälsa (Region Stockholm): midwife, gynaecologist, psychiatrist, psychologist.
    MikaHalsa,
    /// Skyddat boende.
    ProtectedHousing,
    /// The social services of the person's home municipality.
    LocalSocialServices,
    /// Betänketid: a temporary residence permit applied for at Migrationsverket.
    ReflectionPeriod,
    /// IOM's assisted voluntary return programme.
    IomReturn,
}

impl ReferralTarget {
    pub const ALL: [ReferralTarget; 11] = [
        ReferralTarget::Unit(Unit::Mika),
        ReferralTarget::Unit(Unit::Kast),
        ReferralTarget::Unit(Unit::Ungdomsjouren),
        ReferralTarget::Unit(Unit::RegionkoordinatorVuxna),
        ReferralTarget::Unit(Unit::RegionkoordinatorBarn),
        ReferralTarget::Stodcentrum,
        ReferralTarget::MikaHalsa,
        ReferralTarget::ProtectedHousing,
        ReferralTarget::LocalSocialServices,
        ReferralTarget::ReflectionPeriod,
        ReferralTarget::IomReturn,
    ];

    pub fn code(self) -> &'static str {
        match self {
            ReferralTarget::Unit(unit) => unit.code(),
            ReferralTarget::Stodcentrum => "stodcentrum",
            ReferralTarget::MikaHalsa => "mika_halsa",
            ReferralTarget::ProtectedHousing => "protected_housing",
            ReferralTarget::LocalSocialServices => "local_social_services",
            ReferralTarget::ReflectionPeriod => "reflection_period",
            ReferralTarget::IomReturn => "iom_return",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ReferralTarget::Unit(unit) => unit.name(),
            ReferralTarget::Stodcentrum => "Stödcentrum för unga brottsoffer",
            ReferralTarget::MikaHalsa => "Mika hälsa",
            ReferralTarget::ProtectedHousing => "Skyddat boende",
            ReferralTarget::LocalSocialServices => "Socialtjänsten i hemkommunen",
            ReferralTarget::ReflectionPeriod => "Betänketid (Migrationsverket)",
            ReferralTarget::IomReturn => "IOM:s återvändandeprogram",
        }
    }

    pub fn adults_only(self) -> bool {
        matches!(self, ReferralTarget::Unit(unit) if unit.adults_only())
    }
}

impl Coded for Unit {
    fn all() -> &'static [Self] {
        &Unit::ALL
    }

    fn code(self) -> &'static str {
        Unit::code(self)
    }
}

impl Coded for ReferralTarget {
    fn all() -> &'static [Self] {
        &ReferralTarget::ALL
    }

    fn code(self) -> &'static str {
        ReferralTarget::code(self)
    }
}

/// A code that names no unit or referral target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown code")]
pub struct UnknownCode;

impl FromStr for Unit {
    type Err = UnknownCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Unit::ALL
            .into_iter()
            .find(|unit| unit.code() == s)
            .ok_or(UnknownCode)
    }
}

impl FromStr for ReferralTarget {
    type Err = UnknownCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ReferralTarget::ALL
            .into_iter()
            .find(|target| target.code() == s)
            .ok_or(UnknownCode)
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Display for ReferralTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_code_parses_back() {
        for target in ReferralTarget::ALL {
            assert_eq!(target.code().parse::<ReferralTarget>(), Ok(target));
        }
        for unit in Unit::ALL {
            assert_eq!(unit.code().parse::<Unit>(), Ok(unit));
        }
    }

    #[test]
    fn only_mika_and_kast_are_for_adults_only() {
        let adults_only: Vec<_> = ReferralTarget::ALL
            .into_iter()
            .filter(|t| t.adults_only())
            .map(ReferralTarget::code)
            .collect();
        assert_eq!(adults_only, ["mika", "kast"]);
    }

    proptest! {
        #[test]
        fn unknown_codes_are_refused(s in "\\PC{0,30}") {
            let known = ReferralTarget::ALL.iter().any(|t| t.code() == s);
            prop_assert_eq!(s.parse::<ReferralTarget>().is_ok(), known);
        }
    }
}
