//! Encounter PUTs that arrive together are written together.
//!
//! Alone, a logged encounter is nine statements on PostgreSQL, each a round trip: the
//! database alone, running them, reaches only 18% of its bare-INSERT rate (BENCHMARKS.md).
//! When phones log at the same moment, the PUTs waiting are written in one transaction by
//! [`encounters::put_many`], as a push's items are: the new encounters of all of them in a
//! few statements, the audit entries in one, one commit. Each request keeps everything of
//! its own: its writer (scope and rules are checked per request), its outcome, its audit
//! entry (with that outcome) in the same transaction as its write, and its answer only
//! after the commit.
//!
//! A few lanes take turns: while one writes, the next gathers what arrives meanwhile. If a
//! group's transaction fails (one request's write refused by the database, a lost
//! connection), nothing of it stays, and each of its requests is written alone, as it
//! would have been without company: one request's failure never becomes another's.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, PoisonError, mpsc};

use faltlogg_domain::audit::{Action, Entry};
use faltlogg_domain::encounter::{Encounter, EncounterDraft};
use faltlogg_domain::ids::EncounterId;
use faltlogg_domain::text::FreeText;
use faltlogg_domain::write::Applied;
use faltlogg_persistence::encounters::{self, Put};
use faltlogg_persistence::write::Writer;
use faltlogg_persistence::{Database, DbConnection, StoreError, audit, dialect};
use tokio::sync::oneshot;

use crate::audit::{outcome_of, write_audited};
use crate::error::ApiError;
use crate::records::write_error;
use crate::routes::encounters::EncounterView;

/// Most PUTs in one transaction: bounds how long the first waits for the last.
const MOST_TOGETHER: usize = 64;

/// Most PUTs waiting for a lane; past it a PUT is answered 503 with Retry-After at once.
const MOST_WAITING: usize = 1_024;

/// Lanes: one writes while the next gathers.
const LANES: usize = 2;

/// One encounter PUT, parsed, with the audit entry it is recorded under.
#[derive(Debug, Clone)]
pub struct EncounterPut {
    pub writer: Writer,
    pub id: EncounterId,
    pub draft: EncounterDraft,
    pub if_match: Option<i64>,
    pub amendment_reason: Option<FreeText>,
    /// Counts as an update until the write turns out to create.
    pub entry: Entry,
}

/// What a PUT is answered with.
pub type Written = Result<(Applied, Encounter), ApiError>;

struct Job {
    put: EncounterPut,
    answer: oneshot::Sender<Written>,
}

/// The way to the lanes. They end when the last clone is dropped.
#[derive(Clone)]
pub struct Together {
    jobs: mpsc::SyncSender<Job>,
}

impl Together {
    pub fn start(db: &Database) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::sync_channel(MOST_WAITING);
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..LANES {
            let (db, queue) = (db.clone(), Arc::clone(&queue));
            std::thread::Builder::new()
                .name(format!("encounter-puts-{n}"))
                .spawn(move || lane(&db, &queue))?;
        }
        Ok(Self { jobs })
    }

    /// Writes the PUT, with others waiting at the same moment, and answers it once its
    /// transaction has committed.
    pub async fn put(&self, put: EncounterPut) -> Written {
        let (answer, answered) = oneshot::channel();
        self.jobs
            .try_send(Job { put, answer })
            .map_err(|refused| match refused {
                mpsc::TrySendError::Full(_) => StoreError::Busy,
                mpsc::TrySendError::Disconnected(_) => StoreError::NotCommitted,
            })?;
        answered
            .await
            .unwrap_or_else(|_| Err(StoreError::NotCommitted.into()))
    }
}

