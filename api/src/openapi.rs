//! The OpenAPI document, generated from the handlers' annotations. `openapi.yaml` at the
//! repository root is this, committed; a test fails when the two differ.

use utoipa::OpenApi;

use crate::error::{Problem, ProblemField};
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
    modifiers(&BearerScheme),
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

/// The document as YAML, exactly as committed in `openapi.yaml`.
pub fn yaml() -> Result<String, serde_norway::Error> {
    ApiDoc::openapi().to_yaml()
}
