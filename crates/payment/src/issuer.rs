//! The issuer: invoices an order's transition asks for (the `invoice_policy`, a
//! prepaid order's approval) are made as drafts in that transition's transaction
//! and issued here, moments after it commits. Issuing takes the gap-free invoice
//! number, and whoever takes it waits for the previous taker's commit: inside
//! order intake that wait was every intake's, so intake ran one at a time.
//!
//! Nothing is lost: the request is a column of the draft, written with it, and
//! each invoice is issued in its own transaction under its order's lock, once,
//! however many servers run the issuer. A draft that cannot be issued (no rate to
//! the base currency any more, the order ended) is left to finance, with the
//! reason in the audit log.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use ordercrm_kernel::audit::{self, Entry};
use ordercrm_kernel::{Ctx, Db, Hooks, Result};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement,
};
use serde_json::json;
use uuid::Uuid;

use crate::entity::invoice;
use crate::invoices::issue_row;
use crate::model::InvoiceStatus;

/// How many waiting drafts one pass looks at (besides those waiting to be retried).
const BATCH: usize = 100;
/// How long an invoice whose order or customer was busy waits for another try.
const BUSY: Duration = Duration::from_millis(200);
/// The longest wait before an invoice that failed (a database error) is tried again.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Ask for draft `id` (made in this transaction) to be issued once it commits.
pub(crate) async fn request(txn: &DatabaseTransaction, ctx: &Ctx, id: Uuid) -> Result<()> {
    invoice::Entity::update_many()
        .col_expr(invoice::Column::IssueRequestedAt, Expr::value(ctx.now))
        .filter(invoice::COLUMN.id.eq(id))
        .exec(txn)
        .await?;
    Ok(())
}

/// One server's issuer: what it issues, and when it tries again the invoices it
/// could not issue yet (their order busy, a database error), so that one stuck
/// invoice never holds up the others.
#[derive(Debug, Default)]
pub struct Issuer {
    retry: HashMap<Uuid, (u32, Instant)>,
}

/// What became of one waiting draft.
enum Outcome {
    Issued,
    /// Issued, voided or moved elsewhere meanwhile: nothing to do.
    Gone,
    /// Its customer or order is locked by another transaction (or another
    /// server's issuer): not waited for.
    Busy,
}

impl Issuer {
    /// Issue the drafts that wait, oldest request first, up to a batch: how many
    /// were issued. `now` is read for each invoice, when its order is locked.
    pub async fn pass(
        &mut self,
        db: &Db,
        now: &(dyn Fn() -> DateTime<Utc> + Sync),
        hooks: &Hooks,
    ) -> Result<usize> {
        let due = Instant::now();
        self.retry.retain(|_, (_, at)| *at > due);
        let limit = BATCH + self.retry.len();
        let waiting: Vec<(Uuid, Uuid, Option<Uuid>)> = invoice::Entity::find()
            .select_only()
            .column(invoice::Column::Id)
            .column(invoice::Column::CustomerId)
            .column(invoice::Column::OrderId)
            .filter(invoice::COLUMN.issue_requested_at.is_not_null())
            .order_by_asc(invoice::Column::IssueRequestedAt)
            .order_by_asc(invoice::Column::Id)
            .limit(u64::try_from(limit).unwrap_or(u64::MAX))
            .into_tuple()
            .all(db.writer())
            .await?;
        let mut issued = 0;
        for (id, customer, order) in waiting {
            if self.retry.contains_key(&id) {
                continue;
            }
            hooks.at("issuer.picked").await;
            #[allow(clippy::disallowed_methods)] // a background task, one transaction per invoice
            let txn = db.begin().await?;
            let mut ctx = Ctx::system(now());
            ctx.hooks = hooks.clone();
            match issue_one(&txn, &ctx, id, customer, order).await {
                Ok(outcome) => {
                    txn.commit().await?;
                    match outcome {
                        Outcome::Issued => issued += 1,
                        Outcome::Gone => {}
                        Outcome::Busy => {
                            self.retry.insert(id, (0, Instant::now() + BUSY));
                        }
                    }
                }
                Err(err) if err.status() >= 500 => {
                    txn.rollback().await?;
                    let attempts = self.retry.get(&id).map_or(0, |r| r.0) + 1;
                    let wait = std::cmp::min(
                        Duration::from_millis(100).saturating_mul(1 << std::cmp::min(attempts, 10)),
                        MAX_BACKOFF,
                    );
                    self.retry.insert(id, (attempts, Instant::now() + wait));
                    tracing::warn!(invoice = %id, error = %err, attempts, "issuing an invoice failed: tried again later");
                }
                Err(err) => {
                    txn.rollback().await?;
                    #[allow(clippy::disallowed_methods)] // a background task's note of a refusal
                    let txn = db.begin().await?;
                    leave_to_finance(&txn, &ctx, id, &err.to_problem().detail).await?;
                    txn.commit().await?;
                    tracing::warn!(invoice = %id, error = %err, "invoice left a draft: not issued");
                }
            }
        }
        Ok(issued)
    }
}

