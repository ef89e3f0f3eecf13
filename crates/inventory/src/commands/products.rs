//! Creating and changing products.

use ordercrm_kernel::audit::{self, Entry};
use ordercrm_kernel::authz::Action;
use ordercrm_kernel::input::{Attributes, Text};
use ordercrm_kernel::validation::ExternalRef;
use ordercrm_kernel::version::claim;
use ordercrm_kernel::version::unless_unchanged;
use ordercrm_kernel::{Ctx, FieldError, Result, id::new_id, patch};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::dto::{CreateProduct, ProductView, UpdateProduct};
use crate::entity::{product, product_ref, supplier};
use crate::error::InventoryError;
use crate::{events, model, queries};

async fn check_supplier(
    conn: &impl ConnectionTrait,
    supplier_id: Option<Uuid>,
    errors: &mut Vec<FieldError>,
) -> Result<()> {
    if let Some(id) = supplier_id
        && supplier::Entity::find_by_id(id).one(conn).await?.is_none()
    {
        errors.push(FieldError::new(
            "supplier_id",
            "unknown_supplier",
            format!("no supplier {id}"),
        ));
    }
    Ok(())
}

/// External references are unique per channel across products.
async fn check_refs(
    conn: &impl ConnectionTrait,
    refs: &[ExternalRef],
    except: Option<Uuid>,
    errors: &mut Vec<FieldError>,
) -> Result<()> {
    for (i, r) in refs.iter().enumerate() {
        if !r.is_well_formed() {
            errors.push(FieldError::new(
                format!("external_refs[{i}]"),
                "length",
                "channel 1-50 and external_id 1-200 characters",
            ));
            continue;
        }
        let taken = product_ref::Entity::find_by_id((
            r.channel.trim().to_owned(),
            r.external_id.trim().to_owned(),
        ))
        .one(conn)
        .await?;
        if taken.is_some_and(|t| Some(t.product_id) != except) {
            return Err(InventoryError::AlreadyExists(format!(
                "{} reference {} belongs to another product",
                r.channel, r.external_id
            ))
            .into());
        }
    }
    Ok(())
}

async fn check_sku_free(
    conn: &impl ConnectionTrait,
    sku: &str,
    except: Option<Uuid>,
) -> Result<()> {
    let taken = product::Entity::find()
        .filter(product::COLUMN.sku_normalized.eq(model::normalize_sku(sku)))
        .one(conn)
        .await?;
    if let Some(t) = taken.filter(|t| Some(t.id) != except) {
        return Err(
            ordercrm_kernel::Error::from(InventoryError::AlreadyExists(format!(
                "SKU '{}' is taken (any case)",
                t.sku
            )))
            .with_extension(
                "existing",
                serde_json::json!({"id": t.id, "href": format!("/v1/products/{}", t.id)}),
            ),
        );
    }
    Ok(())
}

async fn write_refs(txn: &DatabaseTransaction, id: Uuid, refs: &[ExternalRef]) -> Result<()> {
    product_ref::Entity::delete_many()
        .filter(product_ref::COLUMN.product_id.eq(id))
        .exec(txn)
        .await?;
    if !refs.is_empty() {
        product_ref::Entity::insert_many(refs.iter().map(|r| product_ref::ActiveModel {
            product_id: Set(id),
            channel: Set(r.channel.trim().to_owned()),
            external_id: Set(r.external_id.trim().to_owned()),
        }))
        .exec_without_returning(txn)
        .await?;
    }
    Ok(())
}

