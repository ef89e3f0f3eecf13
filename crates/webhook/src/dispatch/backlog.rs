//! An endpoint catching up. After a recovery, or when it is turned on again with
//! deliveries kept while it was off, an endpoint owes a backlog, and a receiver
//! that was down wants it as it happened. So it is sent one delivery at a time,
//! oldest first by event position: the one in front is `pending`, the rest of the
//! line waits `paused` (so the claim never looks at it, however long the line),
//! and events that happen meanwhile join the end (the fan-out makes them paused).
//!
//! When the one in front has had its attempt, [`advance`] lets the next go. One
//! that failed steps out of the line and retries on its own schedule: a delivery
//! the receiver refuses must not hold every later one for the days its retries
//! take (and run the endpoint into being turned off). With nothing left paused,
//! the endpoint has caught up and deliveries go side by side again.
//!
//! Every change here holds the endpoint's row first (as turning it on or off and
//! the fan-out do), so the line is never changed by two at once. The dispatcher's
//! sweep calls [`advance`] too, for a line whose front finished without it (a
//! server that stopped mid-way).

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, Statement, TransactionTrait, Value,
};
use uuid::Uuid;

use super::numbered;

/// Hold the endpoint's row for this transaction (PostgreSQL; SQLite's one writer
/// already does). Returns since when it catches up and whether it is on; `None`
/// when it is gone.
async fn hold(
    conn: &impl ConnectionTrait,
    endpoint: Uuid,
) -> Result<Option<(Option<DateTime<Utc>>, bool)>, DbErr> {
    let backend = conn.get_database_backend();
    let lock = if backend == DatabaseBackend::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            numbered(
                backend,
                &format!(
                    "SELECT catching_up_since, enabled FROM webhook_endpoints WHERE id = ?{lock}"
                ),
            ),
            [endpoint.into()],
        ))
        .await?;
    row.map(|row| Ok((row.try_get_by_index(0)?, row.try_get_by_index(1)?)))
        .transpose()
}

/// Whether the endpoint is catching up, without holding it (a first look).
pub(crate) async fn is_catching_up(
    conn: &impl ConnectionTrait,
    endpoint: Uuid,
) -> Result<bool, DbErr> {
    let backend = conn.get_database_backend();
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            numbered(
                backend,
                "SELECT catching_up_since FROM webhook_endpoints WHERE id = ?",
            ),
            [endpoint.into()],
        ))
        .await?;
    Ok(match row {
        Some(row) => row.try_get_by_index::<Option<DateTime<Utc>>>(0)?.is_some(),
        None => false,
    })
}

/// `lease_until` is live, by the clock leases follow (the database's on
/// PostgreSQL, `now` on SQLite).
fn leased(backend: DatabaseBackend, now: DateTime<Utc>) -> (String, Vec<Value>) {
    match backend {
        DatabaseBackend::Postgres => ("lease_until > statement_timestamp()".to_owned(), Vec::new()),
        _ => ("lease_until > ?".to_owned(), vec![now.into()]),
    }
}

/// Start catching up on everything the endpoint owes (or start again, after it
/// was turned off meanwhile): all of it waits paused in line, except what is
/// being sent right now (left to finish), and the oldest goes. On an endpoint that
/// is off the line waits until it is turned on (which begins again). Call it after
/// the change that made deliveries owed, in its transaction. Returns whether
/// there is a line.
pub async fn begin(
    conn: &impl ConnectionTrait,
    endpoint: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let Some((_, enabled)) = hold(conn, endpoint).await? else {
        return Ok(false);
    };
    set_since(conn, endpoint, Some(now)).await?;
    if !enabled {
        return Ok(true);
    }
    let backend = conn.get_database_backend();
    let (live, live_values) = leased(backend, now);
    let mut values: Vec<Value> = vec![endpoint.into()];
    values.extend(live_values);
    conn.execute_raw(Statement::from_sql_and_values(
        backend,
        numbered(
            backend,
            &format!(
                "UPDATE webhook_deliveries SET status = 'paused' \
                 WHERE endpoint_id = ? AND status = 'pending' \
                 AND NOT (lease_until IS NOT NULL AND {live})"
            ),
        ),
        values,
    ))
    .await?;
    Ok(!advance(conn, endpoint, now).await?)
}

