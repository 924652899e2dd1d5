//! Municipality notifications: a person met in a raid whose home municipality had not
//! joined the county offer on that day is a task for the coordinators, who tell the
//! municipality of the offer or of support at home. Fältlogg itself sends nothing; the
//! task holds no person data, only municipality, day, role and age group.

use chrono::{DateTime, NaiveDate, Utc};

use crate::coded_enum;
use crate::encounter::{AgeGroup, EncounterDraft, PersonRole};
use crate::ids::{NotificationId, UserId};
use crate::municipality::{ConnectionPeriod, Home, MunicipalityCode, connected_on};
use crate::shift::ShiftKind;
use crate::text::FreeText;
use crate::write::{Applied, Conflict, Refusal};

coded_enum!(
    NotificationStatus {
        Open = "open",
        Resolved = "resolved",
        /// The encounter behind it was voided or corrected so that no notice is due.
        Withdrawn = "withdrawn",
    }
);

coded_enum!(
    ResolutionMethod {
        /// The municipality was told of the county offer.
        InformedOffer = "informed_offer",
        /// The municipality was told where the person can get support at home.
        InformedLocalSupport = "informed_local_support",
    }
);

/// Everything a notification says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotificationFacts {
    pub municipality: MunicipalityCode,
    pub date: NaiveDate,
    pub role: PersonRole,
    pub age_group: AgeGroup,
}

/// The notice an encounter calls for, if any: met in a raid, living in a municipality
/// other than the host that was not connected on the day of the meeting. `history` reads
/// that municipality's connection history, asked for only when the answer depends on it
/// (most encounters are in no raid, or live in the host, and cost no read).
pub fn due<E>(
    shift_kind: ShiftKind,
    encounter: &EncounterDraft,
    history: impl FnOnce(MunicipalityCode) -> Result<Vec<ConnectionPeriod>, E>,
) -> Result<Option<NotificationFacts>, E> {
    let fields = encounter.fields();
    let Home::Municipality(municipality) = fields.home else {
        return Ok(None);
    };
    if shift_kind != ShiftKind::Raid || municipality.is_stockholm() {
        return Ok(None);
    }
    let date = fields.occurred_at.stockholm_date();
    if connected_on(&history(municipality)?, date) {
        return Ok(None);
    }
    Ok(Some(NotificationFacts {
        municipality,
        date,
        role: fields.role,
        age_group: fields.age_group,
    }))
}

/// What to do with an encounter's notification after the encounter was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reconciled {
    Keep,
    Create(NotificationFacts),
    /// Open it (again) with these facts.
    Open(NotificationFacts),
    Withdraw,
}

/// Brings a notification in line with what its encounter now calls for. A resolved one
/// stays resolved, since the municipality has been told, unless the home was corrected to
/// another municipality, which has not.
pub fn reconcile(
    existing: Option<(NotificationStatus, NotificationFacts)>,
    due: Option<NotificationFacts>,
) -> Reconciled {
    match (existing, due) {
        (None, None) => Reconciled::Keep,
        (None, Some(facts)) => Reconciled::Create(facts),
        (Some((NotificationStatus::Resolved, told)), Some(facts))
            if told.municipality != facts.municipality =>
        {
            Reconciled::Open(facts)
        }
        (Some((NotificationStatus::Resolved, _)), _) => Reconciled::Keep,
        (Some((NotificationStatus::Open, _)), None) => Reconciled::Withdraw,
        (Some((NotificationStatus::Withdrawn, _)), None) => Reconciled::Keep,
        (Some((NotificationStatus::Open, now)), Some(facts)) if now == facts => Reconciled::Keep,
        (Some(_), Some(facts)) => Reconciled::Open(facts),
    }
}

/// How a coordinator settled a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    pub method: ResolutionMethod,
    pub note: Option<FreeText>,
    pub at: DateTime<Utc>,
    pub by: UserId,
}

/// Resolving is done once; the same resolution sent again is a retry.
pub fn decide_resolution(
    status: NotificationStatus,
    existing: Option<&Resolution>,
    method: ResolutionMethod,
    note: Option<&FreeText>,
) -> Result<Applied, Refusal> {
    match (status, existing) {
        (NotificationStatus::Open, _) => Ok(Applied::Updated),
        (NotificationStatus::Resolved, Some(done))
            if done.method == method && done.note.as_ref() == note =>
        {
            Ok(Applied::Unchanged)
        }
        _ => Err(Refusal::Conflict(Conflict::NotificationSettled)),
    }
}

