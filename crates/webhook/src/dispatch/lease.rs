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

/// What one claim asks for.
#[derive(Debug, Clone, Copy)]
pub struct Want<'a> {
    /// This server's name on its leases.
    pub me: &'a str,
    pub now: DateTime<Utc>,
    pub lease: std::time::Duration,
    pub limit: usize,
    pub per_endpoint: usize,
    pub skip: &'a [Uuid],
}

/// Claim up to `limit` deliveries due at `now`, at most `per_endpoint` of any one
/// endpoint, none of the endpoints in `skip` (full or resting on this server), each
/// for `lease`.
///
/// When a delivery is due follows the server's clock (tests move it); whether a
/// lease has lapsed follows the database's on PostgreSQL, so servers whose clocks
/// disagree never take each other's live leases. (SQLite is one machine's.)
pub async fn claim(
    conn: &impl ConnectionTrait,
    reader: &impl ConnectionTrait,
    want: &Want<'_>,
) -> Result<Vec<Claimed>, DbErr> {
    let Want {
        me,
        now,
        lease,
        limit,
        per_endpoint,
        skip,
    } = *want;
    let backend = conn.get_database_backend();
    let pg = backend == DatabaseBackend::Postgres;
    let lease_secs = i64::try_from(lease.as_secs()).unwrap_or(i64::MAX);
    let app_lease_until =
        now + chrono::Duration::try_seconds(lease_secs).unwrap_or(chrono::Duration::MAX);
    // The lease's clock: the database's on PostgreSQL, ours (a bound value) on SQLite.
    let (clock, clock_value): (&str, Option<Value>) = if pg {
        ("statement_timestamp()", None)
    } else {
        ("?", Some(now.into()))
    };
    let due = format!(
        "d.status = 'pending' AND d.next_attempt_at <= ? \
         AND (d.lease_until IS NULL OR d.lease_until <= {clock})"
    );
    let due_values = || -> Vec<Value> {
        let mut v: Vec<Value> = vec![now.into()];
        v.extend(clock_value.clone());
        v
    };
    let skip_clause = if skip.is_empty() {
        String::new()
    } else {
        format!(
            " AND d.endpoint_id NOT IN ({})",
            vec!["?"; skip.len()].join(", ")
        )
    };
    // An ordered endpoint's delivery waits while an earlier one of its order is
    // still owed (pending, or paused), and while a later one is being sent (an
    // earlier one sent again by hand); one that succeeded or failed for good lets
    // the next go. Other orders and unordered endpoints never wait on it. (An
    // endpoint catching up keeps its line paused: see `backlog`.)
    let claimable = format!(
        "FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id \
         WHERE {due} AND e.enabled{skip_clause} \
         AND (NOT e.ordered OR d.order_id IS NULL OR NOT EXISTS ( \
             SELECT 1 FROM webhook_deliveries p \
             WHERE p.endpoint_id = d.endpoint_id AND p.order_id = d.order_id \
             AND p.id <> d.id AND p.order_id IS NOT NULL \
             AND p.status IN ('pending', 'paused') \
             AND (p.event_position < d.event_position OR p.lease_until > {clock})))"
    );
    let claimable_values = || -> Vec<Value> {
        let mut v = due_values();
        v.extend(skip.iter().map(|id| Value::from(*id)));
        v.extend(clock_value.clone());
        v
    };
    // Mostly there is nothing to do: a read first, so an idle server takes no lock
    // (SQLite's one writer is the API's).
    let probe = reader
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            numbered(backend, &format!("SELECT 1 {claimable} LIMIT 1")),
            claimable_values(),
        ))
        .await?;
    if probe.is_none() {
        return Ok(Vec::new());
    }
    // The candidates, soonest first, ranked within their endpoint; then the ones
    // still free, locked without waiting for another server's claim.
    let ranked = format!(
        "SELECT id FROM (
             SELECT c.id, row_number() OVER (PARTITION BY c.endpoint_id
                                             ORDER BY c.next_attempt_at, c.event_position) AS n
             FROM (SELECT d.id, d.endpoint_id, d.next_attempt_at, d.event_position
                   {claimable}
                   ORDER BY d.next_attempt_at, d.event_position
                   LIMIT {CANDIDATES}) c
         ) r WHERE r.n <= ?"
    );
    let (sql, lease_value): (String, Vec<Value>) = if pg {
        (
            format!(
                "UPDATE webhook_deliveries w
                 SET lease_until = statement_timestamp() + make_interval(secs => ?),
                     leased_by = ?, updated_at = ?
                 FROM (SELECT d.id FROM webhook_deliveries d
                       WHERE d.id IN ({ranked}) AND {due}
                       ORDER BY d.next_attempt_at, d.event_position
                       LIMIT ? FOR UPDATE SKIP LOCKED) t
                 WHERE w.id = t.id
                 RETURNING w.id, w.endpoint_id, w.event_id, w.attempts, w.lease_until"
            ),
            vec![Value::from(lease_secs)],
        )
    } else {
        (
            format!(
                "UPDATE webhook_deliveries SET lease_until = ?, leased_by = ?, updated_at = ?
                 WHERE id IN (SELECT d.id FROM webhook_deliveries d
                              WHERE d.id IN ({ranked}) AND {due}
                              ORDER BY d.next_attempt_at, d.event_position
                              LIMIT ?)
                 RETURNING id, endpoint_id, event_id, attempts, lease_until"
            ),
            vec![app_lease_until.into()],
        )
    };
    let mut values = lease_value;
    values.extend([me.into(), now.into()]);
    values.extend(claimable_values());
    values.push(i64::try_from(per_endpoint).unwrap_or(i64::MAX).into());
    values.extend(due_values());
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
                lease_until: row.try_get_by_index(4)?,
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
