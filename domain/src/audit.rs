//! The audit log's entries: who did what to which record, when, and how it ended; never
//! the record's content. Entries are chained by hashes so that a changed or removed
//! entry shows.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::coded_enum;
use crate::codes::Coded;

coded_enum!(
    Action {
        Create = "create",
        Update = "update",
        Read = "read",
        List = "list",
        Void = "void",
        Close = "close",
        Review = "review",
        Export = "export",
        Login = "login",
        LoginFailed = "login_failed",
        Refresh = "refresh",
        RefreshReuse = "refresh_reuse",
        Logout = "logout",
        Revoke = "revoke",
        Denied = "denied",
        Retention = "retention",
    }
);

/// One entry, as written. Every field is an identifier or a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub at: DateTime<Utc>,
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub role: Option<String>,
    pub unit: Option<String>,
    pub session_id: Option<String>,
    pub action: Action,
    pub record_type: Option<String>,
    pub record_id: Option<String>,
    pub request_id: Option<String>,
    /// `ok`, or why not: `denied`, `not_found`, `invalid`, `conflict`, `failed`, …
    pub outcome: String,
}

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

impl Entry {
    /// Links this entry (stored as number `seq`) to the hash of the one before it.
    pub fn chain_hash(&self, seq: i64, previous: &str) -> String {
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        let fields = [
            seq.to_string(),
            self.at.timestamp_micros().to_string(),
            opt(&self.user_id),
            opt(&self.username),
            opt(&self.role),
            opt(&self.unit),
            opt(&self.session_id),
            self.action.code().to_owned(),
            opt(&self.record_type),
            opt(&self.record_id),
            opt(&self.request_id),
            self.outcome.clone(),
        ];
        let mut hasher = Sha256::new();
        hasher.update(previous.as_bytes());
        for field in fields {
            // A separator no identifier holds, so fields cannot slide into each other.
            hasher.update([0x1f]);
            hasher.update(field.as_bytes());
        }
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry {
            at: "2026-11-28T22:00:00Z".parse().unwrap(),
            user_id: Some("u1".into()),
            username: Some("anna".into()),
            role: Some("outreach_worker".into()),
            unit: Some("mika".into()),
            session_id: None,
            action: Action::Read,
            record_type: Some("encounter".into()),
            record_id: Some("e1".into()),
            request_id: None,
            outcome: "ok".into(),
        }
    }

    #[test]
    fn every_field_and_the_link_change_the_hash() {
        let base = entry().chain_hash(1, GENESIS);
        assert_eq!(base.len(), 64);
        assert_ne!(entry().chain_hash(2, GENESIS), base);
        assert_ne!(entry().chain_hash(1, &base), base);
        let mut other = entry();
        other.record_id = Some("e2".into());
        assert_ne!(other.chain_hash(1, GENESIS), base);
        // Fields do not slide: "ab"+"" is not ""+"ab".
        let mut a = entry();
        a.user_id = Some("ab".into());
        a.username = Some(String::new());
        let mut b = entry();
        b.user_id = Some(String::new());
        b.username = Some("ab".into());
        assert_ne!(a.chain_hash(1, GENESIS), b.chain_hash(1, GENESIS));
    }
}