/// Let the next in line go when nothing of the endpoint is under way (due, or
/// being sent); with no one left in line, end the catching up. Holds the
/// endpoint's row; call it in the transaction that recorded an attempt (or on its
/// own). Returns whether the endpoint caught up.
pub async fn advance(
    conn: &impl ConnectionTrait,
    endpoint: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    // Off: its line waits as it is. Not catching up: nothing to do.
    let Some((Some(_), true)) = hold(conn, endpoint).await? else {
        return Ok(false);
    };
    let backend = conn.get_database_backend();
    let (live, live_values) = leased(backend, now);
    let mut values: Vec<Value> = vec![endpoint.into(), now.into()];
    values.extend(live_values);
    let under_way = conn
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            numbered(
                backend,
                &format!(
                    "SELECT 1 FROM webhook_deliveries \
                     WHERE endpoint_id = ? AND status = 'pending' \
                     AND (next_attempt_at <= ? OR {live}) LIMIT 1"
                ),
            ),
            values,
        ))
        .await?
        .is_some();
    if under_way {
        return Ok(false);
    }
    // The next due goes. Those ahead of it waiting for a retry keep their time (a
    // receiver's Retry-After included): they step out, and the line goes on.
    let next: Option<(Uuid, i64)> = conn
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            numbered(
                backend,
                "SELECT id, event_position FROM webhook_deliveries \
                 WHERE endpoint_id = ? AND status = 'paused' AND next_attempt_at <= ? \
                 ORDER BY event_position LIMIT 1",
            ),
            [endpoint.into(), now.into()],
        ))
        .await?
        .map(|row| Ok::<_, DbErr>((row.try_get_by_index(0)?, row.try_get_by_index(1)?)))
        .transpose()?;
    conn.execute_raw(Statement::from_sql_and_values(
        backend,
        numbered(
            backend,
            "UPDATE webhook_deliveries SET status = 'pending' \
             WHERE endpoint_id = ? AND status = 'paused' AND next_attempt_at > ? \
             AND event_position < ?",
        ),
        [
            endpoint.into(),
            now.into(),
            next.map_or(i64::MAX, |(_, position)| position).into(),
        ],
    ))
    .await?;
    match next {
        Some((next, _)) => {
            go(conn, next).await?;
            Ok(false)
        }
        None => {
            set_since(conn, endpoint, None).await?;
            tracing::info!(endpoint = %endpoint, "webhook endpoint caught up");
            Ok(true)
        }
    }
}

/// Let `delivery` go (at its time).
async fn go(conn: &impl ConnectionTrait, delivery: Uuid) -> Result<(), DbErr> {
    let backend = conn.get_database_backend();
    conn.execute_raw(Statement::from_sql_and_values(
        backend,
        numbered(
            backend,
            "UPDATE webhook_deliveries SET status = 'pending' WHERE id = ? AND status = 'paused'",
        ),
        [delivery.into()],
    ))
    .await
    .map(drop)
}

async fn set_since(
    conn: &impl ConnectionTrait,
    endpoint: Uuid,
    since: Option<DateTime<Utc>>,
) -> Result<(), DbErr> {
    let backend = conn.get_database_backend();
    // A start keeps the first start's time.
    let sql = if since.is_some() {
        "UPDATE webhook_endpoints SET catching_up_since = COALESCE(catching_up_since, ?) WHERE id = ?"
    } else {
        "UPDATE webhook_endpoints SET catching_up_since = ? WHERE id = ? \
         AND catching_up_since IS NOT NULL"
    };
    conn.execute_raw(Statement::from_sql_and_values(
        backend,
        numbered(backend, sql),
        [since.into(), endpoint.into()],
    ))
    .await
    .map(drop)
}

/// Move every line whose front finished without moving it on (the sweep's part).
/// Returns how many endpoints caught up.
pub async fn settle(
    conn: &DatabaseConnection,
    reader: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<usize, DbErr> {
    let backend = conn.get_database_backend();
    let (live, live_values) = leased(backend, now);
    let mut values: Vec<Value> = vec![now.into()];
    values.extend(live_values);
    let stalled = reader
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            numbered(
                backend,
                &format!(
                    "SELECT e.id FROM webhook_endpoints e \
                     WHERE e.catching_up_since IS NOT NULL AND e.enabled AND NOT EXISTS ( \
                         SELECT 1 FROM webhook_deliveries d \
                         WHERE d.endpoint_id = e.id AND d.status = 'pending' \
                         AND (d.next_attempt_at <= ? OR d.{live}))"
                ),
            ),
            values,
        ))
        .await?;
    let mut caught_up = 0;
    for row in stalled {
        let id: Uuid = row.try_get_by_index(0)?;
        let txn = conn.begin().await?;
        if advance(&txn, id, now).await? {
            caught_up += 1;
        }
        txn.commit().await?;
    }
    Ok(caught_up)
}
