//! The one shape every rule violation takes, so that the API can name the field.

use std::fmt;

/// One broken rule: which field, a stable machine-readable code, and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub code: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code,
            message: message.into(),
        }
    }

    /// The same error, reported under a containing field (`referrals[2]` + `target`).
    #[must_use]
    pub fn under(mut self, parent: &str) -> Self {
        self.field = if self.field.is_empty() {
            parent.to_owned()
        } else {
            format!("{parent}.{}", self.field)
        };
        self
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for FieldError {}

/// All the broken rules of one input, collected so the client can fix them in one go.
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
#[error("{} validation error(s)", .0.len())]
pub struct ValidationErrors(pub Vec<FieldError>);

impl From<FieldError> for ValidationErrors {
    fn from(error: FieldError) -> Self {
        Self(vec![error])
    }
}

/// Collects the errors of many fields parsed one by one, so the client hears of them all.
#[derive(Debug, Default)]
pub struct Collector(Vec<FieldError>);

impl Collector {
    pub fn take<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        result.map_err(|e| self.0.push(e)).ok()
    }

    pub fn take_all<T>(&mut self, result: Result<T, ValidationErrors>) -> Option<T> {
        result.map_err(|e| self.0.extend(e.0)).ok()
    }

    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    /// The value built from the parsed fields, unless any field failed.
    pub fn finish<T>(self, value: Option<T>) -> Result<T, ValidationErrors> {
        match value {
            Some(value) if self.0.is_empty() => Ok(value),
            _ => Err(ValidationErrors(self.0)),
        }
    }
}
