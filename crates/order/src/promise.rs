//! The promise watch. An order is late (`delayed`) once the day it was promised
//! for (`requested_delivery_on`, a UTC calendar day) has passed while it is
//! approved or on hold and something that ships has not left yet. Computed on
//! read, as of the caller's clock; a background task announces each late order
//! once (`order.delayed`), by a conditional update that several servers on one
//! database may race for: one wins, the others match nothing.

use chrono::{DateTime, NaiveDate, Utc};
use ordercrm_kernel::audit::{self, Entry};
use ordercrm_kernel::{Ctx, Db, Error};
use sea_orm::sea_query::{Alias, Condition, Expr, ExprTrait, Query, SimpleExpr};
use sea_orm::{EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait};
use serde_json::json;
use uuid::Uuid;

use crate::entity::{order, order_line};
use crate::events;
use crate::model::{FulfillmentStatus, OrderStatus};

/// Orders one pass of the watch looks at; the next pass takes the rest.
const BATCH: u64 = 500;

/// Whether the order is late on `today`.
pub fn is_delayed(row: &order::Model, lines: &[order_line::Model], today: NaiveDate) -> bool {
    watched(&row.status)
        && row.requested_delivery_on.is_some_and(|d| d < today)
        && lines
            .iter()
            .any(|l| l.warehouse_id.is_some() && l.shipped_quantity < l.quantity)
}

fn watched(status: &str) -> bool {
    status == OrderStatus::Approved.as_str() || status == OrderStatus::OnHold.as_str()
}

/// [`is_delayed`] as a condition on `orders` (the list's filter and the watch).
pub(crate) fn delayed(today: NaiveDate) -> SimpleExpr {
    let mut unshipped = Query::select();
    unshipped
        .expr(Expr::val(1))
        .from(Alias::new("order_lines"))
        .and_where(
            Expr::col((Alias::new("order_lines"), Alias::new("order_id")))
                .equals((Alias::new("orders"), Alias::new("id"))),
        )
        .and_where(Expr::col((Alias::new("order_lines"), Alias::new("warehouse_id"))).is_not_null())
        .and_where(
            Expr::col((Alias::new("order_lines"), Alias::new("shipped_quantity"))).lt(Expr::col((
                Alias::new("order_lines"),
                Alias::new("quantity"),
            ))),
        );
    Condition::all()
        .add(
            order::COLUMN
                .status
                .is_in([OrderStatus::Approved.as_str(), OrderStatus::OnHold.as_str()]),
        )
        // What the lines say below, as the row says it: orders that shipped in
        // full leave the watch's index.
        .add(order::COLUMN.fulfillment_status.is_in([
            FulfillmentStatus::Unfulfilled.as_str(),
            FulfillmentStatus::PartiallyShipped.as_str(),
        ]))
        .add(order::COLUMN.requested_delivery_on.is_not_null())
        .add(order::COLUMN.requested_delivery_on.lt(today))
        .add(Expr::exists(unshipped))
        .into()
}

/// Announce the orders late at `now` that were not announced yet: each its own
/// transaction (its version bumped, `order.delayed`, an audit row). Returns how
/// many this server announced.
pub async fn announce(db: &Db, now: DateTime<Utc>) -> Result<usize, Error> {
    let today = now.date_naive();
    let due: Vec<Uuid> = order::Entity::find()
        .select_only()
        .column(order::Column::Id)
        .filter(order::COLUMN.delay_announced_at.is_null())
        .filter(delayed(today))
        .order_by_asc(order::Column::RequestedDeliveryOn)
        .order_by_asc(order::Column::Id)
        .limit(BATCH)
        .into_tuple()
        .all(db.reader())
        .await?;
    let ctx = Ctx::system(now);
    let mut announced = 0;
    for id in due {
        let txn = db.writer().begin().await?;
        let claimed = ordercrm_kernel::version::try_claim(
            &txn,
            order::Entity::update_many()
                .col_expr(order::Column::DelayAnnouncedAt, Expr::value(now))
                .col_expr(order::Column::UpdatedAt, Expr::value(now))
                .filter(order::COLUMN.id.eq(id))
                .filter(order::COLUMN.delay_announced_at.is_null())
                .filter(delayed(today)),
            order::Column::Version,
            None,
        )
        .await?;
        let Some(row) = claimed else {
            // Another server announced it, or it shipped or changed meanwhile.
            txn.rollback().await?;
            continue;
        };
        let parts = crate::queries::parts_of(&txn, row.id).await?;
        let data = crate::queries::data(&row, &parts);
        events::record(&txn, &ctx, &events::DELAYED, &data).await?;
        audit::record(
            &txn,
            &ctx,
            Entry::new("order.delayed", "order", row.id).changes(json!({
                "requested_delivery_on": row.requested_delivery_on,
                "delay_announced_at": now,
            })),
        )
        .await?;
        txn.commit().await?;
        announced += 1;
    }
    Ok(announced)
}
