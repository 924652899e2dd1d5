//! Record ids. Each kind of record has its own type, so a shift id can never be passed
//! where an encounter id belongs. Phones generate the ids of what they log (UUIDs).

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            pub fn new_random() -> Self {
                Self(Uuid::new_v4())
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl fmt::Display for $name {
            /// The hyphenated lower-case form, which is also how ids are stored.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }
    };
}

uuid_id!(
    /// An arbetspass, named by the phone that opened it.
    ShiftId
);
uuid_id!(
    /// A påträffad person, named by the phone that logged the meeting.
    EncounterId
);
uuid_id!(
    /// A coordinator's task to inform a municipality; named by the server.
    NotificationId
);
uuid_id!(
    /// A staff member's account.
    UserId
);
uuid_id!(
    /// One device's login session.
    SessionId
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn display_then_parse_is_identity(bytes in any::<[u8; 16]>()) {
            let id = ShiftId::from(Uuid::from_bytes(bytes));
            prop_assert_eq!(id.to_string().parse::<ShiftId>().ok(), Some(id));
        }

        #[test]
        fn text_that_is_not_a_uuid_is_refused(s in "[^0-9a-fA-F-]{1,40}") {
            prop_assert!(s.parse::<EncounterId>().is_err());
        }
    }

    #[test]
    fn stored_form_is_hyphenated_lower_case() {
        let id: ShiftId = "6F9619FF-8B86-D011-B42D-00C04FC964FF".parse().unwrap();
        assert_eq!(id.to_string(), "6f9619ff-8b86-d011-b42d-00c04fc964ff");
    }
}
