//! Encounters: the one write path for each change of an encounter (create, update,
//! amendment, void), with its municipality notification in the same transaction.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use faltlogg_domain::FieldError;
use faltlogg_domain::access::ShiftScope;
use faltlogg_domain::codes::Coded;
use faltlogg_domain::encounter::{
    AgeYears, ConcernReport, Encounter, EncounterDraft, EncounterFields, Referral, Void,
};
use faltlogg_domain::ids::{EncounterId, ShiftId};
use faltlogg_domain::municipality::{Home, MunicipalityCode};
use faltlogg_domain::notification;
use faltlogg_domain::shift::{Shift, ShiftStatus};
use faltlogg_domain::text::FreeText;
use faltlogg_domain::time::stockholm_day_start;
use faltlogg_domain::unit::Unit;
use faltlogg_domain::write::{Applied, Conflict, Refusal};

use crate::dialect::{
    self, Held, Lock, in_write_transaction, lock_record, on_backend, write_transaction,
};
use crate::notifications::Known;
use crate::schema::{encounter_referrals, encounters};
use crate::stored::{self, coded, corrupt, opt, parse, text, time};
use crate::write::{
    WriteError, Writer, is_retry, record_amendment, record_moved, require_amendment_reason,
    retry_once,
};
use crate::{DbConnection, StoreError, feed, notifications, reference, shifts};

/// What the concern report's filing time says once retention erased its details.
pub(crate) const ERASED: &str = "erased";

#[derive(Queryable)]
struct Row {
    id: String,
    shift_id: String,
    unit_code: String,
    logged_by: String,
    _occurred_at: NaiveDateTime,
    occurred_at_sent: String,
    role: String,
    age_group: String,
    age_years: Option<i32>,
    age_estimated: bool,
    gender: String,
    home_municipality: String,
    home_country: Option<String>,
    pseudonym: Option<String>,
    trafficking_suspected: bool,
    self_harm: bool,
    support_offered: bool,
    support_response: Option<String>,
    guardian_contacted_at_sent: Option<String>,
    guardian_not_contacted_reason: Option<String>,
    concern_filed_at_sent: Option<String>,
    concern_municipality: Option<String>,
    concern_filed_by_unit: Option<String>,
    notes: Option<String>,
    late_entry: bool,
    _lacks_safeguarding: bool,
    voided_at: Option<NaiveDateTime>,
    voided_by: Option<String>,
    void_reason: Option<String>,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    _shift_with_police: bool,
    _referral_targets: String,
    _shift_started_at: NaiveDateTime,
}

/// The columns a draft decides; written alike on create and update. `None` is NULL, not
/// DEFAULT: one statement text for every draft, prepared once per connection.
#[derive(Insertable, AsChangeset)]
#[cfg_attr(test, derive(Default))]
#[diesel(
    table_name = encounters,
    treat_none_as_null = true,
    treat_none_as_default_value = false
)]
struct Values {
    shift_id: String,
    occurred_at: NaiveDateTime,
    occurred_at_sent: String,
    role: &'static str,
    age_group: &'static str,
    age_years: Option<i32>,
    age_estimated: bool,
    gender: &'static str,
    home_municipality: &'static str,
    home_country: Option<String>,
    pseudonym: Option<String>,
    trafficking_suspected: bool,
    self_harm: bool,
    support_offered: bool,
    support_response: Option<&'static str>,
    guardian_contacted_at_sent: Option<String>,
    guardian_not_contacted_reason: Option<String>,
    concern_filed_at_sent: Option<String>,
    concern_municipality: Option<&'static str>,
    concern_filed_by_unit: Option<&'static str>,
    notes: Option<String>,
    lacks_safeguarding: bool,
    referral_targets: String,
}

