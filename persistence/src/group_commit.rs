//! Group commit on SQLite: one thread writes every request's transaction work, many
//! requests to a transaction, and answers them when it has committed.
//!
//! SQLite has one writer. With a connection per request, each logged encounter held the
//! write lock for about 1.1 ms, mostly not working: its commit's `fsync`, and the handoff
//! of the lock to the next request's thread, which then waited for a core. One thread
//! that keeps the lock busy runs the requests back to back, each in a savepoint of the
//! open transaction (so one failing leaves the others' work standing), and takes what
//! arrived meanwhile into the same transaction: one `fsync` for all of them.
//!
//! Nothing is answered before the transaction holding it has committed; if it does not
//! commit, every request in it is answered with [`StoreError::NotCommitted`].

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;

use crate::connection::Manager;
use crate::{DbConnection, StoreError, dialect};

/// Most requests in one transaction: bounds how long the first waits for the last.
const MOST_PER_COMMIT: usize = 64;

/// Most writes waiting for the writer. Past it a write is turned away at once (503 with
/// Retry-After) instead of queueing in memory without bound behind an overloaded disk.
pub const MOST_WAITING: usize = 1_024;

/// A request's work, run on the writer's connection in the open transaction; it hands
/// back how to answer the request once the transaction has ended.
type Job = Box<dyn FnOnce(&mut DbConnection) -> Answer + Send>;

/// Tells a request how its transaction ended: committed (`true`) or not.
type Answer = Box<dyn FnOnce(bool) + Send>;

/// The way to the writer thread. The thread ends when the last clone is dropped.
#[derive(Clone)]
pub struct GroupCommit {
    jobs: mpsc::SyncSender<Job>,
}

impl GroupCommit {
    /// Opens the writer's and the checkpointer's connections and starts their threads.
    pub(crate) fn start(manager: Manager) -> Result<Self, StoreError> {
        let conn = open_writer(&manager)?;
        let checkpointer = r2d2::ManageConnection::connect(&manager)?;
        let (jobs, queue) = mpsc::sync_channel(MOST_WAITING);
        let (committed, commits) = mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpoint_after_commits(checkpointer, &commits))
            .map_err(StoreError::Thread)?;
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || write_in_groups(&manager, conn, &queue, &committed))
            .map_err(StoreError::Thread)?;
        Ok(Self { jobs })
    }

    /// Hands `f` to the writer, to run in its open transaction (`f` is in a transaction
    /// already: its own `write_transaction` is a savepoint). `answer` is called with the
    /// outcome once that transaction has ended, on the writer's thread: it should only
    /// pass the outcome on. It is dropped uncalled if `f` never ran or panicked, which
    /// means not committed. [`StoreError::Busy`] if [`MOST_WAITING`] writes are waiting
    /// already (then `answer` is dropped at once).
    pub fn submit<T, E, F, A>(&self, f: F, answer: A) -> Result<(), StoreError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        A: FnOnce(Result<T, E>) + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let span = tracing::Span::current();
        let job: Job = Box::new(move |conn| {
            let result = span.in_scope(|| f(conn));
            Box::new(move |committed| {
                answer(if committed {
                    result
                } else {
                    Err(StoreError::NotCommitted.into())
                });
            })
        });
        self.jobs.try_send(job).map_err(|refused| match refused {
            mpsc::TrySendError::Full(_) => StoreError::Busy,
            mpsc::TrySendError::Disconnected(_) => StoreError::NotCommitted,
        })
    }

    /// Runs `f` as [`GroupCommit::submit`] does and waits for the outcome.
    pub(crate) fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (answer, answered) = mpsc::sync_channel(1);
        self.submit(f, move |outcome| {
            // The caller may have stopped waiting; nobody is left to tell.
            let _ = answer.send(outcome);
        })?;
        answered.recv().map_err(|_| StoreError::NotCommitted)?
    }
}

