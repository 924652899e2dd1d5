//! The OpenAPI document, generated from the handlers' annotations. `openapi.yaml` at the
//! repository root is this, committed; a test fails when the two differ.

use utoipa::OpenApi;

use crate::error::{Problem, ProblemField};
use crate::routes::{health, spec};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Fältlogg",
        description = "Field log for outreach staff working shifts with the police against \
prostitution and human trafficking. Every error is an RFC 9457 problem (application/problem+json).",
        license(name = "AGPL-3.0-only", identifier = "AGPL-3.0-only"),
    ),
    paths(health::healthz, health::readyz, spec::openapi_yaml),
    components(schemas(Problem, ProblemField)),
    tags((name = "operations", description = "Probes and the contract itself")),
)]
pub struct ApiDoc;

/// The document as YAML, exactly as committed in `openapi.yaml`.
pub fn yaml() -> Result<String, serde_norway::Error> {
    ApiDoc::openapi().to_yaml()
}
