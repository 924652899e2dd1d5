//! Municipality notifications: kept in step with their encounter inside the encounter's
//! own transaction, listed and resolved by coordinators.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use faltlogg_domain::codes::Coded;
use faltlogg_domain::ids::{EncounterId, NotificationId, UserId};
use faltlogg_domain::notification::{
    Notification, NotificationFacts, NotificationStatus, Reconciled, Resolution, ResolutionMethod,
    decide_resolution, reconcile,
};
use faltlogg_domain::text::FreeText;
use faltlogg_domain::write::{Applied, Refusal};

use crate::dialect::write_transaction;
use crate::schema::municipality_notifications as n;
use crate::stored::{coded, date, opt, parse, text};
use crate::write::WriteError;
use crate::{DbConnection, StoreError};

type Row = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<NaiveDateTime>,
    Option<String>,
    NaiveDateTime,
    NaiveDateTime,
);

macro_rules! columns {
    () => {
        (
            n::id,
            n::municipality_code,
            n::occurred_on,
            n::role,
            n::age_group,
            n::status,
            n::method,
            n::note,
            n::resolved_at,
            n::resolved_by,
            n::created_at,
            n::updated_at,
        )
    };
}

fn from_row(row: Row) -> Result<Notification, StoreError> {
    let (id, code, on, role, age, status, method, note, resolved_at, resolved_by, created, updated) =
        row;
    let resolution = match (method, resolved_at, resolved_by) {
        (Some(method), Some(at), Some(by)) => Some(Resolution {
            method: coded(&method)?,
            note: opt(note.as_deref(), text)?,
            at: at.and_utc(),
            by: parse(&by)?,
        }),
        _ => None,
    };
    Ok(Notification {
        id: parse(&id)?,
        facts: NotificationFacts {
            municipality: parse(&code)?,
            date: date(&on)?,
            role: coded(&role)?,
            age_group: coded(&age)?,
        },
        status: coded(&status)?,
        resolution,
        created_at: created.and_utc(),
        updated_at: updated.and_utc(),
    })
}

/// Brings the notification of an encounter in line with what the encounter now calls for
/// (`due` is `None` once it is voided). Runs inside the encounter's write.
/// Whether the encounter was stored before this write (and may have a notification).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Known {
    /// Created in this very transaction: it has no notification yet, so none is read.
    New,
    Stored,
}

pub(crate) fn follow_encounter(
    conn: &mut DbConnection,
    encounter: EncounterId,
    due: Option<NotificationFacts>,
    known: Known,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let existing: Option<(String, String, String, String, String)> = match known {
        Known::New => None,
        Known::Stored => n::table
            .filter(n::encounter_id.eq(encounter.to_string()))
            .select((
                n::status,
                n::municipality_code,
                n::occurred_on,
                n::role,
                n::age_group,
            ))
            .first(conn)
            .optional()?,
    };
    let existing = existing
        .map(|(status, code, on, role, age)| -> Result<_, StoreError> {
            Ok((
                coded::<NotificationStatus>(&status)?,
                NotificationFacts {
                    municipality: parse(&code)?,
                    date: date(&on)?,
                    role: coded(&role)?,
                    age_group: coded(&age)?,
                },
            ))
        })
        .transpose()?;
    let now = now.naive_utc();
    let of_encounter = n::table.filter(n::encounter_id.eq(encounter.to_string()));
    match reconcile(existing, due) {
        Reconciled::Keep => {}
        Reconciled::Create(facts) => {
            diesel::insert_into(n::table)
                .values((
                    n::id.eq(NotificationId::new_random().to_string()),
                    n::encounter_id.eq(encounter.to_string()),
                    n::municipality_code.eq(facts.municipality.as_str()),
                    n::occurred_on.eq(facts.date.to_string()),
                    n::role.eq(facts.role.code()),
                    n::age_group.eq(facts.age_group.code()),
                    n::status.eq(NotificationStatus::Open.code()),
                    n::created_at.eq(now),
                    n::updated_at.eq(now),
                ))
                .execute(conn)?;
        }
        Reconciled::Open(facts) => {
            diesel::update(of_encounter)
                .set((
                    n::municipality_code.eq(facts.municipality.as_str()),
                    n::occurred_on.eq(facts.date.to_string()),
                    n::role.eq(facts.role.code()),
                    n::age_group.eq(facts.age_group.code()),
                    n::status.eq(NotificationStatus::Open.code()),
                    n::method.eq(None::<&str>),
                    n::note.eq(None::<&str>),
                    n::resolved_at.eq(None::<NaiveDateTime>),
                    n::resolved_by.eq(None::<&str>),
                    n::updated_at.eq(now),
                ))
                .execute(conn)?;
        }
        Reconciled::Withdraw => {
            diesel::update(of_encounter)
                .set((
                    n::status.eq(NotificationStatus::Withdrawn.code()),
                    n::updated_at.eq(now),
                ))
                .execute(conn)?;
        }
    }
    Ok(())
}

pub fn get(conn: &mut DbConnection, id: NotificationId) -> Result<Notification, StoreError> {
    let row: Row = n::table
        .filter(n::id.eq(id.to_string()))
        .select(columns!())
        .first(conn)?;
    from_row(row)
}

/// Where the previous page ended: oldest first, by creation and then id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotificationCursor {
    pub created_at: DateTime<Utc>,
    pub id: NotificationId,
}

pub fn list(
    conn: &mut DbConnection,
    status: Option<NotificationStatus>,
    after: Option<NotificationCursor>,
    limit: i64,
) -> Result<Vec<Notification>, StoreError> {
    let mut query = n::table.select(columns!()).into_boxed();
    if let Some(status) = status {
        query = query.filter(n::status.eq(status.code()));
    }
    if let Some(cursor) = after {
        let at = cursor.created_at.naive_utc();
        query = query.filter(
            n::created_at
                .gt(at)
                .or(n::created_at.eq(at).and(n::id.gt(cursor.id.to_string()))),
        );
    }
    let rows: Vec<Row> = query
        .order((n::created_at.asc(), n::id.asc()))
        .limit(limit)
        .load(conn)?;
    rows.into_iter().map(from_row).collect()
}

/// A coordinator settles an open notification; the same resolution again is a retry.
pub fn resolve(
    conn: &mut DbConnection,
    id: NotificationId,
    method: ResolutionMethod,
    note: Option<&FreeText>,
    by: UserId,
    now: DateTime<Utc>,
) -> Result<(Applied, Notification), WriteError<Notification>> {
    write_transaction(conn, |conn| {
        let current = get(conn, id)?;
        let applied = decide_resolution(current.status, current.resolution.as_ref(), method, note)?;
        if applied == Applied::Unchanged {
            return Ok((applied, current));
        }
        let changed = diesel::update(
            n::table
                .filter(n::id.eq(id.to_string()))
                .filter(n::status.eq(NotificationStatus::Open.code())),
        )
        .set((
            n::status.eq(NotificationStatus::Resolved.code()),
            n::method.eq(Some(method.code())),
            n::note.eq(note.map(FreeText::as_str)),
            n::resolved_at.eq(Some(now.naive_utc())),
            n::resolved_by.eq(Some(by.to_string())),
            n::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
        if changed == 0 {
            return Err(
                Refusal::Conflict(faltlogg_domain::write::Conflict::NotificationSettled).into(),
            );
        }
        Ok((applied, get(conn, id)?))
    })
}
