//! Events this domain writes to the outbox.

use ordercrm_kernel::Ctx;
use ordercrm_kernel::events::{self, NewEvent};
use sea_orm::{DatabaseTransaction, DbErr};
use serde::Serialize;

use crate::dto::{LevelView, MovementView, ProductView, PurchaseOrderView};
use crate::entity::alert;

pub const PRODUCT_CREATED: &str = "product.created";
pub const PRODUCT_UPDATED: &str = "product.updated";
pub const INVENTORY_ADJUSTED: &str = "inventory.adjusted";
pub const INVENTORY_LOW_STOCK: &str = "inventory.low_stock";
pub const PURCHASE_ORDER_RECEIVED: &str = "purchase_order.received";

pub(crate) async fn product(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    event_type: &'static str,
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

#[derive(Serialize)]
struct Adjusted<'a> {
    movement: &'a MovementView,
    level: &'a LevelView,
}

/// An adjustment or a count that changed on-hand.
pub(crate) async fn adjusted(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    movement: &MovementView,
    level: &LevelView,
) -> Result<(), DbErr> {
    events::record(
        txn,
        ctx,
        NewEvent {
            event_type: INVENTORY_ADJUSTED,
            resource_type: "stock_level",
            resource_id: level.label(),
            resource_version: level.version,
            data: &Adjusted { movement, level },
            order_id: None,
            customer_id: None,
        },
    )
    .await
    .map(drop)
}

#[derive(Serialize)]
struct LowStock<'a> {
    alert_id: uuid::Uuid,
    level: &'a LevelView,
}

pub(crate) async fn low_stock(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    alert: &alert::Model,
    level: &LevelView,
) -> Result<(), DbErr> {
    events::record(
        txn,
        ctx,
        NewEvent {
            event_type: INVENTORY_LOW_STOCK,
            resource_type: "stock_level",
            resource_id: level.label(),
            resource_version: level.version,
            data: &LowStock {
                alert_id: alert.id,
                level,
            },
            order_id: None,
            customer_id: None,
        },
    )
    .await
    .map(drop)
}

pub(crate) async fn purchase_order_received(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    order: &PurchaseOrderView,
) -> Result<(), DbErr> {
    events::record(
        txn,
        ctx,
        NewEvent {
            event_type: PURCHASE_ORDER_RECEIVED,
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
