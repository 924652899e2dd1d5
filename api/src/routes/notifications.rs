//! Municipality notifications: coordinators' tasks to tell a municipality that is not
//! connected about the county offer or about support at home. Fältlogg sends nothing.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, NaiveDate, Utc};
use faltlogg_domain::codes::Coded;
use faltlogg_domain::encounter::{AgeGroup, PersonRole, parse_reason};
use faltlogg_domain::ids::NotificationId;
use faltlogg_domain::notification::{Notification, NotificationStatus, ResolutionMethod};
use faltlogg_domain::validation::Collector;
use faltlogg_persistence::notifications::{self, NotificationCursor};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Auth, Coordinators};
use crate::error::{ApiError, Problem};
use crate::extract::{Json, Query};
use crate::pagination::{Page, decode_cursor, encode_cursor, page, parse_limit};
use crate::records::path_id;
use crate::records::write_error;
use crate::startup::AppState;

/// A task: municipality, day, role and age group; nothing about the person.
#[derive(Serialize, ToSchema)]
pub struct NotificationView {
    #[schema(value_type = uuid::Uuid)]
    pub id: NotificationId,
    #[schema(schema_with = crate::schema::municipality)]
    pub municipality: &'static str,
    pub municipality_name: &'static str,
    /// The day of the encounter (Europe/Stockholm).
    pub date: NaiveDate,
    #[schema(schema_with = crate::schema::person_role)]
    pub role: PersonRole,
    #[schema(schema_with = crate::schema::age_group)]
    pub age_group: AgeGroup,
    #[schema(schema_with = crate::schema::notification_status)]
    pub status: NotificationStatus,
    #[schema(schema_with = crate::schema::resolution_method_or_null)]
    pub method: Option<ResolutionMethod>,
    pub note: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Notification> for NotificationView {
    fn from(n: Notification) -> Self {
        Self {
            id: n.id,
            municipality: n.facts.municipality.as_str(),
            municipality_name: n.facts.municipality.name(),
            date: n.facts.date,
            role: n.facts.role,
            age_group: n.facts.age_group,
            status: n.status,
            method: n.resolution.as_ref().map(|r| r.method),
            note: n
                .resolution
                .as_ref()
                .and_then(|r| r.note.as_ref().map(ToString::to_string)),
            resolved_at: n.resolution.as_ref().map(|r| r.at),
            created_at: n.created_at,
            updated_at: n.updated_at,
        }
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationQuery {
    #[param(schema_with = crate::schema::notification_status)]
    pub status: Option<String>,
    pub cursor: Option<String>,
    /// 1 to 500; 100 when absent.
    #[param(value_type = u32, required = false, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
}

/// Notifications, oldest first.
#[utoipa::path(get, path = "/api/v1/municipality-notifications", tag = "notifications", security(("bearer" = ["coordinator"])),
    description = "Role: coordinator.",
    params(NotificationQuery),
    responses(
        (status = 200, description = "A page of notifications", body = Page<NotificationView>),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a coordinator", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter is invalid", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_notifications(
    state: web::Data<AppState>,
    _auth: Auth<Coordinators>,
    query: Result<Query<NotificationQuery>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let Query(query) = query?;
    let mut errors = Collector::default();
    let status = errors.take(
        query
            .status
            .as_deref()
            .map(|s| NotificationStatus::parse_field("status", s))
            .transpose(),
    );
    let cursor = errors.take(decode_cursor::<NotificationId>(query.cursor.as_deref()));
    let limit = errors.take(parse_limit(query.limit.as_deref()));
    let parsed = (|| Some((status?, cursor?, limit?)))();
    let (status, cursor, limit) = errors.finish(parsed)?;
    let cursor = cursor.map(|(created_at, id)| NotificationCursor { created_at, id });
    let found = state
        .with_db(move |conn| Ok(notifications::list(conn, status, cursor, limit + 1)?))
        .await?;
    Ok(HttpResponse::Ok().json(page(
        found,
        limit,
        |n| encode_cursor(n.created_at, n.id),
        NotificationView::from,
    )))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveBody {
    #[schema(schema_with = crate::schema::resolution_method)]
    pub method: String,
    #[schema(max_length = 500)]
    pub note: Option<String>,
}

/// Record that the municipality was told.
#[utoipa::path(post, path = "/api/v1/municipality-notifications/{id}/resolve", tag = "notifications", security(("bearer" = ["coordinator"])),
    description = "Role: coordinator. Once: the same resolution again answers 200; a withdrawn or \
otherwise resolved notification answers 409.",
    params(("id" = uuid::Uuid, Path, description = "Notification id")),
    request_body = ResolveBody,
    responses(
        (status = 200, description = "Resolved", body = NotificationView),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a coordinator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such notification", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No longer open", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A rule is broken", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn resolve_notification(
    state: web::Data<AppState>,
    auth: Auth<Coordinators>,
    path: web::Path<String>,
    body: Result<Json<ResolveBody>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let Json(body) = body?;
    let id: NotificationId = path_id(&path)?;
    let mut errors = Collector::default();
    let method = errors.take(ResolutionMethod::parse_field("method", &body.method));
    let note = errors.take(parse_reason("note", body.note.as_deref()));
    let (method, note) = errors.finish(method.zip(note))?;
    let by = auth.principal.user_id;
    let (_, notification) = state
        .with_writer(move |conn| {
            notifications::resolve(conn, id, method, note.as_ref(), by, crate::records::now())
                .map_err(|e| write_error(e, NotificationView::from))
        })
        .await?;
    Ok(HttpResponse::Ok().json(NotificationView::from(notification)))
}