#[tracing::instrument(skip_all)]
pub async fn create(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    input: CreateProduct,
) -> Result<ProductView> {
    ctx.actor.require(Action::CatalogWrite)?;
    let mut errors = Vec::new();
    let e = &mut errors;
    let sku = input.sku.check(e, "sku");
    let name = input.name.check(e, "name");
    let description = Text::check(input.description, e, "description");
    let category = Text::check(input.category, e, "category");
    let unit = Text::check(input.unit, e, "unit").unwrap_or_else(|| "each".to_owned());
    let barcode = Text::check(input.barcode, e, "barcode");
    let list_price = input.list_price.check(e, "list_price");
    let cost = input.cost.map(|c| c.check(e, "cost"));
    let tax_rate_bps = input.tax_rate_bps.check_i32(e, "tax_rate_bps");
    let warranty_days = input.warranty_days.map(|d| d.check_i32(e, "warranty_days"));
    Attributes::check(input.attributes.as_ref(), &mut errors);
    check_supplier(txn, input.supplier_id, &mut errors).await?;
    check_refs(txn, &input.external_refs, None, &mut errors).await?;
    if !errors.is_empty() {
        return Err(ordercrm_kernel::Error::validation(errors));
    }
    check_sku_free(txn, &sku, None).await?;
    let id = new_id();
    product::ActiveModel {
        id: Set(id),
        search_text: Set(model::search_text(&sku, &name, barcode.as_deref())),
        sku_normalized: Set(model::normalize_sku(&sku)),
        sku: Set(sku),
        name: Set(name),
        description: Set(description),
        category: Set(category),
        unit: Set(unit),
        barcode: Set(barcode),
        list_price_amount: Set(list_price.amount),
        list_price_currency: Set(list_price.currency.code().to_owned()),
        cost_amount: Set(cost.map(|m| m.amount)),
        cost_currency: Set(cost.map(|m| m.currency.code().to_owned())),
        tax_rate_bps: Set(tax_rate_bps),
        warranty_days: Set(warranty_days),
        tracks_inventory: Set(input.tracks_inventory),
        active: Set(input.active),
        attributes: Set(Attributes::or_empty(input.attributes)),
        supplier_id: Set(input.supplier_id),
        version: Set(1),
        created_at: Set(ctx.now),
        updated_at: Set(ctx.now),
    }
    .insert(txn)
    .await?;
    write_refs(txn, id, &input.external_refs).await?;
    let view = queries::products::get_in(txn, id).await?;
    events::product(txn, ctx, &events::PRODUCT_CREATED, &view).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("product.create", "product", id).changes(audit::diff(
            &serde_json::Value::Null,
            &serde_json::to_value(&view).unwrap_or_default(),
        )),
    )
    .await?;
    Ok(view)
}

/// The product, claimed for this transaction (see `ordercrm_kernel::version`).
async fn claim_product(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    if_match: Option<i64>,
) -> Result<product::Model> {
    claim(
        txn,
        product::Entity::update_many()
            .col_expr(product::Column::UpdatedAt, Expr::value(ctx.now))
            .filter(product::COLUMN.id.eq(id)),
        product::Entity::find_by_id(id),
        product::Column::Version,
        if_match,
        |_| InventoryError::not_found("product", id).into(),
    )
    .await
}

