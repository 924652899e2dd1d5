//! The OpenAPI document, generated from the handlers' annotations. `openapi.yaml` at the
//! repository root is this, committed; a test fails when the two differ.

use utoipa::OpenApi;

use faltlogg_domain::account::Role;

use crate::error::{PROBLEM_JSON, Problem, ProblemField};
use crate::routes::{
    accounts, audit, auth, encounters, health, notifications, reference, reports, shifts, spec,
    sync,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Fältlogg",
        description = "Field log for outreach staff working shifts with the police against \
prostitution and human trafficking. Every error is an RFC 9457 problem (application/problem+json).",
        license(name = "AGPL-3.0-only", identifier = "AGPL-3.0-only"),
    ),
    paths(
        health::healthz, health::readyz, health::metrics, spec::openapi_yaml,
        auth::login, auth::refresh, auth::logout,
        accounts::me, accounts::my_sessions, accounts::revoke_my_session,
        accounts::create_user, accounts::list_users, accounts::update_user,
        accounts::list_sessions, accounts::revoke_session,
        shifts::put_shift, shifts::get_shift, shifts::list_shifts, shifts::close_shift,
        shifts::shift_summary, shifts::review_shift,
        encounters::put_encounter, encounters::get_encounter, encounters::list_encounters,
        encounters::void_encounter,
        reference::list_units, reference::list_municipalities, reference::change_connection,
        notifications::list_notifications, notifications::resolve_notification,
        sync::push, sync::pull, audit::list,
        reports::cooperation, reports::sugar_dating, reports::municipalities,
    ),
    components(schemas(Problem, ProblemField)),
    modifiers(&BearerScheme, &CommonResponses),
    tags(
        (name = "operations", description = "Probes and the contract itself"),
        (name = "auth", description = "Sign in on a device, rotate its refresh token, sign out"),
        (name = "accounts", description = "The caller's own profile and device sessions (every role)"),
        (name = "admin", description = "Accounts and sessions (role admin)"),
        (name = "shifts", description = "Arbetspass: logged by outreach workers, summarised for police liaisons and coordinators"),
        (name = "encounters", description = "Påträffade personer: only the unit that logged them reads them"),
        (name = "reference", description = "Units and municipalities"),
        (name = "notifications", description = "Coordinators' tasks to inform municipalities that are not connected"),
        (name = "reports", description = "Figures for the steering group: JSON, CSV or Excel"),
        (name = "audit", description = "Who read or changed what, when (role auditor)"),
        (name = "sync", description = "Offline phones: batch push and a change feed that never skips"),
    ),
)]
pub struct ApiDoc;

/// Access tokens: EdDSA-signed JWTs from `/api/v1/auth/login`, about 15 minutes long.
struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Answers that any operation of a kind can give, added where a route's own list does
/// not already name them, so that the phone team's generated client knows every status:
/// a query string or body that cannot be read, the body limits, sign-in and roles, and
/// the database or the server being unavailable.
struct CommonResponses;

impl utoipa::Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                add_common_responses(path, operation);
            }
        }
    }
}

fn add_common_responses(path: &str, operation: &mut utoipa::openapi::path::Operation) {
    use utoipa::openapi::path::ParameterIn;
    let has_query = operation
        .parameters
        .iter()
        .flatten()
        .any(|p| p.parameter_in == ParameterIn::Query);
    let has_body = operation.request_body.is_some();
    let unreadable = match (has_query, has_body) {
        (true, true) => "The query string or the body cannot be read",
        (true, false) => {
            "The query string cannot be read: a parameter is repeated, unknown or not of its type"
        }
        (false, true) => "The body is not JSON of the expected shape",
        (false, false) => "",
    };
    if !unreadable.is_empty() {
        add_problem(operation, 400, unreadable);
    }
    if has_body {
        add_problem(
            operation,
            413,
            "The body is larger than 2 MiB (`MAX_BODY_BYTES`)",
        );
        add_problem(operation, 415, "The body is not `application/json`");
    }
    if let Some(roles) = required_roles(operation) {
        add_problem(operation, 401, "Not signed in, or the session has ended");
        if roles.len() < Role::ALL.len() {
            add_problem(
                operation,
                403,
                &format!("Only for the roles {}", roles.join(", ")),
            );
        }
    }
    if path.starts_with("/api/") || path == "/readyz" {
        add_problem_with_retry(
            operation,
            503,
            "The database cannot be reached, or the server is busy with work of this kind or \
             took too long; try again after `Retry-After` seconds",
        );
    }
}

/// The roles named in the operation's bearer requirement (OpenAPI 3.1 lets a non-OAuth
/// scheme list role names there); `None` for an operation that needs no sign-in.
fn required_roles(operation: &utoipa::openapi::path::Operation) -> Option<Vec<String>> {
    let requirements = serde_json::to_value(operation.security.as_ref()?).ok()?;
    requirements
        .as_array()?
        .iter()
        .find_map(|requirement| requirement.get("bearer"))
        .and_then(|roles| serde_json::from_value(roles.clone()).ok())
}

fn add_problem(operation: &mut utoipa::openapi::path::Operation, status: u16, description: &str) {
    insert_problem(operation, status, problem_response(description));
}

fn add_problem_with_retry(
    operation: &mut utoipa::openapi::path::Operation,
    status: u16,
    description: &str,
) {
    use utoipa::openapi::{ObjectBuilder, Type, header::HeaderBuilder};
    let retry_after = HeaderBuilder::new()
        .schema(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0)),
        )
        .description(Some("Seconds to wait before trying again"))
        .build();
    let response = problem_response(description).header("Retry-After", retry_after);
    insert_problem(operation, status, response);
}

fn problem_response(description: &str) -> utoipa::openapi::ResponseBuilder {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    ResponseBuilder::new().description(description).content(
        PROBLEM_JSON,
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("Problem")))
            .build(),
    )
}

fn insert_problem(
    operation: &mut utoipa::openapi::path::Operation,
    status: u16,
    response: utoipa::openapi::ResponseBuilder,
) {
    operation
        .responses
        .responses
        .entry(status.to_string())
        .or_insert_with(|| response.build().into());
}

/// The document as YAML, exactly as committed in `openapi.yaml`.
pub fn yaml() -> Result<String, serde_norway::Error> {
    ApiDoc::openapi().to_yaml()
}
