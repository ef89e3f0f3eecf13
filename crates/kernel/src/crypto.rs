//! Field encryption at rest (AES-256-GCM) for values such as tax ids and bank
//! accounts. A stored value is `v1:<base64(nonce || ciphertext)>`; the version prefix
//! leaves room for key rotation.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::error::Error;

const PREFIX: &str = "v1:";

#[derive(Clone)]
pub struct FieldCipher {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for FieldCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FieldCipher(<key redacted>)")
    }
}

fn failure(what: &str) -> Error {
    Error::internal(std::io::Error::other(format!("field encryption: {what}")))
}

impl FieldCipher {
    /// From a 32-byte key.
    pub fn new(key: &[u8]) -> Result<Self, String> {
        let cipher = Aes256Gcm::new_from_slice(key)
            .map_err(|_| "the data key must be exactly 32 bytes".to_owned())?;
        Ok(Self { cipher })
    }

    pub fn encrypt(&self, plaintext: &str) -> Result<String, Error> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(&nonce, plaintext.as_bytes())
            .map_err(|_| failure("encrypt"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{}", STANDARD.encode(out)))
    }

    pub fn decrypt(&self, stored: &str) -> Result<String, Error> {
        let raw = stored
            .strip_prefix(PREFIX)
            .and_then(|b| STANDARD.decode(b).ok())
            .filter(|r| r.len() > 12)
            .ok_or_else(|| failure("not a value this key sealed"))?;
        let (nonce, sealed) = raw.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| failure("short nonce"))?;
        let plain = self
            .cipher
            .decrypt(&Nonce::from(nonce), sealed)
            .map_err(|_| failure("wrong key or tampered value"))?;
        String::from_utf8(plain).map_err(|_| failure("not UTF-8"))
    }
}

/// `91310000MA1FL1234X` → `••••••••••••••234X`: enough to recognise, not to use.
pub fn mask(value: &str) -> String {
    let n = value.chars().count();
    let keep = if n > 8 { 4 } else { n / 4 };
    value
        .chars()
        .enumerate()
        .map(|(i, c)| if i + keep < n { '•' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_randomised_and_authenticated() {
        let c = FieldCipher::new(&[7u8; 32]).unwrap();
        let a = c.encrypt("91310000MA1FL1234X").unwrap();
        let b = c.encrypt("91310000MA1FL1234X").unwrap();
        assert_ne!(a, b, "a fresh nonce each time");
        assert!(!a.contains("1234X"));
        assert_eq!(c.decrypt(&a).unwrap(), "91310000MA1FL1234X");
        let other = FieldCipher::new(&[8u8; 32]).unwrap();
        assert!(other.decrypt(&a).is_err());
        let mut tampered = a.clone();
        tampered.pop();
        tampered.push('A');
        assert!(
            c.decrypt(&tampered).is_err() || c.decrypt(&tampered).unwrap() != "91310000MA1FL1234X"
        );
        assert!(FieldCipher::new(&[1u8; 16]).is_err());
    }

    #[test]
    fn masks_all_but_the_tail() {
        assert_eq!(mask("91310000MA1FL1234X"), "••••••••••••••234X");
        assert_eq!(mask("1234"), "•••4");
    }
}
