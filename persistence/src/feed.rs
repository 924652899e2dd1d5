//! The change feed devices pull. Every write path records the record it changed; a pull
//! reads those rows in an order that never passes a change still uncommitted, and renders
//! each record as it stands now, so a record changed twice comes once.
//!
//! A device holds only its unit's open and recent shifts and its unit's encounters in
//! them: changes outside that window are not sent, and a shift that leaves it (closed
//! longer ago than the window) is sent as evicted, with the unit's encounters in it.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, InsertStatement, Query, QueryFragment, QueryId};
use diesel::sql_types::{Text, Timestamp};
use faltlogg_domain::codes::Coded;
use faltlogg_domain::encounter::Encounter;
use faltlogg_domain::ids::{EncounterId, ShiftId};
use faltlogg_domain::municipality::{Municipality, MunicipalityCode};
use faltlogg_domain::shift::{Shift, ShiftStatus};
use faltlogg_domain::unit::Unit;

use crate::dialect::insert_rows;
use crate::schema::{changes, encounters, shift_units, shifts};
use crate::stored::parse;
use crate::{DbConnection, StoreError, dialect};

const SHIFT: &str = "shift";
const ENCOUNTER: &str = "encounter";
const MUNICIPALITY: &str = "municipality";

fn record(
    conn: &mut DbConnection,
    record_type: &'static str,
    record_id: &str,
    shift_id: Option<String>,
    unit: Option<Unit>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    diesel::insert_into(changes::table)
        .values((
            changes::record_type.eq(record_type),
            changes::record_id.eq(record_id),
            changes::shift_id.eq(shift_id),
            changes::unit_code.eq(unit.map(Unit::code)),
            changes::at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

pub(crate) fn record_shift(
    conn: &mut DbConnection,
    id: ShiftId,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    record(
        conn,
        SHIFT,
        &id.to_string(),
        Some(id.to_string()),
        None,
        now,
    )
}

pub(crate) fn record_encounter(
    conn: &mut DbConnection,
    encounter: &Encounter,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    record_encounters(conn, [encounter], now)
}

/// One change for each encounter, in one statement.
pub(crate) fn record_encounters<'e>(
    conn: &mut DbConnection,
    written: impl IntoIterator<Item = &'e Encounter>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let rows: Vec<_> = written
        .into_iter()
        .map(|encounter| {
            (
                changes::record_type.eq(ENCOUNTER),
                changes::record_id.eq(encounter.id.to_string()),
                changes::shift_id.eq(Some(encounter.draft.shift_id().to_string())),
                changes::unit_code.eq(Some(encounter.unit.code())),
                changes::at.eq(now.naive_utc()),
            )
        })
        .collect();
    insert_rows!(conn, changes::table, rows);
    Ok(())
}

/// `WITH inserted AS (<insert> ON CONFLICT DO NOTHING RETURNING id, shift_id, unit_code),
/// feed AS (INSERT INTO changes … SELECT … FROM inserted) SELECT id FROM inserted`: an
/// insert of encounters, skipping ids stored already, with the change-feed row of each
/// encounter it inserted, in one statement. A group of PUTs is a few round trips, each of
/// them the writer's and the database's time (on two cores mostly the kernel's, passing
/// the statement and waking the other side): this makes one fewer. The ids inserted come
/// back. PostgreSQL only: SQLite has no `INSERT` in `WITH` (and, in-process, no round
/// trip to save), so its rows go in with [`record_encounters`].
///
/// `insert` is a plain `INSERT … VALUES`: the conflict clause is written here because
/// diesel's own (`on_conflict_do_nothing`) has no static query id, so diesel wrote out the
/// statement's text, some kilobytes for a group, and hashed it to find its prepared
/// statement for every group (about 4% of the server's time at the headline). An insert of
/// an array of rows has one: then the statement is found by its type.
///
/// Only a plain insert into `encounters` is taken: the clauses written after it name the
/// encounters' columns, and a second conflict or returning clause would not parse.
pub(crate) fn with_changes<V>(
    insert: InsertStatement<encounters::table, V>,
    now: DateTime<Utc>,
) -> WithChanges<InsertStatement<encounters::table, V>> {
    WithChanges {
        insert,
        at: now.naive_utc(),
    }
}

/// What the insert returns to the feed's insert: the columns its rows are made of.
const INSERTED: (encounters::id, encounters::shift_id, encounters::unit_code) =
    (encounters::id, encounters::shift_id, encounters::unit_code);

pub(crate) struct WithChanges<I> {
    insert: I,
    at: NaiveDateTime,
}

impl<I: QueryId> QueryId for WithChanges<I> {
    type QueryId = WithChanges<I::QueryId>;
    // Prepared once per connection when the insert is (an insert of an array of rows).
    const HAS_STATIC_QUERY_ID: bool = I::HAS_STATIC_QUERY_ID;
}

impl<I: QueryFragment<Pg>> QueryFragment<Pg> for WithChanges<I> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("WITH inserted AS (");
        self.insert.walk_ast(out.reborrow())?;
        out.push_sql(" ON CONFLICT DO NOTHING RETURNING ");
        INSERTED.walk_ast(out.reborrow())?;
        out.push_sql(
            "), feed AS (INSERT INTO changes (record_type, record_id, shift_id, unit_code, at) SELECT ",
        );
        out.push_bind_param::<Text, _>(&ENCOUNTER)?;
        out.push_sql(", id, shift_id, unit_code, ");
        out.push_bind_param::<Timestamp, _>(&self.at)?;
        out.push_sql(" FROM inserted) SELECT id FROM inserted");
        Ok(())
    }
}

