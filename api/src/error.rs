//! The one place where failures become HTTP answers: RFC 9457 `application/problem+json`.
//! Internal causes go to the log with the request id; the client gets an opaque 500.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use faltlogg_domain::ValidationErrors;
use faltlogg_persistence::StoreError;
use faltlogg_persistence::diesel_error;
use serde::Serialize;
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem detail.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI reference naming the kind of problem; `about:blank` when the status says it all.
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// For validation problems: every field that broke a rule.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemField>,
    /// For 412 Precondition Failed: the record as it now stands, as GET returns it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub current: Option<serde_json::Value>,
    /// For a shift that cannot be closed: the encounters whose safeguarding is incomplete.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<uuid::Uuid>)]
    pub encounters: Vec<String>,
}

/// One field that broke a rule.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemField {
    /// Where in the body (`referrals[1].target`), or the parameter's name.
    pub field: String,
    /// A stable machine-readable code.
    pub code: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("not found")]
    NotFound,
    #[error("not authenticated")]
    Unauthorized,
    /// A failed login: one answer for an unknown name and a wrong password.
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("forbidden")]
    Forbidden,
    #[error("conflict")]
    Conflict(String),
    #[error("safeguarding incomplete")]
    SafeguardingMissing(Vec<String>),
    #[error("If-Match required")]
    PreconditionRequired,
    #[error("stale version")]
    PreconditionFailed { current: Option<serde_json::Value> },
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("method not allowed")]
    MethodNotAllowed { allow: String },
    #[error("body too large")]
    PayloadTooLarge { limit: usize },
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// The query string does not deserialize (a repeated, unknown or mistyped parameter).
    #[error("malformed query string")]
    MalformedQuery,
    #[error("malformed JSON")]
    MalformedJson { field: String, message: String },
    #[error("validation failed")]
    Validation(#[from] ValidationErrors),
    #[error("database unavailable")]
    Unavailable(#[source] StoreError),
    /// Every slot for CPU-heavy work is taken.
    #[error("busy")]
    Busy,
    /// The request outlived `FALTLOGG_REQUEST_TIMEOUT` (a slow body, or slow work).
    #[error("timed out")]
    TimedOut,
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    pub fn internal(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        ApiError::Internal(Box::new(error))
    }

    fn problem(&self) -> Problem {
        let status = self.status_code();
        let plain = |detail: &str| Problem {
            problem_type: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("Error").into(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
            current: None,
            encounters: Vec::new(),
        };
        match self {
            ApiError::NotFound => plain("No such resource, or it is not yours to see."),
            ApiError::Unauthorized => plain(
                "Sign in: the access token is missing, invalid or expired, or its session has ended.",
            ),
            ApiError::InvalidCredentials => plain("Invalid username or password."),
            ApiError::Forbidden => plain("Your role may not do this."),
            ApiError::Conflict(detail) => plain(detail),
            ApiError::SafeguardingMissing(ids) => Problem {
                problem_type: "/problems/safeguarding-missing".into(),
                encounters: ids.clone(),
                ..plain(
                    "A minor in this shift lacks guardian contact (or the reason why not) or the report of concern; each is listed in `encounters`.",
                )
            },
            ApiError::PreconditionRequired => plain(
                "Updating needs If-Match with the version the change is based on (the ETag of the record).",
            ),
            ApiError::PreconditionFailed { current } => Problem {
                problem_type: "/problems/stale-version".into(),
                current: current.clone(),
                ..plain(
                    "The record has changed since that version; `current` holds it as it is now.",
                )
            },
            ApiError::TooManyRequests { .. } => plain("Too many failed attempts; try again later."),
            ApiError::MethodNotAllowed { allow } => {
                plain(&format!("This resource answers only {allow}."))
            }
            ApiError::PayloadTooLarge { limit } => plain(&format!(
                "The body is larger than the limit of {limit} bytes."
            )),
            ApiError::UnsupportedMediaType => plain("Send the body as application/json."),
            ApiError::MalformedJson { field, message } => Problem {
                problem_type: "/problems/malformed-json".into(),
                title: "Malformed JSON".into(),
                status: status.as_u16(),
                detail: "The body is not JSON of the expected shape.".into(),
                errors: vec![ProblemField {
                    field: field.clone(),
                    code: "malformed".into(),
                    message: message.clone(),
                }],
                ..plain("")
            },
            ApiError::MalformedQuery => Problem {
                problem_type: "/problems/malformed-query".into(),
                ..plain(
                    "The query string cannot be read: a parameter is repeated, unknown or not of its type.",
                )
            },
            ApiError::Validation(errors) => Problem {
                problem_type: "/problems/validation".into(),
                title: "Validation failed".into(),
                status: status.as_u16(),
                detail: "Some fields break a rule; each is listed in `errors`.".into(),
                errors: errors
                    .0
                    .iter()
                    .map(|e| ProblemField {
                        field: e.field.clone(),
                        code: e.code.into(),
                        message: e.message.clone(),
                    })
                    .collect(),
                ..plain("")
            },
            ApiError::Unavailable(_) => {
                plain("The service cannot reach its database; try again shortly.")
            }
            ApiError::Busy => {
                plain("The server is busy with work of this kind; try again in a moment.")
            }
            ApiError::TimedOut => plain(
                "The request took longer than the server allows and was abandoned; a write may or may not have been kept, so send it again (writes are idempotent).",
            ),
            ApiError::Internal(_) => plain("Something went wrong on our side; it has been logged."),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::Busy => ApiError::Busy,
            StoreError::Pool(_)
            | StoreError::Connect(_)
            | StoreError::Contention(_)
            | StoreError::Unreachable(_)
            | StoreError::NotCommitted
            | StoreError::BatchOutOfReach => ApiError::Unavailable(error),
            other => ApiError::internal(other),
        }
    }
}

impl From<diesel_error::Error> for ApiError {
    fn from(error: diesel_error::Error) -> Self {
        StoreError::from(error).into()
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Unauthorized | ApiError::InvalidCredentials => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::Conflict(_) | ApiError::SafeguardingMissing(_) => StatusCode::CONFLICT,
            ApiError::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            ApiError::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::MalformedJson { .. } | ApiError::MalformedQuery => StatusCode::BAD_REQUEST,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unavailable(_) | ApiError::Busy | ApiError::TimedOut => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ApiError::Internal(cause) => {
                tracing::error!(error = %error_chain(cause.as_ref()), "request failed");
            }
            ApiError::Unavailable(cause) => {
                tracing::error!(error = %error_chain(cause), "database unavailable");
            }
            _ => {}
        }
        let mut response = HttpResponse::build(self.status_code());
        if let ApiError::MethodNotAllowed { allow } = self
            && let Ok(value) = HeaderValue::from_str(allow)
        {
            response.insert_header((header::ALLOW, value));
        }
        match self {
            ApiError::Unavailable(_) | ApiError::TimedOut => {
                response.insert_header((header::RETRY_AFTER, "5"));
            }
            ApiError::Busy => {
                response.insert_header((header::RETRY_AFTER, "1"));
            }
            ApiError::TooManyRequests { retry_after_secs } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            ApiError::Unauthorized | ApiError::InvalidCredentials => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"faltlogg\""));
            }
            _ => {}
        }
        problem_response(response, &self.problem())
    }
}

/// Writes a problem with its own media type (`HttpResponse::json` would say application/json).
pub fn problem_response(
    mut builder: actix_web::HttpResponseBuilder,
    problem: &Problem,
) -> HttpResponse {
    match serde_json::to_vec(problem) {
        Ok(body) => builder
            .insert_header((header::CONTENT_TYPE, PROBLEM_JSON))
            .body(body),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

/// The error and each of its causes on one line, for the log.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
