//! The caller's own profile and devices, and the administrators' view of every account
//! and session.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use faltlogg_domain::account::{Assignment, NewPassword, Role, Username};
use faltlogg_domain::audit::Action;
use faltlogg_domain::ids::{SessionId, UserId};
use faltlogg_domain::unit::Unit;
use faltlogg_domain::{FieldError, ValidationErrors};
use faltlogg_persistence::StoreError;
use faltlogg_persistence::accounts::{self, Principal, Session, User, UserChanges};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Admins, AnyRole, Auth, password};
use crate::error::{ApiError, Problem};
use crate::extract::{Json, Query};
use crate::records::path_id;
use crate::startup::AppState;

#[derive(Serialize, ToSchema)]
pub struct Me {
    #[schema(value_type = uuid::Uuid)]
    pub id: UserId,
    pub username: String,
    #[schema(value_type = String, example = "outreach_worker")]
    pub role: Role,
    #[schema(value_type = Option<String>, example = "mika")]
    pub unit: Option<Unit>,
    #[schema(value_type = uuid::Uuid)]
    pub session_id: SessionId,
}

#[derive(Serialize, ToSchema)]
pub struct UserView {
    #[schema(value_type = uuid::Uuid)]
    pub id: UserId,
    pub username: String,
    #[schema(value_type = String, example = "outreach_worker")]
    pub role: Role,
    #[schema(value_type = Option<String>, example = "mika")]
    pub unit: Option<Unit>,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

impl From<User> for UserView {
    fn from(user: User) -> Self {
        Self {
            id: user.id,
            username: user.username.to_string(),
            role: user.assignment.role(),
            unit: user.assignment.unit(),
            disabled: user.disabled,
            created_at: user.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SessionView {
    #[schema(value_type = uuid::Uuid)]
    pub id: SessionId,
    #[schema(value_type = uuid::Uuid)]
    pub user_id: UserId,
    pub device_name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<Session> for SessionView {
    fn from(s: Session) -> Self {
        Self {
            id: s.id,
            user_id: s.user_id,
            device_name: s.device_name,
            created_at: s.created_at,
            last_used_at: s.last_used_at,
            expires_at: s.expires_at,
            revoked_at: s.revoked_at,
        }
    }
}

/// Who the token belongs to.
#[utoipa::path(get, path = "/api/v1/me", tag = "accounts", security(("bearer" = ["outreach_worker", "police_liaison", "coordinator", "admin", "auditor"])),
    responses(
        (status = 200, description = "The caller", body = Me),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn me(auth: Auth<AnyRole>) -> HttpResponse {
    let Principal {
        user_id,
        username,
        assignment,
        session_id,
    } = auth.principal;
    HttpResponse::Ok().json(Me {
        id: user_id,
        username: username.to_string(),
        role: assignment.role(),
        unit: assignment.unit(),
        session_id,
    })
}

/// The caller's device sessions, newest first.
#[utoipa::path(get, path = "/api/v1/me/sessions", tag = "accounts", security(("bearer" = ["outreach_worker", "police_liaison", "coordinator", "admin", "auditor"])),
    responses(
        (status = 200, description = "The caller's sessions", body = [SessionView]),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn my_sessions(
    state: web::Data<AppState>,
    auth: Auth<AnyRole>,
) -> Result<HttpResponse, ApiError> {
    let user = auth.principal.user_id;
    let sessions = state
        .with_db(move |conn| Ok(accounts::list_sessions(conn, Some(user))?))
        .await?;
    Ok(HttpResponse::Ok().json(
        sessions
            .into_iter()
            .map(SessionView::from)
            .collect::<Vec<_>>(),
    ))
}

/// End one of the caller's own sessions (a lost phone).
#[utoipa::path(delete, path = "/api/v1/me/sessions/{id}", tag = "accounts", security(("bearer" = ["outreach_worker", "police_liaison", "coordinator", "admin", "auditor"])),
    params(("id" = uuid::Uuid, Path, description = "Session id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such live session of the caller's", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn revoke_my_session(
    state: web::Data<AppState>,
    auth: Auth<AnyRole>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id::<SessionId>(&path)?;
    let owner = auth.principal.user_id;
    revoke(&state, &auth.actor, id, Some(owner)).await
}

async fn revoke(
    state: &AppState,
    actor: &crate::audit::Actor,
    id: SessionId,
    owner: Option<UserId>,
) -> Result<HttpResponse, ApiError> {
    let entry = actor.entry(Action::Revoke, "session", Some(id.to_string()));
    state
        .audited(entry, move |conn, _| {
            if accounts::revoke_session(conn, id, owner, "revoked", Utc::now())? {
                Ok(())
            } else {
                Err(ApiError::NotFound)
            }
        })
        .await?;
    tracing::info!(session_id = %id, "session revoked");
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserRequest {
    #[schema(max_length = 64, pattern = "^[\\p{L}\\p{N}._-]+$")]
    pub username: String,
    #[schema(value_type = String, example = "outreach_worker")]
    pub role: String,
    /// Required for outreach workers, absent for every other role.
    #[schema(example = "mika")]
    pub unit: Option<String>,
    #[schema(min_length = 12, max_length = 1024)]
    pub password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// With a new role, `unit` is the new unit (absent: none).
    pub role: Option<String>,
    pub unit: Option<String>,
    pub disabled: Option<bool>,
    #[schema(min_length = 12, max_length = 1024)]
    pub password: Option<String>,
}

fn parse_assignment(role: &str, unit: Option<&str>) -> Result<Assignment, FieldError> {
    let role: Role = role.parse()?;
    let unit = unit
        .map(|code| code.parse::<Unit>())
        .transpose()
        .map_err(|_| FieldError::new("unit", "unknown_unit", "not a unit"))?;
    Assignment::new(role, unit)
}

async fn hash_password(state: &AppState, raw: String) -> Result<String, ApiError> {
    let password = NewPassword::parse(raw).map_err(ValidationErrors::from)?;
    state
        .expensive(state.low_priority.run(move || password::hash(&password)))
        .await?
        .map_err(ApiError::internal)
}

/// Create an account.
#[utoipa::path(post, path = "/api/v1/admin/users", tag = "admin", security(("bearer" = ["admin"])),
    request_body = NewUserRequest,
    responses(
        (status = 201, description = "Created", body = UserView),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Admins only", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The username is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field breaks a rule", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_user(
    state: web::Data<AppState>,
    auth: Auth<Admins>,
    body: Result<Json<NewUserRequest>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let Json(body) = body?;
    let username = Username::parse(&body.username);
    let assignment = parse_assignment(&body.role, body.unit.as_deref());
    let password = NewPassword::parse(body.password.clone());
    let errors: Vec<FieldError> = [
        username.as_ref().err(),
        assignment.as_ref().err(),
        password.as_ref().err(),
    ]
    .into_iter()
    .flatten()
    .cloned()
    .collect();
    let (Ok(username), Ok(assignment), true) = (username, assignment, errors.is_empty()) else {
        return Err(ValidationErrors(errors).into());
    };
    let hash = hash_password(&state, body.password).await?;
    let entry = auth.actor.entry(Action::Create, "user", None);
    let user = state
        .audited(entry, move |conn, entry| {
            match accounts::insert_user(conn, &username, assignment, &hash, Utc::now()) {
                Err(StoreError::Duplicate) => {
                    Err(ApiError::Conflict("That username is taken.".into()))
                }
                other => {
                    let user = other?;
                    entry.record_id = Some(user.id.to_string());
                    Ok(user)
                }
            }
        })
        .await?;
    Ok(HttpResponse::Created().json(UserView::from(user)))
}

/// Every account.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin", security(("bearer" = ["admin"])),
    responses(
        (status = 200, description = "Accounts", body = [UserView]),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Admins only", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_users(
    state: web::Data<AppState>,
    _auth: Auth<Admins>,
) -> Result<HttpResponse, ApiError> {
    let users = state
        .with_db(|conn| Ok(accounts::list_users(conn)?))
        .await?;
    Ok(HttpResponse::Ok().json(users.into_iter().map(UserView::from).collect::<Vec<_>>()))
}

/// Change an account's role and unit, disable or enable it, or set a new password.
/// Disabling refuses the account's tokens from the next request on; a new password revokes
/// every session the account has.
#[utoipa::path(patch, path = "/api/v1/admin/users/{id}", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = uuid::Uuid, Path, description = "User id")),
    request_body = UserPatch,
    responses(
        (status = 200, description = "Changed", body = UserView),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Admins only", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field breaks a rule", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update_user(
    state: web::Data<AppState>,
    auth: Auth<Admins>,
    path: web::Path<String>,
    body: Result<Json<UserPatch>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let Json(body) = body?;
    let id = path_id::<UserId>(&path)?;
    let password_hash = match body.password {
        Some(raw) => Some(hash_password(&state, raw).await?),
        None => None,
    };
    let (role, unit, disabled) = (body.role, body.unit, body.disabled);
    let entry = auth
        .actor
        .entry(Action::Update, "user", Some(id.to_string()));
    let user = state
        .audited(entry, move |conn, _| {
            let current = accounts::get_user(conn, id)?;
            let assignment = match (role, unit) {
                (None, None) => None,
                (Some(role), unit) => Some(parse_assignment(&role, unit.as_deref())),
                (None, Some(unit)) => Some(parse_assignment(
                    current.assignment.role().as_str(),
                    Some(&unit),
                )),
            }
            .transpose()
            .map_err(ValidationErrors::from)?;
            let now = Utc::now();
            // A password is set for someone when the old one may be known to another:
            // whoever signed in with it is signed out.
            let new_password = password_hash.is_some();
            let changes = UserChanges {
                assignment,
                disabled,
                password_hash,
            };
            let user = accounts::update_user(conn, id, changes, now)?;
            if new_password {
                accounts::revoke_sessions_of(conn, id, "password_changed", now)?;
            }
            Ok(user)
        })
        .await?;
    Ok(HttpResponse::Ok().json(UserView::from(user)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SessionQuery {
    /// Only this user's sessions.
    pub user_id: Option<String>,
}

/// Device sessions of every user, or of one.
#[utoipa::path(get, path = "/api/v1/admin/sessions", tag = "admin", security(("bearer" = ["admin"])),
    params(SessionQuery),
    responses(
        (status = 200, description = "Sessions, newest first (at most 500)", body = [SessionView]),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Admins only", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "user_id is not a UUID", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_sessions(
    state: web::Data<AppState>,
    _auth: Auth<Admins>,
    query: Result<Query<SessionQuery>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let Query(query) = query?;
    let user = query
        .user_id
        .as_deref()
        .map(|raw| {
            raw.parse::<UserId>()
                .map_err(|_| FieldError::new("user_id", "invalid_id", "not a UUID"))
        })
        .transpose()
        .map_err(ValidationErrors::from)?;
    let sessions = state
        .with_db(move |conn| Ok(accounts::list_sessions(conn, user)?))
        .await?;
    Ok(HttpResponse::Ok().json(
        sessions
            .into_iter()
            .map(SessionView::from)
            .collect::<Vec<_>>(),
    ))
}

/// Revoke any session (a lost phone): its tokens stop working from the next request on.
#[utoipa::path(delete, path = "/api/v1/admin/sessions/{id}", tag = "admin", security(("bearer" = ["admin"])),
    params(("id" = uuid::Uuid, Path, description = "Session id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Admins only", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such live session", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn revoke_session(
    state: web::Data<AppState>,
    auth: Auth<Admins>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id::<SessionId>(&path)?;
    revoke(&state, &auth.actor, id, None).await
}
