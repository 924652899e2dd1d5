//! The routes, and the table that wires them.

pub mod accounts;
pub mod audit;
pub mod auth;
pub mod encounters;
pub mod health;
pub mod notifications;
pub mod reference;
pub mod reports;
pub mod shifts;
pub mod spec;
pub mod sync;

use actix_web::dev::{HttpServiceFactory, Service};
use actix_web::http::Method;
use actix_web::{Route, web};

use crate::error::ApiError;

/// A resource whose routes are listed once: other methods answer 405 with an `Allow`
/// header built from the same list. A request routed to it has its route recorded
/// ([`crate::telemetry::record_route`]).
pub fn resource(path: &str, routes: Vec<(Method, Route)>) -> impl HttpServiceFactory {
    let allow = routes
        .iter()
        .map(|(method, _)| method.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let resource = routes
        .into_iter()
        .fold(web::resource(path), |resource, (method, route)| {
            resource.route(route.method(method))
        });
    resource
        .default_service(web::to(move || {
            let allow = allow.clone();
            async move { Err::<actix_web::HttpResponse, _>(ApiError::MethodNotAllowed { allow }) }
        }))
        .wrap_fn(|req, srv| {
            crate::telemetry::record_route(&req);
            srv.call(req)
        })
}

/// Every route of the service.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let routes = [
        ("/healthz", vec![(Method::GET, web::to(health::healthz))]),
        ("/readyz", vec![(Method::GET, web::to(health::readyz))]),
        ("/metrics", vec![(Method::GET, web::to(health::metrics))]),
        (
            "/openapi.yaml",
            vec![(Method::GET, web::to(spec::openapi_yaml))],
        ),
        (
            "/api/v1/auth/login",
            vec![(Method::POST, web::to(auth::login))],
        ),
        (
            "/api/v1/auth/refresh",
            vec![(Method::POST, web::to(auth::refresh))],
        ),
        (
            "/api/v1/auth/logout",
            vec![(Method::POST, web::to(auth::logout))],
        ),
        ("/api/v1/me", vec![(Method::GET, web::to(accounts::me))]),
        (
            "/api/v1/me/sessions",
            vec![(Method::GET, web::to(accounts::my_sessions))],
        ),
        (
            "/api/v1/me/sessions/{id}",
            vec![(Method::DELETE, web::to(accounts::revoke_my_session))],
        ),
        (
            "/api/v1/admin/users",
            vec![
                (Method::GET, web::to(accounts::list_users)),
                (Method::POST, web::to(accounts::create_user)),
            ],
        ),
        (
            "/api/v1/admin/users/{id}",
            vec![(Method::PATCH, web::to(accounts::update_user))],
        ),
        (
            "/api/v1/admin/sessions",
            vec![(Method::GET, web::to(accounts::list_sessions))],
        ),
        (
            "/api/v1/admin/sessions/{id}",
            vec![(Method::DELETE, web::to(accounts::revoke_session))],
        ),
        (
            "/api/v1/shifts",
            vec![(Method::GET, web::to(shifts::list_shifts))],
        ),
        (
            "/api/v1/shifts/{id}",
            vec![
                (Method::GET, web::to(shifts::get_shift)),
                (Method::PUT, web::to(shifts::put_shift)),
            ],
        ),
        (
            "/api/v1/shifts/{id}/close",
            vec![(Method::POST, web::to(shifts::close_shift))],
        ),
        (
            "/api/v1/shifts/{id}/summary",
            vec![(Method::GET, web::to(shifts::shift_summary))],
        ),
        (
            "/api/v1/shifts/{id}/review",
            vec![(Method::POST, web::to(shifts::review_shift))],
        ),
        (
            "/api/v1/shifts/{id}/encounters",
            vec![(Method::GET, web::to(encounters::list_encounters))],
        ),
        (
            "/api/v1/encounters/{id}",
            vec![
                (Method::GET, web::to(encounters::get_encounter)),
                (Method::PUT, web::to(encounters::put_encounter)),
            ],
        ),
        (
            "/api/v1/encounters/{id}/void",
            vec![(Method::POST, web::to(encounters::void_encounter))],
        ),
        (
            "/api/v1/units",
            vec![(Method::GET, web::to(reference::list_units))],
        ),
        (
            "/api/v1/municipalities",
            vec![(Method::GET, web::to(reference::list_municipalities))],
        ),
        (
            "/api/v1/municipalities/{code}/connection",
            vec![(Method::PUT, web::to(reference::change_connection))],
        ),
        (
            "/api/v1/municipality-notifications",
            vec![(Method::GET, web::to(notifications::list_notifications))],
        ),
        (
            "/api/v1/municipality-notifications/{id}/resolve",
            vec![(Method::POST, web::to(notifications::resolve_notification))],
        ),
        (
            "/api/v1/reports/cooperation",
            vec![(Method::GET, web::to(reports::cooperation))],
        ),
        (
            "/api/v1/reports/sugar-dating",
            vec![(Method::GET, web::to(reports::sugar_dating))],
        ),
        (
            "/api/v1/reports/municipalities",
            vec![(Method::GET, web::to(reports::municipalities))],
        ),
        ("/api/v1/audit", vec![(Method::GET, web::to(audit::list))]),
        (
            "/api/v1/sync/push",
            vec![(Method::POST, web::to(sync::push))],
        ),
        (
            "/api/v1/sync/pull",
            vec![(Method::GET, web::to(sync::pull))],
        ),
    ];
    for (path, methods) in routes {
        cfg.service(resource(path, methods));
    }
}
