//! Argon2id password hashing. Hashing is CPU-bound on purpose, so it runs on the
//! blocking pool and never stalls the request threads.

use std::sync::OnceLock;

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

pub async fn hash(password: String) -> Result<String, Error> {
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
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&hash).map_err(internal)?;
        Ok(argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .map_err(internal)?
}

/// Spend the same time as a real check when the account does not exist, so response
/// times do not reveal which emails have accounts.
pub async fn verify_dummy(password: String) -> Result<(), Error> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = match DUMMY.get() {
        Some(h) => h.clone(),
        None => {
            let h = hash("not-a-real-password".to_owned()).await?;
            DUMMY.get_or_init(|| h).clone()
        }
    };
    verify(dummy, password).await.map(drop)
}
