//! Argon2id password hashing. Hashing is CPU-bound on purpose, and each hash takes
//! 19 MiB, so it runs on a small pool of its own threads (two per core), never on the
//! request threads or tokio's blocking pool. The pool bounds both the CPU a flood of
//! sign-ins can take (the rest queue) and the memory: glibc keeps a freed 19 MiB block
//! in the arena of the thread that used it, so hashing on whichever of the blocking
//! pool's hundreds of threads happened to be free grew the process past a gigabyte,
//! while a fixed few threads reuse their one block each.

use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

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

type Job = Box<dyn FnOnce() + Send>;

/// The hashing threads, started on first use.
fn pool() -> &'static Mutex<Sender<Job>> {
    static POOL: OnceLock<Mutex<Sender<Job>>> = OnceLock::new();
    POOL.get_or_init(|| {
        let (tx, rx) = channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let threads = 2 * std::thread::available_parallelism().map_or(1, usize::from);
        for i in 0..threads {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    loop {
                        let job = rx.lock().unwrap_or_else(PoisonError::into_inner).recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password-hashing thread");
            }
        }
        Mutex::new(tx)
    })
}

/// Run `f` on a hashing thread.
async fn on_pool<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Error> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    pool()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .send(Box::new(move || {
            let _ = tx.send(f());
        }))
        .map_err(internal)?;
    rx.await.map_err(internal)
}

pub async fn hash(password: String) -> Result<String, Error> {
    on_pool(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(internal)
    })
    .await?
}

pub async fn verify(hash: String, password: String) -> Result<bool, Error> {
    on_pool(move || {
        let parsed = PasswordHash::new(&hash).map_err(internal)?;
        Ok(argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await?
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