#[tracing::instrument(skip_all)]
pub async fn update(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    if_match: Option<i64>,
    input: UpdateProduct,
) -> Result<ProductView> {
    ctx.actor.require(Action::CatalogWrite)?;
    let changed = unless_unchanged(txn, async |txn| {
        let row = claim_product(txn, ctx, id, if_match).await?;
        let before = queries::products::views(
            txn,
            vec![product::Model {
                version: row.version - 1,
                ..row.clone()
            }],
        )
        .await?
        .pop()
        .ok_or_else(|| InventoryError::not_found("product", id))?;
        let mut errors = Vec::new();
        let e = &mut errors;
        let new_sku = input.sku.as_ref().map(|s| s.check(e, "sku"));
        let name = input.name.as_ref().map(|n| n.check(e, "name"));
        let description = input
            .description
            .clone()
            .map(|d| Text::check(d, e, "description"));
        let category = input
            .category
            .clone()
            .map(|c| Text::check(c, e, "category"));
        let unit = input.unit.as_ref().map(|u| u.check(e, "unit"));
        let barcode = input.barcode.clone().map(|b| Text::check(b, e, "barcode"));
        let list_price = input.list_price.map(|p| p.check(e, "list_price"));
        let cost = input.cost.map(|c| c.map(|c| c.check(e, "cost")));
        let tax_rate_bps = input.tax_rate_bps.map(|t| t.check_i32(e, "tax_rate_bps"));
        let warranty_days = input
            .warranty_days
            .map(|w| w.map(|w| w.check_i32(e, "warranty_days")));
        Attributes::check(input.attributes.as_ref(), &mut errors);
        check_supplier(txn, input.supplier_id.flatten(), &mut errors).await?;
        if let Some(refs) = &input.external_refs {
            check_refs(txn, refs, Some(id), &mut errors).await?;
        }
        if !errors.is_empty() {
            return Err(ordercrm_kernel::Error::validation(errors));
        }
        let mut active: product::ActiveModel = row.clone().into();
        let sku = new_sku.unwrap_or(row.sku.clone());
        if model::normalize_sku(&sku) != row.sku_normalized {
            check_sku_free(txn, &sku, Some(id)).await?;
        }
        let name = name.unwrap_or(row.name.clone());
        let barcode = barcode.unwrap_or(row.barcode.clone());
        active.search_text = Set(model::search_text(&sku, &name, barcode.as_deref()));
        active.sku_normalized = Set(model::normalize_sku(&sku));
        active.sku = Set(sku);
        active.name = Set(name);
        active.barcode = Set(barcode);
        active.description = patch::set(description);
        active.category = patch::set(category);
        active.unit = patch::set(unit);
        if let Some(p) = list_price {
            active.list_price_amount = Set(p.amount);
            active.list_price_currency = Set(p.currency.code().to_owned());
        }
        if let Some(c) = cost {
            active.cost_amount = Set(c.map(|m| m.amount));
            active.cost_currency = Set(c.map(|m| m.currency.code().to_owned()));
        }
        active.tax_rate_bps = patch::set(tax_rate_bps);
        active.warranty_days = patch::set(warranty_days);
        active.tracks_inventory = patch::set(input.tracks_inventory);
        active.active = patch::set(input.active);
        if let Some(a) = input.attributes {
            active.attributes = Set(a.0);
        }
        active.supplier_id = patch::set(input.supplier_id);
        if let Some(refs) = &input.external_refs {
            write_refs(txn, id, refs).await?;
        }
        active.updated_at = Set(ctx.now);
        active.update(txn).await?;
        Ok((before, queries::products::get_in(txn, id).await?))
    })
    .await?;
    let Some((before, view)) = changed else {
        return queries::products::get_in(txn, id).await;
    };
    events::product(txn, ctx, &events::PRODUCT_UPDATED, &view).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("product.update", "product", id).changes(audit::diff(
            &serde_json::to_value(&before).unwrap_or_default(),
            &serde_json::to_value(&view).unwrap_or_default(),
        )),
    )
    .await?;
    Ok(view)
}

/// Delete a product nobody has used yet. Once it has stock history, reservations or
/// purchase orders it stays (the ledger must keep explaining itself): deactivate it.
#[tracing::instrument(skip_all)]
pub async fn delete(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    if_match: Option<i64>,
) -> Result<()> {
    ctx.actor.require(Action::CatalogWrite)?;
    let row = claim_product(txn, ctx, id, if_match).await?;
    let used = crate::entity::level::Entity::find()
        .filter(crate::entity::level::COLUMN.product_id.eq(id))
        .one(txn)
        .await?
        .is_some()
        || crate::entity::purchase_order_line::Entity::find()
            .filter(crate::entity::purchase_order_line::COLUMN.product_id.eq(id))
            .one(txn)
            .await?
            .is_some();
    if used {
        return Err(InventoryError::Conflict(format!(
            "'{}' has stock history or purchase orders; set active=false instead",
            row.sku
        ))
        .into());
    }
    let before = queries::products::views(txn, vec![row.clone()])
        .await?
        .pop()
        .ok_or_else(|| InventoryError::not_found("product", id))?;
    product_ref::Entity::delete_many()
        .filter(product_ref::COLUMN.product_id.eq(id))
        .exec(txn)
        .await?;
    product::Entity::delete_by_id(id).exec(txn).await?;
    events::product(txn, ctx, &events::PRODUCT_DELETED, &before).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("product.delete", "product", id).changes(audit::diff(
            &serde_json::to_value(&before).unwrap_or_default(),
            &serde_json::Value::Null,
        )),
    )
    .await?;
    Ok(())
}
