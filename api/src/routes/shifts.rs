//! Shifts: phones create and update them, outreach workers close them, police liaisons
//! acknowledge their summaries; lists and summaries are scoped by role.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, FixedOffset, Utc};
use faltlogg_domain::access::ShiftScope;
use faltlogg_domain::audit::Action;
use faltlogg_domain::codes::Coded;
use faltlogg_domain::ids::ShiftId;
use faltlogg_domain::shift::{
    Counts, RoleCounts, Shift, ShiftDraft, ShiftFields, ShiftStatus, parse_label, parse_units,
};
use faltlogg_domain::text::FreeText;
use faltlogg_domain::time::{DeviceTime, parse_date, stockholm_day_start};
use faltlogg_domain::validation::Collector;
use faltlogg_domain::write::Applied;
use faltlogg_domain::{FieldError, ValidationErrors};
use faltlogg_persistence::accounts::Principal;
use faltlogg_persistence::shifts::{self, ShiftCursor, ShiftFilter};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Auth, OutreachWorkers, PoliceLiaisons, ShiftReaders};
use crate::error::{ApiError, Problem};
use crate::extract::{Json, Query};
use crate::pagination::{Page, decode_cursor, encode_cursor, page, parse_limit};
use crate::records::path_id;
use crate::records::{if_match, record_response, write_error, writer};
use crate::startup::AppState;

/// A shift as a phone writes it (PUT).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShiftBody {
    #[schema(schema_with = crate::schema::shift_kind)]
    pub kind: String,
    /// Must be true for `surveillance` and `raid`: they are police operations.
    pub with_police: bool,
    /// The police operation's label, e.g. "Insats torsk".
    #[schema(max_length = 100)]
    pub police_operation: Option<String>,
    /// A coarse area, never coordinates.
    #[schema(max_length = 100)]
    pub area: Option<String>,
    /// RFC 3339 with an offset, as the device's clock stood.
    #[schema(format = DateTime)]
    pub started_at: String,
    #[schema(format = DateTime)]
    pub ended_at: Option<String>,
    /// The participating units; the writer's own among them.
    #[schema(schema_with = crate::schema::units)]
    pub units: Vec<String>,
    /// Required when the shift is closed: why it is changed.
    #[schema(max_length = 500)]
    pub amendment_reason: Option<String>,
}

impl ShiftBody {
    /// The domain's shift, and the amendment reason beside it.
    pub fn parse(self) -> Result<(ShiftDraft, Option<FreeText>), ValidationErrors> {
        let mut errors = Collector::default();
        let kind = errors.take(Coded::parse_field("kind", &self.kind));
        let police_operation = errors.take(parse_label(
            "police_operation",
            self.police_operation.as_deref(),
        ));
        let area = errors.take(parse_label("area", self.area.as_deref()));
        let started_at = errors.take(DeviceTime::parse("started_at", &self.started_at));
        let ended_at = errors.take(
            self.ended_at
                .as_deref()
                .map(|t| DeviceTime::parse("ended_at", t))
                .transpose(),
        );
        let units = errors.take_all(parse_units("units", &self.units));
        let reason = errors.take(faltlogg_domain::encounter::parse_reason(
            "amendment_reason",
            self.amendment_reason.as_deref(),
        ));
        let parsed = (|| {
            let fields = ShiftFields {
                kind: kind?,
                with_police: self.with_police,
                police_operation: police_operation?,
                area: area?,
                started_at: started_at?,
                ended_at: ended_at?,
                units: units?,
            };
            Some((fields, reason?))
        })();
        let (fields, reason) = errors.finish(parsed)?;
        Ok((ShiftDraft::new(fields)?, reason))
    }
}

#[derive(Serialize, ToSchema)]
pub struct ReviewView {
    pub reviewed_at: DateTime<Utc>,
    /// The police liaison's username.
    pub reviewed_by: String,
    pub comment: Option<String>,
}

