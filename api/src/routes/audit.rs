//! The audit log, for auditors: who read or changed what, when. Reading it is itself
//! recorded.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use faltlogg_domain::audit::{Action, Entry};
use faltlogg_domain::codes::Coded;
use faltlogg_domain::time::{parse_date, stockholm_day_start};
use faltlogg_domain::validation::Collector;
use faltlogg_persistence::audit::{self, AuditFilter};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Auditors, Auth};
use crate::error::{ApiError, Problem};
use crate::extract::Query;
use crate::pagination::{Page, page, parse_limit};
use crate::startup::AppState;
use crate::table::{Format, Table, format_of};

/// One entry: identifiers and codes, never the record's content.
#[derive(Serialize, ToSchema)]
pub struct AuditEntryView {
    pub at: DateTime<Utc>,
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub role: Option<String>,
    pub unit: Option<String>,
    pub session_id: Option<String>,
    #[schema(example = "read")]
    pub action: &'static str,
    pub record_type: Option<String>,
    pub record_id: Option<String>,
    pub request_id: Option<String>,
    #[schema(example = "ok")]
    pub outcome: String,
}

impl From<Entry> for AuditEntryView {
    fn from(e: Entry) -> Self {
        Self {
            at: e.at,
            user_id: e.user_id,
            username: e.username,
            role: e.role,
            unit: e.unit,
            session_id: e.session_id,
            action: e.action.code(),
            record_type: e.record_type,
            record_id: e.record_id,
            request_id: e.request_id,
            outcome: e.outcome,
        }
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// A username.
    pub actor: Option<String>,
    /// A record id.
    pub record: Option<String>,
    pub action: Option<String>,
    /// First day, `YYYY-MM-DD` (Europe/Stockholm).
    #[param(format = Date)]
    pub from: Option<String>,
    /// Last day, inclusive.
    #[param(format = Date)]
    pub to: Option<String>,
    pub cursor: Option<String>,
    /// 1 to 500; 100 when absent.
    #[param(value_type = u32, required = false, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
}

fn parse(query: &AuditQuery) -> Result<(AuditFilter, Option<i64>, i64), ApiError> {
    let mut errors = Collector::default();
    let bounded = |field: &str, value: &Option<String>| {
        value
            .as_ref()
            .map(|v| {
                if v.is_empty() || v.chars().count() > 100 {
                    Err(faltlogg_domain::FieldError::new(
                        field,
                        "invalid",
                        "1 to 100 characters",
                    ))
                } else {
                    Ok(v.clone())
                }
            })
            .transpose()
    };
    let username = errors.take(bounded("actor", &query.actor));
    let record_id = errors.take(bounded("record", &query.record));
    let action = errors.take(
        query
            .action
            .as_deref()
            .map(|a| Action::parse_field("action", a))
            .transpose(),
    );
    let from = errors.take(
        query
            .from
            .as_deref()
            .map(|d| parse_date("from", d))
            .transpose(),
    );
    let to = errors.take(query.to.as_deref().map(|d| parse_date("to", d)).transpose());
    let cursor = errors.take(
        query
            .cursor
            .as_deref()
            .map(|c| {
                c.parse::<i64>().map_err(|_| {
                    faltlogg_domain::FieldError::new(
                        "cursor",
                        "invalid_cursor",
                        "not a cursor this list gave",
                    )
                })
            })
            .transpose(),
    );
    let limit = errors.take(parse_limit(query.limit.as_deref()));
    let parsed = (|| {
        let filter = AuditFilter {
            username: username?,
            record_id: record_id?,
            action: action?,
            from: from?.map(stockholm_day_start),
            to: to?.and_then(|d| d.succ_opt()).map(stockholm_day_start),
        };
        Some((filter, cursor?, limit?))
    })();
    Ok(errors.finish(parsed)?)
}

/// The audit log, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", operation_id = "list_audit", security(("bearer" = ["auditor"])),
    description = "Role: auditor. Every filter optional. JSON by default, CSV for `Accept: text/csv`. \
Reading the log is itself recorded.",
    params(AuditQuery),
    responses(
        (status = 200, description = "A page of entries", body = Page<AuditEntryView>),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an auditor", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter is invalid", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    state: web::Data<AppState>,
    auth: Auth<Auditors>,
    req: HttpRequest,
    query: Result<Query<AuditQuery>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let Query(query) = query?;
    let (filter, cursor, limit) = parse(&query)?;
    let entry = auth.actor.entry(Action::List, "audit", None);
    let found = state
        .audited_read(entry, move |conn| {
            Ok(audit::list(conn, &filter, cursor, limit + 1)?)
        })
        .await?;
    let page = page(
        found,
        limit,
        |(seq, _)| seq.to_string(),
        |(_, entry)| AuditEntryView::from(entry),
    );
    if format_of(&req) == Format::Csv {
        let mut response = HttpResponse::Ok();
        if let Some(cursor) = &page.next_cursor {
            response.insert_header(("X-Next-Cursor", cursor.as_str()));
        }
        return Ok(response
            .content_type("text/csv; charset=utf-8")
            .body(Table::rows(&page.items).to_csv()));
    }
    Ok(HttpResponse::Ok().json(page))
}
