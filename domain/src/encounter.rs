//! Påträffad person: one meeting with one person during a shift, and the safeguarding
//! rules that hold for it.

use chrono::{DateTime, Duration, Utc};

use crate::coded_enum;
use crate::codes::Coded;
use crate::ids::{EncounterId, ShiftId, UserId};
use crate::municipality::{Home, MunicipalityCode};
use crate::text::{FreeText, limits};
use crate::time::DeviceTime;
use crate::unit::{ReferralTarget, Unit};
use crate::validation::Collector;
use crate::{FieldError, ValidationErrors};

coded_enum!(
    /// Why the person was met: selling sex / exploited in prostitution, a suspected buyer,
    /// or a young person found through sugar dating.
    PersonRole {
        Selling = "selling",
        Buyer = "buyer",
        SugarDating = "sugar_dating",
    }
);

coded_enum!(
    AgeGroup {
        Under18 = "under_18",
        Adult = "adult",
        Unknown = "unknown",
    }
);

coded_enum!(
    Gender {
        Female = "female",
        Male = "male",
        Other = "other",
        Unknown = "unknown",
    }
);

coded_enum!(
    SupportResponse {
        Accepted = "accepted",
        Declined = "declined",
        Undecided = "undecided",
    }
);

/// How far ahead of the server's clock a device's `occurred_at` may be.
pub const CLOCK_SKEW: Duration = Duration::minutes(10);
/// At most this many referrals per encounter.
pub const MAX_REFERRALS: usize = 20;
pub const MAX_AGE_YEARS: i64 = 120;

/// An age in whole years, 0 to 120.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AgeYears(u8);

impl AgeYears {
    pub fn parse(field: &str, years: i64) -> Result<Self, FieldError> {
        u8::try_from(years)
            .ok()
            .filter(|y| i64::from(*y) <= MAX_AGE_YEARS)
            .map(Self)
            .ok_or_else(|| FieldError::new(field, "out_of_range", "an age from 0 to 120"))
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Referral {
    pub target: ReferralTarget,
    pub at: Option<DeviceTime>,
}

/// The report of concern (orosanmälan) the law requires for every child at risk: filed
/// by this unit with a municipality's social services, or already filed by another unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConcernReport {
    Filed {
        filed_at: DeviceTime,
        municipality: MunicipalityCode,
    },
    FiledByUnit(Unit),
    /// Filed by this unit; when and with whom were erased at the end of retention.
    DetailsErased,
}

impl ConcernReport {
    /// From the body's `{filed_at, municipality}` or `{filed_by_unit}`.
    pub fn parse(
        filed_at: Option<&str>,
        municipality: Option<&str>,
        filed_by_unit: Option<&str>,
    ) -> Result<Self, ValidationErrors> {
        let field = |name: &str| format!("concern_report.{name}");
        match (filed_at, municipality, filed_by_unit) {
            (None, None, Some(unit)) => Unit::parse_field(&field("filed_by_unit"), unit)
                .map(ConcernReport::FiledByUnit)
                .map_err(ValidationErrors::from),
            (Some(at), Some(code), None) => {
                let mut errors = Collector::default();
                let filed_at = errors.take(DeviceTime::parse(&field("filed_at"), at));
                let municipality = errors.take(code.parse::<MunicipalityCode>().map_err(|e| {
                    FieldError::new(field("municipality"), "unknown_municipality", e.to_string())
                }));
                errors.finish(filed_at.zip(municipality).map(|(filed_at, municipality)| {
                    ConcernReport::Filed {
                        filed_at,
                        municipality,
                    }
                }))
            }
            _ => Err(FieldError::new(
                "concern_report",
                "invalid_concern_report",
                "give either filed_at and municipality, or filed_by_unit",
            )
            .into()),
        }
    }
}

/// What the installation and the moment allow, beside the body itself.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    pub now: DateTime<Utc>,
    /// An installation may switch free-text notes off.
    pub notes_enabled: bool,
}