impl<I> Query for WithChanges<I> {
    type SqlType = Text;
}

impl<I> RunQueryDsl<PgConnection> for WithChanges<I> {}

pub(crate) fn record_municipality(
    conn: &mut DbConnection,
    code: MunicipalityCode,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    record(conn, MUNICIPALITY, code.as_str(), None, None, now)
}

/// Where a reader stands in the feed: after this change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedPosition {
    pub tx: i64,
    pub seq: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Shift(Box<Shift>),
    Encounter(Box<Encounter>),
    Municipality(Municipality),
    /// The record left the device's window: the phone drops it.
    EvictedShift(ShiftId),
    EvictedEncounter(EncounterId),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedPage {
    pub changes: Vec<Change>,
    /// The position after this page (the same as given when nothing new was visible).
    pub position: FeedPosition,
    pub has_more: bool,
}

/// The changes a device of `unit` may see after `after`, whose shift is in the window
/// (open, or closed since `window_start`). Only changes of transactions older than every
/// transaction still running are read: a reader never moves past a change that could
/// still commit behind it.
pub fn pull(
    conn: &mut DbConnection,
    unit: Unit,
    after: FeedPosition,
    window_start: DateTime<Utc>,
    limit: i64,
) -> Result<FeedPage, StoreError> {
    let horizon = dialect::feed_horizon(conn)?;
    let in_window = shift_units::table
        .inner_join(shifts::table)
        .filter(shift_units::unit_code.eq(unit.code()))
        .filter(
            shifts::status
                .eq(ShiftStatus::Open.code())
                .or(shifts::closed_at
                    .assume_not_null()
                    .ge(window_start.naive_utc())),
        )
        .select(shift_units::shift_id);
    let mut query = changes::table
        .select((
            changes::tx,
            changes::seq,
            changes::record_type,
            changes::record_id,
        ))
        .filter(
            changes::tx
                .gt(after.tx)
                .or(changes::tx.eq(after.tx).and(changes::seq.gt(after.seq))),
        )
        .filter(
            changes::record_type.eq(MUNICIPALITY).or(changes::shift_id
                .assume_not_null()
                .eq_any(in_window)
                .and(
                    changes::record_type
                        .eq(SHIFT)
                        .or(changes::unit_code.assume_not_null().eq(unit.code())),
                )),
        )
        .into_boxed();
    if let Some(horizon) = horizon {
        query = query.filter(changes::tx.lt(horizon));
    }
    let mut rows: Vec<(i64, i64, String, String)> = query
        .order((changes::tx.asc(), changes::seq.asc()))
        .limit(limit.saturating_add(1))
        .load(conn)?;
    let has_more = usize::try_from(limit).is_ok_and(|limit| rows.len() > limit);
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let position = rows
        .last()
        .map_or(after, |(tx, seq, _, _)| FeedPosition { tx: *tx, seq: *seq });

    // Each record once, where its last change in this page stands.
    let mut last_at: HashMap<(String, String), usize> = HashMap::new();
    for (i, (_, _, record_type, record_id)) in rows.iter().enumerate() {
        last_at.insert((record_type.clone(), record_id.clone()), i);
    }
    let mut order: Vec<((String, String), usize)> = last_at.into_iter().collect();
    order.sort_by_key(|(_, i)| *i);

    let shift_ids: Vec<String> = ids_of(&order, SHIFT);
    let encounter_ids: Vec<String> = ids_of(&order, ENCOUNTER);
    let mut shifts: HashMap<String, Shift> = crate::shifts::get_many(conn, &shift_ids)?
        .into_iter()
        .map(|s| (s.id.to_string(), s))
        .collect();
    let mut encounters: HashMap<String, Encounter> =
        crate::encounters::get_many(conn, &encounter_ids)?
            .into_iter()
            .map(|e| (e.id.to_string(), e))
            .collect();
    let mut changes = Vec::with_capacity(order.len());
    for ((record_type, id), _) in order {
        let change = match record_type.as_str() {
            SHIFT => shifts.remove(&id).map(|s| Change::Shift(Box::new(s))),
            ENCOUNTER => encounters
                .remove(&id)
                .map(|e| Change::Encounter(Box::new(e))),
            MUNICIPALITY => Some(Change::Municipality(crate::reference::municipality(
                conn,
                parse(&id)?,
            )?)),
            _ => None,
        };
        changes
            .push(change.ok_or_else(|| StoreError::Corrupt(format!("feed row of {record_type}")))?);
    }
    Ok(FeedPage {
        changes,
        position,
        has_more,
    })
}

