//! Probes for the process and for its database.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, Problem};
use crate::startup::AppState;
use crate::telemetry::spawn_blocking;

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` when the probe passes.
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// The process is up and serving HTTP.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    security(()),
    responses((status = 200, description = "The process is up", body = Health))
)]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// The database answers: send traffic here.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    security(()),
    responses(
        (status = 200, description = "The database answers", body = Health),
        (status = 503, description = "The database does not answer", body = crate::error::Problem,
            content_type = "application/problem+json"),
    )
)]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let db = state.db.clone();
    spawn_blocking(move || db.ping())
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::Unavailable)?;
    Ok(HttpResponse::Ok().json(Health { status: "ok" }))
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    description = "Request counts and latencies by route pattern and status, the connection pool, \
and the audit entries waiting to be sealed. Nothing personal; no sign-in, so keep it on an \
internal network.",
    responses(
        (status = 200, description = "Prometheus text exposition", body = String, content_type = "text/plain"),
        (status = 503, description = "The database does not answer", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let unsealed = state
        .with_db(|conn| Ok(faltlogg_persistence::audit::unsealed(conn)?))
        .await?;
    let text = state
        .metrics
        .render(state.db.pool_state(), unsealed)
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}
