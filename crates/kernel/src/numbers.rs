//! Human document numbers (`C-000123`, `SO-000042`): one counter row per kind,
//! incremented in the caller's transaction. The row lock serialises concurrent
//! creators on PostgreSQL; SQLite has one writer. A rolled-back transaction gives
//! its number back, so numbers have no gaps from failures.

use sea_orm::{ConnectionTrait, DatabaseTransaction, DbErr, Statement};

pub async fn next(txn: &DatabaseTransaction, kind: &str) -> Result<i64, DbErr> {
    let backend = txn.get_database_backend();
    let upsert = match backend {
        sea_orm::DatabaseBackend::Postgres => {
            "INSERT INTO counters (name, value) VALUES ($1, 1) \
             ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value"
        }
        _ => {
            "INSERT INTO counters (name, value) VALUES (?, 1) \
             ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value"
        }
    };
    let row = txn
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            upsert,
            [kind.into()],
        ))
        .await?
        .ok_or_else(|| DbErr::Custom(format!("counter {kind} returned nothing")))?;
    row.try_get_by_index::<i64>(0)
}

/// Take `n` numbers of `kind` at once; the first of them (`n` ≥ 1).
pub async fn next_n(txn: &DatabaseTransaction, kind: &str, n: i64) -> Result<i64, DbErr> {
    let backend = txn.get_database_backend();
    let upsert = match backend {
        sea_orm::DatabaseBackend::Postgres => {
            "INSERT INTO counters (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET value = counters.value + $2 RETURNING value"
        }
        _ => {
            "INSERT INTO counters (name, value) VALUES (?1, ?2) \
             ON CONFLICT (name) DO UPDATE SET value = counters.value + ?2 RETURNING value"
        }
    };
    let row = txn
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            upsert,
            [kind.into(), n.into()],
        ))
        .await?
        .ok_or_else(|| DbErr::Custom(format!("counter {kind} returned nothing")))?;
    Ok(row.try_get_by_index::<i64>(0)? - n + 1)
}

/// `C-` and 123 → `C-000123`.
pub fn format(prefix: &str, value: i64) -> String {
    format!("{prefix}{value:06}")
}
