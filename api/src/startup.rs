//! Start-up is a function: a config value in, a running server and its port out.

use std::net::TcpListener;

use actix_web::body::BoxBody;
use actix_web::dev::{Server, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::{Compress, DefaultHeaders, ErrorHandlerResponse, ErrorHandlers};
use actix_web::{App, HttpMessage, HttpResponse, HttpServer, web};
use faltlogg_persistence::{Database, DbConnection, StoreError};
use tracing_actix_web::{RequestId, TracingLogger};

use crate::auth::keys::Keys;
use crate::config::Config;
use crate::error::{ApiError, PROBLEM_JSON, Problem, problem_response};
use crate::extract::MAX_BODY_BYTES;
use crate::routes;
use crate::telemetry::spawn_blocking;

/// What every request can reach.
pub struct AppState {
    pub db: Database,
    pub config: Config,
    pub keys: Keys,
    /// Slots for CPU-heavy work (password hashing, reports).
    pub expensive: tokio::sync::Semaphore,
    /// Where password hashing runs, one thread per slot.
    pub low_priority: crate::low_priority::LowPriority,
    pub metrics: crate::metrics::Metrics,
    /// Where encounter PUTs are written, together when they arrive together.
    pub together: crate::together::Together,
    /// Where requests' sessions are looked up, together when they arrive together.
    pub principals: crate::auth::principals::Principals,
}

impl AppState {
    /// Runs CPU-heavy work (password hashing, a report) when a slot is free, and answers
    /// 503 with Retry-After when none is, so a burst is turned away rather than queued
    /// without bound behind the event loop.
    pub async fn expensive<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, ApiError>>,
    ) -> Result<T, ApiError> {
        let _slot = self.expensive.try_acquire().map_err(|_| ApiError::Busy)?;
        work.await
    }

    /// Runs database work with a pooled connection on the blocking pool, inside the
    /// request's span.
    pub async fn with_db<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    {
        let db = self.db.clone();
        spawn_blocking(move || f(&mut *db.get()?))
            .await
            .map_err(ApiError::internal)?
    }

    /// Runs a request's write (see [`Database::with_writer`]) off the event loop, inside
    /// the request's span. On SQLite it goes to the writer thread straight from here,
    /// without a blocking-pool thread waiting for it.
    pub async fn with_writer<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    {
        let Some(writer) = self.db.writer() else {
            return self.with_db(f).await;
        };
        let (answer, answered) = tokio::sync::oneshot::channel();
        writer.submit(f, move |outcome| {
            // The request may have gone (the client left); nobody is left to tell.
            let _ = answer.send(outcome);
        })?;
        answered
            .await
            .unwrap_or_else(|_| Err(StoreError::NotCommitted.into()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("database")]
    Database(#[from] StoreError),
    #[error("could not listen on {address}")]
    Listen {
        address: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("start-up was interrupted")]
    Interrupted,
    #[error("signing key")]
    Keys(#[from] crate::auth::keys::KeyError),
    #[error("metrics")]
    Metrics(#[source] prometheus::Error),
    #[error("could not start the password or batching threads")]
    Threads(#[source] std::io::Error),
}

pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Connects, migrates and binds. Migrations run before the first request is taken.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let db = Database::connect(config.database.clone(), config.database_pool_size)?;
        let applied = {
            let db = db.clone();
            spawn_blocking(move || db.migrate())
                .await
                .map_err(|_| StartupError::Interrupted)??
        };
        tracing::info!(backend = db.backend().name(), applied, "database ready");

        let listener = TcpListener::bind(config.listen).map_err(|source| StartupError::Listen {
            address: config.listen,
            source,
        })?;
        let address = listener
            .local_addr()
            .map_err(|source| StartupError::Listen {
                address: config.listen,
                source,
            })?;
        let keys = Keys::load(
            config.jwt_key_file.as_deref(),
            config.jwt_previous_key_file.as_deref(),
            &config.data_dir,
        )?;
        crate::jobs::spawn(db.clone(), config.clone());
        let expensive = tokio::sync::Semaphore::new(config.expensive_work_limit);
        let low_priority = crate::low_priority::LowPriority::start(config.expensive_work_limit)
            .map_err(StartupError::Threads)?;
        let metrics = crate::metrics::Metrics::new().map_err(StartupError::Metrics)?;
        let together = crate::together::Together::start(&db, config.session_idle_timeout)
            .map_err(StartupError::Threads)?;
        let principals =
            crate::auth::principals::Principals::start(&db, config.session_idle_timeout)
                .map_err(StartupError::Threads)?;
        let state = web::Data::new(AppState {
            db,
            config,
            keys,
            expensive,
            low_priority,
            metrics,
            together,
            principals,
        });
        let request_timeout = state.config.request_timeout;
        // Database work runs on the workers' blocking threads, each holding a pooled
        // connection: threads beyond the pool's size would only wait for one. Fewer threads
        // also keep glibc's per-thread heaps few: with tokio's default (up to 512) a pull's
        // or a report's pages were left in up to sixteen of them (SQLite RSS 58 → 100 MiB).
        let workers = std::thread::available_parallelism().map_or(1, usize::from);
        let blocking_threads = usize::try_from(state.config.database_pool_size)
            .map_or(1, |n| n.div_ceil(workers).max(1));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
                .configure(routes::configure)
                .default_service(web::to(|| async {
                    Err::<HttpResponse, _>(ApiError::NotFound)
                }))
                .wrap(ErrorHandlers::new().default_handler(problem_for_any_error))
                .wrap_fn(move |req, srv| {
                    // A slow client (or slow work) must not hold a connection and its
                    // database slot without bound. Work already handed to a database
                    // thread finishes or rolls back there; the answer says to retry.
                    // (An error, not a response: the request cannot be cloned before
                    // routing, and actix answers an error with its `error_response`.)
                    let request_id = req.extensions().get::<RequestId>().copied();
                    let response = actix_web::dev::Service::call(srv, req);
                    async move {
                        tokio::time::timeout(request_timeout, response)
                            .await
                            .map_err(|_| TimedOut(request_id))?
                    }
                })
                .wrap(Compress::default())
                .wrap(
                    SAFE_HEADERS
                        .into_iter()
                        .fold(DefaultHeaders::new(), DefaultHeaders::add),
                )
                .wrap_fn(|req, srv| {
                    let request_id = req.extensions().get::<RequestId>().copied();
                    let started = std::time::Instant::now();
                    let method = req.method().to_string();
                    let route = crate::telemetry::RouteSlot::default();
                    req.extensions_mut().insert(route.clone());
                    let state = req.app_data::<web::Data<AppState>>().cloned();
                    let response = actix_web::dev::Service::call(srv, req);
                    async move {
                        let result = response.await;
                        if let Some(state) = state {
                            let status = match &result {
                                Ok(response) => response.status(),
                                Err(error) => error.as_response_error().status_code(),
                            };
                            let seconds = started.elapsed().as_secs_f64();
                            state.metrics.observe(
                                &method,
                                &route.route(),
                                status.as_u16(),
                                seconds,
                            );
                        }
                        let mut response = result?;
                        tag_request_id(response.headers_mut(), request_id);
                        Ok(response)
                    }
                })
                .wrap(TracingLogger::<crate::telemetry::RequestSpan>::new())
        })
        .workers(workers)
        .worker_max_blocking_threads(blocking_threads)
        .listen(listener)
        .map_err(|source| StartupError::Listen { address, source })?
        .run();
        tracing::info!(%address, "listening");
        Ok(Self {
            port: address.port(),
            server,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM or SIGINT, then stops taking connections and lets the
    /// requests in flight finish (up to 30 seconds).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Every answer names its request, so that a user's report of an error finds its log line.
fn tag_request_id(headers: &mut header::HeaderMap, id: Option<RequestId>) {
    if let Some(id) = id
        && let Ok(value) = header::HeaderValue::from_str(&id.to_string())
    {
        headers.insert(header::HeaderName::from_static("x-request-id"), value);
    }
}

/// A request that ran out of time: answered as [`ApiError::TimedOut`], with its id and
/// [`SAFE_HEADERS`], which the layers that add them to every other answer do not see on
/// an error.
#[derive(Debug, thiserror::Error)]
#[error("the request ran out of time")]
struct TimedOut(Option<RequestId>);

impl actix_web::ResponseError for TimedOut {
    fn status_code(&self) -> actix_web::http::StatusCode {
        ApiError::TimedOut.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = ApiError::TimedOut.error_response();
        for (name, value) in SAFE_HEADERS {
            response
                .headers_mut()
                .insert(name, header::HeaderValue::from_static(value));
        }
        tag_request_id(response.headers_mut(), self.0);
        response
    }
}

/// On every answer: nothing of it is kept by a cache (answers carry personal data), its
/// type is not guessed, and no page it links to learns where the link was.
const SAFE_HEADERS: [(header::HeaderName, &str); 3] = [
    (header::CACHE_CONTROL, "no-store"),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "no-referrer"),
];

/// A safety net: an error answered by actix itself (a bad path or query parameter,
/// say) becomes a problem too, so every error a client sees has one shape.
fn problem_for_any_error<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == PROBLEM_JSON.as_bytes());
    if is_problem {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let problem = Problem {
        problem_type: "about:blank".into(),
        title: status.canonical_reason().unwrap_or("Error").into(),
        status: status.as_u16(),
        detail: if status.is_server_error() {
            "Something went wrong on our side; it has been logged.".into()
        } else {
            "The request could not be understood.".into()
        },
        errors: Vec::new(),
        current: None,
        encounters: Vec::new(),
    };
    let mut builder = HttpResponse::build(status);
    for (name, value) in res.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            builder.insert_header((name.clone(), value.clone()));
        }
    }
    let response: HttpResponse<BoxBody> = problem_response(builder, &problem);
    let (req, _) = res.into_parts();
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, response).map_into_right_body(),
    ))
}
