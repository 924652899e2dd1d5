//! Shifts: the one write path for each change of a shift, and the queries that list them.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use faltlogg_domain::access::ShiftScope;
use faltlogg_domain::encounter::{AgeGroup, PersonRole};
use faltlogg_domain::ids::{EncounterId, ShiftId, UserId};
use faltlogg_domain::shift::{Review, Shift, ShiftDraft, ShiftFields, ShiftStatus};
use faltlogg_domain::text::FreeText;
use faltlogg_domain::unit::Unit;
use faltlogg_domain::write::{Applied, Conflict, Refusal};
use faltlogg_domain::{FieldError, codes::Coded};

use crate::dialect::{Lock, lock_record, write_transaction};
use crate::schema::{encounters, shift_units, shifts, users};
use crate::stored::{coded, corrupt, opt, parse, text, time};
use crate::write::{
    WriteError, Writer, is_retry, lost_create_race, record_amendment, record_moved,
    require_amendment_reason, retry_once,
};
use crate::{DbConnection, StoreError};

/// The kind of record lock ([`lock_record`]) a shift is locked by: shared by the writes of
/// its encounters, exclusive for a change to the shift itself.
pub(crate) const LOCK: &str = "shift";

type ShiftRow = (
    String,
    String,
    bool,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    String,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    Option<String>,
    Option<String>,
    i64,
    NaiveDateTime,
    NaiveDateTime,
);

macro_rules! shift_columns {
    () => {
        (
            shifts::id,
            shifts::kind,
            shifts::with_police,
            shifts::police_operation,
            shifts::area,
            shifts::started_at_sent,
            shifts::ended_at_sent,
            shifts::status,
            shifts::closed_at,
            shifts::reviewed_at,
            shifts::reviewed_by,
            shifts::review_comment,
            shifts::version,
            shifts::created_at,
            shifts::updated_at,
        )
    };
}

/// Turns rows into shifts, with their units and reviewers' names in two queries.
fn hydrate(conn: &mut DbConnection, rows: Vec<ShiftRow>) -> Result<Vec<Shift>, StoreError> {
    let ids: Vec<&String> = rows.iter().map(|row| &row.0).collect();
    let mut units: HashMap<String, Vec<Unit>> = HashMap::new();
    for (shift_id, unit) in shift_units::table
        .filter(shift_units::shift_id.eq_any(&ids))
        .select((shift_units::shift_id, shift_units::unit_code))
        .load::<(String, String)>(conn)?
    {
        units.entry(shift_id).or_default().push(coded(&unit)?);
    }
    hydrate_with_units(conn, rows, units)
}

/// Turns rows into shifts with the units already read, and the reviewers' names.
fn hydrate_with_units(
    conn: &mut DbConnection,
    rows: Vec<ShiftRow>,
    mut units: HashMap<String, Vec<Unit>>,
) -> Result<Vec<Shift>, StoreError> {
    let reviewers: Vec<&String> = rows.iter().filter_map(|row| row.10.as_ref()).collect();
    let names: HashMap<String, String> = if reviewers.is_empty() {
        HashMap::new()
    } else {
        users::table
            .filter(users::id.eq_any(&reviewers))
            .select((users::id, users::username))
            .load::<(String, String)>(conn)?
            .into_iter()
            .collect()
    };
    rows.into_iter()
        .map(|row| {
            let (id, kind, with_police, operation, area, started, ended, status) =
                (row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7);
            let (closed_at, reviewed_at, reviewed_by, comment, version, created_at, updated_at) =
                (row.8, row.9, row.10, row.11, row.12, row.13, row.14);
            let draft = ShiftDraft::new(ShiftFields {
                kind: coded(&kind)?,
                with_police,
                police_operation: opt(operation.as_deref(), text)?,
                area: opt(area.as_deref(), text)?,
                started_at: time(&started)?,
                ended_at: opt(ended.as_deref(), time)?,
                units: units.remove(&id).unwrap_or_default(),
            })
            .map_err(corrupt)?;
            let review = match (reviewed_at, reviewed_by) {
                (Some(at), Some(by)) => Some(Review {
                    at: at.and_utc(),
                    by_username: names.get(&by).cloned().unwrap_or_default(),
                    by: parse(&by)?,
                    comment: opt(comment.as_deref(), text)?,
                }),
                _ => None,
            };
            Ok(Shift {
                id: parse(&id)?,
                draft,
                status: coded(&status)?,
                closed_at: closed_at.map(|t| t.and_utc()),
                review,
                version,
                created_at: created_at.and_utc(),
                updated_at: updated_at.and_utc(),
            })
        })
        .collect()
}