/// A lane: takes the first PUT waiting and every one behind it, up to [`MOST_TOGETHER`],
/// and writes them. A panic drops the group's answers (its requests hear "not
/// committed"), and the lane goes on.
fn lane(db: &Database, queue: &Mutex<mpsc::Receiver<Job>>) {
    loop {
        let group = {
            let queue = queue.lock().unwrap_or_else(PoisonError::into_inner);
            let Ok(first) = queue.recv() else { return };
            let mut group = vec![first];
            group.extend(queue.try_iter().take(MOST_TOGETHER - 1));
            group
        };
        if catch_unwind(AssertUnwindSafe(|| write_group(db, group))).is_err() {
            tracing::error!(
                "a group of encounter writes panicked; it is answered as not committed"
            );
        }
    }
}

fn write_group(db: &Database, mut group: Vec<Job>) {
    if group.len() == 1
        && let Some(Job { put, answer }) = group.pop()
    {
        // Alone, a PUT takes the shorter way: no savepoint to take back a group's inserts.
        let _ = answer.send(db.with_writer(move |conn| write_alone(conn, put)));
        return;
    }
    let (puts, answers): (Vec<EncounterPut>, Vec<_>) =
        group.into_iter().map(|job| (job.put, job.answer)).unzip();
    let puts = Arc::new(puts);
    let together = {
        let puts = Arc::clone(&puts);
        db.with_writer(move |conn| {
            dialect::write_transaction(conn, |conn| write_together(conn, &puts))
        })
    };
    match together {
        Ok(written) => {
            for (answer, written) in answers.into_iter().zip(written) {
                // The request may have gone (the client left); nobody is left to tell.
                let _ = answer.send(written);
            }
        }
        Err(error) => {
            tracing::warn!(%error, size = puts.len(), "a group of encounter writes failed; each is written alone");
            for (answer, put) in answers.into_iter().zip(puts.iter().cloned()) {
                let _ = answer.send(db.with_writer(move |conn| write_alone(conn, put)));
            }
        }
    }
}

/// The group's writes and audit entries, in the open transaction; a storage failure
/// fails the group.
fn write_together(
    conn: &mut DbConnection,
    puts: &[EncounterPut],
) -> Result<Vec<Written>, StoreError> {
    let now = crate::records::now();
    let writes: Vec<Put<'_>> = puts
        .iter()
        .map(|put| Put {
            writer: put.writer,
            id: put.id,
            draft: &put.draft,
            if_match: put.if_match,
            amendment_reason: put.amendment_reason.as_ref(),
        })
        .collect();
    let outcomes = encounters::put_many(conn, &writes, now)?;
    let mut entries = Vec::with_capacity(puts.len());
    let written: Vec<Written> = puts
        .iter()
        .zip(outcomes)
        .map(|(put, outcome)| {
            let written = outcome.map_err(|e| write_error(e, EncounterView::from));
            let mut entry = put.entry.clone();
            refine(&mut entry, &written);
            entries.push(entry);
            written
        })
        .collect();
    // Refusals come before a write's first statement, so a refused PUT left nothing to
    // take back: its entry goes in with the others'.
    audit::append_many(conn, &entries)?;
    Ok(written)
}

/// One PUT written on its own, as [`crate::startup::AppState::audited`] writes a request.
fn write_alone(conn: &mut DbConnection, put: EncounterPut) -> Written {
    let EncounterPut {
        writer,
        id,
        draft,
        if_match,
        amendment_reason,
        entry,
    } = put;
    write_audited(conn, entry, move |conn, entry| {
        let now = crate::records::now();
        let written = encounters::put(
            conn,
            &writer,
            id,
            &draft,
            if_match,
            amendment_reason.as_ref(),
            now,
        )
        .map_err(|e| write_error(e, EncounterView::from));
        refine(entry, &written);
        written
    })
}

/// The PUT's audit entry once its outcome is known: a create, or why not.
fn refine(entry: &mut Entry, written: &Written) {
    match written {
        Ok((Applied::Created, _)) => entry.action = Action::Create,
        Ok(_) => {}
        Err(error) => entry.outcome = outcome_of(error).to_owned(),
    }
}