/// Issue draft `id` if it still waits for it.
async fn issue_one(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    customer: Uuid,
    order: Option<Uuid>,
) -> Result<Outcome> {
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        // An erasure of the customer (which writes its row first) either comes
        // after this issue, and scrubs its event, or before it, and the invoice is
        // issued to the erased name: never a name written while it scrubs. Then
        // the order, as every change of an order's invoices takes its locks. Not
        // waited for: a busy one is tried again on a later pass.
        // The invoice too, before its number is taken: whoever else holds it
        // would otherwise keep every issuer waiting behind the counter. What is
        // left to lock (the payments holding money for the order) is waited for a
        // moment at most, then tried again.
        txn.execute_unprepared("SET LOCAL lock_timeout = '2s'")
            .await?;
        let mut locks = vec![(
            "SELECT 1 FROM customers WHERE id = $1 FOR SHARE SKIP LOCKED",
            customer,
        )];
        if let Some(order) = order {
            locks.push((
                "SELECT 1 FROM orders WHERE id = $1 FOR UPDATE SKIP LOCKED",
                order,
            ));
        }
        locks.push((
            "SELECT 1 FROM invoices WHERE id = $1 FOR UPDATE SKIP LOCKED",
            id,
        ));
        for (sql, key) in locks {
            let got = txn
                .query_one_raw(Statement::from_sql_and_values(
                    DatabaseBackend::Postgres,
                    sql,
                    [key.into()],
                ))
                .await?;
            if got.is_none() {
                return Ok(Outcome::Busy);
            }
        }
    }
    if let Some(order) = order {
        ordercrm_order::settlement::lock(txn, None, order).await?;
    }
    let Some(row) = invoice::Entity::find_by_id(id).one(txn).await? else {
        return Ok(Outcome::Gone);
    };
    if row.issue_requested_at.is_none() {
        return Ok(Outcome::Gone);
    }
    if row.customer_id != customer || row.order_id != order {
        // Moved by a merge since it was listed: the next pass locks the right rows.
        return Ok(Outcome::Busy);
    }
    if row.status != InvoiceStatus::Draft.as_str() {
        // Voided (its order was edited or ended) or issued by hand meanwhile.
        clear(txn, id).await?;
        return Ok(Outcome::Gone);
    }
    issue_row(txn, ctx, row).await?;
    Ok(Outcome::Issued)
}

async fn clear(txn: &DatabaseTransaction, id: Uuid) -> Result<()> {
    invoice::Entity::update_many()
        .col_expr(
            invoice::Column::IssueRequestedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(invoice::COLUMN.id.eq(id))
        .exec(txn)
        .await?;
    Ok(())
}

/// The draft stays a draft for finance to look at, and the audit log says why.
async fn leave_to_finance(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    reason: &Option<String>,
) -> Result<()> {
    let left = invoice::Entity::update_many()
        .col_expr(
            invoice::Column::IssueRequestedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(invoice::Column::UpdatedAt, Expr::value(ctx.now))
        .col_expr(
            invoice::Column::Version,
            Expr::col(invoice::Column::Version).add(1),
        )
        .filter(invoice::COLUMN.id.eq(id))
        .filter(invoice::COLUMN.issue_requested_at.is_not_null())
        .exec(txn)
        .await?
        .rows_affected;
    if left > 0 {
        audit::record(
            txn,
            ctx,
            Entry::new("invoice.issue_refused", "invoice", id)
                .changes(json!({"issue_requested": false, "reason": reason})),
        )
        .await?;
    }
    Ok(())
}
