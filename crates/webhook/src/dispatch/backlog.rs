//! An endpoint catching up. After a recovery, or when it is turned on again with
//! deliveries kept while it was off, an endpoint owes a backlog, and a receiver
//! that was down wants it as it happened. So that backlog (what it owes at that
//! moment, up to `catching_up_until`) is sent one delivery at a time, oldest first
//! by event position: the one in front is `pending`, the rest of the line waits
//! `paused` (the claim never looks at it, however long). Events that happen
//! meanwhile go at once, as ever: an endpoint busier than its receiver's one
//! answer at a time still gets through its line.
//!
//! When the one in front has had its attempt, [`advance`] lets the next go. One
//! that failed steps out of the line and retries on its own schedule, and so does
//! one an ordered endpoint must hold back behind an earlier event of its order: a
//! delivery the receiver refuses must not hold every later one for the days its
//! retries take (and run the endpoint into being turned off). With nothing of the
//! line left paused, the endpoint has caught up.
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
/// already does). Returns the end of its line (`None`: not catching up) and
/// whether it is on; `None` when it is gone.
async fn hold(
    conn: &impl ConnectionTrait,
    endpoint: Uuid,
) -> Result<Option<(Option<i64>, bool)>, DbErr> {
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
                    "SELECT catching_up_until, enabled FROM webhook_endpoints WHERE id = ?{lock}"
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
                "SELECT catching_up_until FROM webhook_endpoints WHERE id = ?",
            ),
            [endpoint.into()],
        ))
        .await?;
    Ok(match row {
        Some(row) => row.try_get_by_index::<Option<i64>>(0)?.is_some(),
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
    let backend = conn.get_database_backend();
    exec(
        conn,
        "UPDATE webhook_endpoints SET catching_up_until = ( \
                 SELECT MAX(d.event_position) FROM webhook_deliveries d \
                 WHERE d.endpoint_id = webhook_endpoints.id \
                 AND d.status IN ('pending', 'paused')) \
             WHERE id = ?",
        [endpoint.into()],
    )
    .await?;
    if !enabled {
        return Ok(hold(conn, endpoint)
            .await?
            .is_some_and(|(until, _)| until.is_some()));
    }
    let (live, live_values) = leased(backend, now);
    let mut values: Vec<Value> = vec![endpoint.into()];
    values.extend(live_values);
    exec(
        conn,
        &format!(
            "UPDATE webhook_deliveries SET status = 'paused' \
                 WHERE endpoint_id = ? AND status = 'pending' \
                 AND NOT (lease_until IS NOT NULL AND {live})"
        ),
        values,
    )
    .await?;
    Ok(!advance(conn, endpoint, now).await?)
}

/// `d` of endpoint `e` is held back by an ordered endpoint's rule: an earlier
/// delivery of its order is still owed.
const HELD_BY_ORDER: &str = "(e.ordered AND d.order_id IS NOT NULL AND EXISTS ( \
    SELECT 1 FROM webhook_deliveries p \
    WHERE p.endpoint_id = d.endpoint_id AND p.order_id = d.order_id \
    AND p.status IN ('pending', 'paused') AND p.event_position < d.event_position))";

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
    let Some((Some(until), true)) = hold(conn, endpoint).await? else {
        return Ok(false);
    };
    let backend = conn.get_database_backend();
    let (live, live_values) = leased(backend, now);
    // Under way: one of the line being sent, or due and free to be sent.
    let mut values: Vec<Value> = vec![endpoint.into(), until.into()];
    values.extend(live_values);
    values.push(now.into());
    let under_way = conn
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            numbered(
                backend,
                &format!(
                    "SELECT 1 FROM webhook_deliveries d \
                     JOIN webhook_endpoints e ON e.id = d.endpoint_id \
                     WHERE d.endpoint_id = ? AND d.status = 'pending' AND d.event_position <= ? \
                     AND (d.{live} OR (d.next_attempt_at <= ? AND NOT {HELD_BY_ORDER})) LIMIT 1"
                ),
            ),
            values,
        ))
        .await?
        .is_some();
    if under_way {
        return Ok(false);
    }
    // The next free one goes: never tried yet, or due. Those ahead of it wait for
    // a retry (a receiver's Retry-After included) or behind an earlier event of
    // their order: they step out, keep their time, and the line goes on.
    let next: Option<(Uuid, i64)> = conn
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            numbered(
                backend,
                &format!(
                    "SELECT d.id, d.event_position FROM webhook_deliveries d \
                     JOIN webhook_endpoints e ON e.id = d.endpoint_id \
                     WHERE d.endpoint_id = ? AND d.status = 'paused' \
                     AND (d.attempts = 0 OR d.next_attempt_at <= ?) AND NOT {HELD_BY_ORDER} \
                     ORDER BY d.event_position LIMIT 1"
                ),
            ),
            [endpoint.into(), now.into()],
        ))
        .await?
        .map(|row| Ok::<_, DbErr>((row.try_get_by_index(0)?, row.try_get_by_index(1)?)))
        .transpose()?;
    exec(
        conn,
        "UPDATE webhook_deliveries SET status = 'pending' \
             WHERE endpoint_id = ? AND status = 'paused' AND event_position < ?",
        [
            endpoint.into(),
            next.map_or(i64::MAX, |(_, position)| position).into(),
        ],
    )
    .await?;
    match next {
        Some((next, _)) => {
            go(conn, next).await?;
            Ok(false)
        }
        None => {
            set_until(conn, endpoint, None).await?;
            tracing::info!(endpoint = %endpoint, "webhook endpoint caught up");
            Ok(true)
        }
    }
}

/// Run one statement written with `?` placeholders.
async fn exec(
    conn: &impl ConnectionTrait,
    sql: &str,
    values: impl IntoIterator<Item = Value>,
) -> Result<(), DbErr> {
    let backend = conn.get_database_backend();
    conn.execute_raw(Statement::from_sql_and_values(
        backend,
        numbered(backend, sql),
        values,
    ))
    .await
    .map(drop)
}

/// Let `delivery` go (at its time).
async fn go(conn: &impl ConnectionTrait, delivery: Uuid) -> Result<(), DbErr> {
    exec(
        conn,
        "UPDATE webhook_deliveries SET status = 'pending' WHERE id = ? AND status = 'paused'",
        [delivery.into()],
    )
    .await
}

async fn set_until(
    conn: &impl ConnectionTrait,
    endpoint: Uuid,
    until: Option<i64>,
) -> Result<(), DbErr> {
    exec(
        conn,
        "UPDATE webhook_endpoints SET catching_up_until = ? WHERE id = ?",
        [until.into(), endpoint.into()],
    )
    .await
}

/// Move every line whose front finished without moving it on (the sweep's part;
/// [`advance`] judges each). Returns how many endpoints caught up.
pub async fn settle(
    conn: &DatabaseConnection,
    reader: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<usize, DbErr> {
    let backend = conn.get_database_backend();
    let lines = reader
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT id FROM webhook_endpoints WHERE catching_up_until IS NOT NULL AND enabled",
        ))
        .await?;
    let mut caught_up = 0;
    for row in lines {
        let id: Uuid = row.try_get_by_index(0)?;
        let txn = conn.begin().await?;
        if advance(&txn, id, now).await? {
            caught_up += 1;
        }
        txn.commit().await?;
    }
    Ok(caught_up)
}
