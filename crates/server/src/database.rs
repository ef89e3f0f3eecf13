//! Connecting and migrating. SQLite gets its settings explicitly (sea-orm's
//! defaults are one connection, rollback journal): WAL, synchronous=NORMAL, foreign
//! keys, a busy timeout, a read pool and a single-connection write pool.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, bail};
use ordercrm_kernel::Db;
use ordercrm_kernel::db::WorkerPools;
use ordercrm_migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, Statement,
};

use crate::config::Config;

const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A pooled connection is pinged before use after this long idle (a server restart
/// or a dropped link shows there), and on PostgreSQL also for a while after a
/// request met a dead one ([`ordercrm_kernel::db::connection_lost`]). sea-orm's
/// default pings before every use: a round trip per transaction.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(30);

pub async fn connect(config: &Config) -> anyhow::Result<Db> {
    if config.is_sqlite() {
        return connect_sqlite(&config.database_url, config.db_max_connections).await;
    }
    let options = |max: u32| {
        let mut opts = ConnectOptions::new(&config.database_url);
        opts.max_connections(max)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .test_before_acquire_if_idle_for(PING_IF_IDLE_FOR)
            .map_sqlx_postgres_before_acquire(|conn, meta| {
                Box::pin(async move {
                    // Idle ones were pinged already; after a lost connection, all are.
                    if meta.idle_for < PING_IF_IDLE_FOR
                        && ordercrm_kernel::db::connections_suspect()
                    {
                        sea_orm::sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .sqlx_logging(false);
        opts
    };
    let budget = Budget::of(config.db_max_connections, config.workers);
    let conn = Database::connect(options(budget.background))
        .await
        .with_context(|| format!("cannot connect to {}", redact(&config.database_url)))?;
    Ok(match budget.per_worker {
        Some(per_worker) => WorkerPools::split(conn, options(per_worker)),
        None => Db::new(conn.clone(), conn),
    })
}

/// How the configured maximum of PostgreSQL connections is shared out.
#[derive(Debug, PartialEq, Eq)]
struct Budget {
    /// The process's own pool: background work (and every request, when shared).
    background: u32,
    /// Each HTTP worker's pool, when each gets enough to be worth it.
    per_worker: Option<u32>,
}

impl Budget {
    /// A quarter (2 to 8) stays with the process: the sequencer, the sweeps and
    /// the purges, and the overflow of a worker whose own connections are all in
    /// use. The rest goes to the workers in equal shares (what does not divide
    /// evenly stays with the process). Below [`MIN_PER_WORKER`] a share would leave
    /// a busy worker queueing while another idles, so everything stays one pool.
    fn of(max: u32, workers: usize) -> Self {
        let reserved = (max / 4).clamp(2, 8);
        let workers = u32::try_from(workers).unwrap_or(u32::MAX).max(1);
        let share = max.saturating_sub(reserved) / workers;
        if share >= MIN_PER_WORKER {
            Self {
                background: max - share * workers,
                per_worker: Some(share),
            }
        } else {
            Self {
                background: max,
                per_worker: None,
            }
        }
    }
}

const MIN_PER_WORKER: u32 = 4;

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
            .test_before_acquire_if_idle_for(PING_IF_IDLE_FOR)
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
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            super::redact("postgres://app:s3cret@db:5432/ordercrm"),
            "postgres://app:***@db:5432/ordercrm"
        );
        assert_eq!(super::redact("postgres://app@db/x"), "postgres://app@db/x");
    }

    #[test]
    fn the_budget_never_exceeds_the_maximum() {
        for max in 2..=1000 {
            for workers in 1..=256u32 {
                let b = Budget::of(max, workers as usize);
                let total = b.background + b.per_worker.unwrap_or(0) * workers;
                assert!(total == max, "{max} over {workers} workers: {b:?}");
                assert!(b.per_worker.is_none_or(|n| n >= MIN_PER_WORKER));
            }
        }
    }

    #[test]
    fn workers_get_pools_of_their_own_only_when_the_share_is_worth_it() {
        assert_eq!(
            Budget::of(16, 2),
            Budget {
                background: 4,
                per_worker: Some(6)
            }
        );
        assert_eq!(
            Budget::of(16, 3),
            Budget {
                background: 4,
                per_worker: Some(4)
            }
        );
        assert_eq!(
            Budget::of(16, 16),
            Budget {
                background: 16,
                per_worker: None
            }
        );
        assert_eq!(
            Budget::of(100, 16),
            Budget {
                background: 20,
                per_worker: Some(5)
            }
        );
    }
}
