use ordercrm_kernel::authz::{Action, Actor};
use ordercrm_kernel::pagination::{PageRequest, Seek};
use ordercrm_kernel::{Page, Result};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, Order, QueryFilter};

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
    let seek = Seek::by(
        Order::Asc,
        [level::Column::ProductId, level::Column::WarehouseId],
    );
    let rows = seek.select(select, &page)?.all(conn).await?;
    let places = super::places(conn, rows.iter().map(|r| (r.product_id, r.warehouse_id))).await?;
    let views = rows
        .iter()
        .map(|r| {
            let place = super::place_of(&places, (r.product_id, r.warehouse_id))?;
            Ok(level_view(r, &place.product, &place.warehouse))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(seek.page_of(&rows, &page, views))
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
    let seek = Seek::newest_first(movement::Column::CreatedAt, movement::Column::Id);
    let rows = seek.select(select, &page)?.all(conn).await?;
    let places = super::places(conn, rows.iter().map(|r| (r.product_id, r.warehouse_id))).await?;
    let views = rows
        .iter()
        .map(|r| {
            Ok(movement_view(
                r,
                super::place_of(&places, (r.product_id, r.warehouse_id))?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(seek.page_of(&rows, &page, views))
}
