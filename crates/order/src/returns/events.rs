//! Returns' events: one per transition (and one per receipt), each carrying its
//! order's id and customer's, so the order's timeline, per-order ordering and
//! channel filtering find them.

use ordercrm_kernel::Ctx;
use ordercrm_kernel::events::{self, Catalogued, EventType, NewEvent};
use sea_orm::{DatabaseTransaction, DbErr};

use super::dto::ReturnData;

pub const REQUESTED: EventType<ReturnData> = EventType::new(
    "return.requested",
    "A customer (through support, sales or the order's channel) asked to send delivered goods \
     back for a refund, an exchange or a repair; the units are claimed.",
)
.example(r#"{"status": "requested"}"#);
pub const APPROVED: EventType<ReturnData> = EventType::new(
    "return.approved",
    "A manager approved the return: the warehouse expects the goods.",
)
.example(r#"{"status": "approved"}"#);
pub const REJECTED: EventType<ReturnData> = EventType::new(
    "return.rejected",
    "A manager rejected the return (before anything arrived): its units may be returned again.",
)
.example(r#"{"status": "rejected"}"#);
pub const RECEIVED: EventType<ReturnData> = EventType::new(
    "return.received",
    "Goods of the return arrived and were restocked or scrapped: once per receipt (a return \
     may arrive in parts). `refund_due` includes what they are credited.",
)
.example(r#"{"status": "received"}"#);
pub const CLOSED: EventType<ReturnData> = EventType::new(
    "return.closed",
    "The return is settled as received: `refund_due` is final, for payments to pay out; units \
     asked for that never arrived may be returned again.",
)
.example(r#"{"status": "closed"}"#);

pub fn catalogue() -> Vec<Catalogued> {
    vec![
        REQUESTED.entry(),
        APPROVED.entry(),
        REJECTED.entry(),
        RECEIVED.entry(),
        CLOSED.entry(),
    ]
}

pub(crate) async fn record(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    event_type: &EventType<ReturnData>,
    data: &ReturnData,
) -> Result<(), DbErr> {
    events::record(
        txn,
        ctx,
        NewEvent::about(event_type, "return", (data.id, data.version), data)
            .order(data.order_id)
            .customer(data.customer.id),
    )
    .await
    .map(drop)
}