/// The shifts with these ids (stored form), in no particular order, read with their units
/// in one query: every encounter written reads its shift, and a group of them their
/// shifts.
pub fn get_many(conn: &mut DbConnection, ids: &[String]) -> Result<Vec<Shift>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let joined = shifts::table
        .inner_join(shift_units::table)
        .select((shift_columns!(), shift_units::unit_code));
    // One id is asked by `= $1`, not `= ANY($1)`: PostgreSQL prices a generic plan's array
    // at ten elements, so for one it planned this join anew at every execution (most of
    // the planner's 5.7% of the machine's CPU at the headline: BENCHMARKS.md), where
    // `= $1` is planned once per connection.
    let loaded: Vec<(ShiftRow, String)> = match ids {
        [id] => joined.filter(shifts::id.eq(id)).load(conn)?,
        _ => joined.filter(shifts::id.eq_any(ids)).load(conn)?,
    };
    let mut rows = Vec::new();
    let mut units: HashMap<String, Vec<Unit>> = HashMap::new();
    for (shift, unit) in loaded {
        let shift_units = units.entry(shift.0.clone()).or_default();
        if shift_units.is_empty() {
            rows.push(shift);
        }
        shift_units.push(coded(&unit)?);
    }
    hydrate_with_units(conn, rows, units)
}

/// One shift.
pub fn get(conn: &mut DbConnection, id: ShiftId) -> Result<Option<Shift>, StoreError> {
    Ok(get_many(conn, &[id.to_string()])?.pop())
}

/// The shift, when the scope admits it; otherwise it does not exist for this caller.
pub fn get_in(
    conn: &mut DbConnection,
    scope: ShiftScope,
    id: ShiftId,
) -> Result<Shift, StoreError> {
    get(conn, id)?
        .filter(|shift| scope.admits(shift))
        .ok_or(StoreError::NotFound)
}

fn writer_refusal(writer: &Writer, draft: &ShiftDraft) -> Result<(), Refusal> {
    if draft.units().contains(&writer.unit) {
        return Ok(());
    }
    Err(Refusal::Invalid(
        FieldError::new(
            "units",
            "own_unit_missing",
            format!(
                "your unit ({}) must be one of the shift's units",
                writer.unit
            ),
        )
        .into(),
    ))
}

/// Creates or updates a shift (PUT). See [`decide_update`] for retries and versions.
pub fn put(
    conn: &mut DbConnection,
    writer: &Writer,
    id: ShiftId,
    draft: &ShiftDraft,
    if_match: Option<i64>,
    amendment_reason: Option<&FreeText>,
    now: DateTime<Utc>,
) -> Result<(Applied, Shift), WriteError<Shift>> {
    retry_once(
        || {
            write_transaction(conn, |conn| {
                // Exclusive: encounters written into the shift meanwhile see its kind and
                // units before or after the change, and a leaving unit's check holds.
                lock_record(conn, LOCK, &id.to_string(), Lock::Exclusive)?;
                let applied = match get(conn, id)? {
                    None => {
                        writer_refusal(writer, draft)?;
                        insert(conn, writer, id, draft, now)?;
                        Applied::Created
                    }
                    Some(stored) => {
                        if !ShiftScope::Unit(writer.unit).admits(&stored) {
                            return Err(Refusal::NotFound.into());
                        }
                        if is_retry(&stored, &stored.draft, stored.version, draft, if_match)? {
                            return Ok((Applied::Unchanged, stored));
                        }
                        writer_refusal(writer, draft)?;
                        require_amendment_reason(
                            stored.status == ShiftStatus::Closed,
                            amendment_reason,
                        )?;
                        leaving_units_have_no_encounters(conn, id, draft)?;
                        if !update(conn, &stored, draft, now)? {
                            return Err(WriteError::Stale(Box::new(stored)));
                        }
                        if let Some(reason) = amendment_reason {
                            record_amendment(
                                conn,
                                "shift",
                                &id.to_string(),
                                stored.version + 1,
                                reason,
                                writer.user_id,
                                now,
                            )?;
                        }
                        if stored.draft.kind() != draft.kind() {
                            // Whether a meeting calls for a municipality notification depends
                            // on the kind of shift.
                            let shift = get(conn, id)?.ok_or(StoreError::NotFound)?;
                            crate::encounters::follow_shift(conn, &shift, now)?;
                        }
                        Applied::Updated
                    }
                };
                Ok((applied, changed(conn, id, now)?))
            })
        },
        lost_create_race,
    )
}

