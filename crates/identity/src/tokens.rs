//! Access tokens (short-lived JWTs, HS256) and refresh tokens (opaque, stored hashed).
//! Validation pins the algorithm, requires exp/nbf/iss/aud/sub, and resolves `kid`
//! only against the server's own keys. Time checks use the server's clock.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::IdentityError;

pub const ISSUER: &str = "ordercrm";
pub const AUDIENCE: &str = "ordercrm-api";
/// Allowed clock skew between servers, in seconds.
const LEEWAY: i64 = 30;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
    /// When the user's password last changed (µs): a token from before a change is void.
    pub pwd: i64,
}

struct Key {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

/// The server's signing keys by `kid`; the first signs, all verify (for rotation).
#[derive(Clone)]
pub struct JwtKeys {
    current: String,
    keys: Arc<HashMap<String, Key>>,
}

impl JwtKeys {
    /// Keys from secrets (at least 32 bytes each); the first one signs.
    pub fn new(secrets: &[Vec<u8>]) -> Result<Self, String> {
        let mut keys = HashMap::new();
        let mut current = None;
        for secret in secrets {
            if secret.len() < 32 {
                return Err("a JWT secret must be at least 32 bytes".into());
            }
            let digest: [u8; 32] = Sha256::digest(secret).into();
            let kid = hex(&digest[..8]);
            current.get_or_insert_with(|| kid.clone());
            keys.insert(
                kid,
                Key {
                    encoding: EncodingKey::from_secret(secret),
                    decoding: DecodingKey::from_secret(secret),
                },
            );
        }
        let current = current.ok_or("no JWT secret")?;
        Ok(Self {
            current,
            keys: Arc::new(keys),
        })
    }

    pub fn issue(
        &self,
        user_id: Uuid,
        password_changed_at: DateTime<Utc>,
        now: DateTime<Utc>,
        ttl_secs: i64,
    ) -> Result<String, IdentityError> {
        let claims = Claims {
            sub: user_id.to_string(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: now.timestamp(),
            nbf: now.timestamp(),
            exp: now.timestamp() + ttl_secs,
            jti: Uuid::now_v7().simple().to_string(),
            pwd: password_changed_at.timestamp_micros(),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.current.clone());
        let key = self
            .keys
            .get(&self.current)
            .ok_or(IdentityError::BadToken)?;
        jsonwebtoken::encode(&header, &claims, &key.encoding).map_err(|_| IdentityError::BadToken)
    }

    /// The claims of a token this server signed that is valid at `now`.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Claims, IdentityError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| IdentityError::BadToken)?;
        if header.alg != Algorithm::HS256 {
            return Err(IdentityError::BadToken);
        }
        let kid = header.kid.ok_or(IdentityError::BadToken)?;
        let key = self.keys.get(&kid).ok_or(IdentityError::BadToken)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        // exp and nbf are checked below against the server's clock, not the OS's.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        let data = jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation)
            .map_err(|_| IdentityError::BadToken)?;
        let t = now.timestamp();
        if data.claims.exp + LEEWAY < t || data.claims.nbf - LEEWAY > t {
            return Err(IdentityError::BadToken);
        }
        Ok(data.claims)
    }
}

/// 32 random bytes, URL-safe, after a recognisable prefix.
pub fn random_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    // The OS RNG failing is not recoverable; an all-zero secret must never be issued.
    if getrandom::fill(&mut bytes).is_err() {
        panic!("the operating system's random number generator failed");
    }
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Whether `s` has the shape of a secret [`random_secret`] made with `prefix`.
pub fn looks_like_secret(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix).is_some_and(|rest| {
        rest.len() == 43
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// Secrets with 256 bits of entropy need no slow hash: SHA-256 is enough to make the
/// stored value useless to a thief.
pub fn hash_secret(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secret: &str) -> JwtKeys {
        JwtKeys::new(&[secret.as_bytes().to_vec()]).unwrap()
    }

    #[test]
    fn round_trip_and_time_window() {
        let k = keys("0123456789abcdef0123456789abcdef");
        let now = Utc::now();
        let user = Uuid::now_v7();
        let token = k.issue(user, now, now, 900).unwrap();
        assert_eq!(k.verify(&token, now).unwrap().sub, user.to_string());
        assert!(
            k.verify(&token, now + chrono::Duration::seconds(1000))
                .is_err()
        );
        assert!(
            k.verify(&token, now - chrono::Duration::seconds(100))
                .is_err()
        );
    }

    #[test]
    fn other_keys_and_short_secrets_are_refused() {
        let now = Utc::now();
        let token = keys("0123456789abcdef0123456789abcdef")
            .issue(Uuid::nil(), now, now, 900)
            .unwrap();
        assert!(
            keys("ffffffffffffffffffffffffffffffff")
                .verify(&token, now)
                .is_err()
        );
        assert!(JwtKeys::new(&[b"short".to_vec()]).is_err());
    }
}
