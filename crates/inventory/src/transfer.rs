//! Product CSV export and import, on the kernel's shared import machinery: one
//! header set both ways, so an export re-imports unchanged. A row whose SKU exists
//! (any case) updates that product; any other row creates one.

use std::io::Read;

use ordercrm_kernel::csv_import::{Import, ImportReport, Row, RowErrors, row_errors};
use ordercrm_kernel::{Ctx, Currency, Money, Result};
use sea_orm::{DatabaseTransaction, EntityTrait, QueryFilter};

use crate::commands;
use crate::dto::{CreateProduct, ExternalRef, ProductView, UpdateProduct};
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
    vec![
        p.sku.clone(),
        p.name.clone(),
        opt(&p.description),
        opt(&p.category),
        p.unit.clone(),
        opt(&p.barcode),
        p.list_price.amount.to_string(),
        p.list_price.currency.code().to_owned(),
        p.cost.map(|m| m.amount.to_string()).unwrap_or_default(),
        p.cost
            .map(|m| m.currency.code().to_owned())
            .unwrap_or_default(),
        p.tax_rate_bps.to_string(),
        p.warranty_days.map(|d| d.to_string()).unwrap_or_default(),
        p.tracks_inventory.to_string(),
        p.active.to_string(),
        p.supplier_id.map(|s| s.to_string()).unwrap_or_default(),
        p.external_refs
            .iter()
            .map(|r| format!("{}:{}", r.channel, r.external_id))
            .collect::<Vec<_>>()
            .join(";"),
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

fn money(row: &Row, amount: &str, currency: &str, errors: &mut RowErrors) -> Option<Money> {
    let a: Option<i64> = row.parse(amount, errors);
    match (a, row.get(currency)) {
        (Some(a), Some(c)) => match c.parse::<Currency>() {
            Ok(cur) => Some(Money::new(a, cur)),
            Err(_) => {
                errors.push((
                    currency.into(),
                    format!("'{c}' is not an ISO 4217 currency code"),
                ));
                None
            }
        },
        (None, None) => None,
        _ => {
            errors.push((amount.into(), "amount and currency go together".into()));
            None
        }
    }
}

async fn apply_row(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    row: &Row,
) -> std::result::Result<bool, RowErrors> {
    let mut errors = RowErrors::new();
    let mut refs = Vec::new();
    for pair in row
        .get("external_refs")
        .unwrap_or_default()
        .split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        match pair.split_once(':') {
            Some((channel, id)) => refs.push(ExternalRef {
                channel: channel.trim().to_owned(),
                external_id: id.trim().to_owned(),
            }),
            None => errors.push((
                "external_refs".into(),
                format!("'{pair}' is not channel:external_id"),
            )),
        }
    }
    let list_price = money(row, "list_price_amount", "list_price_currency", &mut errors);
    let cost = money(row, "cost_amount", "cost_currency", &mut errors);
    let tax_rate_bps = row.parse("tax_rate_bps", &mut errors);
    let warranty_days = row.parse("warranty_days", &mut errors);
    let tracks_inventory = row.parse("tracks_inventory", &mut errors);
    let active = row.parse("active", &mut errors);
    let supplier_id = row.parse("supplier_id", &mut errors);
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
                description: Some(row.get("description")),
                category: Some(row.get("category")),
                unit: row.get("unit"),
                barcode: Some(row.get("barcode")),
                list_price,
                cost: Some(cost),
                tax_rate_bps,
                warranty_days: Some(warranty_days),
                tracks_inventory,
                active,
                attributes: None,
                supplier_id: Some(supplier_id),
                external_refs: Some(refs),
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
                cost,
                tax_rate_bps: tax_rate_bps.unwrap_or(0),
                warranty_days,
                tracks_inventory: tracks_inventory.unwrap_or(true),
                active: active.unwrap_or(true),
                attributes: None,
                supplier_id,
                external_refs: refs,
            };
            commands::products::create(txn, ctx, input)
                .await
                .map_err(row_errors)?;
            Ok(true)
        }
    }
}