/// Every write of a shift ends here: the one place that reads back what was written and
/// records it for the devices' change feed.
fn changed(conn: &mut DbConnection, id: ShiftId, now: DateTime<Utc>) -> Result<Shift, StoreError> {
    let shift = get(conn, id)?.ok_or(StoreError::NotFound)?;
    crate::feed::record_shift(conn, id, now)?;
    Ok(shift)
}

fn insert(
    conn: &mut DbConnection,
    writer: &Writer,
    id: ShiftId,
    draft: &ShiftDraft,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let now = now.naive_utc();
    diesel::insert_into(shifts::table)
        .values((
            shifts::id.eq(id.to_string()),
            shifts::kind.eq(draft.kind().code()),
            shifts::with_police.eq(draft.with_police()),
            shifts::police_operation.eq(draft.police_operation().map(FreeText::as_str)),
            shifts::area.eq(draft.area().map(FreeText::as_str)),
            shifts::started_at.eq(draft.started_at().utc().naive_utc()),
            shifts::started_at_sent.eq(draft.started_at().to_string()),
            shifts::ended_at_sent.eq(draft.ended_at().map(|t| t.to_string())),
            shifts::status.eq(ShiftStatus::Open.code()),
            shifts::created_by.eq(writer.user_id.to_string()),
            shifts::version.eq(1i64),
            shifts::created_at.eq(now),
            shifts::updated_at.eq(now),
        ))
        .execute(conn)?;
    insert_units(conn, id, draft)
}

