//! Free text staff type on a phone: bounded, without control characters, and never
//! holding a Swedish identity number, which must not be stored anywhere in Fältlogg.

use std::fmt;

use crate::FieldError;
use crate::identity_number::contains_identity_number;

/// A short text a person typed: 1 to `max` characters after trimming, no control
/// characters except line breaks and tabs, no identity number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FreeText(String);

/// How long each kind of free text may be, in characters.
pub mod limits {
    pub const PSEUDONYM: usize = 64;
    pub const LABEL: usize = 100;
    pub const REASON: usize = 500;
    pub const NOTES: usize = 2000;
}

impl FreeText {
    pub fn parse(field: &str, value: &str, max: usize) -> Result<Self, FieldError> {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            return Err(FieldError::new(
                field,
                "empty",
                "leave the field out rather than sending it empty",
            ));
        }
        if trimmed.chars().count() > max {
            return Err(FieldError::new(
                field,
                "too_long",
                format!("at most {max} characters"),
            ));
        }
        if trimmed
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
        {
            return Err(FieldError::new(
                field,
                "control_character",
                "control characters are not allowed",
            ));
        }
        if contains_identity_number(trimmed) {
            return Err(FieldError::new(
                field,
                "identity_number",
                "Swedish personal identity and coordination numbers must not be recorded",
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// Parses an optional field: absent stays absent.
    pub fn parse_opt(
        field: &str,
        value: Option<&str>,
        max: usize,
    ) -> Result<Option<Self>, FieldError> {
        value.map(|v| Self::parse(field, v, max)).transpose()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FreeText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_identity_number_is_refused_and_named() {
        let error = FreeText::parse("notes", "mötte 811218-9876 vid T-centralen", 100).unwrap_err();
        assert_eq!(
            (error.field.as_str(), error.code),
            ("notes", "identity_number")
        );
        assert!(!error.message.contains("811218"));
    }

    #[test]
    fn bounds_and_blanks() {
        assert_eq!(FreeText::parse("area", "  ", 10).unwrap_err().code, "empty");
        assert_eq!(
            FreeText::parse("area", "elva tecken", 10).unwrap_err().code,
            "too_long"
        );
        assert_eq!(
            FreeText::parse("area", "tio tecken", 10).unwrap().as_str(),
            "tio tecken"
        );
        assert_eq!(
            FreeText::parse("area", "a\u{0}b", 10).unwrap_err().code,
            "control_character"
        );
        assert_eq!(
            FreeText::parse("notes", " rad 1\nrad 2 ", 20)
                .unwrap()
                .as_str(),
            "rad 1\nrad 2"
        );
    }

    proptest! {
        #[test]
        fn text_without_digits_within_bounds_is_kept(s in "[a-zåäöA-ZÅÄÖ .,!?-]{1,50}") {
            prop_assume!(!s.trim().is_empty());
            let text = FreeText::parse("notes", &s, 50).unwrap();
            prop_assert_eq!(text.as_str(), s.trim());
        }
    }
}
