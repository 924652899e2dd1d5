//! Who a request's session belongs to, as the database says now: the sessions of the
//! requests arriving together are looked up in one query ([`crate::batches`]).

use chrono::Utc;
use faltlogg_domain::ids::SessionId;
use faltlogg_persistence::accounts::{self, Principal};
use faltlogg_persistence::{Database, StoreError};

use crate::batches::Batches;
use crate::error::ApiError;

/// Most sessions in one query.
const MOST_TOGETHER: usize = 64;

type Found = Result<Option<Principal>, ApiError>;

#[derive(Clone)]
pub struct Principals(Batches<SessionId, Found>);

impl Principals {
    /// `idle_timeout`: a session unused for longer is no longer live.
    pub fn start(db: &Database, idle_timeout: std::time::Duration) -> std::io::Result<Self> {
        let db = db.clone();
        Batches::start("session-lookups", MOST_TOGETHER, 1, move |sessions| {
            look_up(&db, idle_timeout, &sessions)
        })
        .map(Self)
    }

    /// The principal of a live session; `None` when it is revoked, expired, idle too long,
    /// unknown, or its account is disabled.
    pub async fn live(&self, session: SessionId) -> Found {
        self.0.submit(session).await?
    }
}

fn look_up(db: &Database, idle_timeout: std::time::Duration, sessions: &[SessionId]) -> Vec<Found> {
    let now = Utc::now();
    let found = db
        .get()
        .and_then(|mut conn| accounts::live_principals(&mut conn, sessions, now, idle_timeout));
    match found {
        // One session may stand in the batch more than once (a phone's parallel requests).
        Ok(found) => sessions
            .iter()
            .map(|id| Ok(found.get(id).cloned()))
            .collect(),
        Err(error) if error.out_of_reach() => {
            tracing::error!(%error, size = sessions.len(), "a batch of session lookups could not reach the database");
            sessions
                .iter()
                .map(|_| Err(StoreError::BatchOutOfReach.into()))
                .collect()
        }
        Err(error) => {
            tracing::warn!(%error, size = sessions.len(), "a batch of session lookups failed; each is looked up alone");
            sessions
                .iter()
                .map(|&id| {
                    let mut conn = db.get()?;
                    Ok(accounts::live_principal(&mut conn, id, now, idle_timeout)?)
                })
                .collect()
        }
    }
}