fn ids_of(order: &[((String, String), usize)], record_type: &str) -> Vec<String> {
    order
        .iter()
        .filter(|((t, _), _)| t == record_type)
        .map(|((_, id), _)| id.clone())
        .collect()
}

/// The unit's shifts that left the window between two pulls (closed in `[from, to)`, the
/// window's start then and now), with the unit's encounters in them.
pub fn evicted(
    conn: &mut DbConnection,
    unit: Unit,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Change>, StoreError> {
    if to <= from {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = shift_units::table
        .inner_join(shifts::table)
        .filter(shift_units::unit_code.eq(unit.code()))
        .filter(shifts::status.eq(ShiftStatus::Closed.code()))
        .filter(shifts::closed_at.ge(from.naive_utc()))
        .filter(shifts::closed_at.lt(to.naive_utc()))
        .select(shifts::id)
        .load(conn)?;
    let encounter_ids: Vec<String> = encounters::table
        .filter(encounters::shift_id.eq_any(&ids))
        .filter(encounters::unit_code.eq(unit.code()))
        .select(encounters::id)
        .load(conn)?;
    let mut gone: Vec<Change> = encounter_ids
        .iter()
        .map(|id| parse(id).map(Change::EvictedEncounter))
        .collect::<Result<_, _>>()?;
    for id in &ids {
        gone.push(Change::EvictedShift(parse(id)?));
    }
    Ok(gone)
}
