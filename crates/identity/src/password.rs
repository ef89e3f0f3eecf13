//! Argon2id password hashing. Hashing is CPU-bound on purpose, so it runs on the
//! blocking pool and never stalls the request threads; and each hash takes 19 MiB,
//! so at most two per core run at once (a flood of sign-ins queues instead of
//! growing memory by 19 MiB a request).

use std::sync::OnceLock;

use tokio::sync::Semaphore;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use ordercrm_kernel::Error;

/// OWASP's baseline for argon2id: 19 MiB, 2 passes, 1 lane.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn internal(e: impl std::fmt::Display) -> Error {
    Error::internal(std::io::Error::other(format!("password hashing: {e}")))
}

fn permits() -> &'static Semaphore {
    static PERMITS: OnceLock<Semaphore> = OnceLock::new();
    PERMITS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Semaphore::new(cores * 2)
    })
}

pub async fn hash(password: String) -> Result<String, Error> {
    let _permit = permits().acquire().await.map_err(internal)?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(internal)
    })
    .await
    .map_err(internal)?
}

pub async fn verify(hash: String, password: String) -> Result<bool, Error> {
    let _permit = permits().acquire().await.map_err(internal)?;
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&hash).map_err(internal)?;
        Ok(argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .map_err(internal)?
}

/// A hash of a random password nobody knows, with the same parameters as real ones:
/// an unknown email is checked against it, so it costs exactly what a real check
/// costs and response times do not reveal which emails have accounts.
pub const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$2dV6T4ojIiHFpgaBDpTk+g$7ZZt4+Q6B36qCZ2YKHoHf23tar/FwW+DHi6hdW7Ssrw";

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    #[tokio::test]
    async fn the_dummy_hash_is_a_real_one_with_our_parameters() {
        let ours = super::hash("x".repeat(12)).await.unwrap();
        let params = |h: &str| h.split('$').nth(3).map(str::to_owned);
        assert_eq!(params(&ours), params(super::DUMMY_HASH));
        assert!(
            !super::verify(super::DUMMY_HASH.to_owned(), "x".repeat(12))
                .await
                .unwrap()
        );
    }
}
