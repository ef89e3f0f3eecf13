//! The token-signing secret: from configuration, or generated once into the data
//! directory. There is no built-in secret.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use ordercrm_identity::JwtKeys;

use crate::config::Config;

const FILE: &str = "jwt-secret";

pub fn load(config: &Config) -> anyhow::Result<JwtKeys> {
    let secret = match &config.jwt_secret {
        Some(secret) => secret.0.clone(),
        None => from_data_dir(&config.data_dir)?,
    };
    JwtKeys::new(&[secret.into_bytes()]).map_err(|e| anyhow::anyhow!("ORDERCRM_JWT_SECRET: {e}"))
}

fn from_data_dir(dir: &Path) -> anyhow::Result<String> {
    let path = dir.join(FILE);
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
    let secret = ordercrm_identity::tokens::random_secret("");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(&path) {
        Ok(mut file) => {
            file.write_all(secret.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
            tracing::info!(path = %path.display(), "generated a token-signing secret");
            Ok(secret)
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => from_data_dir(dir),
        Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
    }
}
