//! Product CSV export and import, on the kernel's shared import machinery: one
//! header set both ways, so an export re-imports unchanged. A row whose SKU exists
//! (any case) updates that product; any other row creates one.

use std::io::Read;

use ordercrm_kernel::csv_import::{
    Import, ImportReport, Row, RowErrors, money_cells, refs_cell, row_errors,
};
use ordercrm_kernel::{Ctx, Result};
use sea_orm::{DatabaseTransaction, EntityTrait, QueryFilter};

use crate::commands;
use crate::dto::{CreateProduct, ProductView, UpdateProduct};
use crate::entity::product;
use crate::model;

/// `external_refs` are `channel:external_id` pairs, `;`-separated. Money is in
/// minor units. Empty cells are absent values.
pub const HEADERS: &[&str] = &[
    "sku",
    "name",
    "description",
    "category",
    "unit",
    "barcode",
    "list_price_amount",
    "list_price_currency",
    "cost_amount",
    "cost_currency",
    "tax_rate_bps",
    "warranty_days",
    "tracks_inventory",
    "active",
    "supplier_id",
    "external_refs",
];

pub fn header_row() -> Vec<String> {
    HEADERS.iter().map(|h| (*h).to_owned()).collect()
}

pub fn row(p: &ProductView) -> Vec<String> {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let [price_amount, price_currency] = money_cells(Some(p.list_price));
    let [cost_amount, cost_currency] = money_cells(p.cost);
    vec![
        p.sku.clone(),
        p.name.clone(),
        opt(&p.description),
        opt(&p.category),
        p.unit.clone(),
        opt(&p.barcode),
        price_amount,
        price_currency,
        cost_amount,
        cost_currency,
        p.tax_rate_bps.to_string(),
        p.warranty_days.map(|d| d.to_string()).unwrap_or_default(),
        p.tracks_inventory.to_string(),
        p.active.to_string(),
        p.supplier_id.map(|s| s.to_string()).unwrap_or_default(),
        refs_cell(&p.external_refs),
    ]
}

/// Run every row of `input` in `txn`; the caller commits only if `report.applied`.
pub async fn import<R: Read>(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    input: R,
    dry_run: bool,
) -> Result<ImportReport> {
    ctx.actor
        .require(ordercrm_kernel::authz::Action::CatalogWrite)?;
    let mut import = Import::open(input, dry_run, HEADERS, &["sku"])?;
    while let Some(row) = import.next_row() {
        let outcome = apply_row(txn, ctx, &row).await;
        import.record(&row, outcome);
    }
    Ok(import.finish())
}

async fn apply_row(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    row: &Row,
) -> std::result::Result<bool, RowErrors> {
    let mut errors = RowErrors::new();
    let refs = row.external_refs("external_refs", &mut errors);
    let list_price = row.money("list_price_amount", "list_price_currency", &mut errors);
    // A column the file does not have leaves its field alone (None); an empty cell
    // in a column it has clears the field (Some(None)).
    let cost = row.money_cell("cost_amount", "cost_currency", &mut errors);
    let tax_rate_bps = row.parse("tax_rate_bps", &mut errors);
    let warranty_days = row.parse_cell("warranty_days", &mut errors);
    let tracks_inventory = row.parse("tracks_inventory", &mut errors);
    let active = row.parse("active", &mut errors);
    let supplier_id = row.parse_cell("supplier_id", &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    let sku = row.get("sku").unwrap_or_default();
    let existing = product::Entity::find()
        .filter(
            product::COLUMN
                .sku_normalized
                .eq(model::normalize_sku(&sku)),
        )
        .one(txn)
        .await
        .map_err(|e| vec![("row".to_owned(), e.to_string())])?;
    match existing {
        Some(found) => {
            let patch = UpdateProduct {
                sku: None,
                name: row.get("name"),
                description: row.cell("description"),
                category: row.cell("category"),
                unit: row.get("unit"),
                barcode: row.cell("barcode"),
                list_price,
                cost,
                tax_rate_bps,
                warranty_days,
                tracks_inventory,
                active,
                attributes: None,
                supplier_id,
                external_refs: row.has("external_refs").then_some(refs),
            };
            commands::products::update(txn, ctx, found.id, None, patch)
                .await
                .map_err(row_errors)?;
            Ok(false)
        }
        None => {
            let Some(list_price) = list_price else {
                return Err(vec![(
                    "list_price_amount".into(),
                    "a new product needs list_price_amount and list_price_currency".into(),
                )]);
            };
            let input = CreateProduct {
                sku,
                name: row.get("name").unwrap_or_default(),
                description: row.get("description"),
                category: row.get("category"),
                unit: row.get("unit"),
                barcode: row.get("barcode"),
                list_price,
                cost: cost.flatten(),
                tax_rate_bps: tax_rate_bps.unwrap_or(0),
                warranty_days: warranty_days.flatten(),
                tracks_inventory: tracks_inventory.unwrap_or(true),
                active: active.unwrap_or(true),
                attributes: None,
                supplier_id: supplier_id.flatten(),
                external_refs: refs,
            };
            commands::products::create(txn, ctx, input)
                .await
                .map_err(row_errors)?;
            Ok(true)
        }
    }
}
