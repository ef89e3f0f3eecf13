//! The token-signing secret: from configuration, or generated once into the data
//! directory. There is no built-in secret.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use ordercrm_identity::JwtKeys;
use ordercrm_kernel::crypto::FieldCipher;

use crate::config::Config;

const FILE: &str = "jwt-secret";

pub fn load(config: &Config) -> anyhow::Result<JwtKeys> {
    let secret = match &config.jwt_secret {
        Some(secret) => secret.0.clone(),
        None => from_data_dir(&config.data_dir)?,
    };
    JwtKeys::new(&[secret.into_bytes()]).map_err(|e| anyhow::anyhow!("ORDERCRM_JWT_SECRET: {e}"))
}

const DATA_KEY_FILE: &str = "data-key";

pub fn decode_data_key(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()
        .filter(|k| k.len() == 32)
}

/// The field-encryption key: configured, or generated once next to the database.
pub fn load_data_key(config: &Config) -> anyhow::Result<FieldCipher> {
    let text = match &config.data_key {
        Some(key) => key.0.clone(),
        None => from_data_dir_file(&config.data_dir, DATA_KEY_FILE, || {
            use base64::Engine;
            use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
            // 32 bytes from the OS RNG, stored in standard base64 like a configured key.
            let random = ordercrm_identity::tokens::random_secret("");
            STANDARD.encode(URL_SAFE_NO_PAD.decode(random).unwrap_or_default())
        })?,
    };
    let key = decode_data_key(&text).context("the data key must be 32 bytes, base64-encoded")?;
    FieldCipher::new(&key).map_err(|e| anyhow::anyhow!(e))
}

fn from_data_dir(dir: &Path) -> anyhow::Result<String> {
    from_data_dir_file(dir, FILE, || ordercrm_identity::tokens::random_secret(""))
}

/// The secret in `dir/file`, created with `make` (mode 0600) when absent.
fn from_data_dir_file(dir: &Path, file: &str, make: impl Fn() -> String) -> anyhow::Result<String> {
    let path = dir.join(file);
    match std::fs::read_to_string(&path) {
        Ok(s) if s.trim().len() >= 32 => return Ok(s.trim().to_owned()),
        Ok(_) => bail!(
            "{} is shorter than 32 bytes; delete it to generate a new one",
            path.display()
        ),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(e).with_context(|| format!("cannot read {}", path.display()));
        }
        Err(_) => {}
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let secret = make();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(&path) {
        Ok(mut file) => {
            file.write_all(secret.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
            tracing::info!(path = %path.display(), "generated a secret; back it up");
            Ok(secret)
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            from_data_dir_file(dir, file, make)
        }
        Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
    }
}
