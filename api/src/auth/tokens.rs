//! Access tokens (EdDSA JWTs, short-lived) and refresh tokens (opaque, rotated, stored
//! only as hashes).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use faltlogg_domain::account::Assignment;
use faltlogg_domain::ids::{SessionId, UserId};
use faltlogg_domain::unit::Unit;
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::keys::Keys;

pub const ISSUER: &str = "faltlogg";
pub const AUDIENCE: &str = "faltlogg-api";
/// Seconds of clock difference forgiven at a token's expiry.
pub const LEEWAY_SECONDS: i64 = 5;

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: UserId,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub role: String,
    pub unit: Option<String>,
    pub sid: SessionId,
}

pub fn issue_access_token(
    keys: &Keys,
    user: UserId,
    assignment: Assignment,
    session: SessionId,
    now: DateTime<Utc>,
    ttl: std::time::Duration,
) -> Result<String, jsonwebtoken::errors::Error> {
    let claims = Claims {
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        sub: user,
        iat: now.timestamp(),
        exp: now.timestamp() + i64::try_from(ttl.as_secs()).unwrap_or(900),
        jti: uuid::Uuid::new_v4().to_string(),
        role: assignment.role().as_str().into(),
        unit: assignment.unit().map(|u: Unit| u.code().to_owned()),
        sid: session,
    };
    jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &keys.encoding)
}

/// Verifies signature (EdDSA only: `none`, HS256 and the rest are refused), issuer,
/// audience and expiry, against the current key and then the previous one. Requests reach
/// it through [`Keys::verify`], which remembers what it verified.
pub(super) fn verify_access_token(keys: &Keys, token: &str) -> Option<Claims> {
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = LEEWAY_SECONDS.unsigned_abs();
    keys.decoding.iter().find_map(|key| {
        jsonwebtoken::decode::<Claims>(token, key, &validation)
            .ok()
            .map(|data| data.claims)
    })
}

/// A new refresh token: 256 random bits.
pub fn new_refresh_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The token that replaces `token`: derived, so that a retry gets the same successor
/// while only hashes are stored.
pub fn successor(keys: &Keys, token: &str) -> Result<String, hmac::digest::InvalidLength> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&keys.refresh_secret)?;
    mac.update(token.as_bytes());
    Ok(URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

/// How a token is stored and looked up.
pub fn hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
