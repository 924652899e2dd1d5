//! Everything only one backend can say, in one place: connection pragmas, how a write
//! transaction begins, migrations and the lock around them.

use std::sync::{Condvar, Mutex, PoisonError};

use diesel::Connection;
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::{DbConnection, StoreError};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// How long a SQLite connection waits for another's lock before giving up (SQLITE_BUSY).
pub const SQLITE_BUSY_TIMEOUT: &str = "PRAGMA busy_timeout = 10000;";

/// Set on every SQLite connection, after `SQLITE_BUSY_TIMEOUT` so that even switching to
/// WAL waits for a lock instead of failing; WAL lets readers work beside the writer;
/// `synchronous=FULL` makes an acknowledged write survive a power cut; foreign keys are
/// off by default in SQLite; `secure_delete` overwrites what retention erases instead of
/// leaving it in free pages. Public so that the benchmark's bare-INSERT ceiling runs
/// under the same settings.
pub const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
PRAGMA foreign_keys = ON;
PRAGMA secure_delete = ON;";

/// On SQLite, takes and releases the write lock, waiting a second at most rather than
/// the connection's usual busy timeout. PostgreSQL has no file lock to probe.
pub(crate) fn probe_write_lock(conn: &mut DbConnection) -> Result<(), StoreError> {
    let DbConnection::Sqlite(sqlite) = conn else {
        return Ok(());
    };
    sqlite.batch_execute("PRAGMA busy_timeout = 1000")?;
    let probe = sqlite.batch_execute("BEGIN IMMEDIATE; ROLLBACK;");
    // The connection goes back to the pool: its usual patience first, whatever the probe.
    sqlite.batch_execute(SQLITE_BUSY_TIMEOUT)?;
    Ok(probe?)
}

/// Any number that is ours alone: instances starting together queue on it, so the
/// migrations run once.
const MIGRATION_LOCK_KEY: i64 = 0x0046_4c4f_4747; // "FLOGG"

/// The writers of this process queue here for SQLite's one write lock, and take turns
/// in the order they came. SQLite's own busy handler polls with sleeps of up to 100 ms,
/// so sixteen requests waiting on the lock itself took turns slowly and unfairly (p99
/// 240 ms). A plain mutex was not fair either: the thread letting go could take it again
/// before the one it woke was running, so a loop of short transactions (the audit sealer's
/// chunks) kept the request writer waiting for the whole loop. Other processes on the file
/// (the CLI) still wait in the busy handler.
static SQLITE_WRITERS: Turns = Turns {
    tickets: Mutex::new(Tickets {
        next: 0,
        serving: 0,
    }),
    changed: Condvar::new(),
};

struct Turns {
    tickets: Mutex<Tickets>,
    changed: Condvar,
}

struct Tickets {
    /// The ticket the next writer to come draws.
    next: u64,
    /// The ticket whose turn it is.
    serving: u64,
}

impl Turns {
    fn take(&'static self) -> Turn {
        let mut tickets = self.tickets.lock().unwrap_or_else(PoisonError::into_inner);
        let mine = tickets.next;
        tickets.next = tickets.next.wrapping_add(1);
        while tickets.serving != mine {
            tickets = self
                .changed
                .wait(tickets)
                .unwrap_or_else(PoisonError::into_inner);
        }
        Turn(self)
    }
}

/// A writer's turn at SQLite's write lock; the next writer's begins when it is dropped.
pub(crate) struct Turn(&'static Turns);

impl Drop for Turn {
    fn drop(&mut self) {
        let mut tickets = self
            .0
            .tickets
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        tickets.serving = tickets.serving.wrapping_add(1);
        self.0.changed.notify_all();
    }
}

/// This process's turn at SQLite's write lock, held until the transaction that took it
/// has ended. `None` inside an open transaction and on PostgreSQL.
pub(crate) type WriteTurn = Option<Turn>;

/// Begins a transaction meant to write. On SQLite it begins `IMMEDIATE`, taking the write
/// lock up front: a deferred transaction that reads first and writes later can fail with
/// SQLITE_BUSY half-way, where waiting for the lock at the start cannot. Inside an open
/// transaction it becomes a savepoint, so one item of a batch can fail alone.
pub(crate) fn begin_write(conn: &mut DbConnection) -> Result<WriteTurn, diesel::result::Error> {
    match conn {
        DbConnection::Sqlite(inner) => {
            if transaction_depth(inner)? > 0 {
                AnsiTransactionManager::begin_transaction(inner)?;
                return Ok(None);
            }
            let turn = SQLITE_WRITERS.take();
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?;
            Ok(Some(turn))
        }
        DbConnection::Postgres(inner) => {
            AnsiTransactionManager::begin_transaction(inner)?;
            Ok(None)
        }
    }
}

/// Commits what [`begin_write`] began (releases its savepoint).
pub(crate) fn commit_write(conn: &mut DbConnection) -> Result<(), diesel::result::Error> {
    match conn {
        DbConnection::Sqlite(inner) => AnsiTransactionManager::commit_transaction(inner),
        DbConnection::Postgres(inner) => AnsiTransactionManager::commit_transaction(inner),
    }
}

/// Runs `f` in a transaction meant to write (see [`begin_write`]).
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    let turn = begin_write(conn)?;
    end_write(conn, turn, f)
}

