//! Claiming due deliveries with a lease, and giving them back. A lease outlives the
//! request timeout by a margin, so a delivery is sent by one server at a time while
//! all are healthy; a server that dies holds its leases until they lapse, and then
//! another sends them again (the at-least-once the receivers dedupe by
//! `webhook-id`). PostgreSQL claims with `FOR UPDATE SKIP LOCKED`, so servers never
//! wait on each other's claims; SQLite's one writer serialises them.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, Statement, Value};
use uuid::Uuid;

use super::{Status, numbered};

/// A delivery this server holds until `lease_until`.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: Uuid,
    pub endpoint_id: Uuid,
    pub event_id: Uuid,
    /// Attempts made before this one.
    pub attempts: i32,
    pub lease_until: DateTime<Utc>,
}

/// Rows the claim looks at before taking its share of each endpoint.
const CANDIDATES: u64 = 1000;

/// Claim up to `limit` due deliveries, at most `per_endpoint` of any one endpoint,
/// none of the endpoints in `skip` (full or resting on this server).
pub async fn claim(
    conn: &impl ConnectionTrait,
    me: &str,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: usize,
    per_endpoint: usize,
    skip: &[Uuid],
) -> Result<Vec<Claimed>, DbErr> {
    let backend = conn.get_database_backend();
    let skip_clause = if skip.is_empty() {
        String::new()
    } else {
        format!(
            " AND d.endpoint_id NOT IN ({})",
            vec!["?"; skip.len()].join(", ")
        )
    };
    let due = "d.status = 'pending' AND d.next_attempt_at <= ? \
               AND (d.lease_until IS NULL OR d.lease_until <= ?)";
    // The candidates, soonest first, ranked within their endpoint; then the ones
    // still free, locked without waiting for another server's claim.
    let ranked = format!(
        "SELECT id FROM (
             SELECT c.id, row_number() OVER (PARTITION BY c.endpoint_id
                                             ORDER BY c.next_attempt_at, c.event_position) AS n
             FROM (SELECT d.id, d.endpoint_id, d.next_attempt_at, d.event_position
                   FROM webhook_deliveries d
                   JOIN webhook_endpoints e ON e.id = d.endpoint_id
                   WHERE {due} AND e.enabled{skip_clause}
                   ORDER BY d.next_attempt_at, d.event_position
                   LIMIT {CANDIDATES}) c
         ) r WHERE r.n <= ?"
    );
    let sql = match backend {
        DatabaseBackend::Postgres => format!(
            "UPDATE webhook_deliveries w SET lease_until = ?, leased_by = ?, updated_at = ?
             FROM (SELECT d.id FROM webhook_deliveries d
                   WHERE d.id IN ({ranked}) AND {due}
                   ORDER BY d.next_attempt_at, d.event_position
                   LIMIT ? FOR UPDATE SKIP LOCKED) t
             WHERE w.id = t.id
             RETURNING w.id, w.endpoint_id, w.event_id, w.attempts"
        ),
        _ => format!(
            "UPDATE webhook_deliveries SET lease_until = ?, leased_by = ?, updated_at = ?
             WHERE id IN (SELECT d.id FROM webhook_deliveries d
                          WHERE d.id IN ({ranked}) AND {due}
                          ORDER BY d.next_attempt_at, d.event_position
                          LIMIT ?)
             RETURNING id, endpoint_id, event_id, attempts"
        ),
    };
    let mut values: Vec<Value> = vec![lease_until.into(), me.into(), now.into()];
    values.extend([now.into(), now.into()]);
    values.extend(skip.iter().map(|id| Value::from(*id)));
    values.push(i64::try_from(per_endpoint).unwrap_or(i64::MAX).into());
    values.extend([now.into(), now.into()]);
    values.push(i64::try_from(limit).unwrap_or(i64::MAX).into());
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            numbered(backend, &sql),
            values,
        ))
        .await?;
    rows.into_iter()
        .map(|row| {
            Ok(Claimed {
                id: row.try_get_by_index(0)?,
                endpoint_id: row.try_get_by_index(1)?,
                event_id: row.try_get_by_index(2)?,
                attempts: row.try_get_by_index(3)?,
                lease_until,
            })
        })
        .collect()
}

/// Give back deliveries this server claimed and will not send now (an endpoint
/// that filled up or must rest, or a server stopping): another claim may take them
/// at once.
pub async fn release(conn: &impl ConnectionTrait, me: &str, ids: &[Uuid]) -> Result<u64, DbErr> {
    if ids.is_empty() {
        return Ok(0);
    }
    let backend = conn.get_database_backend();
    let sql = format!(
        "UPDATE webhook_deliveries SET lease_until = NULL, leased_by = NULL
         WHERE leased_by = ? AND status = '{}' AND id IN ({})",
        Status::Pending.as_str(),
        vec!["?"; ids.len()].join(", ")
    );
    let mut values: Vec<Value> = vec![me.into()];
    values.extend(ids.iter().map(|id| Value::from(*id)));
    Ok(conn
        .execute_raw(Statement::from_sql_and_values(
            backend,
            numbered(backend, &sql),
            values,
        ))
        .await?
        .rows_affected())
}

/// Give back every lease this server holds (it is stopping).
pub async fn release_all(conn: &impl ConnectionTrait, me: &str) -> Result<u64, DbErr> {
    let backend = conn.get_database_backend();
    Ok(conn
        .execute_raw(Statement::from_sql_and_values(
            backend,
            numbered(
                backend,
                "UPDATE webhook_deliveries SET lease_until = NULL, leased_by = NULL
                 WHERE leased_by = ? AND status = 'pending'",
            ),
            [me.into()],
        ))
        .await?
        .rows_affected())
}
