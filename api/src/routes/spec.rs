//! The contract, served as committed (a test keeps the file equal to the code).

use actix_web::HttpResponse;

const OPENAPI_YAML: &str = include_str!("../../../openapi.yaml");

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.yaml",
    tag = "operations",
    security(()),
    responses((status = 200, description = "The OpenAPI document", content_type = "application/yaml", body = Object))
)]
pub async fn openapi_yaml() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/yaml")
        .body(OPENAPI_YAML)
}
