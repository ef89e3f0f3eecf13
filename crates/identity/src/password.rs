//! Argon2id password hashing. Hashing is CPU-bound on purpose, and each hash needs
//! 19 MiB, so it runs on a small pool of its own threads (one per core), never on the
//! request threads or tokio's blocking pool, and each of those threads hashes in one
//! buffer it keeps: memory for hashing is one buffer per core, however many sign-ins
//! arrive (the rest queue). Letting argon2 allocate per hash on whichever blocking
//! thread was free grew the process past a gigabyte: glibc keeps freed blocks in the
//! arena of the thread that used them.

use std::cell::RefCell;
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use ordercrm_kernel::Error;

/// OWASP's baseline for argon2id: 19 MiB, 2 passes, 1 lane.
fn params() -> Params {
    Params::new(19 * 1024, 2, 1, None).unwrap_or_default()
}

fn internal(e: impl std::fmt::Display) -> Error {
    Error::internal(std::io::Error::other(format!("password hashing: {e}")))
}

thread_local! {
    /// This hashing thread's argon2 memory, allocated on its first hash and reused.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Argon2 over `password` and `salt` with `params`, into `out`, in this thread's buffer.
fn argon2_into(
    params: &Params,
    version: Version,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), Error> {
    let argon2 = Argon2::new(Algorithm::Argon2id, version, params.clone());
    MEMORY.with(|memory| {
        let mut memory = memory.borrow_mut();
        if memory.len() < params.block_count() {
            *memory = vec![Block::new(); params.block_count()];
        }
        argon2
            .hash_password_into_with_memory(password, salt, out, &mut memory[..])
            .map_err(internal)
    })
}

fn hash_now(password: &str) -> Result<String, Error> {
    let params = params();
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_buf).map_err(internal)?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2_into(
        &params,
        Version::V0x13,
        password.as_bytes(),
        salt_bytes,
        &mut out,
    )?;
    let phc = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(internal)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(internal)?),
    };
    Ok(phc.to_string())
}

fn verify_now(hash: &str, password: &str) -> Result<bool, Error> {
    let parsed = PasswordHash::new(hash).map_err(internal)?;
    if parsed.algorithm != argon2::ARGON2ID_IDENT {
        return Err(internal("not an argon2id hash"));
    }
    let params = Params::try_from(&parsed).map_err(internal)?;
    let version = parsed
        .version
        .map_or(Ok(Version::V0x13), Version::try_from)
        .map_err(internal)?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Err(internal("the hash has no salt or output"));
    };
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_buf).map_err(internal)?;
    let mut out = vec![0u8; expected.len()];
    argon2_into(&params, version, password.as_bytes(), salt_bytes, &mut out)?;
    // Output's equality is constant-time.
    Ok(Output::new(&out).map_err(internal)? == expected)
}

type Job = Box<dyn FnOnce() + Send>;

/// The hashing threads, started on first use.
fn pool() -> &'static Mutex<Sender<Job>> {
    static POOL: OnceLock<Mutex<Sender<Job>>> = OnceLock::new();
    POOL.get_or_init(|| {
        let (tx, rx) = channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
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
    on_pool(move || hash_now(&password)).await?
}

pub async fn verify(hash: String, password: String) -> Result<bool, Error> {
    on_pool(move || verify_now(&hash, &password)).await?
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
        assert!(super::verify(ours.clone(), "x".repeat(12)).await.unwrap());
        assert!(!super::verify(ours, "y".repeat(12)).await.unwrap());
    }

    /// Hashes stored before hashing moved to a kept buffer still verify.
    #[tokio::test]
    async fn hashes_made_by_the_argon2_crate_verify() {
        use argon2::password_hash::rand_core::OsRng;
        use argon2::password_hash::{PasswordHasher, SaltString};
        let salt = SaltString::generate(&mut OsRng);
        let old = argon2::Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            super::params(),
        )
        .hash_password(b"correct horse battery", &salt)
        .unwrap()
        .to_string();
        let check = |p: &str| super::verify(old.clone(), p.to_owned());
        assert!(check("correct horse battery").await.unwrap());
        assert!(!check("wrong horse battery").await.unwrap());
    }
}
