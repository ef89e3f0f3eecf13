//! Connecting and migrating. SQLite gets its settings explicitly (sea-orm's
//! defaults are one connection, rollback journal): WAL, synchronous=NORMAL, foreign
//! keys, a busy timeout, a read pool and a single-connection write pool.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, bail};
use ordercrm_kernel::Db;
use ordercrm_migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, Statement,
};

use crate::config::Config;

const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn connect(config: &Config) -> anyhow::Result<Db> {
    if config.is_sqlite() {
        connect_sqlite(&config.database_url, config.db_max_connections).await
    } else {
        let mut opts = ConnectOptions::new(&config.database_url);
        opts.max_connections(config.db_max_connections)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .sqlx_logging(false);
        let conn = Database::connect(opts)
            .await
            .with_context(|| format!("cannot connect to {}", redact(&config.database_url)))?;
        Ok(Db::new(conn.clone(), conn))
    }
}

async fn connect_sqlite(url: &str, read_connections: u32) -> anyhow::Result<Db> {
    let parsed = SqliteConnectOptions::from_str(url)
        .with_context(|| format!("DATABASE_URL '{url}' is not a SQLite URL"))?;
    if let Some(dir) = parsed.get_filename().parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    }
    let pool = |max: u32| {
        let mut opts = ConnectOptions::new(url);
        opts.max_connections(max)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(|o| {
                o.create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT)
            });
        opts
    };
    // The writer first: it creates the file and switches it to WAL.
    let write = Database::connect(pool(1))
        .await
        .with_context(|| format!("cannot open {url}"))?;
    let read = Database::connect(pool(read_connections))
        .await
        .with_context(|| format!("cannot open {url}"))?;
    Ok(Db::new(read, write))
}

/// Apply pending migrations, refusing a database that a newer ordercrm migrated.
pub async fn migrate(db: &Db) -> anyhow::Result<Vec<String>> {
    let conn = db.writer();
    refuse_newer(conn).await?;
    let pending: Vec<String> = Migrator::get_pending_migrations(conn)
        .await?
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    if pending.is_empty() {
        return Ok(pending);
    }
    #[allow(clippy::disallowed_methods)] // migrations run outside any request
    let txn = db.begin().await?;
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        // Instances starting together must not migrate together.
        txn.execute_raw(Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT pg_advisory_xact_lock(7324010000)",
        ))
        .await?;
    }
    Migrator::up(&txn, None).await.context("migration failed")?;
    txn.commit().await?;
    Ok(pending)
}

async fn refuse_newer(conn: &DatabaseConnection) -> anyhow::Result<()> {
    let known = ordercrm_migrations::known_versions();
    let applied = Migrator::get_migration_models(conn).await?;
    let unknown: Vec<&str> = applied
        .iter()
        .map(|m| m.version.as_str())
        .filter(|v| !known.iter().any(|k| k == v))
        .collect();
    if !unknown.is_empty() {
        bail!(
            "this database was migrated by a newer ordercrm (unknown schema versions: {}); \
             run that version or newer, this binary ({}) knows schema up to {}",
            unknown.join(", "),
            env!("CARGO_PKG_VERSION"),
            known.last().map_or("none", String::as_str)
        );
    }
    Ok(())
}

/// A database URL safe to print: the password replaced.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &creds[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

pub fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    SqliteConnectOptions::from_str(url)
        .ok()
        .map(|o| Path::new(o.get_filename()).to_path_buf())
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_passwords() {
        assert_eq!(
            super::redact("postgres://app:s3cret@db:5432/ordercrm"),
            "postgres://app:***@db:5432/ordercrm"
        );
        assert_eq!(super::redact("postgres://app@db/x"), "postgres://app@db/x");
    }
}