/// The fields of an encounter as they arrive, each already parsed on its own. Times
/// compare as instants, so a retry from a phone that changed its offset is the same content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncounterFields {
    pub shift_id: ShiftId,
    pub occurred_at: DeviceTime,
    pub role: PersonRole,
    pub age_group: AgeGroup,
    pub age_years: Option<AgeYears>,
    pub age_estimated: bool,
    pub gender: Gender,
    pub home: Home,
    pub pseudonym: Option<FreeText>,
    pub trafficking_suspected: bool,
    pub self_harm: bool,
    pub support_offered: bool,
    pub support_response: Option<SupportResponse>,
    pub referrals: Vec<Referral>,
    pub guardian_contacted_at: Option<DeviceTime>,
    pub guardian_not_contacted_reason: Option<FreeText>,
    pub concern_report: Option<ConcernReport>,
    pub notes: Option<FreeText>,
}

/// An encounter as a worker wrote it, every rule between its fields checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncounterDraft(EncounterFields);

impl EncounterDraft {
    pub fn new(fields: EncounterFields, context: &Context) -> Result<Self, ValidationErrors> {
        let mut errors = Vec::new();
        let minor = fields.age_group == AgeGroup::Under18;
        if let Some(years) = fields.age_years {
            let agrees = match fields.age_group {
                AgeGroup::Under18 => years.get() < 18,
                AgeGroup::Adult => years.get() >= 18,
                AgeGroup::Unknown => false,
            };
            if !agrees {
                errors.push(FieldError::new(
                    "age_years",
                    "age_group_mismatch",
                    "age_years must agree with age_group (under_18 below 18, adult from 18; none when unknown)",
                ));
            }
        }
        let latest = context.now.checked_add_signed(CLOCK_SKEW);
        if latest.is_some_and(|latest| fields.occurred_at.utc() > latest) {
            errors.push(FieldError::new(
                "occurred_at",
                "in_future",
                "occurred_at is more than 10 minutes ahead of the server's clock",
            ));
        }
        if fields.support_response.is_some() && !fields.support_offered {
            errors.push(FieldError::new(
                "support_response",
                "support_not_offered",
                "a response to support is given only when support was offered",
            ));
        }
        if fields.referrals.len() > MAX_REFERRALS {
            errors.push(FieldError::new(
                "referrals",
                "too_many",
                format!("at most {MAX_REFERRALS} referrals"),
            ));
        }
        if minor {
            for (i, referral) in fields.referrals.iter().enumerate() {
                if referral.target.adults_only() {
                    errors.push(FieldError::new(
                        format!("referrals[{i}].target"),
                        "adults_only_target",
                        format!(
                            "{} serves adults only; refer a minor to Stödcentrum or the children's regional coordinator",
                            referral.target.name()
                        ),
                    ));
                }
            }
        }
        if fields.guardian_contacted_at.is_some() && fields.guardian_not_contacted_reason.is_some()
        {
            errors.push(FieldError::new(
                "guardian_not_contacted_reason",
                "guardian_contacted",
                "give guardian_contacted_at or the reason they were not contacted, not both",
            ));
        }
        if fields.notes.is_some() && !context.notes_enabled {
            errors.push(FieldError::new(
                "notes",
                "notes_disabled",
                "this installation does not keep free-text notes; leave notes out",
            ));
        }
        if errors.is_empty() {
            Ok(Self(fields))
        } else {
            Err(ValidationErrors(errors))
        }
    }

    /// A stored encounter: the rules between its fields held when it was written, and
    /// still hold; the moment and the installation's settings of that write do not count
    /// again (notes kept before free text was switched off still load).
    pub fn from_storage(fields: EncounterFields) -> Result<Self, ValidationErrors> {
        Self::new(
            fields,
            &Context {
                now: DateTime::<Utc>::MAX_UTC,
                notes_enabled: true,
            },
        )
    }

    pub fn fields(&self) -> &EncounterFields {
        &self.0
    }

    pub fn shift_id(&self) -> ShiftId {
        self.0.shift_id
    }

