//! The completion rule, in one place: an approved order completes when every line
//! that ships has been delivered and it is paid. Fulfillment calls it when a
//! delivery lands; payments will call it when money does.

use ordercrm_kernel::audit::{self, Entry};
use ordercrm_kernel::{Ctx, Result};
use sea_orm::sea_query::Expr;
use sea_orm::{DatabaseTransaction, EntityTrait, QueryFilter};
use serde_json::json;

use crate::entity::{order, order_line};
use crate::events;
use crate::fulfillment::model::delivered_in_full;
use crate::model::{OrderStatus, PaymentStatus};

/// Whether `row` with `lines` is done: approved, delivered in full (lines of
/// products that track no stock do not ship and do not count, but at least one line
/// must ship; units returned since still count as delivered), and paid.
pub fn is_done(row: &order::Model, lines: &[order_line::Model]) -> bool {
    row.status == OrderStatus::Approved.as_str()
        && delivered_in_full(lines)
        && row.payment_status == PaymentStatus::Paid.as_str()
}

/// Complete the order when [`is_done`] says so: `completed`, `completed_at`, its
/// version bumped, `order.completed`. `row` must be the order as this transaction
/// holds it (taken for the change that may complete it).
pub async fn complete_if_done(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    row: &order::Model,
    lines: &[order_line::Model],
) -> Result<bool> {
    if !is_done(row, lines) {
        return Ok(false);
    }
    let Some(done) = ordercrm_kernel::version::try_claim(
        txn,
        order::Entity::update_many()
            .col_expr(
                order::Column::Status,
                Expr::value(OrderStatus::Completed.as_str()),
            )
            .col_expr(order::Column::CompletedAt, Expr::value(ctx.now))
            .col_expr(order::Column::UpdatedAt, Expr::value(ctx.now))
            .filter(order::COLUMN.id.eq(row.id))
            .filter(order::COLUMN.status.eq(OrderStatus::Approved.as_str())),
        order::Column::Version,
        None,
    )
    .await?
    else {
        return Ok(false);
    };
    let parts = crate::queries::parts_of(txn, done.id).await?;
    let data = crate::queries::data(&done, &parts);
    events::record(txn, ctx, &events::COMPLETED, &data).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("order.complete", "order", done.id)
            .changes(json!({"status": OrderStatus::Completed})),
    )
    .await?;
    Ok(true)
}

/// A completed order no longer paid goes back to `approved` (delivered, waiting
/// for payment): `completed_at` cleared, its version bumped, `order.reopened`.
pub async fn reopen(txn: &DatabaseTransaction, ctx: &Ctx, row: &order::Model) -> Result<()> {
    let Some(open) = ordercrm_kernel::version::try_claim(
        txn,
        order::Entity::update_many()
            .col_expr(
                order::Column::Status,
                Expr::value(OrderStatus::Approved.as_str()),
            )
            .col_expr(
                order::Column::CompletedAt,
                Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
            )
            .col_expr(order::Column::UpdatedAt, Expr::value(ctx.now))
            .filter(order::COLUMN.id.eq(row.id))
            .filter(order::COLUMN.status.eq(OrderStatus::Completed.as_str())),
        order::Column::Version,
        None,
    )
    .await?
    else {
        return Ok(());
    };
    let parts = crate::queries::parts_of(txn, open.id).await?;
    let data = crate::queries::data(&open, &parts);
    events::record(txn, ctx, &events::REOPENED, &data).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("order.reopen", "order", open.id).changes(
            json!({"status": OrderStatus::Approved, "payment_status": open.payment_status}),
        ),
    )
    .await?;
    Ok(())
}
