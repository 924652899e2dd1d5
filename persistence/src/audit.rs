//! The audit log: entries appended by every access to encounter-level data and every
//! authentication event, sealed into a hash chain by one task at a time, verified from
//! wherever the chain now starts (pruning cuts its old end).

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use faltlogg_domain::audit::{Action, Entry, GENESIS};
use faltlogg_domain::codes::Coded;

use crate::dialect::{self, insert_rows, write_transaction};
use crate::schema::{audit_chain_end, audit_log, audit_prune_permits};
use crate::stored::coded;
use crate::{DbBackend, DbConnection, StoreError};

/// Any number that is ours alone: sealers on several instances take turns on it.
const SEAL_LOCK_KEY: i64 = 0x0046_4c4f_4741; // "FLOGA"
/// Entries sealed in one transaction at most. The transaction holds its id while it
/// runs, and a change-feed reader waits for every transaction older than its next change
/// (on SQLite: every writer waits for it), so it is kept short: 5,000 entries in one held
/// the feed for a second under a batch push.
const SEAL_CHUNK: i64 = 250;
/// Entries read in one go when verifying.
const VERIFY_PAGE: i64 = 5000;

pub fn append(conn: &mut DbConnection, entry: &Entry) -> Result<(), StoreError> {
    append_many(conn, std::slice::from_ref(entry))
}

/// Appends entries in order, in one statement.
pub fn append_many(conn: &mut DbConnection, entries: &[Entry]) -> Result<(), StoreError> {
    // Owned values: see `dialect::prepared_by_size`.
    let rows: Vec<_> = entries
        .iter()
        .map(|entry| {
            (
                audit_log::at.eq(entry.at.naive_utc()),
                audit_log::user_id.eq(entry.user_id.clone()),
                audit_log::username.eq(entry.username.clone()),
                audit_log::role.eq(entry.role.clone()),
                audit_log::unit_code.eq(entry.unit.clone()),
                audit_log::session_id.eq(entry.session_id.clone()),
                audit_log::action.eq(entry.action.code()),
                audit_log::record_type.eq(entry.record_type.clone()),
                audit_log::record_id.eq(entry.record_id.clone()),
                audit_log::request_id.eq(entry.request_id.clone()),
                audit_log::outcome.eq(entry.outcome.clone()),
            )
        })
        .collect();
    insert_rows!(conn, audit_log::table, rows);
    Ok(())
}

type Row = (
    i64,
    NaiveDateTime,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
);

macro_rules! entry_columns {
    () => {
        (
            audit_log::seq,
            audit_log::at,
            audit_log::user_id,
            audit_log::username,
            audit_log::role,
            audit_log::unit_code,
            audit_log::session_id,
            audit_log::action,
            audit_log::record_type,
            audit_log::record_id,
            audit_log::request_id,
            audit_log::outcome,
        )
    };
}

fn from_row(row: Row) -> Result<(i64, Entry), StoreError> {
    let (
        seq,
        at,
        user_id,
        username,
        role,
        unit,
        session_id,
        action,
        record_type,
        record_id,
        request_id,
        outcome,
    ) = row;
    Ok((
        seq,
        Entry {
            at: at.and_utc(),
            user_id,
            username,
            role,
            unit,
            session_id,
            action: coded::<Action>(&action)?,
            record_type,
            record_id,
            request_id,
            outcome,
        },
    ))
}

/// Seals the entries that are visible in order (see the change feed: on PostgreSQL an
/// entry numbered earlier can commit later), linking each to the one before, a short
/// transaction at a time. Returns how many were sealed.
pub fn seal(conn: &mut DbConnection) -> Result<usize, StoreError> {
    let mut sealed = 0;
    loop {
        let chunk = seal_chunk(conn)?;
        sealed += chunk;
        if i64::try_from(chunk).map_or(true, |chunk| chunk < SEAL_CHUNK) {
            return Ok(sealed);
        }
    }
}

