//! The JSON body and query string extractors: size-limited, `application/json` only, and
//! when the body does not fit the type, the error names the field (`referrals[1].target`).
//!
//! Handlers behind sign-in take them as `Result<Json<T>, ApiError>` and apply `?` after
//! `Auth` has been extracted: actix polls all extractors together and answers the first
//! error, so a bare `Json` would tell an anonymous caller 400 (and so the body's shape)
//! before the 401 it is owed.

use std::future::Future;
use std::pin::Pin;

use actix_web::error::PayloadError;
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The largest body any route takes.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

pub struct Json<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = req.mime_type().ok().flatten().is_some_and(|mime| {
            mime.type_() == "application"
                && (mime.subtype() == "json" || mime.suffix().is_some_and(|s| s == "json"))
        });
        let body = Bytes::from_request(req, payload);
        Box::pin(async move {
            if !is_json {
                return Err(ApiError::UnsupportedMediaType);
            }
            let bytes = body
                .await
                .map_err(|error| match error.as_error::<PayloadError>() {
                    Some(PayloadError::Overflow) => ApiError::PayloadTooLarge {
                        limit: MAX_BODY_BYTES,
                    },
                    _ => ApiError::MalformedJson {
                        field: String::new(),
                        message: "the body could not be read".into(),
                    },
                })?;
            parse(&bytes).map(Json)
        })
    }
}

/// The query string, parsed into `T`; a repeated, unknown or mistyped parameter is 400.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        std::future::ready(
            actix_web::web::Query::<T>::from_query(req.query_string())
                .map(|query| Query(query.into_inner()))
                .map_err(|_| ApiError::MalformedQuery),
        )
    }
}

/// Deserializes, naming the path to the field that failed. Serde's message names the
/// expected type or the unknown variant, never the value sent, so nothing personal
/// from the body reaches the answer or the log.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(deserializer).map_err(malformed)
}

/// The same, from JSON already parsed (an item of a batch).
pub fn parse_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(malformed)
}

fn malformed(error: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = error.path().to_string();
    let inner = error.into_inner();
    ApiError::MalformedJson {
        field: if path == "." { String::new() } else { path },
        message: scrub(&inner),
    }
}

/// Serde quotes the offending string in "invalid value" messages; keep only the
/// category and position.
fn scrub(error: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match error.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            format!(
                "not valid JSON (line {}, column {})",
                error.line(),
                error.column()
            )
        }
        Category::Data => {
            let text = error.to_string();
            let text = text.split(" at line ").next().unwrap_or_default();
            // "invalid type: string \"…\", expected u32" and "unknown variant `…`, expected
            // one of …" quote what was sent; "missing field `x`" and "unknown field `x`,
            // expected …" name only the schema.
            let quotes_the_value = [
                "invalid type",
                "invalid value",
                "invalid length",
                "unknown variant",
            ]
            .iter()
            .any(|prefix| text.starts_with(prefix));
            match text.split_once(", expected ") {
                Some((_, expected)) if quotes_the_value => format!("expected {expected}"),
                _ if quotes_the_value => "invalid value".to_owned(),
                _ => text.to_owned(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        items: Vec<Item>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Item {
        count: u32,
    }

    fn error_of(json: &str) -> (String, String) {
        match parse::<Body>(json.as_bytes()) {
            Err(ApiError::MalformedJson { field, message }) => (field, message),
            other => panic!("expected malformed JSON, got {other:?}"),
        }
    }

    #[test]
    fn names_the_path_of_the_bad_field() {
        let (field, message) = error_of(r#"{"items": [{"count": 1}, {"count": "800101-1234"}]}"#);
        assert_eq!(field, "items[1].count");
        assert_eq!(message, "expected u32");
        assert!(!message.contains("800101"));
    }

    #[test]
    fn syntax_errors_give_the_position() {
        let (field, message) = error_of(r#"{"items": [}"#);
        assert!(field.starts_with("items"), "{field}");
        assert!(message.starts_with("not valid JSON"), "{message}");
    }

    #[test]
    fn missing_and_unknown_fields_are_named() {
        let (_, message) = error_of(r#"{"items": [{}]}"#);
        assert!(message.contains("missing field `count`"), "{message}");
        let (_, message) = error_of(r#"{"items": [], "extra": 1}"#);
        assert!(message.contains("unknown field `extra`"), "{message}");
    }
}
