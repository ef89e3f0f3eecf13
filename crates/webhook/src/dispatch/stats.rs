//! What `/metrics` tells about webhooks: this server's deliveries by result and
//! requests in flight (counted as they happen), and the backlog every server shares
//! (measured from the database when scraped).

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, Statement};
use uuid::Uuid;

use super::numbered;

/// This server's counts since it started.
#[derive(Debug, Default)]
pub struct Stats {
    pub succeeded: AtomicU64,
    /// Attempts that failed and will be tried again.
    pub retrying: AtomicU64,
    /// Deliveries that failed for good (the last attempt, or the receiver is gone).
    pub failed: AtomicU64,
    pub in_flight: AtomicU64,
}

impl Stats {
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub(crate) fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn sub(counter: &AtomicU64) {
        let _ = counter.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }
}

/// The shared backlog at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Backlog {
    /// Age of the oldest event not yet fanned out to deliveries (0 when none).
    pub fanout_lag_seconds: f64,
    /// Per endpoint that is on and has deliveries due, the age of its oldest due one.
    pub oldest_due_seconds: Vec<(Uuid, f64)>,
}

pub async fn backlog(conn: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<Backlog, DbErr> {
    let backend = conn.get_database_backend();
    let age = |t: Option<DateTime<Utc>>| {
        t.and_then(|t| (now - t).to_std().ok())
            .map_or(0.0, |d| d.as_secs_f64())
    };
    let oldest = conn
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT MIN(created_at) FROM events \
             WHERE position IS NULL \
             OR position > (SELECT position FROM webhook_cursors WHERE name = 'fanout')",
        ))
        .await?
        .map(|row| row.try_get_by_index::<Option<DateTime<Utc>>>(0))
        .transpose()?
        .flatten();
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            numbered(
                backend,
                "SELECT d.endpoint_id, MIN(d.next_attempt_at) FROM webhook_deliveries d \
                 JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.enabled \
                 WHERE d.status = 'pending' AND d.next_attempt_at <= ? \
                 AND (d.lease_until IS NULL OR d.lease_until <= ?) GROUP BY d.endpoint_id",
            ),
            [now.into(), now.into()],
        ))
        .await?;
    let mut oldest_due_seconds = Vec::with_capacity(rows.len());
    for row in rows {
        oldest_due_seconds.push((
            row.try_get_by_index::<Uuid>(0)?,
            age(row.try_get_by_index::<Option<DateTime<Utc>>>(1)?),
        ));
    }
    Ok(Backlog {
        fanout_lag_seconds: age(oldest),
        oldest_due_seconds,
    })
}
