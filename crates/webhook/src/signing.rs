//! Standard Webhooks signatures, so a receiver verifies with any of its published
//! libraries: HMAC-SHA256 over `{webhook-id}.{webhook-timestamp}.{body}` keyed with
//! the secret's decoded bytes, sent as `v1,` + padded base64; during a rotation one
//! signature per valid secret, space separated.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// What every secret's text starts with.
pub const PREFIX: &str = "whsec_";
/// Bytes a secret supplied by the caller may have; generated ones have 32.
pub const MIN_BYTES: usize = 24;
pub const MAX_BYTES: usize = 64;
const GENERATED_BYTES: usize = 32;

/// An endpoint's signing secret. Its `Debug` shows nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// Why a supplied secret was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("must start with whsec_")]
    Prefix,
    #[error("must be standard base64 after whsec_")]
    Encoding,
    #[error("must decode to 24 to 64 bytes")]
    Length,
    #[error("no randomness available")]
    Random,
    #[error("a message id is 1 to 64 characters of A-Z, a-z, 0-9, '_' and '-'")]
    Id,
}

/// A message id that cannot blur the signed `{id}.{timestamp}.{body}`: no `.` in it.
pub fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl Secret {
    /// 32 random bytes.
    pub fn generate() -> Result<Self, SecretError> {
        let mut bytes = vec![0; GENERATED_BYTES];
        getrandom::fill(&mut bytes).map_err(|_| SecretError::Random)?;
        Ok(Self(bytes))
    }

    /// `whsec_` + base64 of 24 to 64 bytes.
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let encoded = text.strip_prefix(PREFIX).ok_or(SecretError::Prefix)?;
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|_| SecretError::Encoding)?;
        if (MIN_BYTES..=MAX_BYTES).contains(&bytes.len()) {
            Ok(Self(bytes))
        } else {
            Err(SecretError::Length)
        }
    }

    /// The secret as it is shown once and stored (encrypted): `whsec_…`.
    pub fn expose(&self) -> String {
        format!("{PREFIX}{}", STANDARD.encode(&self.0))
    }

    /// `v1,` + base64 of the HMAC of `{id}.{timestamp}.{body}`; an id with a `.`
    /// (or anything else [`valid_id`] refuses) is not signed.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> Result<String, SecretError> {
        if !valid_id(id) {
            return Err(SecretError::Id);
        }
        // HMAC takes a key of any length.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.0) else {
            unreachable!("HMAC accepts keys of every length")
        };
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        Ok(format!(
            "v1,{}",
            STANDARD.encode(mac.finalize().into_bytes())
        ))
    }
}

/// The `webhook-signature` header: one signature per secret still valid.
pub fn signature_header(
    secrets: &[&Secret],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, SecretError> {
    Ok(secrets
        .iter()
        .map(|s| s.sign(id, timestamp, body))
        .collect::<Result<Vec<_>, _>>()?
        .join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vector the Standard Webhooks specification publishes.
    #[test]
    fn reproduces_the_specification_vector() {
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            secret.sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                br#"{"test": 2432232314}"#
            ),
            Ok("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=".to_owned())
        );
        assert_eq!(secret.sign("a.1", 2, b"{}"), Err(SecretError::Id));
        assert_eq!(secret.sign("", 2, b"{}"), Err(SecretError::Id));
    }

    #[test]
    fn one_changed_byte_changes_the_signature() {
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .unwrap_or_else(|e| panic!("{e}"));
        let a = secret.sign("msg_1", 1, br#"{"test": 2432232314}"#);
        let b = secret.sign("msg_1", 1, br#"{"test": 2432232315}"#);
        assert_ne!(a, b);
    }

    #[test]
    fn secrets_round_trip_and_are_bounded() {
        let generated = Secret::generate().unwrap_or_else(|e| panic!("{e}"));
        assert!(generated.expose().starts_with(PREFIX));
        assert_eq!(Secret::parse(&generated.expose()), Ok(generated.clone()));
        assert_eq!(format!("{generated:?}"), "Secret(…)");
        let of = |n: usize| format!("{PREFIX}{}", STANDARD.encode(vec![7u8; n]));
        assert_eq!(Secret::parse(&of(23)), Err(SecretError::Length));
        assert!(Secret::parse(&of(24)).is_ok());
        assert!(Secret::parse(&of(64)).is_ok());
        assert_eq!(Secret::parse(&of(65)), Err(SecretError::Length));
        assert_eq!(
            Secret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            Err(SecretError::Prefix)
        );
        assert_eq!(
            Secret::parse("whsec_not base64!"),
            Err(SecretError::Encoding)
        );
    }

    #[test]
    fn a_rotation_sends_both_signatures() {
        let old = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .unwrap_or_else(|e| panic!("{e}"));
        let new = Secret::generate().unwrap_or_else(|e| panic!("{e}"));
        let header =
            signature_header(&[&new, &old], "msg_1", 5, b"{}").unwrap_or_else(|e| panic!("{e}"));
        let parts: Vec<String> = header.split(' ').map(str::to_owned).collect();
        assert_eq!(
            parts,
            [new.sign("msg_1", 5, b"{}"), old.sign("msg_1", 5, b"{}")]
                .map(|s| s.unwrap_or_else(|e| panic!("{e}")))
        );
    }
}
