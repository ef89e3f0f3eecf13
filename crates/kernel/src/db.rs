//! The database handle. On SQLite, reads go to a pool of connections that run in
//! parallel under WAL, and writes go to a single connection that begins every
//! transaction IMMEDIATE: writers queue in the pool (fair, async) instead of
//! spinning in SQLite's busy handler, and a read that later upgrades to a write
//! can never fail with SQLITE_BUSY mid-transaction. On PostgreSQL both are one pool.

use sea_orm::{
    DatabaseBackend, DatabaseConnection, DatabaseTransaction, DbErr, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};

#[derive(Debug, Clone)]
pub struct Db {
    read: DatabaseConnection,
    write: DatabaseConnection,
}

impl Db {
    pub fn new(read: DatabaseConnection, write: DatabaseConnection) -> Self {
        Self { read, write }
    }

    /// For reads outside a transaction.
    pub fn reader(&self) -> &DatabaseConnection {
        &self.read
    }

    /// For single statements that write outside a domain transaction (and migrations).
    pub fn writer(&self) -> &DatabaseConnection {
        &self.write
    }

    pub fn backend(&self) -> DatabaseBackend {
        self.write.get_database_backend()
    }

    /// Begin a write transaction (IMMEDIATE on SQLite).
    pub async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        self.write
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..Default::default()
            })
            .await
    }

    pub async fn close(self) -> Result<(), DbErr> {
        let one_pool = self.backend() != DatabaseBackend::Sqlite;
        self.write.close().await?;
        if !one_pool {
            self.read.close().await?;
        }
        Ok(())
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
