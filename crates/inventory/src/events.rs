//! Events this domain writes to the outbox: every type, its `data`, and the one
//! function that writes each resource's events.

use ordercrm_kernel::Ctx;
use ordercrm_kernel::events::{self, Catalogued, EventType, NewEvent};
use sea_orm::{DatabaseTransaction, DbErr};
use serde::Serialize;
use utoipa::ToSchema;

use crate::dto::{
    LevelView, MovementView, ProductView, PurchaseOrderView, ReservationView, SupplierView,
    WarehouseView,
};

pub const PRODUCT_CREATED: EventType<ProductView> = EventType::new(
    "product.created",
    "A product was created (one request or an import).",
);
pub const PRODUCT_UPDATED: EventType<ProductView> =
    EventType::new("product.updated", "A product's details or prices changed.");
pub const PRODUCT_DELETED: EventType<ProductView> = EventType::new(
    "product.deleted",
    "A product without stock history was deleted; `data` is the product as it was.",
);

pub const WAREHOUSE_CREATED: EventType<WarehouseView> =
    EventType::new("warehouse.created", "A warehouse was created.");
pub const WAREHOUSE_UPDATED: EventType<WarehouseView> = EventType::new(
    "warehouse.updated",
    "A warehouse's name, address or active flag changed.",
);

pub const SUPPLIER_CREATED: EventType<SupplierView> =
    EventType::new("supplier.created", "A supplier was created.");
pub const SUPPLIER_UPDATED: EventType<SupplierView> =
    EventType::new("supplier.updated", "A supplier's details changed.");

