//! Events orders write to the outbox: one per transition, `data` the order as a
//! full-access reader sees it (lines included, no caller-specific fields).

use ordercrm_kernel::Ctx;
use ordercrm_kernel::events::{self, Catalogued, EventType, NewEvent};
use sea_orm::{DatabaseTransaction, DbErr};

use crate::dto::OrderData;

pub const CREATED: EventType<OrderData> = EventType::new(
    "order.created",
    "An order was taken (a draft, or one submitted at once, whose review event follows).",
);
pub const APPROVED: EventType<OrderData> = EventType::new(
    "order.approved",
    "The review passed (or a manager approved over a hold): its stock is reserved and it goes to the warehouse.",
)
.example(r#"{"status": "approved"}"#);
pub const HELD: EventType<OrderData> = EventType::new(
    "order.held",
    "The review held the order (`review` says why), or a person put it on hold (`status_reason`).",
)
.example(r#"{"status": "on_hold"}"#);
pub const RELEASED: EventType<OrderData> = EventType::new(
    "order.released",
    "A held order was released and reviewed again; `status` is the new outcome.",
);
pub const REJECTED: EventType<OrderData> = EventType::new(
    "order.rejected",
    "The review or a person rejected the order; anything it held is released.",
)
.example(r#"{"status": "rejected"}"#);
pub const CANCELLED: EventType<OrderData> = EventType::new(
    "order.cancelled",
    "The order was cancelled (`status_reason` says why); anything it held is released.",
)
.example(r#"{"status": "cancelled"}"#);

pub const SHIPPED: EventType<OrderData> = EventType::new(
    "order.shipped",
    "A shipment moved `fulfillment_status` forward: `partially_shipped` (some lines or units \
     left) or `shipped` (everything that ships has left). Each shipment also writes `shipment.created`.",
)
.example(r#"{"fulfillment_status": "shipped"}"#);
pub const UPDATED: EventType<OrderData> = EventType::new(
    "order.updated",
    "The order changed without a change of `status`: a shipment cancelled before pickup, or a \
     delivered parcel returned to the sender, moved `fulfillment_status` back; or an edit \
     changed its lines, money, addresses, requested day or terms (`GET /v1/orders/{id}/edits`).",
)
.example(r#"{"fulfillment_status": "partially_shipped"}"#);

pub const DELIVERED: EventType<OrderData> = EventType::new(
    "order.delivered",
    "A delivery moved `fulfillment_status` to `partially_delivered` or `delivered`. Each \
     delivery also writes `shipment.delivered`.",
)
.example(r#"{"fulfillment_status": "delivered"}"#);
pub const COMPLETED: EventType<OrderData> = EventType::new(
    "order.completed",
    "Everything that ships was delivered and the order is paid: `completed`.",
)
.example(r#"{"status": "completed", "fulfillment_status": "delivered", "payment_status": "paid"}"#);

pub const REOPENED: EventType<OrderData> = EventType::new(
    "order.reopened",
    "A completed order is no longer paid (a payment reversed, a credit note voided): back to \
     `approved`, delivered and waiting for payment; it completes again once paid.",
)
.example(
    r#"{"status": "approved", "fulfillment_status": "delivered", "payment_status": "unpaid"}"#,
);

pub const PAID: EventType<OrderData> = EventType::new(
    "order.paid",
    "Payments applied to the order's invoices or held for it cover its grand total: \
     `payment_status` is `paid`. Once per time it becomes paid; `order.completed` follows when \
     everything that ships was delivered. An order that arrives paid in full (its intake \
     prepayment) says so in `order.created` instead.",
)
.example(r#"{"payment_status": "paid"}"#);

pub const DELAYED: EventType<OrderData> = EventType::new(
    "order.delayed",
    "The day the order was promised for (`requested_delivery_on`) has passed and something that \
     ships has not left: approved or on hold, not fully shipped. Once per order, written by the \
     promise watch (within its interval of the day turning, UTC).",
)
.example(r#"{"status": "approved", "fulfillment_status": "partially_shipped"}"#);

pub fn catalogue() -> Vec<Catalogued> {
    vec![
        CREATED.entry(),
        APPROVED.entry(),
        HELD.entry(),
        RELEASED.entry(),
        REJECTED.entry(),
        CANCELLED.entry(),
        SHIPPED.entry(),
        UPDATED.entry(),
        DELIVERED.entry(),
        PAID.entry(),
        COMPLETED.entry(),
        REOPENED.entry(),
        DELAYED.entry(),
    ]
}

pub(crate) async fn record(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    event_type: &EventType<OrderData>,
    order: &OrderData,
) -> Result<(), DbErr> {
    events::record(
        txn,
        ctx,
        NewEvent::about(event_type, "order", (order.id, order.version), order)
            .order(order.id)
            .customer(order.customer.id),
    )
    .await
    .map(drop)
}
