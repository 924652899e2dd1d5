//! Login, refresh and logout.

use crate::audit::{Actor, event, request_id};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Duration, Utc};
use faltlogg_domain::account::{Assignment, DeviceName, Username};
use faltlogg_domain::audit::{Action, Entry};
use faltlogg_domain::ids::{SessionId, UserId};
use faltlogg_domain::{FieldError, ValidationErrors};
use faltlogg_persistence::accounts::{self, FailuresOf};
use faltlogg_persistence::audit;
use faltlogg_persistence::dialect::write_transaction;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{AnyRole, Auth, client_address, password, tokens};
use crate::error::{ApiError, Problem};
use crate::extract::Json;
use crate::startup::AppState;

/// Failures from one address within this window…
const ADDRESS_WINDOW: Duration = Duration::minutes(15);
/// …up to this many, then 429 for the address.
const ADDRESS_LIMIT: i64 = 10;
/// Failures on one account within this window…
const ACCOUNT_WINDOW: Duration = Duration::hours(1);
/// …up to this many, then the account is locked…
const ACCOUNT_LIMIT: i64 = 20;
/// …for this long after the last counted failure (attempts while locked do not count,
/// so a stranger cannot keep staff out for long).
const ACCOUNT_LOCK: Duration = Duration::minutes(15);
/// A phone that lost the answer to a refresh may send the old token again this soon.
const REFRESH_GRACE: Duration = Duration::minutes(2);

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(max_length = 256)]
    pub username: String,
    #[schema(max_length = 1024)]
    pub password: String,
    /// The phone's own name for itself, shown in session lists.
    #[schema(min_length = 1, max_length = 100)]
    pub device_name: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    #[schema(max_length = 256)]
    pub refresh_token: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub refresh_token: String,
    #[schema(value_type = uuid::Uuid)]
    pub session_id: SessionId,
}

/// Sign in on a device: an access token and the device session's first refresh token.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    security(()),
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = TokenResponse),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Invalid username or password", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field breaks a rule", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Busy checking other passwords; try again after Retry-After",
            body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 429, description = "Too many failed logins from this address or on this account",
            body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    Json(body): Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    // The body is checked before any throttling, so a malformed request counts for nothing.
    let device_name = DeviceName::parse(&body.device_name);
    let mut errors = Vec::new();
    if body.username.is_empty() || body.username.chars().count() > 256 {
        errors.push(FieldError::new(
            "username",
            "invalid_username",
            "1 to 256 characters",
        ));
    }
    if body.password.chars().count() > 1024 {
        errors.push(FieldError::new(
            "password",
            "password_too_long",
            "at most 1024 characters",
        ));
    }
    let device_name = device_name.map_err(|e| errors.push(e)).ok();
    let (Some(device_name), true) = (device_name, errors.is_empty()) else {
        return Err(ValidationErrors(errors).into());
    };

    let address = client_address(&req, &state.config.trusted_proxies);
    let account_key = tokens::hash(&body.username.to_lowercase());
    let username = Username::parse(&body.username).ok();

    let anonymous = Actor::anonymous(request_id(&req));
    let found = {
        let (address, account_key) = (address.clone(), account_key.clone());
        state
            .with_db(move |conn| {
                throttle(conn, &address, &account_key, Utc::now())?;
                Ok(match username {
                    Some(username) => accounts::credentials(conn, &username)?,
                    None => None,
                })
            })
            .await
    };
    let found = match found {
        Err(error @ ApiError::TooManyRequests { .. }) => {
            let entry = event(&anonymous, Action::LoginFailed, "user", None, "throttled");
            state.record(entry).await?;
            return Err(error);
        }
        other => other?,
    };

    let attempted = found.as_ref().map(|(user, _)| user.id.to_string());
    let password = body.password;
    let stored_hash = found.as_ref().map(|(_, hash)| hash.clone());
    let matches = state
        .expensive(
            state
                .low_priority
                .run(move || password::verify(&password, stored_hash.as_deref())),
        )
        .await?;
    let user = found
        .map(|(user, _)| user)
        .filter(|user| matches && !user.disabled);

    let Some(user) = user else {
        // The account, when the name was one; never the name typed, which may be a password.
        let entry = event(&anonymous, Action::LoginFailed, "user", attempted, "denied");
        state
            .with_writer(move |conn| {
                write_transaction(conn, |conn| {
                    let now = Utc::now();
                    accounts::record_failure(
                        conn,
                        &address,
                        &account_key,
                        now,
                        now - ACCOUNT_WINDOW,
                    )?;
                    audit::append(conn, &entry)?;
                    Ok(())
                })
            })
            .await?;
        tracing::info!("login failed");
        return Err(ApiError::InvalidCredentials);
    };

    let refresh_token = tokens::new_refresh_token();
    let token_hash = tokens::hash(&refresh_token);
    let lifetime = state.config.session_lifetime;
    let (user, session_id) = state
        .with_writer(move |conn| {
            write_transaction(conn, |conn| {
                let now = Utc::now();
                accounts::clear_account_failures(conn, &account_key)?;
                let session = accounts::create_session(
                    conn,
                    user.id,
                    &device_name,
                    &token_hash,
                    now,
                    now + lifetime,
                )?;
                let actor = Actor {
                    user_id: Some(user.id.to_string()),
                    username: Some(user.username.to_string()),
                    role: Some(user.assignment.role().as_str().to_owned()),
                    unit: user.assignment.unit().map(|u| u.code().to_owned()),
                    session_id: Some(session.to_string()),
                    ..anonymous
                };
                audit::append(
                    conn,
                    &event(
                        &actor,
                        Action::Login,
                        "session",
                        Some(session.to_string()),
                        "ok",
                    ),
                )?;
                Ok((user, session))
            })
        })
        .await?;
    tracing::info!(user_id = %user.id, session_id = %session_id, "signed in");
    token_response(&state, user.id, user.assignment, session_id, refresh_token)
}