/// A shift as stored.
#[derive(Serialize, ToSchema)]
pub struct ShiftView {
    #[schema(value_type = uuid::Uuid)]
    pub id: ShiftId,
    #[schema(schema_with = crate::schema::shift_kind)]
    pub kind: faltlogg_domain::shift::ShiftKind,
    pub with_police: bool,
    pub police_operation: Option<String>,
    pub area: Option<String>,
    /// As the device sent it.
    pub started_at: DateTime<FixedOffset>,
    pub ended_at: Option<DateTime<FixedOffset>>,
    #[schema(schema_with = crate::schema::units)]
    pub units: Vec<&'static str>,
    #[schema(schema_with = crate::schema::shift_status)]
    pub status: ShiftStatus,
    pub closed_at: Option<DateTime<Utc>>,
    /// A police liaison's acknowledgement of the summary.
    pub review: Option<ReviewView>,
    pub version: i64,
    /// When the server first received it.
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Shift> for ShiftView {
    fn from(shift: Shift) -> Self {
        let draft = &shift.draft;
        Self {
            id: shift.id,
            kind: draft.kind(),
            with_police: draft.with_police(),
            police_operation: draft.police_operation().map(ToString::to_string),
            area: draft.area().map(ToString::to_string),
            started_at: draft.started_at().as_sent(),
            ended_at: draft.ended_at().map(|t| t.as_sent()),
            units: draft.units().iter().map(|u| u.code()).collect(),
            status: shift.status,
            closed_at: shift.closed_at,
            review: shift.review.map(|r| ReviewView {
                reviewed_at: r.at,
                reviewed_by: r.by_username,
                comment: r.comment.map(|c| c.to_string()),
            }),
            version: shift.version,
            created_at: shift.created_at,
            updated_at: shift.updated_at,
        }
    }
}

fn respond(applied: Applied, shift: Shift) -> HttpResponse {
    let version = shift.version;
    record_response(applied, version, &ShiftView::from(shift))
}

fn scope(principal: &Principal) -> Result<ShiftScope, ApiError> {
    ShiftScope::of(&principal.assignment).ok_or(ApiError::Forbidden)
}

/// Create a shift, retry one, or update it.
#[utoipa::path(put, path = "/api/v1/shifts/{id}", tag = "shifts", security(("bearer" = ["outreach_worker"])),
    description = "Role: outreach_worker of one of the shift's units. A new id creates (201); \
the same content again is a retry (200, nothing changes); any other change needs `If-Match` \
with the current version; a closed shift's change needs `amendment_reason`.",
    params(
        ("id" = uuid::Uuid, Path, description = "The shift's id, generated by the phone"),
        ("If-Match" = Option<String>, Header, description = "The version the change is based on: `\"3\"`"),
    ),
    request_body = ShiftBody,
    responses(
        (status = 201, description = "Created", body = ShiftView, headers(("ETag" = String))),
        (status = 200, description = "Updated, or the same content again", body = ShiftView, headers(("ETag" = String))),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an outreach worker", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "A shift of other units", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match; `current` holds the shift", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A rule is broken", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "An update without If-Match", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn put_shift(
    state: web::Data<AppState>,
    auth: Auth<OutreachWorkers>,
    req: HttpRequest,
    path: web::Path<String>,
    body: Result<Json<ShiftBody>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let Json(body) = body?;
    let id: ShiftId = path_id(&path)?;
    let writer = writer(&auth.principal)?;
    let (draft, reason) = body.parse()?;
    let precondition = if_match(&req);
    let entry = auth
        .actor
        .entry(Action::Update, "shift", Some(id.to_string()));
    let (applied, shift) = state
        .audited(entry, move |conn, entry| {
            let (applied, shift) = shifts::put(
                conn,
                &writer,
                id,
                &draft,
                precondition,
                reason.as_ref(),
                crate::records::now(),
            )
            .map_err(|e| write_error(e, ShiftView::from))?;
            if applied == Applied::Created {
                entry.action = Action::Create;
            }
            Ok((applied, shift))
        })
        .await?;
    Ok(respond(applied, shift))
}

/// One shift.
#[utoipa::path(get, path = "/api/v1/shifts/{id}", tag = "shifts", security(("bearer" = ["outreach_worker", "police_liaison", "coordinator"])),
    description = "Roles: outreach_worker (their unit's shifts), police_liaison (shifts with police), coordinator (all).",
    params(("id" = uuid::Uuid, Path, description = "Shift id")),
    responses(
        (status = 200, description = "The shift", body = ShiftView, headers(("ETag" = String))),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A role that sees no shifts", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such shift in the caller's scope", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_shift(
    state: web::Data<AppState>,
    auth: Auth<ShiftReaders>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: ShiftId = path_id(&path)?;
    let scope = scope(&auth.principal)?;
    let shift = state
        .with_db(move |conn| Ok(shifts::get_in(conn, scope, id)?))
        .await?;
    Ok(respond(Applied::Unchanged, shift))
}

/// The list's query: every parameter optional.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ShiftQuery {
    /// First day (Europe/Stockholm) the shift started on, `YYYY-MM-DD`.
    #[param(format = Date)]
    pub from: Option<String>,
    /// Last day (inclusive).
    #[param(format = Date)]
    pub to: Option<String>,
    #[param(schema_with = crate::schema::shift_status)]
    pub status: Option<String>,
    /// Only closed shifts where a minor lacks safeguarding (outreach workers only).
    pub needs_attention: Option<String>,
    pub cursor: Option<String>,
    /// 1 to 500; 100 when absent.
    #[param(value_type = u32, required = false, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
}

impl ShiftQuery {
    fn parse(&self) -> Result<(ShiftFilter, Option<ShiftCursor>, i64), ValidationErrors> {
        let mut errors = Collector::default();
        let from = errors.take(
            self.from
                .as_deref()
                .map(|d| parse_date("from", d))
                .transpose(),
        );
        let to = errors.take(self.to.as_deref().map(|d| parse_date("to", d)).transpose());
        if let (Some(Some(from)), Some(Some(to))) = (from, to)
            && to < from
        {
            errors.push(FieldError::new(
                "to",
                "reversed_period",
                "`to` is before `from`",
            ));
        }
        let status = errors.take(
            self.status
                .as_deref()
                .map(|s| Coded::parse_field("status", s))
                .transpose(),
        );
        let needs_attention = errors.take(match self.needs_attention.as_deref() {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(_) => Err(FieldError::new(
                "needs_attention",
                "invalid_boolean",
                "true or false",
            )),
        });
        let cursor = errors.take(decode_cursor::<ShiftId>(self.cursor.as_deref()));
        let limit = errors.take(parse_limit(self.limit.as_deref()));
        let parsed = (|| {
            let filter = ShiftFilter {
                from: from?.map(stockholm_day_start),
                to: to?.and_then(|d| d.succ_opt()).map(stockholm_day_start),
                status: status?,
                needs_attention: needs_attention?,
            };
            let cursor = cursor?.map(|(started_at, id)| ShiftCursor { started_at, id });
            Some((filter, cursor, limit?))
        })();
        errors.finish(parsed)
    }
}

/// Shifts in the caller's scope, newest first.
#[utoipa::path(get, path = "/api/v1/shifts", tag = "shifts", security(("bearer" = ["outreach_worker", "police_liaison", "coordinator"])),
    description = "Roles: outreach_worker (their unit's shifts), police_liaison (shifts with police), coordinator (all).",
    params(ShiftQuery),
    responses(
        (status = 200, description = "A page of shifts", body = Page<ShiftView>),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A role that sees no shifts", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter is invalid", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_shifts(
    state: web::Data<AppState>,
    auth: Auth<ShiftReaders>,
    query: Result<Query<ShiftQuery>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let Query(query) = query?;
    let scope = scope(&auth.principal)?;
    let (filter, cursor, limit) = query.parse()?;
    // Which minors lack safeguarding is the units' own social-services matter.
    if filter.needs_attention && !matches!(scope, ShiftScope::Unit(_)) {
        return Err(ApiError::Forbidden);
    }
    let found = state
        .with_db(move |conn| Ok(shifts::list(conn, scope, &filter, cursor, limit + 1)?))
        .await?;
    Ok(HttpResponse::Ok().json(page(
        found,
        limit,
        |shift| encode_cursor(shift.draft.started_at().utc(), shift.id),
        ShiftView::from,
    )))
}

/// Close a shift.
#[utoipa::path(post, path = "/api/v1/shifts/{id}/close", tag = "shifts", security(("bearer" = ["outreach_worker"])),
    description = "Role: outreach_worker of one of the shift's units. Refused with 409 while a minor \
in the shift lacks guardian contact (or the reason why not) or the report of concern. Closing a \
closed shift again answers 200.",
    params(("id" = uuid::Uuid, Path, description = "Shift id")),
    responses(
        (status = 200, description = "Closed", body = ShiftView, headers(("ETag" = String))),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an outreach worker", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such shift of the caller's unit", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Safeguarding incomplete; `encounters` lists them", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn close_shift(
    state: web::Data<AppState>,
    auth: Auth<OutreachWorkers>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: ShiftId = path_id(&path)?;
    let writer = writer(&auth.principal)?;
    let entry = auth
        .actor
        .entry(Action::Close, "shift", Some(id.to_string()));
    let (applied, shift) = state
        .audited(entry, move |conn, _| {
            shifts::close(conn, &writer, id, crate::records::now())
                .map_err(|e| write_error(e, ShiftView::from))
        })
        .await?;
    Ok(respond(applied, shift))
}

#[derive(Serialize, ToSchema)]
pub struct ShiftRoleCounts {
    pub encounters: u64,
    pub under_18: u64,
    pub support_offered: u64,
}

impl From<RoleCounts> for ShiftRoleCounts {
    fn from(c: RoleCounts) -> Self {
        Self {
            encounters: c.encounters,
            under_18: c.under_18,
            support_offered: c.support_offered,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CountsView {
    pub selling: ShiftRoleCounts,
    pub buyer: ShiftRoleCounts,
    pub sugar_dating: ShiftRoleCounts,
}

/// A shift's summary: counts only, never anything about a person.
#[derive(Serialize, ToSchema)]
pub struct ShiftSummary {
    pub shift: ShiftView,
    /// Voided encounters are not counted.
    pub counts: CountsView,
}

/// A shift's summary (counts only).
#[utoipa::path(get, path = "/api/v1/shifts/{id}/summary", tag = "shifts", security(("bearer" = ["outreach_worker", "police_liaison", "coordinator"])),
    description = "Roles: outreach_worker (their unit's shifts), police_liaison (shifts with police only), coordinator (all).",
    params(("id" = uuid::Uuid, Path, description = "Shift id")),
    responses(
        (status = 200, description = "The summary", body = ShiftSummary),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A role that sees no shifts", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such shift in the caller's scope", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn shift_summary(
    state: web::Data<AppState>,
    auth: Auth<ShiftReaders>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: ShiftId = path_id(&path)?;
    let scope = scope(&auth.principal)?;
    let (shift, rows) = state
        .with_db(move |conn| {
            let shift = shifts::get_in(conn, scope, id)?;
            Ok((shift, shifts::summary_rows(conn, id)?))
        })
        .await?;
    let counts = Counts::of(rows);
    Ok(HttpResponse::Ok().json(ShiftSummary {
        shift: ShiftView::from(shift),
        counts: CountsView {
            selling: counts.selling.into(),
            buyer: counts.buyer.into(),
            sugar_dating: counts.sugar_dating.into(),
        },
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewBody {
    #[schema(max_length = 500)]
    pub comment: Option<String>,
}

/// Acknowledge a closed shift's summary, once.
#[utoipa::path(post, path = "/api/v1/shifts/{id}/review", tag = "shifts", security(("bearer" = ["police_liaison"])),
    description = "Role: police_liaison, for shifts with police. Once: the same acknowledgement \
again answers 200, another one 409.",
    params(("id" = uuid::Uuid, Path, description = "Shift id")),
    request_body = ReviewBody,
    responses(
        (status = 200, description = "Acknowledged", body = ShiftView, headers(("ETag" = String))),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a police liaison", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such shift with police", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Still open, or already acknowledged", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The comment breaks a rule", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn review_shift(
    state: web::Data<AppState>,
    auth: Auth<PoliceLiaisons>,
    path: web::Path<String>,
    body: Result<Json<ReviewBody>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let Json(body) = body?;
    let id: ShiftId = path_id(&path)?;
    let scope = scope(&auth.principal)?;
    let comment = faltlogg_domain::encounter::parse_reason("comment", body.comment.as_deref())
        .map_err(ValidationErrors::from)?;
    let reviewer = auth.principal.user_id;
    let entry = auth
        .actor
        .entry(Action::Review, "shift", Some(id.to_string()));
    let (applied, shift) = state
        .audited(entry, move |conn, _| {
            shifts::review(
                conn,
                scope,
                reviewer,
                id,
                comment.as_ref(),
                crate::records::now(),
            )
            .map_err(|e| write_error(e, ShiftView::from))
        })
        .await?;
    Ok(respond(applied, shift))
}
