//! The database handle. On SQLite, reads go to a pool of connections that run in
//! parallel under WAL, and writes go to a single connection that begins every
//! transaction IMMEDIATE: writers queue in the pool (fair, async) instead of
//! spinning in SQLite's busy handler, and a read that later upgrades to a write
//! can never fail with SQLITE_BUSY mid-transaction. On PostgreSQL both are one pool,
//! and when there are connections enough each HTTP worker has a pool of its own
//! ([`WorkerPools`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use sea_orm::{
    ConnectOptions, Database, DatabaseBackend, DatabaseConnection, DatabaseTransaction, DbErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

#[derive(Debug, Clone)]
pub struct Db {
    read: DatabaseConnection,
    write: DatabaseConnection,
    /// A worker's: the process's pool, used while the worker's own is all in use
    /// (a worker whose requests wait on a lock must not fail while others idle).
    overflow: Option<DatabaseConnection>,
    /// Set when the HTTP workers have pools of their own.
    workers: Option<Arc<WorkerPools>>,
    /// One worker's handles share it; when none is left, the worker is gone.
    lease: Option<Arc<()>>,
}

/// One pool as `/metrics` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStat {
    pub pool: &'static str,
    pub size: u32,
    pub idle: usize,
    pub max: u32,
}

impl PoolStat {
    fn of(pool: &'static str, conn: &DatabaseConnection) -> Self {
        match conn.get_database_backend() {
            DatabaseBackend::Sqlite => {
                let p = conn.get_sqlite_connection_pool();
                Self {
                    pool,
                    size: p.size(),
                    idle: p.num_idle(),
                    max: p.options().get_max_connections(),
                }
            }
            _ => {
                let p = conn.get_postgres_connection_pool();
                Self {
                    pool,
                    size: p.size(),
                    idle: p.num_idle(),
                    max: p.options().get_max_connections(),
                }
            }
        }
    }
}

impl Db {
    pub fn new(read: DatabaseConnection, write: DatabaseConnection) -> Self {
        Self {
            read,
            write,
            overflow: None,
            workers: None,
            lease: None,
        }
    }

    /// The worker's own pool, or the overflow when every one of its connections is
    /// in use.
    fn pick<'a>(&'a self, own: &'a DatabaseConnection) -> &'a DatabaseConnection {
        match &self.overflow {
            Some(overflow) if saturated(own) => overflow,
            _ => own,
        }
    }

    /// For reads outside a transaction.
    pub fn reader(&self) -> &DatabaseConnection {
        self.pick(&self.read)
    }

    /// For single statements that write outside a domain transaction (and migrations).
    pub fn writer(&self) -> &DatabaseConnection {
        self.pick(&self.write)
    }

    pub fn backend(&self) -> DatabaseBackend {
        self.write.get_database_backend()
    }

    /// Begin a write transaction (IMMEDIATE on SQLite).
    pub async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        self.writer()
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..Default::default()
            })
            .await
    }

    /// The handle an HTTP worker serves requests with: a pool of its own when the
    /// process has [`WorkerPools`], this handle otherwise. Call it on the worker's
    /// thread: the pool's connections are opened, and driven, by its runtime.
    pub fn for_worker(&self) -> Db {
        match self.workers.as_ref().map(|w| w.open()) {
            Some(Ok(db)) => db,
            Some(Err(err)) => {
                tracing::warn!(error = %err, "a worker pool could not be made; this worker shares the background pool");
                self.clone()
            }
            None => self.clone(),
        }
    }

    /// Every pool of the process: `read` and `write` on SQLite; on PostgreSQL one
    /// `shared` pool, or `background` and `requests` (the workers' pools summed).
    pub fn pool_stats(&self) -> Vec<PoolStat> {
        if self.backend() == DatabaseBackend::Sqlite {
            return vec![
                PoolStat::of("read", &self.read),
                PoolStat::of("write", &self.write),
            ];
        }
        match &self.workers {
            None => vec![PoolStat::of("shared", &self.write)],
            Some(workers) => workers.stats(),
        }
    }

    /// Close every pool; on the handle the process started with, the workers' too.
    pub async fn close(self) -> Result<(), DbErr> {
        if self.lease.is_none()
            && let Some(workers) = &self.workers
        {
            workers.close().await;
        }
        let one_pool = self.backend() != DatabaseBackend::Sqlite;
        self.write.close().await?;
        if !one_pool {
            self.read.close().await?;
        }
        Ok(())
    }
}

