//! Reference data every device needs: units, and municipalities with their connection to
//! the county offer, which coordinators change as dated changes.

use actix_web::{HttpResponse, web};
use chrono::NaiveDate;
use faltlogg_domain::ValidationErrors;
use faltlogg_domain::municipality::{Municipality, MunicipalityCode};
use faltlogg_domain::time::{parse_date, stockholm_date};
use faltlogg_domain::unit::Unit;
use faltlogg_persistence::reference;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{AnyRole, Auth, Coordinators};
use crate::error::{ApiError, Problem};
use crate::extract::Json;
use crate::records::path_id;
use crate::startup::AppState;

#[derive(Serialize, ToSchema)]
pub struct UnitView {
    #[schema(schema_with = crate::schema::unit)]
    pub code: &'static str,
    pub name: &'static str,
    /// Mikamottagningen and KAST serve adults only: minors are never referred to them.
    pub adults_only: bool,
}

/// The units whose staff log shifts and encounters.
#[utoipa::path(get, path = "/api/v1/units", tag = "reference", security(("bearer" = ["outreach_worker", "police_liaison", "coordinator", "admin", "auditor"])),
    description = "Every role.",
    responses(
        (status = 200, description = "The units", body = [UnitView]),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_units(
    state: web::Data<AppState>,
    _auth: Auth<AnyRole>,
) -> Result<HttpResponse, ApiError> {
    let units = state.with_db(|conn| Ok(reference::units(conn)?)).await?;
    Ok(HttpResponse::Ok().json(units.into_iter().map(UnitView::from).collect::<Vec<_>>()))
}

impl From<Unit> for UnitView {
    fn from(unit: Unit) -> Self {
        Self {
            code: unit.code(),
            name: unit.name(),
            adults_only: unit.adults_only(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ConnectionView {
    /// First connected day.
    pub since: NaiveDate,
    /// Last connected day; absent while the agreement runs.
    pub until: Option<NaiveDate>,
}

#[derive(Serialize, ToSchema)]
pub struct MunicipalityView {
    /// SCB code.
    #[schema(schema_with = crate::schema::municipality)]
    pub code: &'static str,
    pub name: &'static str,
    pub in_stockholm_county: bool,
    /// Connected to the county offer today (Europe/Stockholm).
    pub connected: bool,
    /// The dated history, oldest first.
    pub connections: Vec<ConnectionView>,
}

impl From<Municipality> for MunicipalityView {
    fn from(m: Municipality) -> Self {
        Self {
            code: m.code.as_str(),
            name: m.code.name(),
            in_stockholm_county: m.code.in_stockholm_county(),
            connected: m.connected_on(stockholm_date(crate::records::now())),
            connections: m
                .connections
                .iter()
                .map(|p| ConnectionView {
                    since: p.since(),
                    until: p.until(),
                })
                .collect(),
        }
    }
}

/// Every municipality of Stockholm County and Gotland, with its connection history.
#[utoipa::path(get, path = "/api/v1/municipalities", tag = "reference", security(("bearer" = ["outreach_worker", "police_liaison", "coordinator", "admin", "auditor"])),
    description = "Every role.",
    responses(
        (status = 200, description = "The municipalities", body = [MunicipalityView]),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_municipalities(
    state: web::Data<AppState>,
    _auth: Auth<AnyRole>,
) -> Result<HttpResponse, ApiError> {
    let all = state
        .with_db(|conn| Ok(reference::municipalities(conn)?))
        .await?;
    Ok(HttpResponse::Ok().json(
        all.into_iter()
            .map(MunicipalityView::from)
            .collect::<Vec<_>>(),
    ))
}

/// From `from` on, the municipality is (or is no longer) connected.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionChange {
    pub connected: bool,
    /// The first day the change applies, `YYYY-MM-DD` (Europe/Stockholm).
    #[schema(format = Date)]
    pub from: String,
}

/// Record a dated change of a municipality's connection to the county offer.
#[utoipa::path(put, path = "/api/v1/municipalities/{code}/connection", tag = "reference", security(("bearer" = ["coordinator"])),
    description = "Role: coordinator. The change applies from its date: encounters on earlier \
days keep the earlier status. Stockholm hosts the offer and is not changed.",
    params(("code" = String, Path, description = "SCB code, e.g. 0127")),
    request_body = ConnectionChange,
    responses(
        (status = 200, description = "The municipality with its new history", body = MunicipalityView),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a coordinator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such municipality", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A rule is broken", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn change_connection(
    state: web::Data<AppState>,
    auth: Auth<Coordinators>,
    path: web::Path<String>,
    body: Result<Json<ConnectionChange>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let Json(body) = body?;
    let code: MunicipalityCode = path_id(&path)?;
    if code.is_stockholm() {
        return Err(ValidationErrors::from(faltlogg_domain::FieldError::new(
            "code",
            "host_municipality",
            "Stockholm hosts the offer; its connection does not change",
        ))
        .into());
    }
    let from = parse_date("from", &body.from).map_err(ValidationErrors::from)?;
    let connected = body.connected;
    let by = auth.principal.user_id;
    let municipality = state
        .with_writer(move |conn| {
            Ok(reference::change_connection(
                conn,
                code,
                from,
                connected,
                by,
                crate::records::now(),
            )?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(MunicipalityView::from(municipality)))
}
