//! An endpoint catching up. After a recovery, or when it is turned on again with
//! deliveries kept while it was off, an endpoint owes a backlog; a receiver that
//! was down wants it as it happened. So the endpoint sends it one delivery at a
//! time, oldest first by event position, and events that happen meanwhile wait
//! behind it (`lease::claim` asks: is an earlier delivery of this endpoint up to
//! `backlog_until` still owed, or one being sent?). A delivery that fails holds
//! the line until it succeeds or fails for good, as an ordered endpoint's does.
//! Once nothing up to the mark is owed, [`settle`] clears it and deliveries go
//! side by side again.

use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, Statement, TransactionTrait, Value,
};
use uuid::Uuid;

use super::numbered;

/// Deliveries an endpoint owes: not yet succeeded nor failed for good.
const OWED: &str = "status IN ('pending', 'paused')";

/// Start (or extend) the endpoint's catching up to everything it owes now. Call it
/// in the transaction that made deliveries owed again, after it did. Returns
/// whether there is a backlog.
pub async fn begin(conn: &impl ConnectionTrait, endpoint: Uuid) -> Result<bool, DbErr> {
    let backend = conn.get_database_backend();
    let sql = format!(
        "UPDATE webhook_endpoints SET backlog_until = (
             SELECT MAX(d.event_position) FROM webhook_deliveries d
             WHERE d.endpoint_id = webhook_endpoints.id AND d.{OWED})
         WHERE id = ?"
    );
    conn.execute_raw(Statement::from_sql_and_values(
        backend,
        numbered(backend, &sql),
        [endpoint.into()],
    ))
    .await?;
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            numbered(
                backend,
                "SELECT backlog_until FROM webhook_endpoints WHERE id = ?",
            ),
            [endpoint.into()],
        ))
        .await?;
    Ok(match row {
        Some(row) => row.try_get_by_index::<Option<i64>>(0)?.is_some(),
        None => false,
    })
}

/// The claim's condition for delivery `d` of endpoint `e`: not catching up, or
/// nothing of the backlog before it is owed and none of it is being sent. `clock`
/// is the lease clock's SQL (one bound value on SQLite).
pub(crate) fn claimable(clock: &str) -> String {
    format!(
        "(e.backlog_until IS NULL OR NOT EXISTS ( \
             SELECT 1 FROM webhook_deliveries q \
             WHERE q.endpoint_id = d.endpoint_id AND q.id <> d.id \
             AND q.{OWED} AND q.event_position <= e.backlog_until \
             AND (q.event_position < d.event_position OR q.lease_until > {clock})))"
    )
}

/// Clear the mark of endpoints whose backlog is through. Each is locked first, so
/// a recovery committing meanwhile (which raises the mark) is seen, not cleared.
/// Returns how many finished catching up.
pub async fn settle(
    conn: &DatabaseConnection,
    reader: &impl ConnectionTrait,
) -> Result<usize, DbErr> {
    let backend = conn.get_database_backend();
    let through = format!(
        "backlog_until IS NOT NULL AND NOT EXISTS (
             SELECT 1 FROM webhook_deliveries d
             WHERE d.endpoint_id = webhook_endpoints.id AND d.{OWED}
             AND d.event_position <= webhook_endpoints.backlog_until)"
    );
    let done = reader
        .query_all_raw(Statement::from_string(
            backend,
            format!("SELECT id FROM webhook_endpoints WHERE {through}"),
        ))
        .await?;
    let mut settled = 0;
    for row in done {
        let id: Uuid = row.try_get_by_index(0)?;
        let txn = conn.begin().await?;
        if backend == DatabaseBackend::Postgres {
            txn.execute_raw(Statement::from_sql_and_values(
                backend,
                "SELECT id FROM webhook_endpoints WHERE id = $1 FOR UPDATE",
                [Value::from(id)],
            ))
            .await?;
        }
        let cleared = txn
            .execute_raw(Statement::from_sql_and_values(
                backend,
                numbered(
                    backend,
                    &format!(
                        "UPDATE webhook_endpoints SET backlog_until = NULL WHERE id = ? AND {through}"
                    ),
                ),
                [Value::from(id)],
            ))
            .await?
            .rows_affected();
        txn.commit().await?;
        if cleared > 0 {
            settled += 1;
            tracing::info!(endpoint = %id, "webhook endpoint caught up");
        }
    }
    Ok(settled)
}
