//! Fulfillment's events: one per transition of a dispatch note or a shipment, each
//! carrying its order's id (and customer's), so the order's timeline, per-order
//! ordering and channel filtering find them.

use ordercrm_kernel::Ctx;
use ordercrm_kernel::events::{self, Catalogued, EventType, NewEvent};
use sea_orm::{DatabaseTransaction, DbErr};
use uuid::Uuid;

use super::dto::{DispatchNoteView, ShipmentView, TrackingUpdate};

pub const DISPATCH_NOTE_CREATED: EventType<DispatchNoteView> = EventType::new(
    "dispatch_note.created",
    "An order was approved: one note per warehouse holding its stock, for the warehouse to pick.",
)
.example(r#"{"status": "open"}"#);
pub const DISPATCH_NOTE_UPDATED: EventType<DispatchNoteView> = EventType::new(
    "dispatch_note.updated",
    "What the note's lines have shipped changed its status (a shipment, or a shipment cancelled), \
     or an edit of the order changed its lines, ship-to or requested day.",
)
.example(r#"{"status": "partially_shipped"}"#);
pub const DISPATCH_NOTE_VOIDED: EventType<DispatchNoteView> = EventType::new(
    "dispatch_note.voided",
    "The order was cancelled or rejected before the note shipped in full, or an edit removed \
     every line of its warehouse: pick no more.",
)
.example(r#"{"status": "voided"}"#);
pub const SHIPMENT_CREATED: EventType<ShipmentView> = EventType::new(
    "shipment.created",
    "Goods left (or are about to leave) with a carrier: the order's reservation shipped them.",
)
.example(r#"{"status": "pending"}"#);
pub const SHIPMENT_CANCELLED: EventType<ShipmentView> = EventType::new(
    "shipment.cancelled",
    "A shipment was cancelled before pickup: its goods are back in stock (held again for the \
     order when it still wants them).",
)
.example(r#"{"status": "cancelled"}"#);

pub const SHIPMENT_TRACKING_UPDATED: EventType<TrackingUpdate> = EventType::new(
    "shipment.tracking_updated",
    "A carrier (or a sign-off) reported an event not seen before: one per distinct event, \
     whatever order they arrived in. `shipment.status` is what the whole history says.",
)
.example(r#"{"shipment": {"status": "in_transit"}, "event": {"status": "in_transit"}}"#);
pub const SHIPMENT_EXCEPTION_REPORTED: EventType<TrackingUpdate> = EventType::new(
    "shipment.exception_reported",
    "A new tracking event says someone should act: `attempted_delivery`, `failure` or \
     `returned_to_sender`.",
)
.example(
    r#"{"shipment": {"status": "attempted_delivery"}, "event": {"status": "attempted_delivery"}}"#,
);
pub const SHIPMENT_DELIVERED: EventType<ShipmentView> = EventType::new(
    "shipment.delivered",
    "The shipment reached its customer (a `delivered` tracking event, or a sign-off with who \
     signed and the proof).",
)
.example(r#"{"status": "delivered"}"#);

pub fn catalogue() -> Vec<Catalogued> {
    vec![
        DISPATCH_NOTE_CREATED.entry(),
        DISPATCH_NOTE_UPDATED.entry(),
        DISPATCH_NOTE_VOIDED.entry(),
        SHIPMENT_CREATED.entry(),
        SHIPMENT_CANCELLED.entry(),
        SHIPMENT_TRACKING_UPDATED.entry(),
        SHIPMENT_EXCEPTION_REPORTED.entry(),
        SHIPMENT_DELIVERED.entry(),
    ]
}

pub(crate) async fn note(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    event_type: &EventType<DispatchNoteView>,
    note: &DispatchNoteView,
) -> Result<(), DbErr> {
    events::record(
        txn,
        ctx,
        NewEvent::about(event_type, "dispatch_note", (note.id, note.version), note)
            .order(note.order.id)
            .customer(note.order.customer.id),
    )
    .await
    .map(drop)
}

pub(crate) async fn shipment(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    event_type: &EventType<ShipmentView>,
    shipment: &ShipmentView,
    customer_id: Uuid,
) -> Result<(), DbErr> {
    events::record(
        txn,
        ctx,
        NewEvent::about(
            event_type,
            "shipment",
            (shipment.id, shipment.version),
            shipment,
        )
        .order(shipment.order_id)
        .customer(customer_id),
    )
    .await
    .map(drop)
}

pub(crate) async fn tracking(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    event_type: &EventType<TrackingUpdate>,
    update: &TrackingUpdate,
    customer_id: Uuid,
) -> Result<(), DbErr> {
    events::record(
        txn,
        ctx,
        NewEvent::about(
            event_type,
            "shipment",
            (update.shipment.id, update.shipment.version),
            update,
        )
        .order(update.shipment.order_id)
        .customer(customer_id),
    )
    .await
    .map(drop)
}
