//! Staff accounts, device sessions, refresh tokens and failed logins.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use faltlogg_domain::account::{Assignment, DeviceName, Role, Username};
use faltlogg_domain::ids::{SessionId, UserId};
use faltlogg_domain::unit::Unit;

use crate::schema::{login_failures, refresh_tokens, sessions, users};
use crate::stored::{corrupt, parse};
use crate::{DbConnection, StoreError};

/// An account as the API shows it, without its password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub username: Username,
    pub assignment: Assignment,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

/// The caller of a request, as the database says now (not as the token said).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: UserId,
    pub username: Username,
    pub assignment: Assignment,
    pub session_id: SessionId,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub device_name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub session_id: SessionId,
    pub issued_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

type UserRow = (String, String, String, Option<String>, bool, NaiveDateTime);

fn user_columns() -> (
    users::id,
    users::username,
    users::role,
    users::unit_code,
    users::disabled,
    users::created_at,
) {
    (
        users::id,
        users::username,
        users::role,
        users::unit_code,
        users::disabled,
        users::created_at,
    )
}

fn user_from_row(
    (id, username, role, unit, disabled, created_at): UserRow,
) -> Result<User, StoreError> {
    Ok(User {
        id: parse(&id)?,
        username: Username::parse(&username).map_err(corrupt)?,
        assignment: assignment(&role, unit.as_deref())?,
        disabled,
        created_at: created_at.and_utc(),
    })
}

fn assignment(role: &str, unit: Option<&str>) -> Result<Assignment, StoreError> {
    let role: Role = role.parse().map_err(corrupt)?;
    let unit: Option<Unit> = unit.map(parse).transpose()?;
    Assignment::new(role, unit).map_err(corrupt)
}

/// Adds an account. A name taken in any case is [`StoreError::Duplicate`].
pub fn insert_user(
    conn: &mut DbConnection,
    username: &Username,
    assignment: Assignment,
    password_hash: &str,
    now: DateTime<Utc>,
) -> Result<User, StoreError> {
    let id = UserId::new_random();
    let now = now.naive_utc();
    diesel::insert_into(users::table)
        .values((
            users::id.eq(id.to_string()),
            users::username.eq(username.as_str()),
            users::username_key.eq(username.key()),
            users::role.eq(assignment.role().as_str()),
            users::unit_code.eq(assignment.unit().map(Unit::code)),
            users::password_hash.eq(password_hash),
            users::disabled.eq(false),
            users::created_at.eq(now),
            users::updated_at.eq(now),
        ))
        .execute(conn)?;
    get_user(conn, id)
}

pub fn get_user(conn: &mut DbConnection, id: UserId) -> Result<User, StoreError> {
    let row: UserRow = users::table
        .filter(users::id.eq(id.to_string()))
        .select(user_columns())
        .first(conn)?;
    user_from_row(row)
}

pub fn list_users(conn: &mut DbConnection) -> Result<Vec<User>, StoreError> {
    let rows: Vec<UserRow> = users::table
        .select(user_columns())
        .order(users::username_key)
        .load(conn)?;
    rows.into_iter().map(user_from_row).collect()
}

/// The account and its password hash, for a login; `None` when no such name.
pub fn credentials(
    conn: &mut DbConnection,
    username: &Username,
) -> Result<Option<(User, String)>, StoreError> {
    let row: Option<(UserRow, String)> = users::table
        .filter(users::username_key.eq(username.key()))
        .select((user_columns(), users::password_hash))
        .first(conn)
        .optional()?;
    row.map(|(user, hash)| Ok((user_from_row(user)?, hash)))
        .transpose()
}

/// What an admin may change on an account; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct UserChanges {
    pub assignment: Option<Assignment>,
    pub disabled: Option<bool>,
    pub password_hash: Option<String>,
}

pub fn update_user(
    conn: &mut DbConnection,
    id: UserId,
    changes: UserChanges,
    now: DateTime<Utc>,
) -> Result<User, StoreError> {
    let target = users::table.filter(users::id.eq(id.to_string()));
    let now = now.naive_utc();
    let found = diesel::update(target.clone())
        .set(users::updated_at.eq(now))
        .execute(conn)?;
    if found == 0 {
        return Err(StoreError::NotFound);
    }
    if let Some(assignment) = changes.assignment {
        diesel::update(target.clone())
            .set((
                users::role.eq(assignment.role().as_str()),
                users::unit_code.eq(assignment.unit().map(Unit::code)),
            ))
            .execute(conn)?;
    }
    if let Some(disabled) = changes.disabled {
        diesel::update(target.clone())
            .set(users::disabled.eq(disabled))
            .execute(conn)?;
    }
    if let Some(hash) = changes.password_hash {
        diesel::update(target.clone())
            .set(users::password_hash.eq(hash))
            .execute(conn)?;
    }
    get_user(conn, id)
}