fn seal_chunk(conn: &mut DbConnection) -> Result<usize, StoreError> {
    write_transaction(conn, |conn| {
        dialect::serialize_on(conn, SEAL_LOCK_KEY)?;
        dialect::writes_no_changes(conn)?;
        let horizon = dialect::feed_horizon(conn)?;
        let end = chain_end(conn)?;
        let mut query = after(end.as_ref()).select((audit_log::tx, entry_columns!()));
        if let Some(horizon) = horizon {
            query = query.filter(audit_log::tx.lt(horizon));
        }
        let rows: Vec<(i64, Row)> = query
            .order((audit_log::tx.asc(), audit_log::seq.asc()))
            .limit(SEAL_CHUNK)
            .load(conn)?;
        let mut previous = end.map_or_else(|| GENESIS.to_owned(), |end| end.hash);
        let mut last = None;
        let mut seals = Seals::default();
        for (tx, row) in rows {
            let (seq, entry) = from_row(row)?;
            let hash = entry.chain_hash(seq, &previous);
            seals.seq.push(seq);
            seals
                .prev_hash
                .push(std::mem::replace(&mut previous, hash.clone()));
            seals.hash.push(hash);
            last = Some((tx, seq));
        }
        let Some((tx, seq)) = last else {
            return Ok(0);
        };
        let sealed = seals.seq.len();
        match conn {
            DbConnection::Postgres(pg) => {
                seals.execute(pg)?;
            }
            DbConnection::Sqlite(sqlite) => {
                for ((seq, prev_hash), hash) in
                    seals.seq.iter().zip(&seals.prev_hash).zip(&seals.hash)
                {
                    Seal {
                        seq: *seq,
                        prev_hash,
                        hash,
                    }
                    .execute(sqlite)?;
                }
            }
        }
        let end = (
            audit_chain_end::tx.eq(tx),
            audit_chain_end::seq.eq(seq),
            audit_chain_end::hash.eq(previous),
        );
        if diesel::update(audit_chain_end::table)
            .set(end.clone())
            .execute(conn)?
            == 0
        {
            diesel::insert_into(audit_chain_end::table)
                .values((audit_chain_end::one.eq(true), end))
                .execute(conn)?;
        }
        Ok(sealed)
    })
}

/// The newest sealed entry: where the chain goes on. The sealer keeps it, in the same
/// transaction as its seals; none before the first seal.
struct ChainEnd {
    tx: i64,
    seq: i64,
    hash: String,
}

fn chain_end(conn: &mut DbConnection) -> Result<Option<ChainEnd>, StoreError> {
    Ok(audit_chain_end::table
        .select((
            audit_chain_end::tx,
            audit_chain_end::seq,
            audit_chain_end::hash,
        ))
        .first::<(i64, i64, String)>(conn)
        .optional()?
        .map(|(tx, seq, hash)| ChainEnd { tx, seq, hash }))
}

/// The entries after the chain's end in chain order, `(tx, seq) > (end.tx, end.seq)`: the
/// unsealed ones. The first condition lets the chain's index start at the end instead of
/// filtering every entry before it.
fn after(end: Option<&ChainEnd>) -> audit_log::BoxedQuery<'static, DbBackend> {
    let query = audit_log::table.into_boxed();
    match end {
        Some(end) => query
            .filter(audit_log::tx.ge(end.tx))
            .filter(audit_log::tx.gt(end.tx).or(audit_log::seq.gt(end.seq))),
        None => query,
    }
}

/// A chunk's seals as one statement on PostgreSQL, `UPDATE audit_log SET … FROM
/// unnest($1, $2, $3) … WHERE seq = …`: one text (prepared once per connection) for any
/// number of entries. An UPDATE per entry was a round trip per logged encounter, and on
/// two busy cores each waits its turn. (SQLite is in-process: there [`Seal`] runs per
/// entry.)
#[derive(Default)]
struct Seals {
    seq: Vec<i64>,
    prev_hash: Vec<String>,
    hash: Vec<String>,
}

