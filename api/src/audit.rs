//! Who acts in a request, as the audit log records it, and the one way a request's work
//! and its audit entry are written together.

use actix_web::HttpMessage;
use chrono::Utc;
use faltlogg_domain::audit::{Action, Entry};
use faltlogg_persistence::accounts::Principal;
use faltlogg_persistence::{DbConnection, audit, dialect};
use tracing_actix_web::RequestId;

use crate::error::ApiError;
use crate::startup::AppState;

/// The caller of a request, as far as it is known.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub role: Option<String>,
    pub unit: Option<String>,
    pub session_id: Option<String>,
    pub request_id: Option<String>,
}

impl Actor {
    pub fn of(principal: &Principal, request_id: Option<String>) -> Self {
        Self {
            user_id: Some(principal.user_id.to_string()),
            username: Some(principal.username.to_string()),
            role: Some(principal.assignment.role().as_str().to_owned()),
            unit: principal.assignment.unit().map(|u| u.code().to_owned()),
            session_id: Some(principal.session_id.to_string()),
            request_id,
        }
    }

    /// Someone not (yet) known: a failed sign-in, a missing or bad token.
    pub fn anonymous(request_id: Option<String>) -> Self {
        Self {
            request_id,
            ..Self::default()
        }
    }

    pub fn entry(&self, action: Action, record_type: &str, record_id: Option<String>) -> Entry {
        Entry {
            at: crate::records::now(),
            user_id: self.user_id.clone(),
            username: self.username.clone(),
            role: self.role.clone(),
            unit: self.unit.clone(),
            session_id: self.session_id.clone(),
            action,
            record_type: Some(record_type.to_owned()),
            record_id,
            request_id: self.request_id.clone(),
            outcome: "ok".into(),
        }
    }
}

pub fn request_id(req: &actix_web::HttpRequest) -> Option<String> {
    req.extensions().get::<RequestId>().map(ToString::to_string)
}

/// [`AppState::audited`]'s work, on the connection it writes with.
pub(crate) fn write_audited<T>(
    conn: &mut DbConnection,
    mut entry: Entry,
    f: impl FnOnce(&mut DbConnection, &mut Entry) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let result = dialect::write_transaction(conn, |conn| {
        let value = f(conn, &mut entry)?;
        audit::append(conn, &entry)?;
        Ok(value)
    });
    if let Err(error) = &result {
        entry.outcome = outcome_of(error).to_owned();
        audit::append(conn, &entry)?;
    }
    result
}

/// How a refused or failed request ends in the log.
pub(crate) fn outcome_of(error: &ApiError) -> &'static str {
    match error {
        ApiError::NotFound => "not_found",
        ApiError::Forbidden => "denied",
        ApiError::Unauthorized | ApiError::InvalidCredentials => "unauthenticated",
        ApiError::Validation(_) | ApiError::MalformedJson { .. } => "invalid",
        ApiError::Conflict(_)
        | ApiError::SafeguardingMissing(_)
        | ApiError::PreconditionRequired
        | ApiError::PreconditionFailed { .. } => "conflict",
        _ => "failed",
    }
}

impl AppState {
    /// Runs a request's write and its audit entry in the same transaction, so the entry is
    /// durable before the answer leaves and a write is never without its entry (reads go
    /// through [`AppState::audited_read`]). `f` may refine the entry (a PUT is a create or
    /// an update). A refused attempt is recorded with its outcome after the work is rolled
    /// back. If the entry cannot be written, the request fails.
    pub async fn audited<T, F>(&self, entry: Entry, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection, &mut Entry) -> Result<T, ApiError> + Send + 'static,
    {
        self.with_writer(move |conn| write_audited(conn, entry, f))
            .await
    }

    /// Runs a request's reading of records in one read transaction on a pool connection,
    /// then writes its audit entry (with the read's outcome): nothing read leaves before
    /// its entry is durable, and if the entry cannot be written the request fails. The
    /// read takes no write turn: on SQLite a year's report or a fresh device's pull runs
    /// beside the phones' writes instead of holding them up on the writer thread.
    pub async fn audited_read<T, F>(&self, entry: Entry, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    {
        let result = self
            .with_db(move |conn| dialect::read_transaction(conn, f))
            .await;
        self.record_read(entry, result).await
    }

    /// [`AppState::audited_read`] for a report: it holds one of the expensive-work slots
    /// (busy: 503 at once) and runs on the low-priority threads, so a year's aggregation
    /// gives way to the phones' requests and its working memory stays with one thread.
    pub async fn audited_report<T, F>(&self, entry: Entry, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    {
        self.expensive(async {
            let db = self.db.clone();
            let result = self
                .low_priority
                .run(move || dialect::read_transaction(&mut *db.get()?, f))
                .await
                .and_then(|read| read);
            self.record_read(entry, result).await
        })
        .await
    }

    /// Writes a read's entry with its outcome; the read's answer only if that succeeds.
    async fn record_read<T>(
        &self,
        mut entry: Entry,
        result: Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        if let Err(error) = &result {
            entry.outcome = outcome_of(error).to_owned();
        }
        self.record(entry).await?;
        result
    }

    /// Records an entry on its own (an authentication event, a refused access).
    pub async fn record(&self, entry: Entry) -> Result<(), ApiError> {
        self.with_writer(move |conn| Ok(audit::append(conn, &entry)?))
            .await
    }
}

/// An entry for an event at this moment with this outcome.
pub fn event(
    actor: &Actor,
    action: Action,
    record_type: &str,
    record_id: Option<String>,
    outcome: &str,
) -> Entry {
    Entry {
        outcome: outcome.to_owned(),
        at: Utc::now(),
        ..actor.entry(action, record_type, record_id)
    }
}
