//! What a customer merge does to orders: the duplicate's orders belong to the
//! customer that stays from then on (its rep sees them, its statistics count them).
//! One statement however many there are, each a new version (its ETag moves);
//! `customer.merged` is the event that says so, not one per order, so merging a
//! marketplace's guest with thousands of orders stays one short transaction. The
//! name the order was placed under (`customer.name` on the order) stays.

use ordercrm_kernel::version::bump_all;
use ordercrm_kernel::{Ctx, Result};
use sea_orm::sea_query::Expr;
use sea_orm::{DatabaseTransaction, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::entity::order;

/// Move every order of `from` to `to`, in the merge's transaction. How many moved.
#[tracing::instrument(skip(txn, ctx))]
pub async fn carry(txn: &DatabaseTransaction, ctx: &Ctx, from: Uuid, to: Uuid) -> Result<u64> {
    bump_all(
        txn,
        order::Entity::update_many()
            .col_expr(order::Column::CustomerId, Expr::value(to))
            .col_expr(order::Column::UpdatedAt, Expr::value(ctx.now))
            .filter(order::COLUMN.customer_id.eq(from)),
        order::Column::Version,
    )
    .await
}
