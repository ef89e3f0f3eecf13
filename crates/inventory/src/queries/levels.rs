use ordercrm_kernel::authz::{Action, Actor};
use ordercrm_kernel::pagination::{PageRequest, keyset_after, newest_first, time_id_key};
use ordercrm_kernel::{Page, Result};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::commands::levels::{level_view, movement_view};
use crate::dto::{LevelView, ListLevels, ListMovements, MovementView};
use crate::entity::{level, movement};
use crate::error::InventoryError;

/// Stock of one SKU in one warehouse (zeros when never stocked there).
pub async fn get(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    sku: &str,
    warehouse_code: &str,
) -> Result<LevelView> {
    actor.require(Action::InventoryRead)?;
    let (Some(p), Some(w)) = (
        super::product_id(conn, sku).await?,
        super::warehouse_id(conn, warehouse_code).await?,
    ) else {
        return Err(
            InventoryError::not_found("stock level", format!("{sku}@{warehouse_code}")).into(),
        );
    };
    let places = super::places(conn, std::iter::once((p, w))).await?;
    let place = places.get(&(p, w)).ok_or_else(|| {
        InventoryError::not_found("stock level", format!("{sku}@{warehouse_code}"))
    })?;
    let row = level::Entity::find_by_id((p, w))
        .one(conn)
        .await?
        .unwrap_or(level::Model {
            product_id: p,
            warehouse_id: w,
            on_hand: 0,
            reserved: 0,
            reorder_point: 0,
            reorder_quantity: 0,
            safety_stock: 0,
            low_stock: false,
            counted_at: None,
            version: 0,
            updated_at: std::cmp::max(place.product.created_at, place.warehouse.created_at),
        });
    Ok(place.level_view(&row))
}

pub async fn list(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    query: ListLevels,
) -> Result<Page<LevelView>> {
    actor.require(Action::InventoryRead)?;
    let page = PageRequest::new(query.limit, query.cursor.as_deref(), "key")?;
    let mut select = level::Entity::find();
    if let Some(sku) = query.sku.as_deref() {
        select = select.filter(level::Column::ProductId.eq(super::product_id(conn, sku).await?));
    }
    if let Some(code) = query.warehouse.as_deref() {
        select =
            select.filter(level::Column::WarehouseId.eq(super::warehouse_id(conn, code).await?));
    }
    if query.below_reorder_point == Some(true) {
        select = select.filter(
            Expr::col(level::Column::OnHand)
                .sub(Expr::col(level::Column::Reserved))
                .lt(Expr::col(level::Column::ReorderPoint)),
        );
    }
    let columns = [
        (level::Column::ProductId, Order::Asc),
        (level::Column::WarehouseId, Order::Asc),
    ];
    if let Some(c) = &page.after {
        select = select.filter(keyset_after(
            &columns,
            vec![c.key_at::<Uuid>(0)?.into(), c.key_at::<Uuid>(1)?.into()],
        ));
    }
    let rows = select
        .order_by(level::Column::ProductId, Order::Asc)
        .order_by(level::Column::WarehouseId, Order::Asc)
        .limit(page.fetch_limit())
        .all(conn)
        .await?;
    let places = super::places(conn, rows.iter().map(|r| (r.product_id, r.warehouse_id))).await?;
    Ok(Page::from_rows(
        rows,
        &page,
        |r| {
            vec![
                serde_json::json!(r.product_id),
                serde_json::json!(r.warehouse_id),
            ]
        },
        |r| {
            let place = &places[&(r.product_id, r.warehouse_id)];
            level_view(&r, &place.product, &place.warehouse)
        },
    ))
}

pub async fn movements(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    query: ListMovements,
) -> Result<Page<MovementView>> {
    actor.require(Action::InventoryRead)?;
    let page = PageRequest::new(query.limit, query.cursor.as_deref(), "-created_at")?;
    let mut select = movement::Entity::find();
    if let Some(sku) = query.sku.as_deref() {
        select = select.filter(movement::Column::ProductId.eq(super::product_id(conn, sku).await?));
    }
    if let Some(code) = query.warehouse.as_deref() {
        select =
            select.filter(movement::Column::WarehouseId.eq(super::warehouse_id(conn, code).await?));
    }
    if let Some(kind) = query.kind {
        select = select.filter(movement::COLUMN.kind.eq(kind.as_str()));
    }
    if let Some(reference) = query.reference {
        select = select.filter(movement::COLUMN.reference.eq(reference));
    }
    if let Some(since) = query.since {
        select = select.filter(movement::COLUMN.created_at.gte(since));
    }
    if let Some(until) = query.until {
        select = select.filter(movement::COLUMN.created_at.lt(until));
    }
    let rows = newest_first(
        select,
        &page,
        movement::Column::CreatedAt,
        movement::Column::Id,
    )?
    .all(conn)
    .await?;
    let places = super::places(conn, rows.iter().map(|r| (r.product_id, r.warehouse_id))).await?;
    Ok(Page::from_rows(
        rows,
        &page,
        |r| time_id_key(&r.created_at, &r.id),
        |r| movement_view(&r, &places[&(r.product_id, r.warehouse_id)]),
    ))
}