fn insert_units(
    conn: &mut DbConnection,
    id: ShiftId,
    draft: &ShiftDraft,
) -> Result<(), StoreError> {
    // One row at a time: diesel's MultiConnection has no multi-row INSERT, and a shift
    // has a handful of units.
    for unit in draft.units() {
        diesel::insert_into(shift_units::table)
            .values((
                shift_units::shift_id.eq(id.to_string()),
                shift_units::unit_code.eq(unit.code()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Updates the stored shift if it is still at its version; `false` when another write got
/// there first.
fn update(
    conn: &mut DbConnection,
    stored: &Shift,
    draft: &ShiftDraft,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let (id, version) = (stored.id, stored.version);
    let changed = diesel::update(
        shifts::table
            .filter(shifts::id.eq(id.to_string()))
            .filter(shifts::version.eq(version)),
    )
    .set((
        shifts::kind.eq(draft.kind().code()),
        shifts::with_police.eq(draft.with_police()),
        shifts::police_operation.eq(draft.police_operation().map(FreeText::as_str)),
        shifts::area.eq(draft.area().map(FreeText::as_str)),
        shifts::started_at.eq(draft.started_at().utc().naive_utc()),
        shifts::started_at_sent.eq(draft.started_at().to_string()),
        shifts::ended_at_sent.eq(draft.ended_at().map(|t| t.to_string())),
        shifts::version.eq(version + 1),
        shifts::updated_at.eq(now.naive_utc()),
    ))
    .execute(conn)?;
    if changed == 0 {
        return Ok(false);
    }
    // Each encounter carries its shift's police flag and start for the cooperation report.
    if draft.with_police() != stored.draft.with_police()
        || draft.started_at().utc() != stored.draft.started_at().utc()
    {
        diesel::update(encounters::table.filter(encounters::shift_id.eq(id.to_string())))
            .set((
                encounters::shift_with_police.eq(draft.with_police()),
                encounters::shift_started_at.eq(draft.started_at().utc().naive_utc()),
            ))
            .execute(conn)?;
    }
    diesel::delete(shift_units::table.filter(shift_units::shift_id.eq(id.to_string())))
        .execute(conn)?;
    insert_units(conn, id, draft)?;
    Ok(true)
}

/// A unit cannot leave a shift while it has encounters there: they would lose their shift.
fn leaving_units_have_no_encounters(
    conn: &mut DbConnection,
    id: ShiftId,
    draft: &ShiftDraft,
) -> Result<(), WriteError<Shift>> {
    let staying: Vec<&str> = draft.units().iter().map(|u| u.code()).collect();
    let stranded: i64 = encounters::table
        .filter(encounters::shift_id.eq(id.to_string()))
        .filter(encounters::unit_code.ne_all(&staying))
        .count()
        .get_result(conn)?;
    if stranded > 0 {
        return Err(Refusal::Invalid(
            FieldError::new(
                "units",
                "unit_has_encounters",
                "a unit that logged encounters in this shift stays one of its units",
            )
            .into(),
        )
        .into());
    }
    Ok(())
}

/// Bumps the version of a shift after a change of state; `false` if it moved meanwhile.
fn bump(conn: &mut DbConnection, shift: &Shift, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let changed = diesel::update(
        shifts::table
            .filter(shifts::id.eq(shift.id.to_string()))
            .filter(shifts::version.eq(shift.version)),
    )
    .set((
        shifts::version.eq(shift.version + 1),
        shifts::updated_at.eq(now.naive_utc()),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// The minors of a shift (any unit's, voided ones aside) whose safeguarding is incomplete.
pub fn lacking_safeguarding(
    conn: &mut DbConnection,
    id: ShiftId,
) -> Result<Vec<EncounterId>, StoreError> {
    encounters::table
        .filter(encounters::shift_id.eq(id.to_string()))
        .filter(encounters::lacks_safeguarding.eq(true))
        .filter(encounters::voided_at.is_null())
        .order((encounters::occurred_at, encounters::id))
        .select(encounters::id)
        .load::<String>(conn)?
        .iter()
        .map(|id| parse(id))
        .collect()
}

/// Closes a shift unless a minor in it still lacks safeguarding. Closing a closed shift
/// again is a retry.
pub fn close(
    conn: &mut DbConnection,
    writer: &Writer,
    id: ShiftId,
    now: DateTime<Utc>,
) -> Result<(Applied, Shift), WriteError<Shift>> {
    retry_once(
        || {
            write_transaction(conn, |conn| {
                // Exclusive: no encounter is being written into the shift while it closes.
                lock_record(conn, LOCK, &id.to_string(), Lock::Exclusive)?;
                let shift = get_in(conn, ShiftScope::Unit(writer.unit), id)?;
                if shift.status == ShiftStatus::Closed {
                    return Ok((Applied::Unchanged, shift));
                }
                let missing = lacking_safeguarding(conn, id)?;
                if !missing.is_empty() {
                    return Err(Refusal::Conflict(Conflict::SafeguardingMissing(missing)).into());
                }
                if !bump(conn, &shift, now)? {
                    return Err(WriteError::Stale(Box::new(shift)));
                }
                diesel::update(shifts::table.filter(shifts::id.eq(id.to_string())))
                    .set((
                        shifts::status.eq(ShiftStatus::Closed.code()),
                        shifts::closed_at.eq(Some(now.naive_utc())),
                        shifts::closed_by.eq(Some(writer.user_id.to_string())),
                    ))
                    .execute(conn)?;
                Ok((Applied::Updated, changed(conn, id, now)?))
            })
        },
        record_moved,
    )
}

/// A police liaison acknowledges a closed shift's summary, once. The same acknowledgement
/// sent again by the same person is a retry.
pub fn review(
    conn: &mut DbConnection,
    scope: ShiftScope,
    reviewer: UserId,
    id: ShiftId,
    comment: Option<&FreeText>,
    now: DateTime<Utc>,
) -> Result<(Applied, Shift), WriteError<Shift>> {
    retry_once(
        || {
            write_transaction(conn, |conn| {
                let shift = get_in(conn, scope, id)?;
                if let Some(review) = &shift.review {
                    if review.by == reviewer && review.comment.as_ref() == comment {
                        return Ok((Applied::Unchanged, shift));
                    }
                    return Err(Refusal::Conflict(Conflict::AlreadyReviewed).into());
                }
                if shift.status != ShiftStatus::Closed {
                    return Err(Refusal::Conflict(Conflict::ShiftStillOpen).into());
                }
                if !bump(conn, &shift, now)? {
                    return Err(WriteError::Stale(Box::new(shift)));
                }
                diesel::update(shifts::table.filter(shifts::id.eq(id.to_string())))
                    .set((
                        shifts::reviewed_at.eq(Some(now.naive_utc())),
                        shifts::reviewed_by.eq(Some(reviewer.to_string())),
                        shifts::review_comment.eq(comment.map(FreeText::as_str)),
                    ))
                    .execute(conn)?;
                Ok((Applied::Updated, changed(conn, id, now)?))
            })
        },
        record_moved,
    )
}

/// Which shifts a list shows, beside the caller's scope.
#[derive(Debug, Clone, Default)]
pub struct ShiftFilter {
    /// Started at or after.
    pub from: Option<DateTime<Utc>>,
    /// Started before.
    pub to: Option<DateTime<Utc>>,
    pub status: Option<ShiftStatus>,
    /// Only closed shifts with a minor whose safeguarding is incomplete (a late entry, or
    /// an amendment that took it away).
    pub needs_attention: bool,
}

/// Where the previous page ended: newest first, by start and then id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShiftCursor {
    pub started_at: DateTime<Utc>,
    pub id: ShiftId,
}

pub fn list(
    conn: &mut DbConnection,
    scope: ShiftScope,
    filter: &ShiftFilter,
    after: Option<ShiftCursor>,
    limit: i64,
) -> Result<Vec<Shift>, StoreError> {
    let mut query = shifts::table.select(shift_columns!()).into_boxed();
    match scope {
        ShiftScope::Unit(unit) => {
            query = query.filter(
                shifts::id.eq_any(
                    shift_units::table
                        .filter(shift_units::unit_code.eq(unit.code()))
                        .select(shift_units::shift_id),
                ),
            );
        }
        ShiftScope::WithPolice => query = query.filter(shifts::with_police.eq(true)),
        ShiftScope::All => {}
    }
    if let Some(from) = filter.from {
        query = query.filter(shifts::started_at.ge(from.naive_utc()));
    }
    if let Some(to) = filter.to {
        query = query.filter(shifts::started_at.lt(to.naive_utc()));
    }
    if let Some(status) = filter.status {
        query = query.filter(shifts::status.eq(status.code()));
    }
    if filter.needs_attention {
        query = query
            .filter(shifts::status.eq(ShiftStatus::Closed.code()))
            .filter(
                shifts::id.eq_any(
                    encounters::table
                        .filter(encounters::lacks_safeguarding.eq(true))
                        .filter(encounters::voided_at.is_null())
                        .select(encounters::shift_id),
                ),
            );
    }
    if let Some(cursor) = after {
        let at = cursor.started_at.naive_utc();
        query = query.filter(
            shifts::started_at.lt(at).or(shifts::started_at
                .eq(at)
                .and(shifts::id.lt(cursor.id.to_string()))),
        );
    }
    let rows: Vec<ShiftRow> = query
        .order((shifts::started_at.desc(), shifts::id.desc()))
        .limit(limit)
        .load(conn)?;
    hydrate(conn, rows)
}

/// Role, age group and whether support was offered, for every encounter of the shift
/// that counts (voided ones do not).
pub fn summary_rows(
    conn: &mut DbConnection,
    id: ShiftId,
) -> Result<Vec<(PersonRole, AgeGroup, bool)>, StoreError> {
    encounters::table
        .filter(encounters::shift_id.eq(id.to_string()))
        .filter(encounters::voided_at.is_null())
        .select((
            encounters::role,
            encounters::age_group,
            encounters::support_offered,
        ))
        .load::<(String, String, bool)>(conn)?
        .into_iter()
        .map(|(role, age, support)| Ok((coded(&role)?, coded(&age)?, support)))
        .collect()
}