pub fn find_user_id(conn: &mut DbConnection, username: &Username) -> Result<UserId, StoreError> {
    let id: String = users::table
        .filter(users::username_key.eq(username.key()))
        .select(users::id)
        .first(conn)?;
    parse(&id)
}

pub fn create_session(
    conn: &mut DbConnection,
    user_id: UserId,
    device_name: &DeviceName,
    first_token_hash: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<SessionId, StoreError> {
    let id = SessionId::new_random();
    diesel::insert_into(sessions::table)
        .values((
            sessions::id.eq(id.to_string()),
            sessions::user_id.eq(user_id.to_string()),
            sessions::device_name.eq(device_name.as_str()),
            sessions::created_at.eq(now.naive_utc()),
            sessions::last_used_at.eq(now.naive_utc()),
            sessions::expires_at.eq(expires_at.naive_utc()),
        ))
        .execute(conn)?;
    insert_refresh_token(conn, first_token_hash, id, now)?;
    Ok(id)
}

/// The caller of a session that is live now: not revoked, not past its absolute end, not
/// unused for longer than `idle_timeout`, its account enabled.
pub fn live_principal(
    conn: &mut DbConnection,
    session_id: SessionId,
    now: DateTime<Utc>,
    idle_timeout: std::time::Duration,
) -> Result<Option<Principal>, StoreError> {
    Ok(live_principals(conn, &[session_id], now, idle_timeout)?.remove(&session_id))
}

/// [`live_principal`] for many sessions in one query: those found live, by session.
pub fn live_principals(
    conn: &mut DbConnection,
    session_ids: &[SessionId],
    now: DateTime<Utc>,
    idle_timeout: std::time::Duration,
) -> Result<std::collections::HashMap<SessionId, Principal>, StoreError> {
    let ids: Vec<String> = session_ids.iter().map(ToString::to_string).collect();
    let rows: Vec<(String, String, String, String, Option<String>)> = sessions::table
        .inner_join(users::table)
        .filter(sessions::id.eq_any(&ids))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::expires_at.gt(now.naive_utc()))
        .filter(sessions::last_used_at.gt((now - idle_timeout).naive_utc()))
        .filter(users::disabled.eq(false))
        .select((
            sessions::id,
            users::id,
            users::username,
            users::role,
            users::unit_code,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(|(session_id, user_id, username, role, unit)| {
            let session_id: SessionId = parse(&session_id)?;
            Ok((
                session_id,
                Principal {
                    user_id: parse(&user_id)?,
                    username: Username::parse(&username).map_err(corrupt)?,
                    assignment: assignment(&role, unit.as_deref())?,
                    session_id,
                },
            ))
        })
        .collect()
}

pub fn touch_session(
    conn: &mut DbConnection,
    id: SessionId,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    diesel::update(sessions::table.filter(sessions::id.eq(id.to_string())))
        .set(sessions::last_used_at.eq(now.naive_utc()))
        .execute(conn)?;
    Ok(())
}

/// Revokes a live session; `owner` limits it to one user's sessions. `false` when there
/// was no such live session.
pub fn revoke_session(
    conn: &mut DbConnection,
    id: SessionId,
    owner: Option<UserId>,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let mut query = diesel::update(sessions::table)
        .filter(sessions::id.eq(id.to_string()))
        .filter(sessions::revoked_at.is_null())
        .into_boxed();
    if let Some(owner) = owner {
        query = query.filter(sessions::user_id.eq(owner.to_string()));
    }
    let changed = query
        .set((
            sessions::revoked_at.eq(now.naive_utc()),
            sessions::revoked_reason.eq(reason),
        ))
        .execute(conn)?;
    Ok(changed > 0)
}

/// Revokes every live session of a user (a new password set for them); how many.
pub fn revoke_sessions_of(
    conn: &mut DbConnection,
    user_id: UserId,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    Ok(diesel::update(sessions::table)
        .filter(sessions::user_id.eq(user_id.to_string()))
        .filter(sessions::revoked_at.is_null())
        .set((
            sessions::revoked_at.eq(now.naive_utc()),
            sessions::revoked_reason.eq(reason),
        ))
        .execute(conn)?)
}

pub fn list_sessions(
    conn: &mut DbConnection,
    user_id: Option<UserId>,
) -> Result<Vec<Session>, StoreError> {
    let mut query = sessions::table
        .select((
            sessions::id,
            sessions::user_id,
            sessions::device_name,
            sessions::created_at,
            sessions::last_used_at,
            sessions::expires_at,
            sessions::revoked_at,
        ))
        .order(sessions::created_at.desc())
        .into_boxed();
    if let Some(user_id) = user_id {
        query = query.filter(sessions::user_id.eq(user_id.to_string()));
    }
    type Row = (
        String,
        String,
        String,
        NaiveDateTime,
        NaiveDateTime,
        NaiveDateTime,
        Option<NaiveDateTime>,
    );
    let rows: Vec<Row> = query.limit(500).load(conn)?;
    rows.into_iter()
        .map(
            |(id, user_id, device_name, created, used, expires, revoked)| {
                Ok(Session {
                    id: parse(&id)?,
                    user_id: parse(&user_id)?,
                    device_name,
                    created_at: created.and_utc(),
                    last_used_at: used.and_utc(),
                    expires_at: expires.and_utc(),
                    revoked_at: revoked.map(|t| t.and_utc()),
                })
            },
        )
        .collect()
}

pub fn insert_refresh_token(
    conn: &mut DbConnection,
    token_hash: &str,
    session_id: SessionId,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::token_hash.eq(token_hash),
            refresh_tokens::session_id.eq(session_id.to_string()),
            refresh_tokens::issued_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn find_refresh_token(
    conn: &mut DbConnection,
    token_hash: &str,
) -> Result<Option<RefreshToken>, StoreError> {
    let row: Option<(String, NaiveDateTime, Option<NaiveDateTime>)> = refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(token_hash))
        .select((
            refresh_tokens::session_id,
            refresh_tokens::issued_at,
            refresh_tokens::used_at,
        ))
        .first(conn)
        .optional()?;
    row.map(|(session_id, issued, used)| {
        Ok(RefreshToken {
            session_id: parse(&session_id)?,
            issued_at: issued.and_utc(),
            used_at: used.map(|t| t.and_utc()),
        })
    })
    .transpose()
}

/// Marks an unused token used; `false` when another request used it first.
pub fn use_refresh_token(
    conn: &mut DbConnection,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let changed = diesel::update(refresh_tokens::table)
        .filter(refresh_tokens::token_hash.eq(token_hash))
        .filter(refresh_tokens::used_at.is_null())
        .set(refresh_tokens::used_at.eq(now.naive_utc()))
        .execute(conn)?;
    Ok(changed == 1)
}

/// Whose failed logins to count.
#[derive(Debug, Clone, Copy)]
pub enum FailuresOf<'a> {
    Address(&'a str),
    Account(&'a str),
}

/// Failed logins in a window: how many, the oldest and the latest.
#[derive(Debug, Clone, Copy)]
pub struct Failures {
    pub count: i64,
    pub oldest: Option<DateTime<Utc>>,
    pub latest: Option<DateTime<Utc>>,
}

pub fn failures(
    conn: &mut DbConnection,
    of: FailuresOf<'_>,
    since: DateTime<Utc>,
) -> Result<Failures, StoreError> {
    let mut query = login_failures::table
        .filter(login_failures::at.gt(since.naive_utc()))
        .into_boxed();
    query = match of {
        FailuresOf::Address(address) => query.filter(login_failures::client_address.eq(address)),
        FailuresOf::Account(key) => query.filter(login_failures::account_key.eq(key)),
    };
    let (count, oldest, latest): (i64, Option<NaiveDateTime>, Option<NaiveDateTime>) = query
        .select((
            diesel::dsl::count_star(),
            diesel::dsl::min(login_failures::at),
            diesel::dsl::max(login_failures::at),
        ))
        .first(conn)?;
    Ok(Failures {
        count,
        oldest: oldest.map(|t| t.and_utc()),
        latest: latest.map(|t| t.and_utc()),
    })
}

/// Forgets an account's failed logins: a login passed, or an admin lifted the lock.
pub fn clear_account_failures(
    conn: &mut DbConnection,
    account_key: &str,
) -> Result<(), StoreError> {
    diesel::delete(login_failures::table.filter(login_failures::account_key.eq(account_key)))
        .execute(conn)?;
    Ok(())
}

pub fn record_failure(
    conn: &mut DbConnection,
    address: &str,
    account_key: &str,
    now: DateTime<Utc>,
    forget_before: DateTime<Utc>,
) -> Result<(), StoreError> {
    diesel::insert_into(login_failures::table)
        .values((
            login_failures::id.eq(uuid::Uuid::new_v4().to_string()),
            login_failures::client_address.eq(address),
            login_failures::account_key.eq(account_key),
            login_failures::at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    // Failures older than every window are of no further use.
    diesel::delete(login_failures::table.filter(login_failures::at.lt(forget_before.naive_utc())))
        .execute(conn)?;
    Ok(())
}