/// Too many recent failures from this address, or on this account, answer 429.
fn throttle(
    conn: &mut faltlogg_persistence::DbConnection,
    address: &str,
    account_key: &str,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let by_address = accounts::failures(conn, FailuresOf::Address(address), now - ADDRESS_WINDOW)?;
    if by_address.count >= ADDRESS_LIMIT {
        let free_at = by_address.oldest.unwrap_or(now) + ADDRESS_WINDOW;
        return Err(too_many(free_at, now));
    }
    let on_account =
        accounts::failures(conn, FailuresOf::Account(account_key), now - ACCOUNT_WINDOW)?;
    if let (true, Some(latest)) = (on_account.count >= ACCOUNT_LIMIT, on_account.latest)
        && latest + ACCOUNT_LOCK > now
    {
        return Err(too_many(latest + ACCOUNT_LOCK, now));
    }
    Ok(())
}

fn too_many(free_at: DateTime<Utc>, now: DateTime<Utc>) -> ApiError {
    ApiError::TooManyRequests {
        retry_after_secs: u64::try_from((free_at - now).num_seconds().max(1)).unwrap_or(1),
    }
}

fn token_response(
    state: &AppState,
    user_id: UserId,
    assignment: Assignment,
    session_id: SessionId,
    refresh_token: String,
) -> Result<HttpResponse, ApiError> {
    let ttl = state.config.access_token_ttl;
    let access_token = tokens::issue_access_token(
        &state.keys,
        user_id,
        assignment,
        session_id,
        Utc::now(),
        ttl,
    )
    .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: ttl.as_secs(),
        refresh_token,
        session_id,
    }))
}

/// What presenting a refresh token came to.
enum Refreshed {
    /// The token was current: it is used now, and its successor issued.
    Rotated,
    /// The token was just used and its successor is still unused: a retry, answered with
    /// the same successor.
    Retried,
}

/// Trade a refresh token for a new access token and the next refresh token. A token used
/// before answers 401 and ends the whole session, unless it is a retry within two minutes
/// whose successor has not been used.
#[utoipa::path(
    post,
    path = "/api/v1/auth/refresh",
    tag = "auth",
    security(()),
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "Rotated", body = TokenResponse),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Unknown, expired or reused token; a reuse ends the session",
            body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn refresh(
    state: web::Data<AppState>,
    req: HttpRequest,
    Json(body): Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let request_id = request_id(&req);
    let presented = body.refresh_token;
    let presented_hash = tokens::hash(&presented);
    let successor = tokens::successor(&state.keys, &presented).map_err(ApiError::internal)?;
    let successor_hash = tokens::hash(&successor);
    let idle_timeout = state.config.session_idle_timeout;

    let outcome = state
        .with_writer(move |conn| {
            write_transaction(conn, |conn| {
                let now = Utc::now();
                let refused = event(&Actor::anonymous(request_id.clone()), Action::Refresh, "session", None, "unauthenticated");
                let Some(token) = accounts::find_refresh_token(conn, &presented_hash)? else {
                    audit::append(conn, &refused)?;
                    return Ok(None);
                };
                let Some(principal) =
                    accounts::live_principal(conn, token.session_id, now, idle_timeout)?
                else {
                    audit::append(conn, &Entry { record_id: Some(token.session_id.to_string()), ..refused })?;
                    return Ok(None);
                };
                let actor = Actor::of(&principal, request_id);
                let session = Some(principal.session_id.to_string());
                if accounts::use_refresh_token(conn, &presented_hash, now)? {
                    accounts::insert_refresh_token(conn, &successor_hash, token.session_id, now)?;
                    accounts::touch_session(conn, token.session_id, now)?;
                    audit::append(conn, &event(&actor, Action::Refresh, "session", session, "ok"))?;
                    return Ok(Some((principal, Refreshed::Rotated)));
                }
                let successor_unused = accounts::find_refresh_token(conn, &successor_hash)?
                    .is_some_and(|next| next.used_at.is_none());
                let used_at = token.used_at.unwrap_or(now);
                if successor_unused && now - used_at <= REFRESH_GRACE {
                    audit::append(conn, &event(&actor, Action::Refresh, "session", session, "retried"))?;
                    return Ok(Some((principal, Refreshed::Retried)));
                }
                accounts::revoke_session(conn, token.session_id, None, "refresh_reuse", now)?;
                audit::append(conn, &event(&actor, Action::RefreshReuse, "session", session, "revoked"))?;
                tracing::warn!(session_id = %token.session_id, "refresh token reused: session revoked");
                Ok(None)
            })
        })
        .await?;
    let Some((principal, how)) = outcome else {
        return Err(ApiError::Unauthorized);
    };
    if let Refreshed::Retried = how {
        tracing::info!(session_id = %principal.session_id, "refresh retried within grace");
    }
    token_response(
        &state,
        principal.user_id,
        principal.assignment,
        principal.session_id,
        successor,
    )
}

/// End this device's session: its refresh token and access tokens stop working at once.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "auth",
    security(("bearer" = ["outreach_worker", "police_liaison", "coordinator", "admin", "auditor"])),
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn logout(
    state: web::Data<AppState>,
    auth: Auth<AnyRole>,
) -> Result<HttpResponse, ApiError> {
    let session = auth.principal.session_id;
    let entry = auth
        .actor
        .entry(Action::Logout, "session", Some(session.to_string()));
    state
        .audited(entry, move |conn, _| {
            Ok(accounts::revoke_session(
                conn,
                session,
                None,
                "logout",
                Utc::now(),
            )?)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
