//! Reads. Catalog and stock are not owner-scoped: whoever may read inventory sees
//! all of it.

pub mod alerts;
pub mod for_orders;
pub mod levels;
pub mod products;
pub mod purchase_orders;
pub mod replenishment;
pub mod reservations;
pub mod suppliers;
pub mod verify;
pub mod warehouses;

use std::collections::{HashMap, HashSet};

use ordercrm_kernel::Result;
use sea_orm::{ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::commands::levels::Place;
use crate::entity::{product, warehouse};

/// Products and warehouses for `(product_id, warehouse_id)` keys, two queries in all.
pub(crate) async fn places(
    conn: &impl ConnectionTrait,
    keys: impl Iterator<Item = (Uuid, Uuid)>,
) -> Result<HashMap<(Uuid, Uuid), Place>> {
    let keys: Vec<(Uuid, Uuid)> = keys.collect();
    let product_ids: HashSet<Uuid> = keys.iter().map(|k| k.0).collect();
    let warehouse_ids: HashSet<Uuid> = keys.iter().map(|k| k.1).collect();
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let products: HashMap<Uuid, product::Model> = product::Entity::find()
        .filter(product::COLUMN.id.is_in(product_ids))
        .all(conn)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    let warehouses: HashMap<Uuid, warehouse::Model> = warehouse::Entity::find()
        .filter(warehouse::COLUMN.id.is_in(warehouse_ids))
        .all(conn)
        .await?
        .into_iter()
        .map(|w| (w.id, w))
        .collect();
    Ok(keys
        .into_iter()
        .filter_map(|k| {
            Some((
                k,
                Place {
                    product: products.get(&k.0)?.clone(),
                    warehouse: warehouses.get(&k.1)?.clone(),
                },
            ))
        })
        .collect())
}

/// The place a row's foreign keys name. Absent only if the database lost a row it
/// references, which is a server fault, not the client's.
pub(crate) fn place_of(places: &HashMap<(Uuid, Uuid), Place>, key: (Uuid, Uuid)) -> Result<&Place> {
    places.get(&key).ok_or_else(|| {
        ordercrm_kernel::Error::new(
            ordercrm_kernel::error::problems::INTERNAL,
            format!(
                "no product {} or warehouse {} for a stored row",
                key.0, key.1
            ),
        )
    })
}

/// A product id by SKU (any case), or `None` when there is no such product: a
/// filter on an unknown SKU matches nothing rather than failing.
pub(crate) async fn product_id(conn: &impl ConnectionTrait, sku: &str) -> Result<Option<Uuid>> {
    Ok(product::Entity::find()
        .filter(
            product::COLUMN
                .sku_normalized
                .eq(crate::model::normalize_sku(sku)),
        )
        .one(conn)
        .await?
        .map(|p| p.id))
}

pub(crate) async fn warehouse_id(conn: &impl ConnectionTrait, code: &str) -> Result<Option<Uuid>> {
    Ok(warehouse::Entity::find()
        .filter(
            warehouse::COLUMN
                .code_normalized
                .eq(crate::model::normalize_code(code)),
        )
        .one(conn)
        .await?
        .map(|w| w.id))
}
