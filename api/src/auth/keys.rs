//! The Ed25519 key that signs access tokens, and the secret that derives refresh tokens.

use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use jsonwebtoken::{DecodingKey, EncodingKey};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::verified::{Verified, VerifiedTokens};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{variable}: cannot read {path}")]
    Read {
        variable: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{variable}: {path} is not an Ed25519 private key in PKCS#8 PEM")]
    NotEd25519 {
        variable: &'static str,
        path: PathBuf,
    },
    #[error("cannot write a new signing key to {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot encode a key")]
    Encode,
}

/// What signs and verifies. Several instances share one key file; during a key change the
/// previous key still verifies tokens it signed.
pub struct Keys {
    pub encoding: EncodingKey,
    pub decoding: Vec<DecodingKey>,
    /// Derives each refresh token's successor, so only hashes of tokens are stored; taken
    /// from the signing key so every instance that shares the key shares it too.
    pub refresh_secret: [u8; 32],
    /// The access tokens these keys have verified: theirs alone, so that no other keys
    /// can take a token for verified.
    pub(super) verified: VerifiedTokens,
}

const GENERATED_KEY_FILE: &str = "jwt-ed25519.pem";

impl Keys {
    pub fn load(
        key_file: Option<&Path>,
        previous_key_file: Option<&Path>,
        data_dir: &Path,
    ) -> Result<Self, KeyError> {
        let current = match key_file {
            Some(path) => read_key("FALTLOGG_JWT_KEY_FILE", path)?,
            None => generated_key(&data_dir.join(GENERATED_KEY_FILE))?,
        };
        let previous = previous_key_file
            .map(|path| read_key("FALTLOGG_JWT_PREVIOUS_KEY_FILE", path))
            .transpose()?;
        Self::of(&current, previous.as_ref())
    }

    /// Signs with `current`; verifies with it and with `previous`.
    pub(crate) fn of(
        current: &SigningKey,
        previous: Option<&SigningKey>,
    ) -> Result<Self, KeyError> {
        let mut decoding = vec![decoding_key(current)?];
        if let Some(previous) = previous {
            decoding.push(decoding_key(previous)?);
        }
        let pem = current
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|_| KeyError::Encode)?;
        let encoding = EncodingKey::from_ed_pem(pem.as_bytes()).map_err(|_| KeyError::Encode)?;
        let refresh_secret = Sha256::new()
            .chain_update(b"faltlogg refresh token successor v1")
            .chain_update(current.to_bytes())
            .finalize()
            .into();
        Ok(Self {
            encoding,
            decoding,
            refresh_secret,
            verified: VerifiedTokens::default(),
        })
    }

    /// The subject and session of an access token signed by these keys, for us, and not
    /// expired at `now` (seconds since the epoch); a token seen before is not checked by
    /// signature again ([`VerifiedTokens`]).
    pub fn verify(&self, token: &str, now: i64) -> Option<Verified> {
        self.verified.verify(self, token, now)
    }
}

fn read_key(variable: &'static str, path: &Path) -> Result<SigningKey, KeyError> {
    let pem = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
        variable,
        path: path.to_owned(),
        source,
    })?;
    SigningKey::from_pkcs8_pem(&pem).map_err(|_| KeyError::NotEd25519 {
        variable,
        path: path.to_owned(),
    })
}

fn decoding_key(key: &SigningKey) -> Result<DecodingKey, KeyError> {
    let public = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|_| KeyError::Encode)?;
    DecodingKey::from_ed_pem(public.as_bytes()).map_err(|_| KeyError::Encode)
}

/// A single instance's own key: made on first start, readable by its owner only.
fn generated_key(path: &Path) -> Result<SigningKey, KeyError> {
    if path.exists() {
        return read_key("FALTLOGG_DATA_DIR", path);
    }
    let write_error = |source| KeyError::Write {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(write_error)?;
    }
    let mut seed = [0u8; 32];
    rand::rng().fill_bytes(&mut seed);
    let key = SigningKey::from_bytes(&seed);
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|_| KeyError::Encode)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(write_error)?;
    file.write_all(pem.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(write_error)?;
    tracing::info!(path = %path.display(), "generated a new token signing key");
    Ok(key)
}