impl diesel::query_builder::QueryId for Seals {
    type QueryId = Seals;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for Seals {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        use diesel::Column;
        use diesel::sql_types::{Array, BigInt, Text};
        out.push_sql("UPDATE ");
        diesel::query_builder::QueryFragment::walk_ast(&audit_log::table, out.reborrow())?;
        out.push_sql(" SET ");
        out.push_identifier(audit_log::prev_hash::NAME)?;
        out.push_sql(" = sealed.prev_hash, ");
        out.push_identifier(audit_log::hash::NAME)?;
        out.push_sql(" = sealed.hash FROM unnest(");
        out.push_bind_param::<Array<BigInt>, _>(&self.seq)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.prev_hash)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.hash)?;
        out.push_sql(") AS sealed (seq, prev_hash, hash) WHERE ");
        diesel::query_builder::QueryFragment::walk_ast(&audit_log::seq, out.reborrow())?;
        out.push_sql(" = sealed.seq");
        Ok(())
    }
}

impl RunQueryDsl<diesel::PgConnection> for Seals {}

/// `UPDATE audit_log SET prev_hash = …, hash = … WHERE seq = …`: SQLite's seal, an entry
/// at a time, prepared once per connection. diesel prepares every `UPDATE` it builds anew
/// (its `walk_ast` marks them all unsafe to cache); this statement's text never varies,
/// so its type names it in diesel's statement cache.
struct Seal<'a> {
    seq: i64,
    prev_hash: &'a str,
    hash: &'a str,
}

impl diesel::query_builder::QueryId for Seal<'_> {
    type QueryId = Seal<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<DB> diesel::query_builder::QueryFragment<DB> for Seal<'_>
where
    DB: diesel::backend::Backend
        + diesel::sql_types::HasSqlType<diesel::sql_types::Text>
        + diesel::sql_types::HasSqlType<diesel::sql_types::BigInt>,
    str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
    i64: diesel::serialize::ToSql<diesel::sql_types::BigInt, DB>,
    audit_log::table: diesel::query_builder::QueryFragment<DB>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> QueryResult<()> {
        use diesel::Column;
        // The schema's names, so that a renamed column does not compile.
        out.push_sql("UPDATE ");
        diesel::query_builder::QueryFragment::walk_ast(&audit_log::table, out.reborrow())?;
        out.push_sql(" SET ");
        out.push_identifier(audit_log::prev_hash::NAME)?;
        out.push_sql(" = ");
        out.push_bind_param::<diesel::sql_types::Text, _>(self.prev_hash)?;
        out.push_sql(", ");
        out.push_identifier(audit_log::hash::NAME)?;
        out.push_sql(" = ");
        out.push_bind_param::<diesel::sql_types::Text, _>(self.hash)?;
        out.push_sql(" WHERE ");
        out.push_identifier(audit_log::seq::NAME)?;
        out.push_sql(" = ");
        out.push_bind_param::<diesel::sql_types::BigInt, _>(&self.seq)?;
        Ok(())
    }
}

impl<Conn> RunQueryDsl<Conn> for Seal<'_> {}

/// What `audit verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub sealed: u64,
    pub unsealed: u64,
    /// The first entry (by `seq`) whose link or hash does not hold.
    pub first_broken: Option<i64>,
}

/// Walks the sealed chain from its first entry: each must link to the one before and
/// hash to what it says.
pub fn verify(conn: &mut DbConnection) -> Result<Verification, StoreError> {
    let mut sealed = 0;
    let mut expected_previous: Option<String> = None;
    let mut after: Option<(i64, i64)> = None;
    loop {
        let mut query = audit_log::table
            .filter(audit_log::hash.is_not_null())
            .select((
                audit_log::tx,
                entry_columns!(),
                audit_log::prev_hash.assume_not_null(),
                audit_log::hash.assume_not_null(),
            ))
            .into_boxed();
        if let Some((tx, seq)) = after {
            query = query.filter(
                audit_log::tx
                    .gt(tx)
                    .or(audit_log::tx.eq(tx).and(audit_log::seq.gt(seq))),
            );
        }
        let page: Vec<(i64, Row, String, String)> = query
            .order((audit_log::tx.asc(), audit_log::seq.asc()))
            .limit(VERIFY_PAGE)
            .load(conn)?;
        if page.is_empty() {
            break;
        }
        for (tx, row, previous, hash) in page {
            let (seq, entry) = from_row(row)?;
            // Pruning cuts the old end: the first entry left is where the chain starts.
            let linked = expected_previous.as_ref().is_none_or(|e| *e == previous);
            if !linked || entry.chain_hash(seq, &previous) != hash {
                return Ok(Verification {
                    sealed,
                    unsealed: unsealed(conn)?,
                    first_broken: Some(seq),
                });
            }
            sealed += 1;
            expected_previous = Some(hash);
            after = Some((tx, seq));
        }
    }
    Ok(Verification {
        sealed,
        unsealed: unsealed(conn)?,
        first_broken: None,
    })
}