/// How long after a lost connection every pooled connection is checked before use.
const SUSPECT_FOR: Duration = Duration::from_secs(10);
static SUSPECT_UNTIL_MS: AtomicU64 = AtomicU64::new(0);
static EPOCH: OnceLock<Instant> = OnceLock::new();

fn now_ms() -> u64 {
    u64::try_from(EPOCH.get_or_init(Instant::now).elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// A request met a dead connection (the database restarted, a backend was
/// terminated): for a while, every pooled connection is pinged before use, so the
/// other dead ones are replaced before a request meets them. Pinging before every
/// use all the time would cost a round trip per transaction.
pub fn connection_lost() {
    let until = now_ms().saturating_add(u64::try_from(SUSPECT_FOR.as_millis()).unwrap_or(0));
    SUSPECT_UNTIL_MS.fetch_max(until, Ordering::Relaxed);
}

/// Whether pooled connections are to be checked before use ([`connection_lost`]).
pub fn connections_suspect() -> bool {
    now_ms() < SUSPECT_UNTIL_MS.load(Ordering::Relaxed)
}

/// Whether `err` says the connection to the database is gone (rather than that a
/// statement failed): an I/O or protocol error, or PostgreSQL's connection
/// exceptions (SQLSTATE class 08) and shutdowns (57P01 to 57P03).
pub fn is_connection_lost(err: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    let sqlx = match err {
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => e,
        _ => return false,
    };
    match &**sqlx {
        sea_orm::sqlx::Error::Io(_) | sea_orm::sqlx::Error::Protocol(_) => true,
        sea_orm::sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03")),
        _ => false,
    }
}

/// Every connection of a PostgreSQL pool is in use and it may open no more.
fn saturated(conn: &DatabaseConnection) -> bool {
    if conn.get_database_backend() != DatabaseBackend::Postgres {
        return false;
    }
    let pool = conn.get_postgres_connection_pool();
    pool.num_idle() == 0 && pool.size() >= pool.options().get_max_connections()
}

/// On PostgreSQL, a pool for each HTTP worker beside the process's own (which
/// background work keeps). A connection's socket is driven by the runtime that
/// opened it; with one pool shared by the workers' runtimes most round trips had
/// to wake another thread. The caller shares out the configured maximum: the
/// background pool's and the workers' maxima add up to no more than it.
pub struct WorkerPools {
    background: DatabaseConnection,
    /// How each worker's pool is made (connected lazily).
    options: ConnectOptions,
    /// Every worker's pool, with its worker's lease.
    opened: Mutex<Vec<(Weak<()>, DatabaseConnection)>>,
}

/// By hand: the options hold the database URL, password included.
impl std::fmt::Debug for WorkerPools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerPools")
            .field("per_worker", &self.options.get_max_connections())
            .finish_non_exhaustive()
    }
}

impl WorkerPools {
    /// `background` is the pool the process connected; `per_worker` makes each
    /// worker's. Returns the process's handle.
    pub fn split(background: DatabaseConnection, mut per_worker: ConnectOptions) -> Db {
        per_worker.connect_lazy(true);
        let workers = Arc::new(Self {
            background: background.clone(),
            options: per_worker,
            opened: Mutex::new(Vec::new()),
        });
        Db {
            read: background.clone(),
            write: background,
            overflow: None,
            workers: Some(workers),
            lease: None,
        }
    }