/// Owned, not borrowed from the draft: see `dialect::prepared_by_size`.
fn values(draft: &EncounterDraft) -> Values {
    let f = draft.fields();
    let (concern_filed_at_sent, concern_municipality, concern_filed_by_unit) =
        match f.concern_report {
            Some(ConcernReport::Filed {
                filed_at,
                municipality,
            }) => (
                Some(filed_at.to_string()),
                Some(municipality.as_str()),
                None,
            ),
            Some(ConcernReport::FiledByUnit(unit)) => (None, None, Some(unit.code())),
            Some(ConcernReport::DetailsErased) => (Some(ERASED.to_owned()), None, None),
            None => (None, None, None),
        };
    Values {
        shift_id: f.shift_id.to_string(),
        occurred_at: f.occurred_at.utc().naive_utc(),
        occurred_at_sent: f.occurred_at.to_string(),
        role: f.role.code(),
        age_group: f.age_group.code(),
        age_years: f.age_years.map(|a| i32::from(a.get())),
        age_estimated: f.age_estimated,
        gender: f.gender.code(),
        home_municipality: f.home.code(),
        home_country: match &f.home {
            Home::Abroad(Some(country)) => Some(country.as_str().to_owned()),
            _ => None,
        },
        pseudonym: f.pseudonym.as_ref().map(|p| p.as_str().to_owned()),
        trafficking_suspected: f.trafficking_suspected,
        self_harm: f.self_harm,
        support_offered: f.support_offered,
        support_response: f.support_response.map(|r| r.code()),
        guardian_contacted_at_sent: f.guardian_contacted_at.map(|t| t.to_string()),
        guardian_not_contacted_reason: f
            .guardian_not_contacted_reason
            .as_ref()
            .map(|r| r.as_str().to_owned()),
        concern_filed_at_sent,
        concern_municipality,
        concern_filed_by_unit,
        notes: f.notes.as_ref().map(|n| n.as_str().to_owned()),
        lacks_safeguarding: draft.lacks_safeguarding(),
        referral_targets: stored::targets(f.referrals.iter().map(|r| r.target)),
    }
}

fn from_row(row: Row, referrals: Vec<Referral>) -> Result<Encounter, StoreError> {
    let concern_report = match (
        row.concern_filed_at_sent,
        row.concern_municipality,
        row.concern_filed_by_unit,
    ) {
        (Some(at), None, None) if at == ERASED => Some(ConcernReport::DetailsErased),
        (Some(at), Some(code), None) => Some(ConcernReport::Filed {
            filed_at: time(&at)?,
            municipality: parse(&code)?,
        }),
        (None, None, Some(unit)) => Some(ConcernReport::FiledByUnit(coded(&unit)?)),
        (None, None, None) => None,
        _ => return Err(corrupt("concern report columns")),
    };
    let fields = EncounterFields {
        shift_id: parse(&row.shift_id)?,
        occurred_at: time(&row.occurred_at_sent)?,
        role: coded(&row.role)?,
        age_group: coded(&row.age_group)?,
        age_years: row
            .age_years
            .map(|y| AgeYears::parse("age_years", i64::from(y)))
            .transpose()
            .map_err(corrupt)?,
        age_estimated: row.age_estimated,
        gender: coded(&row.gender)?,
        home: Home::parse(&row.home_municipality, row.home_country.as_deref()).map_err(corrupt)?,
        pseudonym: opt(row.pseudonym.as_deref(), text)?,
        trafficking_suspected: row.trafficking_suspected,
        self_harm: row.self_harm,
        support_offered: row.support_offered,
        support_response: opt(row.support_response.as_deref(), coded)?,
        referrals,
        guardian_contacted_at: opt(row.guardian_contacted_at_sent.as_deref(), time)?,
        guardian_not_contacted_reason: opt(row.guardian_not_contacted_reason.as_deref(), text)?,
        concern_report,
        notes: opt(row.notes.as_deref(), text)?,
    };
    let void = match (row.voided_at, row.voided_by) {
        (Some(at), Some(by)) => Some(Void {
            at: at.and_utc(),
            by: parse(&by)?,
            reason: opt(row.void_reason.as_deref(), text)?,
        }),
        _ => None,
    };
    Ok(Encounter {
        id: parse(&row.id)?,
        draft: EncounterDraft::from_storage(fields).map_err(corrupt)?,
        unit: coded(&row.unit_code)?,
        logged_by: parse(&row.logged_by)?,
        late_entry: row.late_entry,
        void,
        version: row.version,
        created_at: row.created_at.and_utc(),
        updated_at: row.updated_at.and_utc(),
    })
}

