//! Product CSV export and import, on the kernel's shared import machinery: one
//! header set both ways, so an export re-imports unchanged. A row whose SKU exists
//! (any case) updates that product; any other row creates one.

use std::io::Read;

use std::collections::HashSet;

use ordercrm_kernel::csv_import::{
    Checked, Import, ImportLimits, ImportReport, Row, RowErrors, money_cells, refs_cell, row_errors,
};
use ordercrm_kernel::staging::{self, Batch, SeenRefs, Staged, Staging};
use ordercrm_kernel::{Ctx, Result};
use sea_orm::{DatabaseTransaction, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::commands;
use crate::dto::{CreateProduct, ProductView, UpdateProduct};
use crate::entity::{product, product_ref};
use crate::error::InventoryError;
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

/// An import of products, as `ordercrm_kernel::staging` runs it.
pub struct ProductImport<'a> {
    ctx: &'a Ctx,
    /// What earlier rows claimed: later batches cannot see them in the database.
    seen_products: HashSet<Uuid>,
    seen_refs: SeenRefs,
}

impl<'a> ProductImport<'a> {
    fn new(ctx: &'a Ctx) -> Self {
        Self {
            ctx,
            seen_products: HashSet::new(),
            seen_refs: SeenRefs::default(),
        }
    }
}

/// Check every row of `input` in batches, keeping what they would write; nothing is
/// changed yet. Apply a `ready()` result with [`apply`] in one transaction.
pub async fn stage<R: Read>(
    db: &ordercrm_kernel::Db,
    ctx: &Ctx,
    input: R,
    dry_run: bool,
    limits: ImportLimits,
) -> Result<Staged> {
    ctx.actor
        .require(ordercrm_kernel::authz::Action::CatalogWrite)?;
    let import = Import::open(input, dry_run, HEADERS, &["sku"], limits)?;
    let checking = staging::checking(ctx);
    staging::check(db, &checking, import, &mut ProductImport::new(&checking)).await
}

/// Write a staged import in `txn`; the report of what was written.
pub async fn apply(txn: &DatabaseTransaction, ctx: &Ctx, staged: Staged) -> Result<ImportReport> {
    staging::apply(txn, ctx, &staged, &ProductImport::new(ctx)).await?;
    Ok(staged.report)
}

impl Staging for ProductImport<'_> {
    type Rows = (Vec<product::Model>, Vec<product_ref::Model>);

    fn merge(&self, into: &mut Self::Rows, more: Self::Rows) {
        into.0.extend(more.0);
        into.1.extend(more.1);
    }

    async fn check_row(
        &mut self,
        txn: &DatabaseTransaction,
        row: &Row,
    ) -> std::result::Result<Checked, RowErrors> {
        let checked = apply_row(txn, self.ctx, row).await?;
        if !self.seen_products.insert(checked.id()) {
            return Err(vec![(
                "sku".into(),
                "an earlier row of this file has the same SKU".into(),
            )]);
        }
        self.seen_refs.claim(row, "external_refs")?;
        Ok(checked)
    }

    async fn capture(
        &self,
        txn: &DatabaseTransaction,
        ids: &[Uuid],
    ) -> std::result::Result<Self::Rows, sea_orm::DbErr> {
        let products = product::Entity::find()
            .filter(product::COLUMN.id.is_in(ids.iter().copied()))
            .all(txn)
            .await?;
        let refs = product_ref::Entity::find()
            .filter(product_ref::COLUMN.product_id.is_in(ids.iter().copied()))
            .all(txn)
            .await?;
        Ok((products, refs))
    }

    async fn keep(
        &self,
        txn: &DatabaseTransaction,
        import_id: Uuid,
        first_ord: i64,
        batch: &mut Batch<Self::Rows>,
    ) -> Result<usize> {
        let (products, refs) = &batch.rows;
        let updated: Vec<(Uuid, i64)> = products
            .iter()
            .filter(|p| p.version > 1)
            .map(|p| (p.id, p.version))
            .collect();
        staging::refuse_moved::<product::Entity>(
            txn,
            product::Column::Id,
            product::Column::Version,
            &updated,
        )
        .await?;
        staging::keep::<product::Entity>(txn, import_id, first_ord, products).await?;
        staging::keep::<product_ref::Entity>(txn, import_id, first_ord, refs).await?;
        Ok(products.len() + refs.len())
    }

    async fn write(&self, txn: &DatabaseTransaction, _ctx: &Ctx, import_id: Uuid) -> Result<u64> {
        let products = staging::write_versioned::<product::Entity>(
            txn,
            import_id,
            product::Column::Id,
            product::Column::Version,
            PRODUCT_COLUMNS,
        )
        .await?
        .ok_or_else(|| {
            InventoryError::Conflict(
                "products in this file were changed or deleted by someone else while it was \
                 checked; nothing was imported: send it again"
                    .into(),
            )
        })?;
        let refs = staging::replace_kept_children::<product_ref::Entity, product::Entity>(
            txn,
            import_id,
            product_ref::Column::ProductId,
            product::Column::Id,
        )
        .await?;
        Ok(products + refs)
    }
}

