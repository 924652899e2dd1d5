//! Closed sets of values named by a stable code (`raid`, `under_18`, `mika`): one way to
//! list them, parse them and name them, so the API's schema and error messages come from
//! the same list as the rules.

use crate::FieldError;

pub trait Coded: Copy + Eq + 'static {
    /// Every value, in the order the API lists them.
    fn all() -> &'static [Self];
    fn code(self) -> &'static str;

    fn codes() -> Vec<&'static str> {
        Self::all().iter().map(|v| v.code()).collect()
    }

    fn from_code(code: &str) -> Option<Self> {
        Self::all().iter().copied().find(|v| v.code() == code)
    }

    /// Parses the value of a field, naming the field and the allowed codes when it is not one.
    fn parse_field(field: &str, code: &str) -> Result<Self, FieldError> {
        Self::from_code(code).ok_or_else(|| {
            FieldError::new(
                field,
                "unknown_value",
                format!("must be one of: {}", Self::codes().join(", ")),
            )
        })
    }
}

/// Declares an enum whose variants each have a code.
#[macro_export]
macro_rules! coded_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $code:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $crate::codes::Coded for $name {
            fn all() -> &'static [Self] {
                &[$($name::$variant),+]
            }

            fn code(self) -> &'static str {
                match self {
                    $($name::$variant => $code),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str($crate::codes::Coded::code(*self))
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str($crate::codes::Coded::code(*self))
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    coded_enum!(Colour { Red = "red", DarkBlue = "dark_blue" });

    #[test]
    fn codes_round_trip_and_unknown_ones_name_the_choices() {
        assert_eq!(Colour::parse_field("c", "dark_blue"), Ok(Colour::DarkBlue));
        let error = Colour::parse_field("c", "green").unwrap_err();
        assert_eq!((error.field.as_str(), error.code), ("c", "unknown_value"));
        assert_eq!(error.message, "must be one of: red, dark_blue");
        assert_eq!(Colour::Red.to_string(), "red");
    }

    proptest::proptest! {
        /// Any string parses to the value with exactly that code, or to an error naming
        /// the field and every allowed code; never a panic, never a near miss.
        #[test]
        fn any_string_is_a_code_or_a_named_refusal(code in ".{0,20}") {
            match Colour::parse_field("c", &code) {
                Ok(colour) => proptest::prop_assert_eq!(colour.code(), code.as_str()),
                Err(error) => {
                    proptest::prop_assert!(!Colour::codes().contains(&code.as_str()));
                    proptest::prop_assert_eq!(error.field.as_str(), "c");
                    proptest::prop_assert!(error.message.contains("red, dark_blue"));
                }
            }
        }

        #[test]
        fn codes_differ_only_by_case_are_refused(index in 0usize..2) {
            let code = Colour::all()[index].code().to_uppercase();
            proptest::prop_assert!(Colour::parse_field("c", &code).is_err());
        }
    }
}
