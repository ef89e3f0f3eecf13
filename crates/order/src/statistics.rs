//! Customer statistics from the order events: a consumer of the outbox that, for
//! every order an event names, stores what the order now counts for in its
//! customer's figures and recomputes the customers that moved
//! (`ordercrm_customer::statistics`). Outside the order's transaction, so intake
//! never waits on a customer's row, however many orders it has.
//!
//! The consumer follows `position` past its cursor (`event_consumers`), and the
//! cursor moves in the transaction that applies the batch: a batch is applied once,
//! or again after a failure, and since each order's fact is read from the order as
//! it stands, applying one twice changes nothing. On PostgreSQL one server consumes
//! at a time (the cursor row is taken with `SKIP LOCKED`).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use ordercrm_customer::statistics::{self as customer_statistics, OrderFact};
use ordercrm_kernel::crypto::FieldCipher;
use ordercrm_kernel::{Ctx, Db, Result};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, QuerySelect, Statement,
    TransactionTrait,
};
use uuid::Uuid;

use crate::entity::order;
use crate::model::OrderStatus;

/// The consumer's name in `event_consumers`.
const CONSUMER: &str = "customer_statistics";

/// Positions one transaction takes at most.
const BATCH: i64 = 2_000;

/// What an order counts for: approved at least once and not cancelled or rejected
/// since, at its grand total in the base currency it was reviewed in, as of when
/// it was placed.
pub fn fact_of(row: &order::Model) -> Option<OrderFact> {
    let ended = row.status == OrderStatus::Cancelled.as_str()
        || row.status == OrderStatus::Rejected.as_str();
    if row.approved_at.is_none() || ended {
        return None;
    }
    let (value, currency) = match (row.grand_total_base_amount, &row.base_currency) {
        (Some(amount), Some(currency)) => (amount, currency.clone()),
        // Approved by a manager over a missing rate: its own currency.
        _ => (row.grand_total_amount, row.currency.clone()),
    };
    Some(OrderFact {
        customer_id: row.customer_id,
        value,
        currency,
        ordered_at: row.submitted_at.unwrap_or(row.created_at),
    })
}

/// Apply the order events past the cursor. Returns how many positions it consumed
/// (0: nothing new, or another server holds the cursor).
pub async fn follow(db: &Db, cipher: &FieldCipher, now: DateTime<Utc>) -> Result<i64> {
    let backend = db.backend();
    let cursor_sql = format!("SELECT position FROM event_consumers WHERE name = '{CONSUMER}'");
    // Idle most of the time: one read, no transaction and no lock.
    let anything_new = db
        .reader()
        .query_one_raw(Statement::from_string(
            backend,
            format!("SELECT 1 FROM events WHERE position > ({cursor_sql}) LIMIT 1"),
        ))
        .await?
        .is_some();
    if !anything_new {
        return Ok(0);
    }
    let txn = db.writer().begin().await?;
    let lock = if backend == DatabaseBackend::Postgres {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let Some(cursor) = txn
        .query_one_raw(Statement::from_string(
            backend,
            format!("{cursor_sql}{lock}"),
        ))
        .await?
        .map(|row| row.try_get_by_index::<i64>(0))
        .transpose()?
    else {
        txn.rollback().await?;
        return Ok(0);
    };
    let newest: Option<i64> = txn
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT MAX(position) FROM events",
        ))
        .await?
        .map(|row| row.try_get_by_index::<Option<i64>>(0))
        .transpose()?
        .flatten();
    let upto = newest.unwrap_or(cursor).min(cursor.saturating_add(BATCH));
    if upto <= cursor {
        txn.rollback().await?;
        return Ok(0);
    }
    let range = match backend {
        DatabaseBackend::Postgres => "position > $1 AND position <= $2",
        _ => "position > ?1 AND position <= ?2",
    };
    let named = txn
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT DISTINCT order_id FROM events WHERE {range} \
                 AND resource_type = 'order' AND order_id IS NOT NULL"
            ),
            [cursor.into(), upto.into()],
        ))
        .await?;
    let mut ids = Vec::with_capacity(named.len());
    for row in &named {
        ids.push(row.try_get_by_index::<Uuid>(0)?);
    }
    // A merge moves the duplicate's orders without an event each: every order of
    // the customer that stayed is looked at again (the moved ones move their facts).
    let merged = txn
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT DISTINCT resource_id FROM events WHERE {range} \
                 AND event_type = 'customer.merged'"
            ),
            [cursor.into(), upto.into()],
        ))
        .await?;
    let mut kept = Vec::new();
    for row in &merged {
        if let Ok(id) = row.try_get_by_index::<String>(0)?.parse::<Uuid>() {
            kept.push(id);
        }
    }
    if !kept.is_empty() {
        let theirs: Vec<Uuid> = order::Entity::find()
            .select_only()
            .column(order::Column::Id)
            .filter(order::COLUMN.customer_id.is_in(kept))
            .into_tuple()
            .all(&txn)
            .await?;
        ids.extend(theirs);
    }
    ids.sort_unstable();
    ids.dedup();
    let mut facts = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let rows = order::Entity::find()
            .filter(order::COLUMN.id.is_in(chunk.iter().copied()))
            .all(&txn)
            .await?;
        for id in chunk {
            let fact = rows.iter().find(|r| r.id == *id).and_then(fact_of);
            facts.push((*id, fact));
        }
    }
    let touched: BTreeSet<Uuid> = customer_statistics::put_facts(&txn, facts).await?;
    let ctx = Ctx::system(now);
    customer_statistics::refresh(&txn, &ctx, cipher, &touched).await?;
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        match backend {
            DatabaseBackend::Postgres => "UPDATE event_consumers SET position = $1 WHERE name = $2",
            _ => "UPDATE event_consumers SET position = ?1 WHERE name = ?2",
        },
        [upto.into(), CONSUMER.into()],
    ))
    .await?;
    txn.commit().await?;
    Ok(upto - cursor)
}
