//! Staff accounts: who someone is (username), what they may do (role) and for which
//! unit, and the rules for passwords.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::FieldError;
use crate::unit::Unit;

/// What a member of staff may do; see the access table in DESIGN.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Coordinator,
    OutreachWorker,
    PoliceLiaison,
    Auditor,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::Coordinator,
        Role::OutreachWorker,
        Role::PoliceLiaison,
        Role::Auditor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Coordinator => "coordinator",
            Role::OutreachWorker => "outreach_worker",
            Role::PoliceLiaison => "police_liaison",
            Role::Auditor => "auditor",
        }
    }
}

impl FromStr for Role {
    type Err = FieldError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or_else(|| FieldError::new("role", "unknown_role", "not a role"))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role together with its unit: outreach workers belong to exactly one unit, every
/// other role to none. The only way to build one is through that rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assignment {
    role: Role,
    unit: Option<Unit>,
}

impl Assignment {
    pub fn new(role: Role, unit: Option<Unit>) -> Result<Self, FieldError> {
        match (role, unit) {
            (Role::OutreachWorker, None) => Err(FieldError::new(
                "unit",
                "unit_required",
                "an outreach worker belongs to a unit",
            )),
            (Role::OutreachWorker, Some(_)) | (_, None) => Ok(Self { role, unit }),
            (_, Some(_)) => Err(FieldError::new(
                "unit",
                "unit_not_allowed",
                "only outreach workers belong to a unit",
            )),
        }
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn unit(&self) -> Option<Unit> {
        self.unit
    }
}

/// A username: 1 to 64 letters, digits, `.`, `_` or `-`. Unique without regard to case,
/// so the stored key is the lower-case form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    pub const MAX_LEN: usize = 64;

    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let ok_chars = s
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if s.is_empty() || s.chars().count() > Self::MAX_LEN || !ok_chars {
            return Err(FieldError::new(
                "username",
                "invalid_username",
                "1 to 64 letters, digits, '.', '_' or '-'",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form uniqueness and look-ups use.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A password being set: at least 12 characters (and at most 1024, so hashing stays
/// bounded). Logging in takes any string; this is only for new and changed passwords.
#[derive(Clone, PartialEq, Eq)]
pub struct NewPassword(String);

impl NewPassword {
    pub const MIN_CHARS: usize = 12;
    pub const MAX_CHARS: usize = 1024;

    pub fn parse(s: String) -> Result<Self, FieldError> {
        let chars = s.chars().count();
        if chars < Self::MIN_CHARS {
            return Err(FieldError::new(
                "password",
                "password_too_short",
                "a password has at least 12 characters",
            ));
        }
        if chars > Self::MAX_CHARS {
            return Err(FieldError::new(
                "password",
                "password_too_long",
                "a password has at most 1024 characters",
            ));
        }
        Ok(Self(s))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(<hidden>)")
    }
}

/// A device's own name for itself ("Mika telefon 3"), shown in session lists so a lost
/// phone can be found and revoked. 1 to 100 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceName(String);

impl DeviceName {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let trimmed = s.trim();
        if trimmed.is_empty()
            || trimmed.chars().count() > 100
            || trimmed.chars().any(char::is_control)
        {
            return Err(FieldError::new(
                "device_name",
                "invalid_device_name",
                "1 to 100 characters without control characters",
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn only_outreach_workers_have_a_unit() {
        assert!(Assignment::new(Role::OutreachWorker, Some(Unit::Mika)).is_ok());
        assert_eq!(
            Assignment::new(Role::OutreachWorker, None)
                .unwrap_err()
                .code,
            "unit_required"
        );
        for role in [
            Role::Admin,
            Role::Coordinator,
            Role::PoliceLiaison,
            Role::Auditor,
        ] {
            assert!(Assignment::new(role, None).is_ok());
            assert_eq!(
                Assignment::new(role, Some(Unit::Kast)).unwrap_err().code,
                "unit_not_allowed"
            );
        }
    }

    #[test]
    fn usernames_are_unique_without_regard_to_case() {
        assert_eq!(
            Username::parse("Anna.Berg").unwrap().key(),
            Username::parse("anna.berg").unwrap().key()
        );
    }

    #[test]
    fn a_password_is_not_printed() {
        let password = NewPassword::parse("correct horse battery".into()).unwrap();
        assert!(!format!("{password:?}").contains("horse"));
    }

    proptest! {
        #[test]
        fn usernames_of_the_allowed_alphabet_parse(s in "[a-zA-Z0-9._-]{1,64}") {
            prop_assert_eq!(Username::parse(&s).map(|u| u.as_str().to_owned()), Ok(s));
        }

        #[test]
        fn usernames_with_other_characters_are_refused(
            a in "[a-z]{0,5}", bad in "[ @/:;'\"<>\\\\\t\n]", b in "[a-z]{0,5}"
        ) {
            let s = format!("{a}{bad}{b}");
            prop_assert!(Username::parse(&s).is_err());
        }

        #[test]
        fn passwords_shorter_than_12_are_refused(s in "\\PC{0,11}") {
            prop_assert!(NewPassword::parse(s).is_err());
        }

        #[test]
        fn passwords_of_12_or_more_are_taken(s in "\\PC{12,40}") {
            prop_assert!(NewPassword::parse(s).is_ok());
        }
    }
}
