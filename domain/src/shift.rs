//! Arbetspass: a work shift, often together with the police, and the rules for writing one.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use crate::coded_enum;
use crate::codes::Coded;
use crate::encounter::{AgeGroup, PersonRole};
use crate::ids::{ShiftId, UserId};
use crate::text::{FreeText, limits};
use crate::time::DeviceTime;
use crate::unit::Unit;
use crate::{FieldError, ValidationErrors};

coded_enum!(
    /// What kind of shift. Surveillance (spaning) and raids (tillslag) are police operations.
    ShiftKind {
        Surveillance = "surveillance",
        Raid = "raid",
        StreetOutreach = "street_outreach",
        /// Hotels and clubs.
        VenueOutreach = "venue_outreach",
        OnlineOutreach = "online_outreach",
    }
);

impl ShiftKind {
    pub fn is_police_operation(self) -> bool {
        matches!(self, ShiftKind::Surveillance | ShiftKind::Raid)
    }
}

coded_enum!(
    ShiftStatus {
        Open = "open",
        Closed = "closed",
    }
);

/// What a phone says about a shift: everything the worker writes, nothing the server keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShiftDraft {
    kind: ShiftKind,
    with_police: bool,
    police_operation: Option<FreeText>,
    area: Option<FreeText>,
    started_at: DeviceTime,
    ended_at: Option<DeviceTime>,
    units: BTreeSet<Unit>,
}

/// The fields of a shift as they arrive, each already parsed on its own.
pub struct ShiftFields {
    pub kind: ShiftKind,
    pub with_police: bool,
    pub police_operation: Option<FreeText>,
    pub area: Option<FreeText>,
    pub started_at: DeviceTime,
    pub ended_at: Option<DeviceTime>,
    pub units: Vec<Unit>,
}

impl ShiftDraft {
    /// Applies the rules between fields.
    pub fn new(fields: ShiftFields) -> Result<Self, ValidationErrors> {
        let mut errors = Vec::new();
        if fields.kind.is_police_operation() && !fields.with_police {
            errors.push(FieldError::new(
                "with_police",
                "police_operation_without_police",
                format!(
                    "a {} is a police operation: with_police must be true",
                    fields.kind
                ),
            ));
        }
        if let Some(ended_at) = fields.ended_at
            && ended_at.utc() < fields.started_at.utc()
        {
            errors.push(FieldError::new(
                "ended_at",
                "ends_before_start",
                "a shift cannot end before it started",
            ));
        }
        if fields.units.is_empty() {
            errors.push(FieldError::new(
                "units",
                "no_units",
                "name at least one participating unit",
            ));
        }
        let units: BTreeSet<Unit> = fields.units.iter().copied().collect();
        if units.len() != fields.units.len() {
            errors.push(FieldError::new(
                "units",
                "duplicate_unit",
                "each unit is named once",
            ));
        }
        if !errors.is_empty() {
            return Err(ValidationErrors(errors));
        }
        Ok(Self {
            kind: fields.kind,
            with_police: fields.with_police,
            police_operation: fields.police_operation,
            area: fields.area,
            started_at: fields.started_at,
            ended_at: fields.ended_at,
            units,
        })
    }

    pub fn kind(&self) -> ShiftKind {
        self.kind
    }
    pub fn with_police(&self) -> bool {
        self.with_police
    }
    pub fn police_operation(&self) -> Option<&FreeText> {
        self.police_operation.as_ref()
    }
    pub fn area(&self) -> Option<&FreeText> {
        self.area.as_ref()
    }
    pub fn started_at(&self) -> DeviceTime {
        self.started_at
    }
    pub fn ended_at(&self) -> Option<DeviceTime> {
        self.ended_at
    }
    pub fn units(&self) -> &BTreeSet<Unit> {
        &self.units
    }
}

/// Parses the free-text label fields of a shift.
pub fn parse_label(field: &str, value: Option<&str>) -> Result<Option<FreeText>, FieldError> {
    FreeText::parse_opt(field, value, limits::LABEL)
}