/// A notification as stored and shown to coordinators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub id: NotificationId,
    pub facts: NotificationFacts,
    pub status: NotificationStatus,
    pub resolution: Option<Resolution>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encounter::{Context, EncounterFields, Gender};
    use crate::ids::ShiftId;
    use crate::time::DeviceTime;

    fn encounter(home: &str, at: &str) -> EncounterDraft {
        let fields = EncounterFields {
            shift_id: ShiftId::new_random(),
            occurred_at: DeviceTime::parse("occurred_at", at).unwrap(),
            role: PersonRole::Buyer,
            age_group: AgeGroup::Adult,
            age_years: None,
            age_estimated: false,
            gender: Gender::Male,
            home: Home::parse(home, None).unwrap(),
            pseudonym: None,
            trafficking_suspected: false,
            self_harm: false,
            support_offered: false,
            support_response: None,
            referrals: vec![],
            guardian_contacted_at: None,
            guardian_not_contacted_reason: None,
            concern_report: None,
            notes: None,
        };
        let context = Context {
            now: "2030-01-01T00:00:00Z".parse().unwrap(),
            notes_enabled: true,
        };
        EncounterDraft::new(fields, &context).unwrap()
    }

    /// `due` with a history already at hand.
    fn due_given(
        kind: ShiftKind,
        encounter: &EncounterDraft,
        history: &[ConnectionPeriod],
    ) -> Option<NotificationFacts> {
        due(kind, encounter, |_| Ok::<_, ()>(history.to_vec())).unwrap()
    }

    #[test]
    fn the_history_is_read_only_when_the_answer_depends_on_it() {
        let not_asked = |_| Err::<Vec<ConnectionPeriod>, _>("asked");
        let stockholm = encounter("0180", "2026-11-28T22:00:00+01:00");
        assert_eq!(due(ShiftKind::Raid, &stockholm, not_asked), Ok(None));
        let botkyrka = encounter("0127", "2026-11-28T22:00:00+01:00");
        assert_eq!(
            due(ShiftKind::StreetOutreach, &botkyrka, not_asked),
            Ok(None)
        );
        assert_eq!(due(ShiftKind::Raid, &botkyrka, not_asked), Err("asked"));
    }

    fn since(day: &str) -> Vec<ConnectionPeriod> {
        vec![ConnectionPeriod::new(day.parse().unwrap(), None).unwrap()]
    }

    #[test]
    fn only_raids_with_residents_of_unconnected_municipalities_other_than_the_host() {
        let botkyrka = encounter("0127", "2026-11-28T22:00:00+01:00");
        let facts = due_given(ShiftKind::Raid, &botkyrka, &[]).unwrap();
        assert_eq!(facts.municipality.as_str(), "0127");
        assert_eq!(facts.date.to_string(), "2026-11-28");
        assert_eq!(due_given(ShiftKind::Surveillance, &botkyrka, &[]), None);
        assert_eq!(
            due_given(ShiftKind::Raid, &botkyrka, &since("2021-01-01")),
            None
        );
        let stockholm = encounter("0180", "2026-11-28T22:00:00+01:00");
        assert_eq!(due_given(ShiftKind::Raid, &stockholm, &[]), None);
        let unknown = encounter("unknown", "2026-11-28T22:00:00+01:00");
        assert_eq!(due_given(ShiftKind::Raid, &unknown, &[]), None);
    }

    #[test]
    fn the_day_is_stockholms_and_a_connection_counts_from_its_first_day() {
        // 23:30 UTC on 30 November is 1 December in Stockholm.
        let late = encounter("0127", "2026-11-30T23:30:00Z");
        assert_eq!(
            due_given(ShiftKind::Raid, &late, &since("2026-12-01")),
            None
        );
        let early = encounter("0127", "2026-11-30T22:30:00Z");
        assert!(due_given(ShiftKind::Raid, &early, &since("2026-12-01")).is_some());
    }

    #[test]
    fn reconciling_follows_the_encounter_but_leaves_resolved_ones() {
        let facts = due_given(
            ShiftKind::Raid,
            &encounter("0127", "2026-11-28T22:00:00Z"),
            &[],
        )
        .unwrap();
        let other = NotificationFacts {
            age_group: AgeGroup::Under18,
            ..facts
        };
        assert_eq!(reconcile(None, Some(facts)), Reconciled::Create(facts));
        assert_eq!(
            reconcile(Some((NotificationStatus::Open, facts)), Some(facts)),
            Reconciled::Keep
        );
        assert_eq!(
            reconcile(Some((NotificationStatus::Open, facts)), Some(other)),
            Reconciled::Open(other)
        );
        assert_eq!(
            reconcile(Some((NotificationStatus::Open, facts)), None),
            Reconciled::Withdraw
        );
        assert_eq!(
            reconcile(Some((NotificationStatus::Withdrawn, facts)), Some(facts)),
            Reconciled::Open(facts)
        );
        assert_eq!(
            reconcile(Some((NotificationStatus::Resolved, facts)), None),
            Reconciled::Keep
        );
        assert_eq!(
            reconcile(Some((NotificationStatus::Resolved, facts)), Some(other)),
            Reconciled::Keep
        );
        let tyreso = NotificationFacts {
            municipality: "0138".parse().unwrap(),
            ..facts
        };
        assert_eq!(
            reconcile(Some((NotificationStatus::Resolved, facts)), Some(tyreso)),
            Reconciled::Open(tyreso)
        );
    }
}