/// Shared record locks ([`lock_record`]) that a write transaction took as it began
/// ([`write_transaction_sharing`]): a write in it need not take them again.
#[derive(Debug, Default)]
pub struct Held(Vec<String>);

impl Held {
    /// Whether the record's shared lock is held.
    pub(crate) fn covers(&self, kind: &str, key: &str) -> bool {
        self.0.binary_search(&lock_name(kind, key)).is_ok()
    }
}

fn lock_name(kind: &str, key: &str) -> String {
    format!("{kind}:{key}")
}

/// Runs `f` in a transaction meant to write, as [`write_transaction`] does, which begins
/// holding the shared locks of the records of `kind` keyed `keys`. On PostgreSQL they are
/// taken in the round trip of its `BEGIN` (a write transaction of a group of encounters
/// is a handful of round trips, so one fewer counts), in one order, so that two such
/// transactions never wait for each other in a circle. Inside an open transaction, and on
/// SQLite, whose one writer needs no record locks, it holds none.
pub fn write_transaction_sharing<T, E, F>(
    conn: &mut DbConnection,
    kind: &'static str,
    keys: &[String],
    f: F,
) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection, &Held) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    let DbConnection::Postgres(inner) = conn else {
        return write_transaction(conn, |conn| f(conn, &Held::default()));
    };
    if keys.is_empty() || transaction_depth(inner)? > 0 {
        return write_transaction(conn, |conn| f(conn, &Held::default()));
    }
    let mut names: Vec<String> = keys.iter().map(|key| lock_name(kind, key)).collect();
    names.sort();
    names.dedup();
    // Plain SQL (a simple query takes no parameters): each name as a quoted literal.
    let locks: Vec<String> = names
        .iter()
        .map(|name| {
            format!(
                "pg_advisory_xact_lock_shared(hashtextextended('{}', 0))",
                name.replace('\'', "''")
            )
        })
        .collect();
    let sql = format!("BEGIN; SELECT {}", locks.join(", "));
    if let Err(error) = AnsiTransactionManager::begin_transaction_sql(inner, &sql) {
        // The `BEGIN` may have run and the locks failed: diesel counts no transaction then,
        // so the connection must not be left inside one.
        if let Err(rollback_error) = inner.batch_execute("ROLLBACK") {
            tracing::error!(error = %rollback_error, "rollback after a failed begin failed");
        }
        return Err(error.into());
    }
    let held = Held(names);
    end_write(conn, None, |conn| f(conn, &held))
}

/// Runs `f` in the write transaction just begun, and commits it, or rolls it back if `f`
/// fails; `_turn` is held until then.
fn end_write<T, E, F>(conn: &mut DbConnection, _turn: WriteTurn, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    match f(conn) {
        Ok(value) => {
            commit_write(conn)?;
            Ok(value)
        }
        Err(error) => {
            let rolled_back = match conn {
                DbConnection::Sqlite(inner) => AnsiTransactionManager::rollback_transaction(inner),
                DbConnection::Postgres(inner) => {
                    AnsiTransactionManager::rollback_transaction(inner)
                }
            };
            if let Err(rollback_error) = rolled_back {
                tracing::error!(error = %rollback_error, "rollback failed");
            }
            Err(error)
        }
    }
}