    fn open(self: &Arc<Self>) -> Result<Db, DbErr> {
        // A lazy pool opens nothing until asked: the future is ready at once.
        let conn = Database::connect(self.options.clone())
            .now_or_never()
            .unwrap_or_else(|| Err(DbErr::Custom("a lazy pool did not connect at once".into())))?;
        let lease = Arc::new(());
        let mut opened = self.opened.lock().unwrap_or_else(PoisonError::into_inner);
        // A worker actix replaced (its thread died) leaves its pool behind: the
        // pool goes with the last handle, so the maxima never add up past the budget.
        opened.retain(|(lease, _)| lease.strong_count() > 0);
        opened.push((Arc::downgrade(&lease), conn.clone()));
        Ok(Db {
            read: conn.clone(),
            write: conn,
            overflow: Some(self.background.clone()),
            workers: Some(self.clone()),
            lease: Some(lease),
        })
    }

    fn stats(&self) -> Vec<PoolStat> {
        let opened = self.opened.lock().unwrap_or_else(PoisonError::into_inner);
        let requests = opened
            .iter()
            .filter(|(lease, _)| lease.strong_count() > 0)
            .map(|(_, conn)| PoolStat::of("requests", conn))
            .fold(
                PoolStat {
                    pool: "requests",
                    size: 0,
                    idle: 0,
                    max: 0,
                },
                |sum, p| PoolStat {
                    size: sum.size + p.size,
                    idle: sum.idle + p.idle,
                    max: sum.max + p.max,
                    ..sum
                },
            );
        vec![PoolStat::of("background", &self.background), requests]
    }

    /// Close the workers' pools (after the workers stopped).
    async fn close(&self) {
        let pools: Vec<DatabaseConnection> = self
            .opened
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
            .map(|(_, conn)| conn)
            .collect();
        for conn in pools {
            // A stopped worker's runtime cannot drive its sockets any more: what
            // cannot say goodbye is dropped, which closes it all the same.
            match tokio::time::timeout(std::time::Duration::from_secs(5), conn.close()).await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => tracing::debug!(error = %err, "closing a worker pool"),
                Err(_) => tracing::debug!("a worker pool did not close within 5 s"),
            }
        }
    }
}

/// The SQLSTATE (PostgreSQL) or extended result code (SQLite) of a database error,
/// for the few codes a caller handles: `55P03` lock_not_available, `40001`
/// serialization_failure.
pub fn error_code(err: &DbErr) -> Option<String> {
    use sea_orm::RuntimeErr;
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            match &**e {
                sea_orm::sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Serialize, until `txn` ends, the writers that check the same rule for the same
/// value (`"customer.email:jane@example.com"`): a check-then-insert that no unique
/// index can enforce (duplicates may be allowed on request) must not let two
/// concurrent requests both see "none yet". On PostgreSQL a transaction-scoped
/// advisory lock on the key's hash (only requests for the same value wait; a hash
/// collision makes two unrelated values wait, never wrongly pass). On SQLite every
/// write transaction already holds the one writer lock.
pub async fn lock_for_check(txn: &DatabaseTransaction, key: &str) -> Result<(), DbErr> {
    use sea_orm::{ConnectionTrait, Statement};
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        txn.execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            [key.into()],
        ))
        .await?;
    }
    Ok(())
}

/// [`lock_for_check`]'s shared side: many holders of `key` at once, none while one
/// holds it exclusively (orders of one customer go side by side; a merge of that
/// customer waits for them, and they for it).
pub async fn share_for_check(txn: &DatabaseTransaction, key: &str) -> Result<(), DbErr> {
    use sea_orm::{ConnectionTrait, Statement};
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        txn.execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_advisory_xact_lock_shared(hashtextextended($1, 0))",
            [key.into()],
        ))
        .await?;
    }
    Ok(())
}

/// A read-only transaction whose statements all see one snapshot: a read that
/// takes several statements (a row, then what hangs off it) never shows half of
/// another transaction's commit. PostgreSQL: REPEATABLE READ, READ ONLY. SQLite:
/// a plain transaction (a WAL reader keeps the snapshot of its first read).
pub async fn snapshot(conn: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    use sea_orm::TransactionTrait;
    if conn.get_database_backend() == DatabaseBackend::Postgres {
        return conn
            .begin_with_config(
                Some(sea_orm::IsolationLevel::RepeatableRead),
                Some(sea_orm::AccessMode::ReadOnly),
            )
            .await;
    }
    conn.begin().await
}