/// The writer thread: takes the first waiting request, then every one that arrived while
/// it worked, up to [`MOST_PER_COMMIT`], and commits them together.
fn write_in_groups(
    manager: &Manager,
    conn: DbConnection,
    queue: &mpsc::Receiver<Job>,
    committed_one: &mpsc::SyncSender<()>,
) {
    let mut writer = Some(conn);
    while let Ok(first) = queue.recv() {
        // After a group that did not commit the connection was closed (which rolls back
        // whatever it still held open); a new one starts clean.
        if writer.is_none() {
            writer = open_writer(manager)
                .inspect_err(
                    |error| tracing::error!(%error, "could not open the writer's connection"),
                )
                .ok();
        }
        let Some(conn) = writer.as_mut() else {
            // Dropping the job drops its answer: the request hears "not committed".
            continue;
        };
        let turn = match dialect::begin_write(conn) {
            Ok(turn) => turn,
            Err(error) => {
                tracing::error!(%error, "could not begin a write transaction");
                writer = None;
                continue;
            }
        };
        let mut answers = Vec::new();
        let mut next = Some(first);
        let mut sound = true;
        while let Some(job) = next.take() {
            match catch_unwind(AssertUnwindSafe(|| job(conn))) {
                Ok(answer) => answers.push(answer),
                Err(_) => {
                    tracing::error!("a write panicked; its transaction is given up");
                    sound = false;
                    break;
                }
            }
            if answers.len() < MOST_PER_COMMIT {
                next = queue.try_recv().ok();
            }
        }
        let committed = sound
            && dialect::commit_write(conn)
                .inspect_err(|error| tracing::error!(%error, "a group of writes did not commit"))
                .is_ok();
        if committed {
            // The checkpointer is told, unless it has not yet taken the last telling.
            let _ = committed_one.try_send(());
        } else {
            // Whatever state it was left in (a panic half-way through a savepoint, a failed
            // commit), the connection is closed while the turn is still ours.
            writer = None;
        }
        drop(turn);
        for answer in answers {
            answer(committed);
        }
    }
}

/// The writer's connection. SQLite copies the log back into the database (a checkpoint,
/// with an `fsync` of the database file) after the commit that fills it past 1,000 pages,
/// on the committing connection: on the writer's thread that stalled every request
/// waiting (logging at concurrency 16: p99 11.6 ms with, 5.8 ms without). The writer
/// leaves it to [`checkpoint_after_commits`].
fn open_writer(manager: &Manager) -> Result<DbConnection, StoreError> {
    use diesel::connection::SimpleConnection;
    let mut conn = r2d2::ManageConnection::connect(manager)?;
    conn.batch_execute("PRAGMA wal_autocheckpoint = 0")?;
    Ok(conn)
}

/// Least time between two checkpoints: under load the log is copied back about five times
/// a second, not after every commit.
const CHECKPOINT_PAUSE: std::time::Duration = std::time::Duration::from_millis(200);

/// The checkpointer thread: after commits, copies the log back into the database without
/// holding up the writer (a passive checkpoint waits for no one and no one waits for it).
/// Ends with the writer.
fn checkpoint_after_commits(mut conn: DbConnection, commits: &mpsc::Receiver<()>) {
    use diesel::connection::SimpleConnection;
    while commits.recv().is_ok() {
        if let Err(error) = conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE)") {
            tracing::warn!(%error, "checkpoint failed; the next commit tries again");
        }
        std::thread::sleep(CHECKPOINT_PAUSE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Backend, Database};

    #[test]
    fn a_full_queue_turns_writes_away_at_once_and_takes_them_again_when_it_drains() {
        let path = std::env::temp_dir().join(format!("faltlogg-group-{}.db", uuid::Uuid::new_v4()));
        let database = Database::connect(Backend::Sqlite(path.clone()), 2).unwrap();
        let writer = database.writer().unwrap();
        let nothing = |_: &mut DbConnection| Ok::<(), StoreError>(());

        // The writer holds a first write until told, so what follows waits in the queue.
        let (started, has_started) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let holding = move |_: &mut DbConnection| {
            started.send(()).unwrap();
            released.recv().unwrap();
            Ok::<(), StoreError>(())
        };
        writer.submit(holding, |_| {}).unwrap();
        has_started.recv().unwrap();
        let (answers, answered) = mpsc::channel();
        for _ in 0..MOST_WAITING {
            let answers = answers.clone();
            writer
                .submit(nothing, move |outcome| {
                    answers.send(outcome.is_ok()).unwrap()
                })
                .unwrap();
        }
        assert!(matches!(
            writer.submit(nothing, |_| {}),
            Err(StoreError::Busy)
        ));

        release.send(()).unwrap();
        drop(answers);
        assert_eq!(answered.iter().filter(|&ok| ok).count(), MOST_WAITING);
        assert!(database.with_writer(nothing).is_ok(), "taken again");

        drop(database);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}