    /// `filed_by_unit` says another unit filed the report; the logging unit's own report
    /// is recorded with its date and municipality.
    pub fn check_logged_by(&self, unit: Unit) -> Result<(), ValidationErrors> {
        if self.0.concern_report == Some(ConcernReport::FiledByUnit(unit)) {
            return Err(FieldError::new(
                "concern_report.filed_by_unit",
                "own_unit",
                "filed_by_unit names another unit; record your own report with filed_at and municipality",
            )
            .into());
        }
        Ok(())
    }

    /// Only retention erases a report's details: a write may keep an erased report as it
    /// is stored, never claim one.
    pub fn check_erasure_kept(
        &self,
        stored: Option<&EncounterDraft>,
    ) -> Result<(), ValidationErrors> {
        let erased =
            |draft: &EncounterDraft| draft.0.concern_report == Some(ConcernReport::DetailsErased);
        if erased(self) && !stored.is_some_and(erased) {
            return Err(FieldError::new(
                "concern_report.details_erased",
                "erased_only_by_retention",
                "give filed_at and municipality, or filed_by_unit",
            )
            .into());
        }
        Ok(())
    }

    pub fn is_minor(&self) -> bool {
        self.0.age_group == AgeGroup::Under18
    }

    /// A minor whose guardians were neither contacted nor deliberately left out, or for
    /// whom no report of concern is on record: the shift cannot be closed over it.
    pub fn lacks_safeguarding(&self) -> bool {
        let guardian = self.0.guardian_contacted_at.is_some()
            || self.0.guardian_not_contacted_reason.is_some();
        self.is_minor() && !(guardian && self.0.concern_report.is_some())
    }
}

/// Free-text parsers for the encounter's fields, with their limits.
pub fn parse_pseudonym(value: Option<&str>) -> Result<Option<FreeText>, FieldError> {
    FreeText::parse_opt("pseudonym", value, limits::PSEUDONYM)
}

pub fn parse_notes(value: Option<&str>) -> Result<Option<FreeText>, FieldError> {
    FreeText::parse_opt("notes", value, limits::NOTES)
}

pub fn parse_reason(field: &str, value: Option<&str>) -> Result<Option<FreeText>, FieldError> {
    FreeText::parse_opt(field, value, limits::REASON)
}

/// Why an encounter was voided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Void {
    pub at: DateTime<Utc>,
    pub by: UserId,
    /// Erased at the end of retention.
    pub reason: Option<FreeText>,
}

