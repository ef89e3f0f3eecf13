use ordercrm_kernel::authz::{Action, Actor};
use ordercrm_kernel::pagination::{PageRequest, Seek};
use ordercrm_kernel::{Page, Result};
use sea_orm::{ConnectionTrait, EntityTrait, Order, QueryFilter};
use uuid::Uuid;

use crate::dto::{ListSimple, WarehouseView};
use crate::entity::warehouse;
use crate::error::InventoryError;

pub(crate) fn view(w: warehouse::Model) -> WarehouseView {
    WarehouseView {
        id: w.id,
        code: w.code,
        name: w.name,
        address: w.address.and_then(|a| serde_json::from_value(a).ok()),
        active: w.active,
        priority: w.priority,
        version: w.version,
        created_at: w.created_at,
        updated_at: w.updated_at,
    }
}

pub async fn get(conn: &impl ConnectionTrait, actor: &Actor, id: Uuid) -> Result<WarehouseView> {
    actor.require(Action::CatalogRead)?;
    warehouse::Entity::find_by_id(id)
        .one(conn)
        .await?
        .map(view)
        .ok_or_else(|| InventoryError::not_found("warehouse", id).into())
}

/// By code, for the rare list that needs all of them: sorted by code.
pub async fn list(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    query: ListSimple,
) -> Result<Page<WarehouseView>> {
    actor.require(Action::CatalogRead)?;
    let page = PageRequest::new(query.limit, query.cursor.as_deref(), "code")?;
    let mut select = warehouse::Entity::find();
    if let Some(a) = query.active {
        select = select.filter(warehouse::COLUMN.active.eq(a));
    }
    let seek = Seek::by(Order::Asc, [warehouse::Column::CodeNormalized]);
    let rows = seek.select(select, &page)?.all(conn).await?;
    Ok(seek.page(rows, &page, view))
}