pub const STOCK_LEVEL_RECEIVED: EventType<StockLevelChanged> = EventType::new(
    "stock_level.received",
    "Goods came in (a receipt, or a purchase-order receipt): on-hand rose.",
)
    .example(r#"{"movement": {"kind": "receipt", "quantity": 200, "purchase_order_id": null, "reservation_id": null, "transfer_id": null}, "level": {"low_stock": false}}"#);
pub const STOCK_LEVEL_SHIPPED: EventType<StockLevelChanged> = EventType::new(
    "stock_level.shipped",
    "Held stock left the warehouse (a reservation consumed): on-hand and reserved fell \
     together, available is unchanged. One per level shipped from.",
)
    .example(r#"{"movement": {"kind": "shipment", "quantity": 2, "purchase_order_id": null, "transfer_id": null, "reservation_id": "01932c4e-5a7b-7c3d-9e2f-1a0b4c5d6e7f"}, "level": {"low_stock": false}}"#);
pub const STOCK_LEVEL_SHIPMENT_REVERSED: EventType<StockLevelChanged> = EventType::new(
    "stock_level.shipment_reversed",
    "A shipment was cancelled before pickup: on-hand rose again (`shipment_reversal`), and \
     reserved with it while the order still wants the goods. One per level.",
);
pub const STOCK_LEVEL_ADJUSTED: EventType<StockLevelChanged> = EventType::new(
    "stock_level.adjusted",
    "On-hand stock was adjusted by hand (damage, loss, found, correction).",
)
    .example(r#"{"movement": {"kind": "adjustment", "quantity": 3, "purchase_order_id": null, "reservation_id": null, "transfer_id": null}, "level": {"low_stock": false}}"#);
pub const STOCK_LEVEL_TRANSFERRED: EventType<StockLevelChanged> = EventType::new(
    "stock_level.transferred",
    "Stock moved between warehouses: one event for the level it left (`transfer_out`) and \
     one for the level it reached (`transfer_in`), sharing the movement's `transfer_id`.",
)
    .example(r#"{"movement": {"kind": "transfer_out", "quantity": 40, "purchase_order_id": null, "reservation_id": null, "transfer_id": "01932c4e-5a7b-7c3d-9e2f-1a0b4c5d6e7f"}, "level": {"low_stock": false}}"#);
pub const STOCK_LEVEL_RETURNED: EventType<StockLevelChanged> = EventType::new(
    "stock_level.returned",
    "Goods came back from a customer: restocked (on-hand rose) or scrapped (recorded only).",
)
    .example(r#"{"movement": {"kind": "return_restock", "quantity": 1, "purchase_order_id": null, "reservation_id": null, "transfer_id": null}, "level": {"low_stock": false}}"#);
pub const STOCK_LEVEL_COUNTED: EventType<StockLevelCounted> = EventType::new(
    "stock_level.counted",
    "A count (a person or a WMS) was applied; `movement` is the difference it booked, \
     if any. An older or repeated count changes nothing and writes none.",
)
    .example(r#"{"movement": {"kind": "count", "quantity": 2, "purchase_order_id": null, "reservation_id": null, "transfer_id": null}, "level": {"low_stock": false}}"#);
pub const STOCK_LEVEL_UPDATED: EventType<LevelView> = EventType::new(
    "stock_level.updated",
    "A level's reorder point, reorder quantity or safety stock changed.",
);
pub const STOCK_LEVEL_LOW: EventType<StockLevelAlert> = EventType::new(
    "stock_level.low",
    "Available stock fell below the reorder point: a low-stock alert opened.",
)
    .example(r#"{"level": {"low_stock": true, "on_hand": 12, "reserved": 4, "available": 8, "reorder_point": 20}}"#);
pub const STOCK_LEVEL_RECOVERED: EventType<StockLevelAlert> = EventType::new(
    "stock_level.recovered",
    "Available stock is back at or above the reorder point: the low-stock alert closed.",
)
    .example(r#"{"level": {"low_stock": false, "on_hand": 212, "reserved": 4, "available": 208, "reorder_point": 20}}"#);

pub const RESERVATION_CREATED: EventType<ReservationView> = EventType::new(
    "reservation.created",
    "Stock was reserved (all lines or none).",
)
.example(r#"{"status": "active"}"#);
pub const RESERVATION_RELEASED: EventType<ReservationView> = EventType::new(
    "reservation.released",
    "A reservation let go of what it still held.",
)
.example(r#"{"status": "released"}"#);
pub const RESERVATION_EXPIRED: EventType<ReservationView> = EventType::new(
    "reservation.expired",
    "A reservation passed its `expires_at` and what it still held was released.",
)
.example(r#"{"status": "expired"}"#);
pub const RESERVATION_CONSUMED: EventType<ReservationView> = EventType::new(
    "reservation.consumed",
    "Held stock shipped, in full (`consumed`) or in part (`partially_consumed`).",
)
.example(r#"{"status": "consumed"}"#);

pub const RESERVATION_ADJUSTED: EventType<ReservationView> = EventType::new(
    "reservation.adjusted",
    "An edit of its order grew or shrank what an order's reservation holds, by the difference \
     only: a line's `quantity` grew, or what it let go of went to `released`; a new product or \
     warehouse is a new line.",
)
.example(r#"{"status": "active"}"#);

pub const RESERVATION_RESTORED: EventType<ReservationView> = EventType::new(
    "reservation.restored",
    "A shipment cancelled before pickup gave back what it took from an order's reservation: \
     held again (`active` or `partially_consumed`) while the order wants it, else `released`.",
)
.example(r#"{"status": "partially_consumed"}"#);

pub const PURCHASE_ORDER_CREATED: EventType<PurchaseOrderView> = EventType::new(
    "purchase_order.created",
    "A draft purchase order was created (by hand or from replenishment suggestions).",
)
.example(r#"{"status": "draft"}"#);
pub const PURCHASE_ORDER_PLACED: EventType<PurchaseOrderView> = EventType::new(
    "purchase_order.placed",
    "A draft purchase order was sent to its supplier (`ordered`).",
)
.example(r#"{"status": "ordered"}"#);
pub const PURCHASE_ORDER_CANCELLED: EventType<PurchaseOrderView> = EventType::new(
    "purchase_order.cancelled",
    "A purchase order was cancelled.",
)
.example(r#"{"status": "cancelled"}"#);
pub const PURCHASE_ORDER_RECEIVED: EventType<PurchaseOrderView> = EventType::new(
    "purchase_order.received",
    "Goods were received against a purchase order (in part or in full).",
)
.example(r#"{"status": "partially_received"}"#);

/// Every event type this domain writes.
pub fn catalogue() -> Vec<Catalogued> {
    vec![
        PRODUCT_CREATED.entry(),
        PRODUCT_UPDATED.entry(),
        PRODUCT_DELETED.entry(),
        WAREHOUSE_CREATED.entry(),
        WAREHOUSE_UPDATED.entry(),
        SUPPLIER_CREATED.entry(),
        SUPPLIER_UPDATED.entry(),
        STOCK_LEVEL_RECEIVED.entry(),
        STOCK_LEVEL_SHIPPED.entry(),
        STOCK_LEVEL_SHIPMENT_REVERSED.entry(),
        STOCK_LEVEL_ADJUSTED.entry(),
        STOCK_LEVEL_TRANSFERRED.entry(),
        STOCK_LEVEL_RETURNED.entry(),
        STOCK_LEVEL_COUNTED.entry(),
        STOCK_LEVEL_UPDATED.entry(),
        STOCK_LEVEL_LOW.entry(),
        STOCK_LEVEL_RECOVERED.entry(),
        RESERVATION_CREATED.entry(),
        RESERVATION_RELEASED.entry(),
        RESERVATION_EXPIRED.entry(),
        RESERVATION_CONSUMED.entry(),
        RESERVATION_ADJUSTED.entry(),
        RESERVATION_RESTORED.entry(),
        PURCHASE_ORDER_CREATED.entry(),
        PURCHASE_ORDER_PLACED.entry(),
        PURCHASE_ORDER_CANCELLED.entry(),
        PURCHASE_ORDER_RECEIVED.entry(),
    ]
}

/// A stock level after a movement, and the movement.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StockLevelChanged {
    pub level: LevelView,
    pub movement: MovementView,
}

/// A stock level after an applied count, and the difference it booked.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StockLevelCounted {
    pub level: LevelView,
    /// `None` when the count matched the books.
    pub movement: Option<MovementView>,
}

/// A stock level whose low-stock alert just opened or closed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StockLevelAlert {
    pub alert_id: uuid::Uuid,
    pub level: LevelView,
}

pub(crate) async fn product(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    event_type: &EventType<ProductView>,
    product: &ProductView,
) -> Result<(), DbErr> {
    let key = (product.id, product.version);
    events::record(
        txn,
        ctx,
        NewEvent::about(event_type, "product", key, product),
    )
    .await
    .map(drop)
}

pub(crate) async fn warehouse(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    event_type: &EventType<WarehouseView>,
    warehouse: &WarehouseView,
) -> Result<(), DbErr> {
    let key = (warehouse.id, warehouse.version);
    events::record(
        txn,
        ctx,
        NewEvent::about(event_type, "warehouse", key, warehouse),
    )
    .await
    .map(drop)
}

pub(crate) async fn supplier(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    event_type: &EventType<SupplierView>,
    supplier: &SupplierView,
) -> Result<(), DbErr> {
    let key = (supplier.id, supplier.version);
    events::record(
        txn,
        ctx,
        NewEvent::about(event_type, "supplier", key, supplier),
    )
    .await
    .map(drop)
}

pub(crate) async fn reservation(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    event_type: &EventType<ReservationView>,
    reservation: &ReservationView,
) -> Result<(), DbErr> {
    reservation_of(txn, ctx, event_type, reservation, None).await
}

/// A reservation's event, carrying the order it holds stock for, if any, so the
/// order's timeline and per-order feeds find it.
pub(crate) async fn reservation_of(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    event_type: &EventType<ReservationView>,
    reservation: &ReservationView,
    order_id: Option<uuid::Uuid>,
) -> Result<(), DbErr> {
    let key = (reservation.id, reservation.version);
    let mut event = NewEvent::about(event_type, "reservation", key, reservation);
    if let Some(order_id) = order_id {
        event = event.order(order_id);
    }
    events::record(txn, ctx, event).await.map(drop)
}

pub(crate) async fn stock_level<P: Serialize>(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    event_type: &EventType<P>,
    level: &LevelView,
    data: &P,
) -> Result<(), DbErr> {
    let key = (level.label(), level.version);
    events::record(
        txn,
        ctx,
        NewEvent::about(event_type, "stock_level", key, data),
    )
    .await
    .map(drop)
}

/// A movement that changed a level.
pub(crate) async fn level_changed(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    event_type: &EventType<StockLevelChanged>,
    movement: &MovementView,
    level: &LevelView,
) -> Result<(), DbErr> {
    let data = StockLevelChanged {
        level: level.clone(),
        movement: movement.clone(),
    };
    stock_level(txn, ctx, event_type, level, &data).await
}

pub(crate) async fn purchase_order(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    event_type: &EventType<PurchaseOrderView>,
    order: &PurchaseOrderView,
) -> Result<(), DbErr> {
    let key = (order.id, order.version);
    events::record(
        txn,
        ctx,
        NewEvent::about(event_type, "purchase_order", key, order),
    )
    .await
    .map(drop)
}
