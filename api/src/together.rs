//! Encounter PUTs that arrive together are written together ([`crate::batches`]).
//!
//! The PUTs waiting are written in one transaction by [`encounters::put_many`], as a
//! push's items are: their callers' sessions in one query, the new encounters of all of
//! them in a few statements, the audit entries in one, one commit. Each request keeps
//! everything of its own: its caller (session, account and role are checked per request,
//! in the transaction that writes: [`crate::auth::Claimed`]), its outcome, its audit
//! entry (with that outcome) in the same transaction as its write, and its answer only
//! after the commit.
//! If a group's transaction fails (one request's write refused by the database), nothing
//! of it stays, and each of its requests is written alone, as it would have been without
//! company: one request's failure never becomes another's. If the database as a whole was
//! out of reach, every request of the group is answered 503 at once: written one by one
//! they would only wait as long again, each in turn.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Duration;

use faltlogg_domain::audit::{Action, Entry};
use faltlogg_domain::encounter::{Encounter, EncounterDraft};
use faltlogg_domain::ids::{EncounterId, SessionId};
use faltlogg_domain::text::FreeText;
use faltlogg_domain::write::Applied;
use faltlogg_persistence::accounts::{self, Principal};
use faltlogg_persistence::dialect::Held;
use faltlogg_persistence::encounters::{self, Put};
use faltlogg_persistence::write::Writer;
use faltlogg_persistence::{Database, DbConnection, StoreError, audit};

use crate::audit::{Actor, outcome_of, write_audited};
use crate::auth::{Caller, OutreachWorkers, Policy, Refusal, admit};
use crate::batches::Batches;
use crate::error::ApiError;
use crate::records::{write_error, writer};
use crate::routes::encounters::EncounterView;

/// Most PUTs in one transaction: bounds how long the first waits for the last.
const MOST_TOGETHER: usize = 64;

/// Groups written at once. With one, the next group waited for the whole of the one
/// before (its round trips, its commit's flush) while the processor had time to spare;
/// with two, one group's statements run while the other's wait. The headline went from
/// 21–24% to 33–36% of the bare-INSERT ceiling with this and the sessions checked in the
/// group (BENCHMARKS.md); either alone gained little.
const WRITERS: usize = 2;

/// One encounter PUT, parsed, from a caller whose session is still to be checked.
#[derive(Debug, Clone)]
pub struct EncounterPut {
    pub caller: Caller,
    pub id: EncounterId,
    pub draft: EncounterDraft,
    pub if_match: Option<i64>,
    pub amendment_reason: Option<FreeText>,
}

/// What a PUT is answered with.
pub type Written = Result<(Applied, Encounter), ApiError>;

/// Where encounter PUTs are written.
#[derive(Clone)]
pub struct Together(Batches<EncounterPut, Written>);

impl Together {
    /// `idle_timeout`: a session unused for longer is no longer live.
    pub fn start(db: &Database, idle_timeout: Duration) -> std::io::Result<Self> {
        let db = db.clone();
        Batches::start("encounter-puts", MOST_TOGETHER, WRITERS, move |puts| {
            write_group(&db, idle_timeout, puts)
        })
        .map(Self)
    }

    /// Writes the PUT, with others waiting at the same moment, and answers it once its
    /// transaction has committed.
    pub async fn put(&self, put: EncounterPut) -> Written {
        self.0.submit(put).await?
    }
}

