use ordercrm_kernel::authz::{Action, Actor};
use ordercrm_kernel::pagination::{PageRequest, Seek};
use ordercrm_kernel::{Page, Result};
use sea_orm::{ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::dto::{AlertView, ListAlerts};
use crate::entity::{alert, level};

/// Open alerts (default) or closed ones, newest first.
pub async fn list(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    query: ListAlerts,
) -> Result<Page<AlertView>> {
    actor.require(Action::InventoryRead)?;
    let open = query.open.unwrap_or(true);
    let page = PageRequest::new(
        query.limit,
        query.cursor.as_deref(),
        if open { "open" } else { "closed" },
    )?;
    let mut select = alert::Entity::find();
    select = if open {
        select.filter(alert::COLUMN.closed_at.is_null())
    } else {
        select.filter(alert::COLUMN.closed_at.is_not_null())
    };
    let seek = Seek::newest_first(alert::Column::OpenedAt, alert::Column::Id);
    let rows = seek.select(select, &page)?.all(conn).await?;
    let keys: Vec<(Uuid, Uuid)> = rows
        .iter()
        .map(|r| (r.product_id, r.warehouse_id))
        .collect();
    let places = super::places(conn, keys.iter().copied()).await?;
    // Current availability of every level on the page, in one query.
    let levels: std::collections::HashMap<(Uuid, Uuid), i64> = if keys.is_empty() {
        Default::default()
    } else {
        level::Entity::find()
            .filter(level::COLUMN.product_id.is_in(keys.iter().map(|k| k.0)))
            .filter(level::COLUMN.warehouse_id.is_in(keys.iter().map(|k| k.1)))
            .all(conn)
            .await?
            .into_iter()
            .map(|l| ((l.product_id, l.warehouse_id), l.available()))
            .collect()
    };
    let views = rows
        .iter()
        .map(|r| {
            let place = super::place_of(&places, (r.product_id, r.warehouse_id))?;
            Ok(AlertView {
                id: r.id,
                sku: place.product.sku.clone(),
                product_id: r.product_id,
                warehouse_code: place.warehouse.code.clone(),
                warehouse_id: r.warehouse_id,
                available_at_open: r.available_at_open,
                reorder_point: r.reorder_point,
                available: levels
                    .get(&(r.product_id, r.warehouse_id))
                    .copied()
                    .unwrap_or(0),
                opened_at: r.opened_at,
                closed_at: r.closed_at,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(seek.page_of(&rows, &page, views))
}
