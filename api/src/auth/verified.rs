//! Access tokens whose signature has been checked, remembered until they expire.
//!
//! A phone sends the same access token with every request for its lifetime, and checking
//! an Ed25519 signature was a third of the HTTP workers' CPU while logging encounters
//! (7% of the machine: BENCHMARKS.md). A token seen before is looked up by its SHA-256
//! (the token itself is not kept) and only its expiry is checked again. The keys are read
//! once at start, so a signature that verified once verifies for the process's life.
//! Nothing else is skipped: the session and the account are still checked in the
//! database on every request.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use faltlogg_domain::account::Role;
use faltlogg_domain::ids::{SessionId, UserId};
use sha2::{Digest, Sha256};

use super::keys::Keys;
use super::tokens::{LEEWAY_SECONDS, verify_access_token};

/// Most tokens remembered: a few hundred phones' tokens, each a few dozen bytes here.
const MOST_REMEMBERED: usize = 4_096;

/// What a request needs of a verified token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub sub: UserId,
    pub sid: SessionId,
    /// The role the token was issued for (`None`: one this build does not know).
    pub role: Option<Role>,
    /// Seconds since the epoch.
    exp: i64,
}

impl Verified {
    fn live_at(&self, now: i64) -> bool {
        // As jsonwebtoken's own check: expired when `exp < now - leeway`.
        self.exp >= now - LEEWAY_SECONDS
    }
}

pub struct VerifiedTokens {
    seen: Mutex<HashMap<[u8; 32], Verified>>,
    most: usize,
}

impl Default for VerifiedTokens {
    fn default() -> Self {
        Self::holding(MOST_REMEMBERED)
    }
}

impl VerifiedTokens {
    pub(super) fn holding(most: usize) -> Self {
        Self {
            seen: Mutex::new(HashMap::new()),
            most,
        }
    }

    /// The token's subject and session when it is signed by one of `keys`, for us, and not
    /// expired at `now` (seconds since the epoch). Called by the `Keys` that own this
    /// cache only ([`Keys::verify`]).
    pub(super) fn verify(&self, keys: &Keys, token: &str, now: i64) -> Option<Verified> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(seen) = self.lock().get(&digest).copied() {
            return seen.live_at(now).then_some(seen);
        }
        let claims = verify_access_token(keys, token)?;
        let verified = Verified {
            sub: claims.sub,
            sid: claims.sid,
            role: claims.role.parse().ok(),
            exp: claims.exp,
        };
        let mut seen = self.lock();
        if seen.len() >= self.most {
            seen.retain(|_, token| token.live_at(now));
            if seen.len() >= self.most - self.most / 4 {
                // Mostly live tokens, more than expected: start over rather than grow, or
                // scan the map again for every few tokens let go.
                seen.clear();
            }
        }
        seen.insert(digest, verified);
        Some(verified)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Verified>> {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::tokens::issue_access_token;
    use chrono::{TimeZone, Utc};
    use faltlogg_domain::account::{Assignment, Role};
    use std::time::Duration;

    fn keys(seed: u8) -> Keys {
        Keys::of(&ed25519_dalek::SigningKey::from_bytes(&[seed; 32]), None).unwrap()
    }

    fn ours() -> Keys {
        keys(1)
    }

    fn issue(keys: &Keys, issued: i64, ttl: u64) -> (String, UserId, SessionId) {
        let user = UserId::new_random();
        let session = SessionId::new_random();
        let token = issue_access_token(
            keys,
            user,
            Assignment::new(Role::Auditor, None).unwrap(),
            session,
            Utc.timestamp_opt(issued, 0).unwrap(),
            Duration::from_secs(ttl),
        )
        .unwrap();
        (token, user, session)
    }

    fn now() -> i64 {
        Utc::now().timestamp()
    }

    #[test]
    fn a_token_is_verified_once_and_then_remembered_with_its_subject_and_session() {
        let keys = ours();
        let (token, user, session) = issue(&keys, now(), 900);
        for _ in 0..3 {
            let found = keys.verify(&token, now()).unwrap();
            assert_eq!((found.sub, found.sid), (user, session));
        }
        assert_eq!(keys.verified.remembered(), 1);
    }

    #[test]
    fn a_remembered_token_is_refused_once_it_has_expired() {
        let keys = ours();
        let issued = now();
        let (token, ..) = issue(&keys, issued, 60);
        let exp = issued + 60;
        assert!(keys.verify(&token, now()).is_some());
        assert!(keys.verify(&token, exp + LEEWAY_SECONDS).is_some());
        assert_eq!(keys.verify(&token, exp + LEEWAY_SECONDS + 1), None);
    }

    #[test]
    fn a_token_signed_by_another_key_or_altered_is_not_taken_for_a_remembered_one() {
        let ours = ours();
        let theirs = keys(2);
        let (token, ..) = issue(&ours, now(), 900);
        assert!(ours.verify(&token, now()).is_some());
        let (forged, ..) = issue(&theirs, now(), 900);
        assert_eq!(ours.verify(&forged, now()), None);
        let mut altered = token.clone();
        altered.push('A');
        assert_eq!(ours.verify(&altered, now()), None);
        assert_eq!(ours.verified.remembered(), 1);
    }

    #[test]
    fn a_token_remembered_by_one_set_of_keys_is_not_taken_by_another() {
        let ours = ours();
        let theirs = keys(2);
        let (token, ..) = issue(&ours, now(), 900);
        assert!(ours.verify(&token, now()).is_some());
        assert_eq!(theirs.verify(&token, now()), None);
    }

    #[test]
    fn no_more_than_the_most_remembered_are_kept() {
        let keys = keys(1);
        let verified = VerifiedTokens::holding(8);
        // Half of them expired when the map fills up: those are the ones let go.
        for i in 0..8 {
            let ttl = if i % 2 == 0 { 1 } else { 900 };
            let (token, ..) = issue(&keys, now(), ttl);
            assert!(verified.verify(&keys, &token, now()).is_some());
        }
        assert_eq!(verified.remembered(), 8);
        let (token, ..) = issue(&keys, now(), 900);
        assert!(verified.verify(&keys, &token, now() + 60).is_some());
        assert_eq!(verified.remembered(), 5);
        // All live and full: it starts over instead of growing.
        for _ in 0..3 {
            let (token, ..) = issue(&keys, now(), 900);
            assert!(verified.verify(&keys, &token, now()).is_some());
        }
        assert_eq!(verified.remembered(), 8);
        let (token, ..) = issue(&keys, now(), 900);
        assert!(verified.verify(&keys, &token, now()).is_some());
        assert_eq!(verified.remembered(), 1);
    }
}
