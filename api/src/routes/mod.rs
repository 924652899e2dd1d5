//! The routes, and the table that wires them.

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
    cfg.service(resource(
        "/healthz",
        vec![(Method::GET, web::to(health::healthz))],
    ))
    .service(resource(
        "/readyz",
        vec![(Method::GET, web::to(health::readyz))],
    ))
    .service(resource(
        "/openapi.yaml",
        vec![(Method::GET, web::to(spec::openapi_yaml))],
    ));
}