/// Runs `f` in the caller's write transaction when one is open, else in a new one. For a
/// write whose refusals all come before its first statement that writes: a savepoint
/// would undo nothing and cost two round trips.
pub fn in_write_transaction<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    let depth = match conn {
        DbConnection::Sqlite(inner) => transaction_depth(inner)?,
        DbConnection::Postgres(inner) => transaction_depth(inner)?,
    };
    if depth > 0 {
        f(conn)
    } else {
        write_transaction(conn, f)
    }
}

/// Runs `f` in a transaction that only reads. SQLite's deferred `BEGIN` reads one WAL
/// snapshot from its first read on, beside the writer rather than behind it. PostgreSQL's
/// transaction is `READ ONLY` at the default level, where each statement sees what has
/// committed when it starts: the feed's horizon needs that (a change committed after the
/// horizon was read must be visible to the read that follows; on one snapshot a pull
/// would pass it for good). A report asks for one snapshot itself
/// ([`crate::reports::begin_report`]).
pub fn read_transaction<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error> + From<StoreError>,
{
    conn.transaction(|conn| {
        for_postgres(conn, "SET TRANSACTION READ ONLY")?;
        f(conn)
    })
}

/// Runs one statement on the backend's own connection, for what diesel's `MultiConnection`
/// cannot say (`ON CONFLICT`, several rows in one `INSERT`): the statement is written once
/// and built for each backend.
macro_rules! on_backend {
    ($conn:expr, |$inner:ident| $statement:expr) => {
        match $conn {
            $crate::DbConnection::Postgres($inner) => $statement,
            $crate::DbConnection::Sqlite($inner) => $statement,
        }
    };
}
pub(crate) use on_backend;

/// Inserts rows: one as a statement prepared once per connection (most writes are one
/// row), several in one multi-row statement, which diesel's `MultiConnection` cannot build
/// (on PostgreSQL prepared once per connection and size: [`prepared_by_size`]; SQLite
/// prepares in-process).
macro_rules! insert_rows {
    ($conn:expr, $table:expr, $rows:expr) => {
        match ($conn, $rows.as_slice()) {
            (_, []) => 0,
            (conn, [row]) => {
                diesel::RunQueryDsl::execute(diesel::insert_into($table).values(row), conn)?
            }
            ($crate::DbConnection::Postgres(inner), rows) => {
                $crate::dialect::prepared_by_size!(rows, |fixed| diesel::RunQueryDsl::execute(
                    diesel::insert_into($table).values(fixed),
                    inner
                )?)
            }
            ($crate::DbConnection::Sqlite(inner), rows) => {
                diesel::RunQueryDsl::execute(diesel::insert_into($table).values(rows), inner)?
            }
        }
    };
}
pub(crate) use insert_rows;

/// Runs `$statement` with `$rows` bound to `$fixed`: as an array when there are 1 to 16
/// of them, else as the slice. diesel prepares every multi-row `INSERT` of a slice anew
/// (its text varies with the number of rows, so it marks them all unsafe to cache), and a
/// group of PUTs writes two of them (its encounters with their change-feed rows, its audit
/// entries): `log_statement` showed each parsed and planned for
/// every group. An array's length is part of its type, which diesel's statement cache
/// keys by, so each size is prepared once per connection; the rows' type must be
/// `'static` for that (owned values, not borrowed). Up to 16 rows, as many as phones
/// logging at once on a busy night; a prepared 16-row encounter insert takes about 150 KB
/// of its PostgreSQL backend's memory, so a connection keeps a few MB. Larger groups (a
/// push's 500 rows) are prepared each time, the parsing shared by more rows.
macro_rules! prepared_by_size {
    ($rows:expr, |$fixed:ident| $statement:expr) => {
        $crate::dialect::prepared_by_size!(@sizes $rows, |$fixed| $statement;
            1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)
    };
    (@sizes $rows:expr, |$fixed:ident| $statement:expr; $($n:literal)*) => {{
        let rows = $rows;
        $(if let Ok($fixed) = <&[_; $n]>::try_from(rows) { $statement } else)* {
            let $fixed = rows;
            $statement
        }
    }};
}
pub(crate) use prepared_by_size;

fn transaction_depth<C>(conn: &mut C) -> Result<u32, diesel::result::Error>
where
    C: diesel::Connection<TransactionManager = AnsiTransactionManager>,
{
    Ok(AnsiTransactionManager::transaction_manager_status_mut(conn)
        .transaction_depth()?
        .map_or(0, |depth| depth.get()))
}

