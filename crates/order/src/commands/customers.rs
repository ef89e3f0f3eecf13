//! What a customer merge does to orders: the duplicate's orders belong to the
//! customer that stays from then on (its rep sees them, its statistics count them).
//! Each moved order is a new version with its `order.updated`; the name the order
//! was placed under (`customer.name` on the order) stays as it was.

use ordercrm_kernel::audit::{self, Entry};
use ordercrm_kernel::version::bump_all_returning;
use ordercrm_kernel::{Ctx, Result};
use sea_orm::sea_query::Expr;
use sea_orm::{DatabaseTransaction, EntityTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;

use crate::entity::order;
use crate::{events, queries};

/// Move every order of `from` to `to`, in the merge's transaction. How many moved.
#[tracing::instrument(skip(txn, ctx))]
pub async fn carry(txn: &DatabaseTransaction, ctx: &Ctx, from: Uuid, to: Uuid) -> Result<usize> {
    let moved = bump_all_returning(
        txn,
        order::Entity::update_many()
            .col_expr(order::Column::CustomerId, Expr::value(to))
            .col_expr(order::Column::UpdatedAt, Expr::value(ctx.now))
            .filter(order::COLUMN.customer_id.eq(from)),
        order::Column::Version,
    )
    .await?;
    for row in &moved {
        let parts = queries::parts_of(txn, row.id).await?;
        let data = queries::data(row, &parts);
        events::record(txn, ctx, &events::UPDATED, &data).await?;
        audit::record(
            txn,
            ctx,
            Entry::new("order.move", "order", row.id).changes(
                json!({"customer_id": {"from": from, "to": to}, "reason": "customer_merged"}),
            ),
        )
        .await?;
    }
    Ok(moved.len())
}
