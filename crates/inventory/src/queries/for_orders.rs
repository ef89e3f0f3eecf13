//! What orders read from the catalog: products by id or SKU (what a line snapshots),
//! warehouses by code, and where stock is, for choosing a warehouse. No permission
//! check here: the order command checked the caller may order, and reading prices
//! and availability for that is part of ordering.

use std::collections::HashMap;

use ordercrm_kernel::{Currency, Money, Result};
use sea_orm::{ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::entity::{level, product, warehouse};
use crate::model;

/// A product as an order line needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductFacts {
    pub id: Uuid,
    pub sku: String,
    pub name: String,
    pub unit: String,
    pub tax_rate_bps: i32,
    pub list_price: Option<Money>,
    pub cost: Option<Money>,
    pub tracks_inventory: bool,
    pub active: bool,
}

fn money(amount: i64, currency: &str) -> Option<Money> {
    currency
        .parse::<Currency>()
        .ok()
        .map(|c| Money::new(amount, c))
}

fn facts(p: product::Model) -> ProductFacts {
    ProductFacts {
        list_price: money(p.list_price_amount, &p.list_price_currency),
        cost: p
            .cost_amount
            .zip(p.cost_currency.as_deref())
            .and_then(|(a, c)| money(a, c)),
        id: p.id,
        sku: p.sku,
        name: p.name,
        unit: p.unit,
        tax_rate_bps: p.tax_rate_bps,
        tracks_inventory: p.tracks_inventory,
        active: p.active,
    }
}

/// Products named by id or by SKU (any case): one query. Keyed by id, and the SKU
/// index maps a normalized SKU to its id.
pub async fn products(
    conn: &impl ConnectionTrait,
    ids: &[Uuid],
    skus: &[&str],
) -> Result<(HashMap<Uuid, ProductFacts>, HashMap<String, Uuid>)> {
    let normalized: Vec<String> = skus.iter().map(|s| model::normalize_sku(s)).collect();
    let rows = product::Entity::find()
        .filter(
            sea_orm::Condition::any()
                .add(product::COLUMN.id.is_in(ids.to_vec()))
                .add(product::COLUMN.sku_normalized.is_in(normalized)),
        )
        .all(conn)
        .await?;
    let by_sku = rows
        .iter()
        .map(|p| (p.sku_normalized.clone(), p.id))
        .collect();
    let by_id = rows.into_iter().map(|p| (p.id, facts(p))).collect();
    Ok((by_id, by_sku))
}

pub fn normalize_sku(sku: &str) -> String {
    model::normalize_sku(sku)
}

pub fn normalize_code(code: &str) -> String {
    model::normalize_code(code)
}

/// A warehouse as an order line shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarehouseFacts {
    pub id: Uuid,
    pub code: String,
    pub priority: i32,
    pub active: bool,
}

fn warehouse_facts(w: warehouse::Model) -> WarehouseFacts {
    WarehouseFacts {
        id: w.id,
        code: w.code,
        priority: w.priority,
        active: w.active,
    }
}

/// Every warehouse, active or not, by normalized code.
pub async fn warehouses(conn: &impl ConnectionTrait) -> Result<HashMap<String, WarehouseFacts>> {
    Ok(warehouse::Entity::find()
        .all(conn)
        .await?
        .into_iter()
        .map(|w| (w.code_normalized.clone(), warehouse_facts(w)))
        .collect())
}

/// Available stock (on hand − reserved, never below 0) of `products` per warehouse
/// that has a level for them: one query.
pub async fn available(
    conn: &impl ConnectionTrait,
    products: &[Uuid],
) -> Result<HashMap<(Uuid, Uuid), i64>> {
    Ok(level::Entity::find()
        .filter(level::COLUMN.product_id.is_in(products.to_vec()))
        .all(conn)
        .await?
        .into_iter()
        .map(|l| ((l.product_id, l.warehouse_id), l.available().max(0)))
        .collect())
}