/// How a row is locked until the end of the transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lock {
    /// Many holders at once; excludes [`Lock::Exclusive`].
    Shared,
    Exclusive,
}

/// Runs a statement that only PostgreSQL has a use for.
pub(crate) fn for_postgres(conn: &mut DbConnection, sql: &str) -> Result<(), StoreError> {
    if let DbConnection::Postgres(inner) = conn {
        inner.batch_execute(sql)?;
    }
    Ok(())
}

/// Lets SQLite's planner know the tables' sizes and spreads: without statistics, or with
/// those of a sampled `ANALYZE` (`analysis_limit`), it read a year of encounters through
/// the role index, 2.3 times slower than starting from the shifts. A full `ANALYZE` reads
/// every index (about a second per million encounters, holding the write lock), so it runs
/// at start and daily. PostgreSQL's autovacuum does this itself.
pub(crate) fn refresh_statistics(conn: &mut DbConnection) -> Result<(), StoreError> {
    if let DbConnection::Sqlite(inner) = conn {
        inner.batch_execute("ANALYZE;")?;
    }
    Ok(())
}

diesel::define_sql_function! {
    /// PostgreSQL's 64-bit hash of a text.
    fn hashtextextended(key: diesel::sql_types::Text, seed: diesel::sql_types::BigInt) -> diesel::sql_types::BigInt;
}
// The lock functions return `void`, which diesel has no type for: they are selected as
// `… IS NOT NULL` (true), so the declared type is never read.
diesel::define_sql_function! {
    fn pg_advisory_xact_lock_shared(key: diesel::sql_types::BigInt) -> diesel::sql_types::Nullable<diesel::sql_types::Text>;
}
diesel::define_sql_function! {
    fn pg_advisory_xact_lock(key: diesel::sql_types::BigInt) -> diesel::sql_types::Nullable<diesel::sql_types::Text>;
}

/// Locks one record, by its kind and key, until the end of the transaction, on
/// PostgreSQL, whose default isolation would otherwise let a check and a concurrent write
/// pass each other (closing a shift while an encounter is written into it). SQLite needs
/// nothing: its single writer already serializes write transactions.
///
/// An advisory lock, not `SELECT … FOR SHARE`: a shared row lock writes the row (a
/// multixact and WAL each time) and every writer of a shift's encounters took it on the
/// same row; the lock manager keeps this in memory. Keys that hash alike only wait for
/// each other.
pub(crate) fn lock_record(
    conn: &mut DbConnection,
    kind: &'static str,
    key: &str,
    lock: Lock,
) -> Result<(), diesel::result::Error> {
    if let DbConnection::Postgres(inner) = conn {
        use diesel::ExpressionMethods;
        let key = hashtextextended(lock_name(kind, key), 0);
        // Typed functions, not `sql_query`: the statement is prepared once per connection.
        let _: bool = match lock {
            Lock::Shared => diesel::RunQueryDsl::get_result(
                diesel::select(pg_advisory_xact_lock_shared(key).is_not_null()),
                inner,
            )?,
            Lock::Exclusive => diesel::RunQueryDsl::get_result(
                diesel::select(pg_advisory_xact_lock(key).is_not_null()),
                inner,
            )?,
        };
    }
    Ok(())
}

/// How a transaction that never records a change names itself, so that feed readers do
/// not wait for it (the audit sealer updates thousands of entries a minute).
const NOT_A_FEED_WRITER: &str = "faltlogg: writes no changes";

/// Marks the open transaction as one that records no change in the feed: readers pass it
/// (see [`feed_horizon`]). The name is the transaction's own and ends with it.
pub fn writes_no_changes(conn: &mut DbConnection) -> Result<(), diesel::result::Error> {
    if let DbConnection::Postgres(inner) = conn {
        inner.batch_execute(&format!(
            "SET LOCAL application_name = '{NOT_A_FEED_WRITER}'"
        ))?;
    }
    Ok(())
}