/// Turns rows into encounters, with the referrals of all of them in one query.
fn hydrate(conn: &mut DbConnection, rows: Vec<Row>) -> Result<Vec<Encounter>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<&String> = rows.iter().map(|row| &row.id).collect();
    let mut referrals: HashMap<String, Vec<Referral>> = HashMap::new();
    for (encounter, target, at) in encounter_referrals::table
        .filter(encounter_referrals::encounter_id.eq_any(&ids))
        .order((
            encounter_referrals::encounter_id,
            encounter_referrals::position,
        ))
        .select((
            encounter_referrals::encounter_id,
            encounter_referrals::target,
            encounter_referrals::at_sent,
        ))
        .load::<(String, String, Option<String>)>(conn)?
    {
        referrals.entry(encounter).or_default().push(Referral {
            target: coded(&target)?,
            at: opt(at.as_deref(), time)?,
        });
    }
    rows.into_iter()
        .map(|row| {
            let of_row = referrals.remove(&row.id).unwrap_or_default();
            from_row(row, of_row)
        })
        .collect()
}

/// The encounters with these ids (stored form), in no particular order.
pub fn get_many(conn: &mut DbConnection, ids: &[String]) -> Result<Vec<Encounter>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<Row> = encounters::table
        .filter(encounters::id.eq_any(ids))
        .select(encounters::all_columns)
        .load(conn)?;
    hydrate(conn, rows)
}

pub fn get(conn: &mut DbConnection, id: EncounterId) -> Result<Option<Encounter>, StoreError> {
    let rows: Vec<Row> = encounters::table
        .filter(encounters::id.eq(id.to_string()))
        .select(encounters::all_columns)
        .load(conn)?;
    Ok(hydrate(conn, rows)?.pop())
}

/// The encounter, when it is the unit's; otherwise it does not exist for the caller.
pub fn get_of_unit(
    conn: &mut DbConnection,
    unit: Unit,
    id: EncounterId,
) -> Result<Encounter, StoreError> {
    get(conn, id)?
        .filter(|encounter| encounter.unit == unit)
        .ok_or(StoreError::NotFound)
}

/// Where the previous page ended: in order of occurrence, then id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncounterCursor {
    pub occurred_at: DateTime<Utc>,
    pub id: EncounterId,
}

/// The unit's encounters in a shift, voided ones included (marked), in order of occurrence.
pub fn list_in_shift(
    conn: &mut DbConnection,
    unit: Unit,
    shift: ShiftId,
    after: Option<EncounterCursor>,
    limit: i64,
) -> Result<Vec<Encounter>, StoreError> {
    let mut query = encounters::table
        .filter(encounters::shift_id.eq(shift.to_string()))
        .filter(encounters::unit_code.eq(unit.code()))
        .select(encounters::all_columns)
        .into_boxed();
    if let Some(cursor) = after {
        let at = cursor.occurred_at.naive_utc();
        query = query.filter(
            encounters::occurred_at.gt(at).or(encounters::occurred_at
                .eq(at)
                .and(encounters::id.gt(cursor.id.to_string()))),
        );
    }
    let rows: Vec<Row> = query
        .order((encounters::occurred_at.asc(), encounters::id.asc()))
        .limit(limit)
        .load(conn)?;
    hydrate(conn, rows)
}

/// The shift an encounter is written into: it must exist and have the writer's unit.
fn shift_for(
    conn: &mut DbConnection,
    writer: &Writer,
    id: ShiftId,
) -> Result<Shift, WriteError<Encounter>> {
    // Shared: encounters are written side by side, but not while the shift closes.
    lock_record(conn, shifts::LOCK, &id.to_string(), Lock::Shared)?;
    shifts::get(conn, id)?
        .filter(|shift| ShiftScope::Unit(writer.unit).admits(shift))
        .ok_or_else(|| {
            Refusal::Invalid(
                FieldError::new(
                    "shift_id",
                    "unknown_shift",
                    "no shift with this id that your unit takes part in",
                )
                .into(),
            )
            .into()
        })
}

