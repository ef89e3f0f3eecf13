//! What is kept, and for how long. Succeeded deliveries and the attempts of
//! succeeded deliveries go after their periods (30 days each by default); a
//! delivery not yet succeeded, and its attempts, is never pruned. Events are the
//! order history and stay, unless the operator sets an event retention: then events
//! older than it go, except those a delivery still refers to and those not yet
//! fanned out, and the feed's horizon moves past them. Everything goes in small
//! batches, each its own statement, so no writer waits long behind a prune.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Statement, TransactionTrait, Value};

use crate::dispatch::numbered;

/// How long each kind of row is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub deliveries: Duration,
    pub attempts: Duration,
    /// `None`: events are kept for ever.
    pub events: Option<Duration>,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            deliveries: Duration::days(30),
            attempts: Duration::days(30),
            events: None,
        }
    }
}

/// What one prune removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub attempts: u64,
    pub deliveries: u64,
    pub events: u64,
}

/// Rows one statement removes at most.
const BATCH: i64 = 1_000;

/// Remove what is past its keeping at `now`.
pub async fn prune(
    conn: &DatabaseConnection,
    now: DateTime<Utc>,
    keep: &Retention,
) -> Result<Pruned, DbErr> {
    let attempts = batches(
        conn,
        "DELETE FROM webhook_attempts WHERE id IN (
             SELECT a.id FROM webhook_attempts a
             JOIN webhook_deliveries d ON d.id = a.delivery_id
             WHERE a.started_at < ?1 AND d.status = 'succeeded' LIMIT ?2)",
        now - keep.attempts,
    )
    .await?;
    let deliveries = batches(
        conn,
        // The outer condition again: a delivery sent again meanwhile is not pruned.
        "DELETE FROM webhook_deliveries WHERE status = 'succeeded' AND finished_at < ?1 AND id IN (
             SELECT id FROM webhook_deliveries
             WHERE status = 'succeeded' AND finished_at < ?1 LIMIT ?2)",
        now - keep.deliveries,
    )
    .await?;
    let events = match keep.events {
        Some(keep) => prune_events(conn, now - keep).await?,
        None => 0,
    };
    Ok(Pruned {
        attempts,
        deliveries,
        events,
    })
}

/// Run `sql` (a delete of up to `?2` rows older than `?1`) until it removes less
/// than a batch.
async fn batches(
    conn: &DatabaseConnection,
    sql: &str,
    before: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let backend = conn.get_database_backend();
    // `?1` (the time) and `?2` (the batch), each maybe used twice.
    let sql = match backend {
        sea_orm::DatabaseBackend::Postgres => sql.replace("?1", "$1").replace("?2", "$2"),
        _ => sql.to_owned(),
    };
    let mut total = 0;
    loop {
        let gone = conn
            .execute_raw(Statement::from_sql_and_values(
                backend,
                sql.clone(),
                [before.into(), BATCH.into()],
            ))
            .await?
            .rows_affected();
        total += gone;
        if i64::try_from(gone).unwrap_or(i64::MAX) < BATCH {
            return Ok(total);
        }
        tokio::task::yield_now().await;
    }
}

/// Events older than `before`, fanned out, read by every consumer of the outbox
/// (`event_consumers`: customer statistics), and referred to by no delivery, oldest
/// first, never the newest (positions and SQLite's ids continue from it) nor an
/// endpoint's `created` (fan-out reads where its deliveries begin from it); the horizon moves to the highest position removed, in the same
/// transaction.
async fn prune_events(conn: &DatabaseConnection, before: DateTime<Utc>) -> Result<u64, DbErr> {
    let backend = conn.get_database_backend();
    let mut total = 0;
    loop {
        let txn = conn.begin().await?;
        let rows = txn
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                numbered(
                    backend,
                    "SELECT e.seq, e.position FROM events e
                     WHERE e.created_at < ? AND e.position IS NOT NULL
                     AND e.position <= (SELECT position FROM webhook_cursors WHERE name = 'fanout')
                     AND e.position <= COALESCE((SELECT MIN(position) FROM event_consumers), e.position)
                     AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id)
                     AND e.position < (SELECT MAX(position) FROM events)
                     AND e.event_type <> 'webhook_endpoint.created'
                     ORDER BY e.position LIMIT ?",
                ),
                [before.into(), BATCH.into()],
            ))
            .await?;
        let mut seqs: Vec<Value> = Vec::with_capacity(rows.len());
        let mut highest = 0i64;
        for row in &rows {
            seqs.push(row.try_get_by_index::<i64>(0)?.into());
            highest = highest.max(row.try_get_by_index::<i64>(1)?);
        }
        if seqs.is_empty() {
            txn.rollback().await?;
            return Ok(total);
        }
        let n = seqs.len();
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            numbered(
                backend,
                &format!(
                    "DELETE FROM events WHERE seq IN ({})",
                    vec!["?"; n].join(", ")
                ),
            ),
            seqs,
        ))
        .await?;
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            numbered(
                backend,
                "UPDATE webhook_cursors SET position = ? WHERE name = 'feed_horizon' AND position < ?",
            ),
            [highest.into(), highest.into()],
        ))
        .await?;
        txn.commit().await?;
        total += u64::try_from(n).unwrap_or(u64::MAX);
        if i64::try_from(n).unwrap_or(i64::MAX) < BATCH {
            return Ok(total);
        }
        tokio::task::yield_now().await;
    }
}