/// A PUT that arrives alone is a group of one: this way is two round trips shorter than
/// the single write's (the shift's lock goes with `BEGIN`, and no look for the id before
/// the insert), and at concurrency 16 about one group in four is alone.
fn write_group(db: &Database, idle_timeout: Duration, puts: Vec<EncounterPut>) -> Vec<Written> {
    let puts = Arc::new(puts);
    let together = {
        let puts = Arc::clone(&puts);
        db.with_writer(move |conn| {
            encounters::put_transaction(conn, puts.iter().map(|put| &put.draft), |conn, held| {
                write_together(conn, idle_timeout, &puts, held)
            })
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
            .map(|put| alone(db, idle_timeout, put))
            .collect()
    })
}

/// One PUT written on its own connection turn. A panic in it is its failure alone: the
/// others of its group keep their answers.
fn alone(db: &Database, idle_timeout: Duration, put: EncounterPut) -> Written {
    catch_unwind(AssertUnwindSafe(|| {
        db.with_writer(move |conn| write_alone(conn, idle_timeout, put))
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
    idle_timeout: Duration,
    puts: &[EncounterPut],
    held: &Held,
) -> Result<Vec<Written>, StoreError> {
    let now = crate::records::now();
    let sessions: Vec<SessionId> = puts.iter().map(|put| put.caller.session_id).collect();
    let live = accounts::live_principals(conn, &sessions, now, idle_timeout)?;
    let callers: Vec<Result<(Writer, Entry), Box<Refusal>>> = puts
        .iter()
        .map(|put| {
            admitted(
                &put.caller,
                put.id,
                live.get(&put.caller.session_id).cloned(),
            )
        })
        .collect();
    let writes: Vec<Put<'_>> = puts
        .iter()
        .zip(&callers)
        .filter_map(|(put, caller)| {
            let (writer, _) = caller.as_ref().ok()?;
            Some(Put {
                writer: *writer,
                id: put.id,
                draft: &put.draft,
                if_match: put.if_match,
                amendment_reason: put.amendment_reason.as_ref(),
            })
        })
        .collect();
    let mut outcomes = if writes.is_empty() {
        Vec::new()
    } else {
        encounters::put_many(conn, &writes, held, now)?
    }
    .into_iter();
    let mut entries = Vec::with_capacity(puts.len());
    let mut written = Vec::with_capacity(puts.len());
    for caller in callers {
        match caller {
            Ok((_, mut entry)) => {
                let outcome = outcomes.next().ok_or(StoreError::NotCommitted)?;
                let outcome = outcome.map_err(|e| write_error(e, EncounterView::from));
                refine(&mut entry, &outcome);
                entries.push(entry);
                written.push(outcome);
            }
            Err(refusal) => {
                let Refusal { error, entry } = *refusal;
                entries.push(entry);
                written.push(Err(error));
            }
        }
    }
    // Refusals come before a write's first statement, so a refused PUT left nothing to
    // take back: its entry goes in with the others'.
    audit::append_many(conn, &entries)?;
    Ok(written)
}

/// One PUT written on its own, as [`crate::startup::AppState::audited`] writes a request.
fn write_alone(conn: &mut DbConnection, idle_timeout: Duration, put: EncounterPut) -> Written {
    let EncounterPut {
        caller,
        id,
        draft,
        if_match,
        amendment_reason,
    } = put;
    // Until the session is found, the entry names the attempt only.
    let attempt = Actor::anonymous(caller.request_id.clone()).entry(
        Action::Update,
        "encounter",
        Some(id.to_string()),
    );
    write_audited(conn, attempt, move |conn, entry| {
        let now = crate::records::now();
        let live = accounts::live_principal(conn, caller.session_id, now, idle_timeout)?;
        let writer = match admitted(&caller, id, live) {
            Ok((writer, admitted)) => {
                *entry = admitted;
                writer
            }
            Err(refusal) => {
                let Refusal {
                    error,
                    entry: refused,
                } = *refusal;
                *entry = refused;
                return Err(error);
            }
        };
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

/// The writer of a PUT by `caller`, whose session is `live` as the transaction reads it,
/// and the entry it is recorded under (an update until it turns out to create); or the
/// refusal.
fn admitted(
    caller: &Caller,
    id: EncounterId,
    live: Option<Principal>,
) -> Result<(Writer, Entry), Box<Refusal>> {
    let (principal, actor) = admit(OutreachWorkers::ROLES, caller, live)?;
    let writer =
        writer(&principal).map_err(|_| Box::new(Refusal::denied(&actor, &caller.route)))?;
    Ok((
        writer,
        actor.entry(Action::Update, "encounter", Some(id.to_string())),
    ))
}

/// The PUT's audit entry once its outcome is known: a create, or why not.
fn refine(entry: &mut Entry, written: &Written) {
    match written {
        Ok((Applied::Created, _)) => entry.action = Action::Create,
        Ok(_) => {}
        Err(error) => entry.outcome = outcome_of(error).to_owned(),
    }
}
