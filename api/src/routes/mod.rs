//! The routes, and the table that wires them.

pub mod accounts;
pub mod auth;
pub mod health;
pub mod spec;

use actix_web::http::Method;
use actix_web::{Resource, Route, web};

use crate::error::ApiError;

/// A resource whose routes are listed once: other methods answer 405 with an `Allow`
/// header built from the same list.
pub fn resource(path: &str, routes: Vec<(Method, Route)>) -> Resource {
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
    resource.default_service(web::to(move || {
        let allow = allow.clone();
        async move { Err::<actix_web::HttpResponse, _>(ApiError::MethodNotAllowed { allow }) }
    }))
}

/// Every route of the service.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let routes = [
        ("/healthz", vec![(Method::GET, web::to(health::healthz))]),
        ("/readyz", vec![(Method::GET, web::to(health::readyz))]),
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
    ];
    for (path, methods) in routes {
        cfg.service(resource(path, methods));
    }
}
