//! Encounter PUTs that arrive together are written together ([`crate::batches`]).
//!
//! The PUTs waiting are written in one transaction by [`encounters::put_many`], as a
//! push's items are: the new encounters of all of them in a few statements, the audit
//! entries in one, one commit. Each request keeps everything of its own: its writer
//! (scope and rules are checked per request), its outcome, its audit entry (with that
//! outcome) in the same transaction as its write, and its answer only after the commit.
//! If a group's transaction fails (one request's write refused by the database), nothing
//! of it stays, and each of its requests is written alone, as it would have been without
//! company: one request's failure never becomes another's. If the database as a whole was
//! out of reach, every request of the group is answered 503 at once: written one by one
//! they would only wait as long again, each in turn.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use faltlogg_domain::audit::{Action, Entry};
use faltlogg_domain::encounter::{Encounter, EncounterDraft};
use faltlogg_domain::ids::EncounterId;
use faltlogg_domain::text::FreeText;
use faltlogg_domain::write::Applied;
use faltlogg_persistence::encounters::{self, Put};
use faltlogg_persistence::write::Writer;
use faltlogg_persistence::{Database, DbConnection, StoreError, audit, dialect};

use crate::audit::{outcome_of, write_audited};
use crate::batches::Batches;
use crate::error::ApiError;
use crate::records::write_error;
use crate::routes::encounters::EncounterView;

/// Most PUTs in one transaction: bounds how long the first waits for the last.
const MOST_TOGETHER: usize = 64;

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

/// Where encounter PUTs are written.
#[derive(Clone)]
pub struct Together(Batches<EncounterPut, Written>);

impl Together {
    pub fn start(db: &Database) -> std::io::Result<Self> {
        let db = db.clone();
        Batches::start("encounter-puts", MOST_TOGETHER, move |puts| {
            write_group(&db, puts)
        })
        .map(Self)
    }

    /// Writes the PUT, with others waiting at the same moment, and answers it once its
    /// transaction has committed.
    pub async fn put(&self, put: EncounterPut) -> Written {
        self.0.submit(put).await?
    }
}

fn write_group(db: &Database, puts: Vec<EncounterPut>) -> Vec<Written> {
    if puts.len() == 1 {
        // Alone, a PUT takes the shorter way: the single write, in its own transaction.
        return puts.into_iter().map(|put| alone(db, put)).collect();
    }
    let puts = Arc::new(puts);
    let together = {
        let puts = Arc::clone(&puts);
        db.with_writer(move |conn| {
            dialect::write_transaction(conn, |conn| write_together(conn, &puts))
        })
    };
    together.unwrap_or_else(|error| {
        if error.out_of_reach() {
            tracing::error!(%error, size = puts.len(), "a group of encounter writes could not reach the database");
            return puts
                .iter()
                .map(|_| Err(StoreError::BatchOutOfReach.into()))
                .collect();
        }
        tracing::warn!(%error, size = puts.len(), "a group of encounter writes failed; each is written alone");
        puts.iter()
            .cloned()
            .map(|put| alone(db, put))
            .collect()
    })
}

/// One PUT written on its own connection turn. A panic in it is its failure alone: the
/// others of its group keep their answers.
fn alone(db: &Database, put: EncounterPut) -> Written {
    catch_unwind(AssertUnwindSafe(|| {
        db.with_writer(move |conn| write_alone(conn, put))
    }))
    .unwrap_or_else(|_| {
        tracing::error!("an encounter write panicked; it is answered as not committed");
        Err(StoreError::NotCommitted.into())
    })
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
