//! Logs: structured, with the request id on every line of a request, and never a body,
//! a token or a person's data.

use std::cell::OnceCell;
use std::rc::Rc;

use tracing::Span;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber for the binary. `RUST_LOG` refines the level.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (as in tests) keeps the first subscriber.
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}

/// Runs blocking work (diesel) on the blocking pool, inside the caller's span so
/// its log lines keep the request id.
pub async fn spawn_blocking<F, T>(f: F) -> Result<T, actix_web::error::BlockingError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let span = Span::current();
    actix_web::web::block(move || span.in_scope(f)).await
}

/// When a request began, for its latency.
struct Started(std::time::Instant);

/// The span of each request, and its one line at the end: method, route pattern (never
/// the path's ids or the query), status, latency, request id and user id. Nothing from
/// bodies or headers, so no token, password or person's data.
pub struct RequestSpan;

impl tracing_actix_web::RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &actix_web::dev::ServiceRequest) -> Span {
        use actix_web::HttpMessage;
        let request_id = request
            .extensions()
            .get::<tracing_actix_web::RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        request
            .extensions_mut()
            .insert(Started(std::time::Instant::now()));
        tracing::info_span!(
            "request",
            method = %request.method(),
            route = tracing::field::Empty,
            request_id = %request_id,
            user_id = tracing::field::Empty,
            status = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
        )
    }

    fn on_request_end<B: actix_web::body::MessageBody>(
        span: Span,
        outcome: &Result<actix_web::dev::ServiceResponse<B>, actix_web::Error>,
    ) {
        use actix_web::HttpMessage;
        let status = match outcome {
            Ok(response) => {
                // A request that reached no resource is "unmatched" (one that did has its
                // route already).
                span.record("route", route_of(response.request()).as_str());
                if let Some(started) = response.request().extensions().get::<Started>() {
                    let millis = u64::try_from(started.0.elapsed().as_millis()).unwrap_or(u64::MAX);
                    span.record("latency_ms", millis);
                }
                response.status()
            }
            // Its route was recorded when it was routed.
            Err(error) => error.as_response_error().status_code(),
        };
        span.record("status", status.as_u16());
        tracing::info!(parent: &span, "request finished");
    }
}

/// The route of a request that reached no resource.
pub const UNMATCHED: &str = "unmatched";

/// Where a request's route pattern (`/api/v1/encounters/{id}`, never its path) is kept once
/// the request has been routed, for the log and the metrics: an answer that is an error
/// (a timed-out request) no longer carries its request.
#[derive(Clone, Default)]
pub struct RouteSlot(Rc<OnceCell<String>>);

impl RouteSlot {
    /// The route, or [`UNMATCHED`] if the request reached no resource.
    pub fn route(&self) -> String {
        self.0
            .get()
            .map_or_else(|| UNMATCHED.to_owned(), Clone::clone)
    }
}

/// Records the route of a request just routed to a resource: on its span, so that every
/// line it logs names it, and in its [`RouteSlot`]. Read before routing, the pattern made
/// actix match the path against every route's pattern again, a few percent of the
/// server's time under load (BENCHMARKS.md, the fourteenth fixes); once routed it is a
/// lookup by the resource routed to.
pub fn record_route(request: &actix_web::dev::ServiceRequest) {
    use actix_web::HttpMessage;
    let Some(route) = request.match_pattern() else {
        return;
    };
    Span::current().record("route", route.as_str());
    if let Some(slot) = request.extensions().get::<RouteSlot>() {
        // Set once: a request is routed once.
        let _ = slot.0.set(route);
    }
}

/// The route recorded for the request, or [`UNMATCHED`].
pub fn route_of(request: &actix_web::HttpRequest) -> String {
    use actix_web::HttpMessage;
    request
        .extensions()
        .get::<RouteSlot>()
        .map_or_else(|| UNMATCHED.to_owned(), RouteSlot::route)
}