/// Creates or updates an encounter (PUT). A new encounter for a closed shift is a late
/// entry; a change to one in a closed shift is an amendment and needs its reason. Runs in
/// the caller's write transaction (a push item's, or the request's with its audit entry):
/// every refusal comes before the first write.
pub fn put(
    conn: &mut DbConnection,
    writer: &Writer,
    id: EncounterId,
    draft: &EncounterDraft,
    if_match: Option<i64>,
    amendment_reason: Option<&FreeText>,
    now: DateTime<Utc>,
) -> Result<(Applied, Encounter), WriteError<Encounter>> {
    draft.check_logged_by(writer.unit)?;
    let write = Put {
        writer: *writer,
        id,
        draft,
        if_match,
        amendment_reason,
    };
    in_write_transaction(conn, |conn| {
        let attempt = |conn: &mut DbConnection| put_once(conn, write, now);
        match attempt(conn)? {
            Some(done) => Ok(done),
            // Another request created or changed it after this one looked: the second look
            // finds it and answers as a retry, an update or a conflict.
            None => attempt(conn)?.ok_or(WriteError::Store(StoreError::Duplicate)),
        }
    })
}

/// Runs `f` in a write transaction that begins holding the shared locks of the shifts
/// `drafts` are written into, taken with its `BEGIN` on PostgreSQL
/// ([`dialect::write_transaction_sharing`]): [`put_many`], given the [`Held`], does not take
/// them again.
pub fn put_transaction<'d, T, E, F>(
    conn: &mut DbConnection,
    drafts: impl IntoIterator<Item = &'d EncounterDraft>,
    f: F,
) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection, &Held) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    let shifts: Vec<String> = drafts
        .into_iter()
        .map(|draft| draft.shift_id().to_string())
        .collect();
    dialect::write_transaction_sharing(conn, shifts::LOCK, &shifts, f)
}

/// One write of a batch, as its PUT carries it, and who writes it.
#[derive(Debug, Clone, Copy)]
pub struct Put<'a> {
    pub writer: Writer,
    pub id: EncounterId,
    pub draft: &'a EncounterDraft,
    pub if_match: Option<i64>,
    pub amendment_reason: Option<&'a FreeText>,
}

/// What [`put`] answered for one write of a batch.
pub type PutOutcome = Result<(Applied, Encounter), WriteError<Encounter>>;

