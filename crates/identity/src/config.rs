use std::time::Duration;

use crate::tokens::JwtKeys;

/// Identity settings, validated by the server's configuration.
#[derive(Clone)]
pub struct IdentityConfig {
    pub keys: JwtKeys,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    /// How wrong passwords for one account from one source are answered.
    pub throttle: crate::throttle::Policy,
}

impl std::fmt::Debug for IdentityConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityConfig")
            .field("keys", &"<redacted>")
            .field("access_ttl", &self.access_ttl)
            .field("refresh_ttl", &self.refresh_ttl)
            .finish_non_exhaustive()
    }
}

impl IdentityConfig {
    pub fn new(keys: JwtKeys) -> Self {
        Self {
            keys,
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            throttle: crate::throttle::Policy::default(),
        }
    }
}