/// An encounter as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encounter {
    pub id: EncounterId,
    pub draft: EncounterDraft,
    /// The unit of the worker who logged it: only that unit's workers read or change it.
    pub unit: Unit,
    pub logged_by: UserId,
    /// Arrived after its shift was closed (a phone that was offline).
    pub late_entry: bool,
    pub void: Option<Void>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn now() -> DateTime<Utc> {
        "2026-11-28T22:00:00Z".parse().unwrap()
    }

    fn context() -> Context {
        Context {
            now: now(),
            notes_enabled: true,
        }
    }

    pub(crate) fn adult() -> EncounterFields {
        EncounterFields {
            shift_id: ShiftId::new_random(),
            occurred_at: DeviceTime::parse("occurred_at", "2026-11-28T22:30:00+01:00").unwrap(),
            role: PersonRole::Selling,
            age_group: AgeGroup::Adult,
            age_years: None,
            age_estimated: false,
            gender: Gender::Female,
            home: Home::Unknown,
            pseudonym: None,
            trafficking_suspected: false,
            self_harm: false,
            support_offered: true,
            support_response: None,
            referrals: vec![],
            guardian_contacted_at: None,
            guardian_not_contacted_reason: None,
            concern_report: None,
            notes: None,
        }
    }

    fn codes(result: Result<EncounterDraft, ValidationErrors>) -> Vec<(String, &'static str)> {
        result
            .unwrap_err()
            .0
            .into_iter()
            .map(|e| (e.field, e.code))
            .collect()
    }

    #[test]
    fn a_minor_is_never_referred_to_mika_or_kast() {
        for role in PersonRole::all() {
            let mut f = adult();
            f.role = *role;
            f.age_group = AgeGroup::Under18;
            f.referrals = vec![
                Referral {
                    target: ReferralTarget::Stodcentrum,
                    at: None,
                },
                Referral {
                    target: ReferralTarget::Unit(Unit::Kast),
                    at: None,
                },
            ];
            assert_eq!(
                codes(EncounterDraft::new(f, &context())),
                [("referrals[1].target".to_owned(), "adults_only_target")]
            );
        }
        let mut f = adult();
        f.referrals = vec![Referral {
            target: ReferralTarget::Unit(Unit::Mika),
            at: None,
        }];
        assert!(EncounterDraft::new(f, &context()).is_ok());
    }

    #[test]
    fn support_response_only_when_offered_and_notes_only_when_enabled() {
        let mut f = adult();
        f.support_offered = false;
        f.support_response = Some(SupportResponse::Declined);
        f.notes = Some(FreeText::parse("notes", "kort", 10).unwrap());
        let context = Context {
            notes_enabled: false,
            ..context()
        };
        assert_eq!(
            codes(EncounterDraft::new(f, &context)),
            [
                ("support_response".to_owned(), "support_not_offered"),
                ("notes".to_owned(), "notes_disabled")
            ]
        );
    }

    #[test]
    fn occurred_at_may_run_ten_minutes_ahead() {
        let mut f = adult();
        f.occurred_at = DeviceTime::parse("occurred_at", "2026-11-28T22:10:00Z").unwrap();
        assert!(EncounterDraft::new(f.clone(), &context()).is_ok());
        f.occurred_at = DeviceTime::parse("occurred_at", "2026-11-28T22:10:01Z").unwrap();
        assert_eq!(codes(EncounterDraft::new(f, &context()))[0].1, "in_future");
    }

    #[test]
    fn safeguarding_needs_guardian_and_concern_report() {
        let mut f = adult();
        f.age_group = AgeGroup::Under18;
        f.age_estimated = true;
        let draft = EncounterDraft::new(f.clone(), &context()).unwrap();
        assert!(draft.lacks_safeguarding());
        f.guardian_not_contacted_reason =
            Some(FreeText::parse("r", "risk för barnet", 100).unwrap());
        assert!(
            EncounterDraft::new(f.clone(), &context())
                .unwrap()
                .lacks_safeguarding()
        );
        f.concern_report = Some(ConcernReport::FiledByUnit(Unit::Ungdomsjouren));
        assert!(
            !EncounterDraft::new(f, &context())
                .unwrap()
                .lacks_safeguarding()
        );
        assert!(
            !EncounterDraft::new(adult(), &context())
                .unwrap()
                .lacks_safeguarding()
        );
    }

    #[test]
    fn concern_report_is_one_shape_or_the_other() {
        assert!(ConcernReport::parse(None, None, Some("mika")).is_ok());
        assert!(
            ConcernReport::parse(Some("2026-11-28T23:00:00+01:00"), Some("0127"), None).is_ok()
        );
        let e = ConcernReport::parse(
            Some("2026-11-28T23:00:00+01:00"),
            Some("0127"),
            Some("mika"),
        );
        assert_eq!(e.unwrap_err().0[0].code, "invalid_concern_report");
        let e = ConcernReport::parse(Some("igår"), Some("9999"), None).unwrap_err();
        let fields: Vec<_> = e.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["concern_report.filed_at", "concern_report.municipality"]
        );
    }

    proptest! {
        #[test]
        fn age_years_agrees_with_age_group(years in 0i64..=120, group in 0usize..3) {
            let group = AgeGroup::all()[group];
            let mut f = adult();
            f.age_group = group;
            f.age_years = Some(AgeYears::parse("age_years", years).unwrap());
            let agrees = match group {
                AgeGroup::Under18 => years < 18,
                AgeGroup::Adult => years >= 18,
                AgeGroup::Unknown => false,
            };
            prop_assert_eq!(EncounterDraft::new(f, &context()).is_ok(), agrees);
        }

        #[test]
        fn ages_outside_0_to_120_are_refused(years in any::<i64>()) {
            prop_assert_eq!(AgeYears::parse("age_years", years).is_ok(), (0..=120).contains(&years));
        }
    }
}