/// Entries written but not yet sealed into the chain: those after its end.
pub fn unsealed(conn: &mut DbConnection) -> Result<u64, StoreError> {
    let end = chain_end(conn)?;
    let n: i64 = after(end.as_ref()).count().get_result(conn)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Which entries the auditor asks for; every filter optional.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub username: Option<String>,
    pub record_id: Option<String>,
    pub action: Option<Action>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// Entries, newest first, before `before` (a `seq`).
pub fn list(
    conn: &mut DbConnection,
    filter: &AuditFilter,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<(i64, Entry)>, StoreError> {
    let mut query = audit_log::table.select(entry_columns!()).into_boxed();
    if let Some(username) = &filter.username {
        query = query.filter(audit_log::username.eq(username.clone()));
    }
    if let Some(record) = &filter.record_id {
        query = query.filter(audit_log::record_id.eq(record.clone()));
    }
    if let Some(action) = filter.action {
        query = query.filter(audit_log::action.eq(action.code()));
    }
    if let Some(from) = filter.from {
        query = query.filter(audit_log::at.ge(from.naive_utc()));
    }
    if let Some(to) = filter.to {
        query = query.filter(audit_log::at.lt(to.naive_utc()));
    }
    if let Some(before) = before {
        query = query.filter(audit_log::seq.lt(before));
    }
    let rows: Vec<Row> = query.order(audit_log::seq.desc()).limit(limit).load(conn)?;
    rows.into_iter().map(from_row).collect()
}

/// Removes the chain's old end: sealed entries, in chain order, up to the first one
/// written at or after `before` (an entry's time is when its request began, which is not
/// quite chain order, so the cut follows the chain, never the clock alone). The newest
/// sealed entry always stays, so the chain goes on from it. Only the retention job does
/// this: it holds a permit for the length of its transaction, which the triggers look
/// for, and records the run in the same transaction.
pub fn prune(
    conn: &mut DbConnection,
    before: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    write_transaction(conn, |conn| {
        dialect::serialize_on(conn, SEAL_LOCK_KEY)?;
        let sealed = audit_log::table.filter(audit_log::hash.is_not_null());
        let boundary: Option<(i64, i64)> = sealed
            .filter(audit_log::at.ge(before.naive_utc()))
            .order((audit_log::tx.asc(), audit_log::seq.asc()))
            .select((audit_log::tx, audit_log::seq))
            .first(conn)
            .optional()?;
        let boundary = match boundary {
            Some(first_kept) => Some(first_kept),
            None => sealed
                .order((audit_log::tx.desc(), audit_log::seq.desc()))
                .select((audit_log::tx, audit_log::seq))
                .first(conn)
                .optional()?,
        };
        let mut pruned = 0;
        if let Some((tx, seq)) = boundary {
            let permit = uuid::Uuid::new_v4().to_string();
            diesel::insert_into(audit_prune_permits::table)
                .values(audit_prune_permits::id.eq(&permit))
                .execute(conn)?;
            pruned = diesel::delete(
                audit_log::table
                    .filter(audit_log::hash.is_not_null())
                    .filter(
                        audit_log::tx
                            .lt(tx)
                            .or(audit_log::tx.eq(tx).and(audit_log::seq.lt(seq))),
                    ),
            )
            .execute(conn)?;
            diesel::delete(audit_prune_permits::table.filter(audit_prune_permits::id.eq(&permit)))
                .execute(conn)?;
        }
        append(
            conn,
            &Entry {
                at: now,
                user_id: None,
                username: None,
                role: None,
                unit: None,
                session_id: None,
                action: Action::Retention,
                record_type: Some("audit".into()),
                record_id: None,
                request_id: None,
                outcome: format!("pruned {pruned}"),
            },
        )?;
        Ok(pruned)
    })
}
