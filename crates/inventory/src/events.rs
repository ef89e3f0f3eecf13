//! Events this domain writes to the outbox: every type, its `data`, and the one
//! function that writes each resource's events.

use ordercrm_kernel::Ctx;
use ordercrm_kernel::events::{self, Catalogued, EventType, NewEvent};
use sea_orm::{DatabaseTransaction, DbErr};
use serde::Serialize;
use utoipa::ToSchema;

use crate::dto::{LevelView, MovementView, ProductView, PurchaseOrderView};

pub const PRODUCT_CREATED: EventType<ProductView> = EventType::new(
    "product.created",
    "A product was created (one request or an import).",
);
pub const PRODUCT_UPDATED: EventType<ProductView> =
    EventType::new("product.updated", "A product's details or prices changed.");

pub const STOCK_LEVEL_ADJUSTED: EventType<StockLevelChanged> = EventType::new(
    "stock_level.adjusted",
    "On-hand stock was adjusted by hand (damage, loss, found, correction).",
);
pub const STOCK_LEVEL_COUNTED: EventType<StockLevelChanged> = EventType::new(
    "stock_level.counted",
    "A count (a person or a WMS) changed on-hand stock; a count that matched writes none.",
);
pub const STOCK_LEVEL_LOW: EventType<StockLevelLow> = EventType::new(
    "stock_level.low",
    "Available stock fell to or below the reorder point: a low-stock alert opened.",
);

pub const PURCHASE_ORDER_RECEIVED: EventType<PurchaseOrderView> = EventType::new(
    "purchase_order.received",
    "Goods were received against a purchase order (in part or in full).",
);

/// Every event type this domain writes.
pub fn catalogue() -> Vec<Catalogued> {
    vec![
        PRODUCT_CREATED.entry(),
        PRODUCT_UPDATED.entry(),
        STOCK_LEVEL_ADJUSTED.entry(),
        STOCK_LEVEL_COUNTED.entry(),
        STOCK_LEVEL_LOW.entry(),
        PURCHASE_ORDER_RECEIVED.entry(),
    ]
}

/// A stock level after a movement, and the movement.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StockLevelChanged {
    pub level: LevelView,
    pub movement: MovementView,
}

/// A stock level whose low-stock alert just opened.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StockLevelLow {
    pub alert_id: uuid::Uuid,
    pub level: LevelView,
}

pub(crate) async fn product(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    event_type: &EventType<ProductView>,
    product: &ProductView,
) -> Result<(), DbErr> {
    events::record(
        txn,
        ctx,
        NewEvent {
            event_type,
            resource_type: "product",
            resource_id: product.id.to_string(),
            resource_version: product.version,
            data: product,
            order_id: None,
            customer_id: None,
        },
    )
    .await
    .map(drop)
}

pub(crate) async fn stock_level<P: Serialize>(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    event_type: &EventType<P>,
    level: &LevelView,
    data: &P,
) -> Result<(), DbErr> {
    events::record(
        txn,
        ctx,
        NewEvent {
            event_type,
            resource_type: "stock_level",
            resource_id: level.label(),
            resource_version: level.version,
            data,
            order_id: None,
            customer_id: None,
        },
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
    events::record(
        txn,
        ctx,
        NewEvent {
            event_type,
            resource_type: "purchase_order",
            resource_id: order.id.to_string(),
            resource_version: order.version,
            data: order,
            order_id: None,
            customer_id: None,
        },
    )
    .await
    .map(drop)
}