/// On PostgreSQL, the oldest transaction of this database still running (or, if none,
/// the next to start): every change of an older one has committed or never will, so a
/// feed reader may pass it. `None` on SQLite, whose changes are numbered in commit order.
///
/// The snapshot comes first, then the running transactions: one that took its id before
/// the snapshot is either still listed or already committed when they are read. Only
/// this database counts, so a long transaction elsewhere on the server (a `pg_dump` of
/// another database) does not hold the feed back. Transaction ids of other sessions are
/// visible to every role in `pg_stat_activity`; they are 32-bit there, so [`widen`]ed:
/// a transaction that took its id after the snapshot is listed with an id at or above the
/// next, and is newer, not one from 2^32 ids ago. (Read as older, it set the horizon below
/// every id, and under a steady stream of writes, where such a transaction is nearly
/// always listed, the sealer and the feed readers passed nothing.) Transactions marked
/// with [`writes_no_changes`] do not count.
pub(crate) fn feed_horizon(conn: &mut DbConnection) -> Result<Option<i64>, diesel::result::Error> {
    use diesel::RunQueryDsl;
    use diesel::sql_types::BigInt;
    let DbConnection::Postgres(inner) = conn else {
        return Ok(None);
    };
    let next: i64 = diesel::select(diesel::dsl::sql::<BigInt>(
        "pg_snapshot_xmax(pg_current_snapshot())::text::bigint",
    ))
    .get_result(inner)?;
    let running: Vec<i64> = diesel::select(
        diesel::dsl::sql::<diesel::sql_types::Array<BigInt>>(
            "(SELECT coalesce(array_agg(a.backend_xid::text::bigint), '{}') \
             FROM pg_stat_activity a \
             WHERE a.datname = current_database() AND a.backend_xid IS NOT NULL \
             AND a.application_name IS DISTINCT FROM ",
        )
        .bind::<diesel::sql_types::Text, _>(NOT_A_FEED_WRITER)
        .sql(")"),
    )
    .get_result(inner)?;
    let oldest_running = running.into_iter().map(|xid| widen(next, xid)).min();
    Ok(Some(oldest_running.map_or(next, |oldest| oldest.min(next))))
}

/// A 32-bit transaction id widened to the 64 bits of `next`'s epoch, as PostgreSQL
/// compares ids: by their distance from `next`, less than 2^31 either way.
fn widen(next: i64, xid: i64) -> i64 {
    const ID_SPACE: i64 = 1 << 32;
    const HALF: i64 = 1 << 31;
    next + ((xid - next.rem_euclid(ID_SPACE) + HALF).rem_euclid(ID_SPACE) - HALF)
}

/// After retention: on SQLite, copies the WAL back into the database file and truncates
/// it, so erased values do not linger in the log; PostgreSQL's autovacuum reclaims the
/// old row versions.
pub(crate) fn flush_erasures(conn: &mut DbConnection) -> Result<(), diesel::result::Error> {
    if let DbConnection::Sqlite(inner) = conn {
        inner.batch_execute("PRAGMA wal_checkpoint(TRUNCATE);")?;
    }
    Ok(())
}

/// Writes a consistent copy of a live SQLite database to a new file (`VACUUM INTO` reads
/// one snapshot while writers go on). `false` on PostgreSQL, whose own `pg_dump` does this.
pub fn backup_into(conn: &mut DbConnection, path: &std::path::Path) -> Result<bool, StoreError> {
    let DbConnection::Sqlite(inner) = conn else {
        return Ok(false);
    };
    let target = path
        .to_str()
        .ok_or_else(|| StoreError::InvalidUrl("the backup path is not valid UTF-8".into()))?;
    inner.batch_execute(&format!("VACUUM INTO '{}'", target.replace('\'', "''")))?;
    Ok(true)
}

/// Makes concurrent holders of `key` take turns until the end of the transaction, on
/// PostgreSQL (an advisory lock); SQLite's write lock already does.
pub(crate) fn serialize_on(conn: &mut DbConnection, key: i64) -> Result<(), diesel::result::Error> {
    if let DbConnection::Postgres(inner) = conn {
        use diesel::ExpressionMethods;
        let _: bool = diesel::RunQueryDsl::get_result(
            diesel::select(pg_advisory_xact_lock(key).is_not_null()),
            inner,
        )?;
    }
    Ok(())
}

