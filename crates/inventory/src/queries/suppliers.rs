use ordercrm_kernel::authz::{Action, Actor};
use ordercrm_kernel::pagination::{PageRequest, Seek};
use ordercrm_kernel::{Page, Result};
use sea_orm::{ConnectionTrait, EntityTrait, Order, QueryFilter};
use uuid::Uuid;

use crate::dto::{ListSimple, SupplierView};
use crate::entity::supplier;
use crate::error::InventoryError;

pub(crate) fn view(s: supplier::Model) -> SupplierView {
    SupplierView {
        id: s.id,
        name: s.name,
        contact_name: s.contact_name,
        email: s.email,
        phone: s.phone,
        lead_time_days: s.lead_time_days,
        currency: s.currency,
        active: s.active,
        version: s.version,
        created_at: s.created_at,
        updated_at: s.updated_at,
    }
}

pub async fn get(conn: &impl ConnectionTrait, actor: &Actor, id: Uuid) -> Result<SupplierView> {
    actor.require(Action::PurchasingRead)?;
    supplier::Entity::find_by_id(id)
        .one(conn)
        .await?
        .map(view)
        .ok_or_else(|| InventoryError::not_found("supplier", id).into())
}

/// Sorted by name.
pub async fn list(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    query: ListSimple,
) -> Result<Page<SupplierView>> {
    actor.require(Action::PurchasingRead)?;
    let page = PageRequest::new(query.limit, query.cursor.as_deref(), "name")?;
    let mut select = supplier::Entity::find();
    if let Some(a) = query.active {
        select = select.filter(supplier::COLUMN.active.eq(a));
    }
    let seek = Seek::by(Order::Asc, [supplier::Column::Name, supplier::Column::Id]);
    let rows = seek.select(select, &page)?.all(conn).await?;
    Ok(seek.page(rows, &page, view))
}