/// Every column a checked row may have changed (all but the id and its birth).
const PRODUCT_COLUMNS: &[product::Column] = &[
    product::Column::Sku,
    product::Column::SkuNormalized,
    product::Column::Name,
    product::Column::Description,
    product::Column::Category,
    product::Column::Unit,
    product::Column::Barcode,
    product::Column::ListPriceAmount,
    product::Column::ListPriceCurrency,
    product::Column::CostAmount,
    product::Column::CostCurrency,
    product::Column::TaxRateBps,
    product::Column::WarrantyDays,
    product::Column::TracksInventory,
    product::Column::Active,
    product::Column::Attributes,
    product::Column::SupplierId,
    product::Column::SearchText,
    product::Column::Version,
    product::Column::UpdatedAt,
];

async fn apply_row(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    row: &Row,
) -> std::result::Result<Checked, RowErrors> {
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
                name: row.get("name").map(Into::into),
                description: row.cell_as("description"),
                category: row.cell_as("category"),
                unit: row.get("unit").map(Into::into),
                barcode: row.cell_as("barcode"),
                list_price: list_price.map(Into::into),
                cost: cost.map(|c| c.map(Into::into)),
                tax_rate_bps: tax_rate_bps.map(|t: i32| i64::from(t).into()),
                warranty_days: warranty_days.map(|w: Option<i32>| w.map(|w| i64::from(w).into())),
                tracks_inventory,
                active,
                attributes: None,
                supplier_id,
                external_refs: row.has("external_refs").then_some(refs),
            };
            let view = commands::products::update(txn, ctx, found.id, None, patch)
                .await
                .map_err(row_errors)?;
            Ok(if view.version == found.version {
                Checked::Unchanged(found.id)
            } else {
                Checked::Updated(found.id)
            })
        }
        None => {
            let Some(list_price) = list_price else {
                return Err(vec![(
                    "list_price_amount".into(),
                    "a new product needs list_price_amount and list_price_currency".into(),
                )]);
            };
            let input = CreateProduct {
                sku: sku.into(),
                name: row.get("name").unwrap_or_default().into(),
                description: row.get("description").map(Into::into),
                category: row.get("category").map(Into::into),
                unit: row.get("unit").map(Into::into),
                barcode: row.get("barcode").map(Into::into),
                list_price: list_price.into(),
                cost: cost.flatten().map(Into::into),
                tax_rate_bps: i64::from(tax_rate_bps.unwrap_or(0)).into(),
                warranty_days: warranty_days.flatten().map(|w: i32| i64::from(w).into()),
                tracks_inventory: tracks_inventory.unwrap_or(true),
                active: active.unwrap_or(true),
                attributes: None,
                supplier_id: supplier_id.flatten(),
                external_refs: refs,
            };
            let view = commands::products::create(txn, ctx, input)
                .await
                .map_err(row_errors)?;
            Ok(Checked::Created(view.id))
        }
    }
}