/// Applies every pending migration under a lock, so that instances starting at once
/// migrate once and the others find nothing left to do.
pub(crate) fn run_pending_migrations(conn: &mut DbConnection) -> Result<usize, StoreError> {
    match conn {
        // SQLite's lock is the write lock itself: a second process waits for it, then
        // finds the migrations applied.
        DbConnection::Sqlite(inner) => inner.immediate_transaction(|inner| {
            inner
                .run_pending_migrations(SQLITE_MIGRATIONS)
                .map(|applied| applied.len())
                .map_err(|e| StoreError::Migration(e.to_string()))
        }),
        DbConnection::Postgres(inner) => {
            inner.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))?;
            let applied = inner
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|applied| applied.len())
                .map_err(|e| StoreError::Migration(e.to_string()));
            inner.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))?;
            applied
        }
    }
}

/// Reverts every migration, newest first: the down scripts are tested by running this
/// and then migrating up again.
pub fn revert_all_migrations(conn: &mut DbConnection) -> Result<usize, StoreError> {
    let reverted = match conn {
        DbConnection::Sqlite(inner) => inner.revert_all_migrations(SQLITE_MIGRATIONS),
        DbConnection::Postgres(inner) => inner.revert_all_migrations(POSTGRES_MIGRATIONS),
    };
    reverted
        .map(|versions| versions.len())
        .map_err(|e| StoreError::Migration(e.to_string()))
}

/// Reverts migrations newest first, down to and including the one whose version ends so
/// (its number, `"000011"`): a migration's data step is tested by writing with the newer
/// code, stepping back and migrating up again. Returns how many were reverted. For tests
/// only: a number that names no migration reverts them all and then fails.
pub fn revert_migrations_through(
    conn: &mut DbConnection,
    number: &str,
) -> Result<usize, StoreError> {
    let mut reverted = 0;
    loop {
        let version = match conn {
            DbConnection::Sqlite(inner) => inner.revert_last_migration(SQLITE_MIGRATIONS),
            DbConnection::Postgres(inner) => inner.revert_last_migration(POSTGRES_MIGRATIONS),
        }
        .map_err(|e| StoreError::Migration(e.to_string()))?;
        reverted += 1;
        if version.to_string().replace('-', "").ends_with(number) {
            return Ok(reverted);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn held_locks_cover_their_own_records_only() {
        let mut names = vec![lock_name("shift", "b"), lock_name("shift", "a")];
        names.sort();
        let held = Held(names);
        assert!(held.covers("shift", "a"));
        assert!(held.covers("shift", "b"));
        assert!(!held.covers("shift", "c"));
        assert!(!held.covers("unit", "a"));
        assert!(!Held::default().covers("shift", "a"));
    }

    proptest! {
        /// Any id within 2^31 of a snapshot's next, before it or after it (a transaction
        /// that took its id after the snapshot), in any epoch, is read back as itself.
        #[test]
        fn a_listed_transaction_id_is_widened_to_itself(
            next in (1i64 << 31)..(1i64 << 40),
            distance in -(1i64 << 31)..(1i64 << 31),
        ) {
            let id = next + distance;
            prop_assert_eq!(widen(next, id.rem_euclid(1 << 32)), id);
        }
    }

    #[test]
    fn ids_at_and_after_the_next_are_newer_not_an_epoch_older() {
        let next = (3 << 32) + 1_000;
        assert_eq!(widen(next, 1_000), next);
        assert_eq!(widen(next, 1_001), next + 1);
        assert_eq!(widen(next, 999), next - 1);
        // Across the epoch's start, both ways.
        assert_eq!(widen(3 << 32, (1 << 32) - 1), (3 << 32) - 1);
        assert_eq!(widen((3 << 32) - 1, 0), 3 << 32);
    }

    /// The writer that lets go and asks again at once waits behind the one already
    /// waiting (a mutex would mostly hand it straight back).
    #[test]
    fn write_turns_are_taken_in_the_order_asked() {
        let turns: &'static Turns = Box::leak(Box::new(Turns {
            tickets: Mutex::new(Tickets {
                next: 0,
                serving: 0,
            }),
            changed: Condvar::new(),
        }));
        let order: &'static Mutex<Vec<&str>> = Box::leak(Box::new(Mutex::new(Vec::new())));
        let first = turns.take();
        let waiting = std::thread::spawn(move || {
            let _turn = turns.take();
            order.lock().unwrap().push("waiting");
        });
        while turns.tickets.lock().unwrap().next < 2 {
            std::thread::yield_now();
        }
        drop(first);
        let _again = turns.take();
        order.lock().unwrap().push("again");
        waiting.join().unwrap();
        assert_eq!(*order.lock().unwrap(), ["waiting", "again"]);
    }
}