/// Applies a run of writes with the outcome [`put`] gives each, in order, in the caller's
/// write transaction; a storage failure ends the run. New encounters whose id the run
/// holds once, into shifts of their writer's unit, are written together: a few statements
/// for the run instead of six for each (a phone back online pushes hundreds; concurrent
/// PUTs are written together too). Every other
/// write (an update, a retry, a refusal, an id given twice) goes through [`put`] in
/// order; encounters do not depend on each other, so the order between the two kinds
/// changes no outcome.
/// `held`: the shift locks the caller's transaction holds already ([`put_transaction`]).
pub fn put_many(
    conn: &mut DbConnection,
    puts: &[Put<'_>],
    held: &Held,
    now: DateTime<Utc>,
) -> Result<Vec<PutOutcome>, StoreError> {
    in_write_transaction(conn, |conn| {
        let mut created = create_together(conn, puts, held, now)?;
        let mut outcomes = Vec::with_capacity(puts.len());
        for (i, p) in puts.iter().enumerate() {
            let outcome = match created.remove(&i) {
                Some(encounter) => Ok((Applied::Created, encounter)),
                None => put(
                    conn,
                    &p.writer,
                    p.id,
                    p.draft,
                    p.if_match,
                    p.amendment_reason,
                    now,
                ),
            };
            if let Err(WriteError::Store(error)) = outcome {
                return Err(error);
            }
            outcomes.push(outcome);
        }
        Ok(outcomes)
    })
}

/// The creates of a run that can be written together, written: by their place in the run.
/// Whether an id is new is the insert's to say: an id stored already (an update, a retry)
/// or created by another request meanwhile is left out by it, and goes through [`put`]
/// with the rest of the run. (A query for the stored ids first was a statement more, and
/// in a young database, whose statistics still say "small table", its cached plan read
/// the whole table for every group.)
fn create_together(
    conn: &mut DbConnection,
    puts: &[Put<'_>],
    held: &Held,
    now: DateTime<Utc>,
) -> Result<HashMap<usize, Encounter>, StoreError> {
    let mut times_given: HashMap<EncounterId, usize> = HashMap::new();
    for p in puts {
        *times_given.entry(p.id).or_default() += 1;
    }
    let candidates: Vec<(usize, &Put<'_>)> = puts
        .iter()
        .enumerate()
        .filter(|(_, p)| {
            // An If-Match names a stored version: an update, which the insert would skip.
            p.if_match.is_none()
                && times_given[&p.id] == 1
                && p.draft.check_logged_by(p.writer.unit).is_ok()
                && p.draft.check_erasure_kept(None).is_ok()
        })
        .collect();
    let mut shift_ids: Vec<String> = candidates
        .iter()
        .map(|(_, p)| p.draft.shift_id().to_string())
        .collect();
    // In one order, so that two batches never wait for each other's locks in a circle.
    shift_ids.sort();
    shift_ids.dedup();
    for id in shift_ids.iter().filter(|id| !held.covers(shifts::LOCK, id)) {
        lock_record(conn, shifts::LOCK, id, Lock::Shared)?;
    }
    let shifts: HashMap<ShiftId, Shift> = shifts::get_many(conn, &shift_ids)?
        .into_iter()
        .map(|shift| (shift.id, shift))
        .collect();
    let together: Vec<(usize, Encounter, &Shift)> = candidates
        .into_iter()
        .filter_map(|(i, p)| {
            let shift = shifts
                .get(&p.draft.shift_id())
                .filter(|shift| ShiftScope::Unit(p.writer.unit).admits(shift))?;
            Some((
                i,
                new_encounter(&p.writer, p.id, p.draft, shift, now),
                shift,
            ))
        })
        .collect();
    let rows: Vec<(&Encounter, &Shift)> = together.iter().map(|(_, e, s)| (e, *s)).collect();
    let inserted = insert_created(conn, &rows, now)?;
    let together: Vec<(usize, Encounter, &Shift)> = together
        .into_iter()
        .filter(|(_, e, _)| inserted.contains(&e.id.to_string()))
        .collect();
    if together.is_empty() {
        return Ok(HashMap::new());
    }
    let created: Vec<Encounter> = together.iter().map(|(_, e, _)| e.clone()).collect();
    insert_referrals(conn, &created)?;
    for (_, encounter, shift) in &together {
        follow_with_notification(
            conn,
            encounter.id,
            shift,
            Some(&encounter.draft),
            Known::New,
            now,
        )?;
    }
    Ok(together.into_iter().map(|(i, e, _)| (i, e)).collect())
}

/// One attempt at [`put`]; `None` when a create found its id taken, or an update found
/// the record changed since it looked.
fn put_once(
    conn: &mut DbConnection,
    write: Put<'_>,
    now: DateTime<Utc>,
) -> Result<Option<(Applied, Encounter)>, WriteError<Encounter>> {
    let Put {
        writer,
        id,
        draft,
        if_match,
        amendment_reason,
    } = write;
    let writer = &writer;
    let stored = get(conn, id)?;
    draft.check_erasure_kept(stored.as_ref().map(|e| &e.draft))?;
    match stored {
        None => {
            let shift = shift_for(conn, writer, draft.shift_id())?;
            let created = new_encounter(writer, id, draft, &shift, now);
            if insert_created(conn, &[(&created, &shift)], now)?.is_empty() {
                return Ok(None);
            }
            insert_referrals(conn, std::slice::from_ref(&created))?;
            follow_with_notification(conn, id, &shift, Some(draft), Known::New, now)?;
            Ok(Some((Applied::Created, created)))
        }
        Some(stored) => {
            if stored.unit != writer.unit {
                return Err(Refusal::NotFound.into());
            }
            if is_retry(&stored, &stored.draft, stored.version, draft, if_match)? {
                return Ok(Some((Applied::Unchanged, stored)));
            }
            if stored.void.is_some() {
                return Err(Refusal::Conflict(Conflict::Voided).into());
            }
            if stored.draft.shift_id() != draft.shift_id() {
                return Err(Refusal::Invalid(
                    FieldError::new(
                        "shift_id",
                        "immutable",
                        "an encounter stays in the shift it was logged in",
                    )
                    .into(),
                )
                .into());
            }
            let shift = shift_for(conn, writer, draft.shift_id())?;
            require_amendment_reason(shift.status == ShiftStatus::Closed, amendment_reason)?;
            let updated = diesel::update(
                encounters::table
                    .filter(encounters::id.eq(id.to_string()))
                    .filter(encounters::version.eq(stored.version)),
            )
            .set((
                values(draft),
                encounters::version.eq(stored.version + 1),
                encounters::updated_at.eq(now.naive_utc()),
            ))
            .execute(conn)?;
            if updated == 0 {
                // Another write changed it after this one looked (a retry racing its first
                // attempt, say): the second look answers as a retry or a conflict.
                return Ok(None);
            }
            diesel::delete(
                encounter_referrals::table
                    .filter(encounter_referrals::encounter_id.eq(id.to_string())),
            )
            .execute(conn)?;
            let updated = Encounter {
                draft: draft.clone(),
                version: stored.version + 1,
                updated_at: now,
                ..stored
            };
            insert_referrals(conn, std::slice::from_ref(&updated))?;
            if let Some(reason) = amendment_reason {
                record_amendment(
                    conn,
                    "encounter",
                    &id.to_string(),
                    updated.version,
                    reason,
                    writer.user_id,
                    now,
                )?;
            }
            follow_with_notification(conn, id, &shift, Some(draft), Known::Stored, now)?;
            Ok(Some((Applied::Updated, changed(conn, updated, now)?)))
        }
    }
}

/// Every change of a stored encounter ends here: the one place that records it for the
/// devices' change feed (a new one's change goes in with its insert, [`insert_created`]).
/// The encounter is what the write made of the stored one (`now` comes cut to
/// microseconds, as stored), not read back: a write costs a round trip less, and the
/// tests compare what PUT answers with what GET reads.
fn changed(
    conn: &mut DbConnection,
    encounter: Encounter,
    now: DateTime<Utc>,
) -> Result<Encounter, StoreError> {
    crate::feed::record_encounter(conn, &encounter, now)?;
    Ok(encounter)
}

/// A new encounter as a create makes it.
fn new_encounter(
    writer: &Writer,
    id: EncounterId,
    draft: &EncounterDraft,
    shift: &Shift,
    now: DateTime<Utc>,
) -> Encounter {
    Encounter {
        id,
        draft: draft.clone(),
        unit: writer.unit,
        logged_by: writer.user_id,
        late_entry: shift.status == ShiftStatus::Closed,
        void: None,
        version: 1,
        created_at: now,
        updated_at: now,
    }
}

/// A new encounter's row: its draft's columns and those the server decides. Owned, as
/// [`Values`] is.
#[derive(Insertable)]
// Without this every field, `Option` or not, is written "DEFAULT if `None`", and diesel
// prepares such a statement anew each time (its text could change with the values).
#[diesel(table_name = encounters, treat_none_as_default_value = false)]
#[cfg_attr(test, derive(Default))]
struct NewEncounter {
    #[diesel(embed)]
    values: Values,
    // The cooperation report reads the shift's flag and start from its encounters; a
    // shift's update copies changed ones (`shifts::update`).
    shift_with_police: bool,
    shift_started_at: NaiveDateTime,
    id: String,
    unit_code: &'static str,
    logged_by: String,
    late_entry: bool,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl NewEncounter {
    fn of(e: &Encounter, shift: &Shift) -> Self {
        Self {
            values: values(&e.draft),
            shift_with_police: shift.draft.with_police(),
            shift_started_at: shift.draft.started_at().utc().naive_utc(),
            id: e.id.to_string(),
            unit_code: e.unit.code(),
            logged_by: e.logged_by.to_string(),
            late_entry: e.late_entry,
            version: e.version,
            created_at: e.created_at.naive_utc(),
            updated_at: e.updated_at.naive_utc(),
        }
    }
}

/// Inserts new encounters, each with the shift it is written into, and the change-feed
/// row of each inserted; returns the ids inserted. An id that is taken is skipped, not a
/// unique violation: on PostgreSQL that would abort the caller's transaction, and with it
/// a push's other items.
fn insert_created(
    conn: &mut DbConnection,
    created: &[(&Encounter, &Shift)],
    now: DateTime<Utc>,
) -> Result<HashSet<String>, StoreError> {
    if created.is_empty() {
        return Ok(HashSet::new());
    }
    let rows: Vec<NewEncounter> = created
        .iter()
        .map(|(e, shift)| NewEncounter::of(e, shift))
        .collect();
    let inserted: HashSet<String> = match conn {
        // All rows in one statement, prepared once per connection for each number of rows
        // up to 16.
        DbConnection::Postgres(pg) => {
            crate::dialect::prepared_by_size!(rows.as_slice(), |fixed| feed::with_changes(
                diesel::insert_into(encounters::table).values(fixed),
                now
            )
            .load::<String>(pg)?)
            .into_iter()
            .collect()
        }
        // Diesel takes ON CONFLICT with one row only on SQLite: a statement each, in-process.
        DbConnection::Sqlite(sqlite) => {
            let mut inserted = HashSet::with_capacity(rows.len());
            for (row, (e, _)) in rows.iter().zip(created) {
                if diesel::insert_into(encounters::table)
                    .values(row)
                    .on_conflict_do_nothing()
                    .execute(sqlite)?
                    == 1
                {
                    inserted.insert(e.id.to_string());
                }
            }
            let written = created
                .iter()
                .map(|(e, _)| *e)
                .filter(|e| inserted.contains(&e.id.to_string()));
            feed::record_encounters(conn, written, now)?;
            inserted
        }
    };
    Ok(inserted)
}

/// The referrals of encounters just written (none stored for them), in one statement.
fn insert_referrals(conn: &mut DbConnection, written: &[Encounter]) -> Result<(), StoreError> {
    let rows: Vec<_> = written
        .iter()
        .flat_map(|e| {
            (0i32..)
                .zip(&e.draft.fields().referrals)
                .map(|(position, referral)| {
                    (
                        encounter_referrals::encounter_id.eq(e.id.to_string()),
                        encounter_referrals::position.eq(position),
                        encounter_referrals::target.eq(referral.target.code()),
                        encounter_referrals::at_sent.eq(referral.at.map(|t| t.to_string())),
                    )
                })
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    on_backend!(conn, |inner| diesel::insert_into(
        encounter_referrals::table
    )
    .values(&rows)
    .execute(inner)?);
    Ok(())
}

/// `draft` is `None` once the encounter is voided: no notification is due any more.
fn follow_with_notification(
    conn: &mut DbConnection,
    id: EncounterId,
    shift: &Shift,
    draft: Option<&EncounterDraft>,
    known: Known,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let due = match draft {
        Some(draft) => notification::due(shift.draft.kind(), draft, |code| {
            Ok::<_, StoreError>(reference::municipality(conn, code)?.connections)
        })?,
        None => None,
    };
    notifications::follow_encounter(conn, id, due, known, now)
}

/// Voids an encounter: kept, marked, out of every count, its open notification withdrawn.
/// Voiding a voided encounter again is a retry.
pub fn void(
    conn: &mut DbConnection,
    writer: &Writer,
    id: EncounterId,
    reason: &FreeText,
    now: DateTime<Utc>,
) -> Result<(Applied, Encounter), WriteError<Encounter>> {
    retry_once(
        || {
            write_transaction(conn, |conn| {
                let stored = get_of_unit(conn, writer.unit, id)?;
                if stored.void.is_some() {
                    return Ok((Applied::Unchanged, stored));
                }
                let updated = diesel::update(
                    encounters::table
                        .filter(encounters::id.eq(id.to_string()))
                        .filter(encounters::version.eq(stored.version)),
                )
                .set((
                    encounters::voided_at.eq(Some(now.naive_utc())),
                    encounters::voided_by.eq(Some(writer.user_id.to_string())),
                    encounters::void_reason.eq(Some(reason.as_str())),
                    encounters::version.eq(stored.version + 1),
                    encounters::updated_at.eq(now.naive_utc()),
                ))
                .execute(conn)?;
                if updated == 0 {
                    return Err(WriteError::Stale(Box::new(stored)));
                }
                let shift =
                    shifts::get(conn, stored.draft.shift_id())?.ok_or(StoreError::NotFound)?;
                follow_with_notification(conn, id, &shift, None, Known::Stored, now)?;
                let voided = Encounter {
                    void: Some(Void {
                        at: now,
                        by: writer.user_id,
                        reason: Some(reason.clone()),
                    }),
                    version: stored.version + 1,
                    updated_at: now,
                    ..stored
                };
                Ok((Applied::Updated, changed(conn, voided, now)?))
            })
        },
        record_moved,
    )
}

/// Re-reads the notification every counting encounter of a shift calls for (its kind changed).
pub(crate) fn follow_shift(
    conn: &mut DbConnection,
    shift: &Shift,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let rows: Vec<Row> = encounters::table
        .filter(encounters::shift_id.eq(shift.id.to_string()))
        .filter(encounters::voided_at.is_null())
        .select(encounters::all_columns)
        .load(conn)?;
    for encounter in hydrate(conn, rows)? {
        follow_with_notification(
            conn,
            encounter.id,
            shift,
            Some(&encounter.draft),
            Known::Stored,
            now,
        )?;
    }
    Ok(())
}

/// Re-reads the notification of every counting encounter from a municipality on or after
/// a day: its connection changed from that day on.
pub(crate) fn follow_municipality(
    conn: &mut DbConnection,
    code: MunicipalityCode,
    from: NaiveDate,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let rows: Vec<Row> = encounters::table
        .filter(encounters::home_municipality.eq(code.as_str()))
        .filter(encounters::occurred_at.ge(stockholm_day_start(from).naive_utc()))
        .filter(encounters::voided_at.is_null())
        .select(encounters::all_columns)
        .load(conn)?;
    let mut shifts_seen: HashMap<ShiftId, Shift> = HashMap::new();
    for encounter in hydrate(conn, rows)? {
        let shift_id = encounter.draft.shift_id();
        let shift = match shifts_seen.entry(shift_id) {
            std::collections::hash_map::Entry::Occupied(seen) => seen.into_mut(),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(shifts::get(conn, shift_id)?.ok_or(StoreError::NotFound)?)
            }
        };
        follow_with_notification(
            conn,
            encounter.id,
            shift,
            Some(&encounter.draft),
            Known::Stored,
            now,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use diesel::pg::Pg;
    use diesel::query_builder::{QueryFragment, QueryId};

    use super::*;

    /// diesel keeps a statement prepared, once per connection, only if it is safe to
    /// cache (its text is the same whatever the values); it finds it in its cache by the
    /// statement's type if it has a static query id, and otherwise writes out its text (some
    /// kilobytes for a group) and hashes it, for every group.
    #[test]
    fn a_group_s_insert_is_prepared_once_and_found_by_its_type() {
        let rows: [NewEncounter; 3] = std::array::from_fn(|_| NewEncounter::default());
        let insert = feed::with_changes(
            diesel::insert_into(encounters::table).values(&rows),
            Utc::now(),
        );
        assert!(insert.is_safe_to_cache_prepared(&Pg).unwrap());
        assert!(found_by_type(&insert));
    }

    fn found_by_type<Q: QueryId>(_: &Q) -> bool {
        Q::HAS_STATIC_QUERY_ID
    }
}