/// Parses a list of unit codes, naming the position of any unknown one.
pub fn parse_units(field: &str, codes: &[String]) -> Result<Vec<Unit>, ValidationErrors> {
    if codes.len() > Unit::ALL.len() {
        return Err(FieldError::new(field, "too_many", "each unit is named at most once").into());
    }
    let mut errors = Vec::new();
    let units = codes
        .iter()
        .enumerate()
        .filter_map(|(i, code)| {
            Unit::parse_field(&format!("{field}[{i}]"), code)
                .map_err(|e| errors.push(e))
                .ok()
        })
        .collect();
    if errors.is_empty() {
        Ok(units)
    } else {
        Err(ValidationErrors(errors))
    }
}

/// A police liaison's acknowledgement of a shift's summary: once, with who and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    pub at: DateTime<Utc>,
    pub by: UserId,
    pub by_username: String,
    pub comment: Option<FreeText>,
}

/// A shift as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shift {
    pub id: ShiftId,
    pub draft: ShiftDraft,
    pub status: ShiftStatus,
    pub closed_at: Option<DateTime<Utc>>,
    pub review: Option<Review>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(kind: ShiftKind, with_police: bool) -> ShiftFields {
        ShiftFields {
            kind,
            with_police,
            police_operation: None,
            area: None,
            started_at: DeviceTime::parse("started_at", "2026-11-28T20:00:00+01:00").unwrap(),
            ended_at: None,
            units: vec![Unit::Mika, Unit::Kast],
        }
    }

    #[test]
    fn police_operations_are_always_with_police() {
        for kind in ShiftKind::all() {
            let result = ShiftDraft::new(fields(*kind, false));
            assert_eq!(result.is_err(), kind.is_police_operation(), "{kind}");
            assert!(ShiftDraft::new(fields(*kind, true)).is_ok());
        }
        let errors = ShiftDraft::new(fields(ShiftKind::Raid, false)).unwrap_err();
        assert_eq!(errors.0[0].field, "with_police");
    }

    #[test]
    fn units_are_named_once_and_at_least_one() {
        let mut f = fields(ShiftKind::StreetOutreach, false);
        f.units = vec![];
        assert_eq!(ShiftDraft::new(f).unwrap_err().0[0].code, "no_units");
        let mut f = fields(ShiftKind::StreetOutreach, false);
        f.units = vec![Unit::Mika, Unit::Mika];
        assert_eq!(ShiftDraft::new(f).unwrap_err().0[0].code, "duplicate_unit");
        let errors = parse_units("units", &["mika".into(), "polisen".into()]).unwrap_err();
        assert_eq!(errors.0[0].field, "units[1]");
    }

    #[test]
    fn a_shift_does_not_end_before_it_starts() {
        let mut f = fields(ShiftKind::Raid, true);
        f.ended_at = Some(DeviceTime::parse("ended_at", "2026-11-28T19:01:00Z").unwrap());
        assert!(ShiftDraft::new(f).is_ok());
        let mut f = fields(ShiftKind::Raid, true);
        f.ended_at = Some(DeviceTime::parse("ended_at", "2026-11-28T18:58:00Z").unwrap());
        assert_eq!(
            ShiftDraft::new(f).unwrap_err().0[0].code,
            "ends_before_start"
        );
    }
}

/// What a shift's summary counts for one role: meetings, how many were with people under
/// 18, and how many were offered support.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoleCounts {
    pub encounters: u64,
    pub under_18: u64,
    pub support_offered: u64,
}

/// The counts of a shift's summary, voided encounters already left out by the caller.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub selling: RoleCounts,
    pub buyer: RoleCounts,
    pub sugar_dating: RoleCounts,
}

impl Counts {
    pub fn of(encounters: impl IntoIterator<Item = (PersonRole, AgeGroup, bool)>) -> Self {
        let mut counts = Counts::default();
        for (role, age_group, support_offered) in encounters {
            let of_role = match role {
                PersonRole::Selling => &mut counts.selling,
                PersonRole::Buyer => &mut counts.buyer,
                PersonRole::SugarDating => &mut counts.sugar_dating,
            };
            of_role.encounters += 1;
            of_role.under_18 += u64::from(age_group == AgeGroup::Under18);
            of_role.support_offered += u64::from(support_offered);
        }
        counts
    }
}
