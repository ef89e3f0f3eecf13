//! Creating and changing warehouses.

use ordercrm_kernel::audit::{self, Entry};
use ordercrm_kernel::authz::Action;
use ordercrm_kernel::input::Text;
use ordercrm_kernel::version::{claim, unless_unchanged};
use ordercrm_kernel::{Ctx, FieldError, Result, id::new_id, patch};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, DatabaseTransaction, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::dto::{
    CreateWarehouse, UpdateWarehouse, WarehouseAddress, WarehouseAddressInput, WarehouseView,
};
use crate::entity::warehouse;
use crate::error::InventoryError;
use crate::events;
use crate::{model, queries};

fn check_address(e: &mut Vec<FieldError>, a: WarehouseAddressInput) -> WarehouseAddress {
    WarehouseAddress {
        line1: a.line1.check(e, "address.line1"),
        line2: Text::check(a.line2, e, "address.line2"),
        city: a.city.check(e, "address.city"),
        region: Text::check(a.region, e, "address.region"),
        postal_code: Text::check(a.postal_code, e, "address.postal_code"),
        country: a.country.check(e, "address.country"),
    }
}

#[tracing::instrument(skip_all)]
pub async fn create(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    input: CreateWarehouse,
) -> Result<WarehouseView> {
    ctx.actor.require(Action::CatalogWrite)?;
    let mut errors = Vec::new();
    let code = input.code.check(&mut errors, "code");
    let name = input.name.check(&mut errors, "name");
    let address = input.address.map(|a| check_address(&mut errors, a));
    let priority = input
        .priority
        .map_or(model::DEFAULT_WAREHOUSE_PRIORITY, |p| {
            p.check_i32(&mut errors, "priority")
        });
    if !errors.is_empty() {
        return Err(ordercrm_kernel::Error::validation(errors));
    }
    if let Some(t) = warehouse::Entity::find()
        .filter(
            warehouse::COLUMN
                .code_normalized
                .eq(model::normalize_code(&code)),
        )
        .one(txn)
        .await?
    {
        return Err(InventoryError::AlreadyExists(format!(
            "warehouse code '{}' is taken (any case)",
            t.code
        ))
        .into());
    }
    let id = new_id();
    let row = warehouse::ActiveModel {
        id: Set(id),
        code_normalized: Set(model::normalize_code(&code)),
        code: Set(code),
        name: Set(name),
        address: Set(address.map(|a| serde_json::to_value(a).unwrap_or_default())),
        active: Set(input.active),
        priority: Set(priority),
        version: Set(1),
        created_at: Set(ctx.now),
        updated_at: Set(ctx.now),
    }
    .insert(txn)
    .await?;
    let view = queries::warehouses::view(row);
    events::warehouse(txn, ctx, &events::WAREHOUSE_CREATED, &view).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("warehouse.create", "warehouse", id).changes(audit::diff(
            &serde_json::Value::Null,
            &serde_json::to_value(&view).unwrap_or_default(),
        )),
    )
    .await?;
    Ok(view)
}

#[tracing::instrument(skip_all)]
pub async fn update(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    if_match: Option<i64>,
    input: UpdateWarehouse,
) -> Result<WarehouseView> {
    ctx.actor.require(Action::CatalogWrite)?;
    let changed = unless_unchanged(txn, async |txn| {
        let row = claim(
            txn,
            warehouse::Entity::update_many()
                .col_expr(warehouse::Column::UpdatedAt, Expr::value(ctx.now))
                .filter(warehouse::COLUMN.id.eq(id)),
            warehouse::Entity::find_by_id(id),
            warehouse::Column::Version,
            if_match,
            |_| InventoryError::not_found("warehouse", id).into(),
        )
        .await?;
        let before = queries::warehouses::view(warehouse::Model {
            version: row.version - 1,
            ..row.clone()
        });
        let mut errors = Vec::new();
        let name = input.name.as_ref().map(|n| n.check(&mut errors, "name"));
        let address = input
            .address
            .clone()
            .map(|a| a.map(|a| check_address(&mut errors, a)));
        let priority = input.priority.map(|p| p.check_i32(&mut errors, "priority"));
        if !errors.is_empty() {
            return Err(ordercrm_kernel::Error::validation(errors));
        }
        let mut active: warehouse::ActiveModel = row.clone().into();
        active.name = patch::set(name);
        if let Some(a) = address {
            active.address = Set(a.map(|a| serde_json::to_value(a).unwrap_or_default()));
        }
        active.active = patch::set(input.active);
        active.priority = patch::set(priority);
        active.updated_at = Set(ctx.now);
        Ok((before, queries::warehouses::view(active.update(txn).await?)))
    })
    .await?;
    let Some((before, view)) = changed else {
        return queries::warehouses::get(txn, &ctx.actor, id).await;
    };
    events::warehouse(txn, ctx, &events::WAREHOUSE_UPDATED, &view).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("warehouse.update", "warehouse", id).changes(audit::diff(
            &serde_json::to_value(&before).unwrap_or_default(),
            &serde_json::to_value(&view).unwrap_or_default(),
        )),
    )
    .await?;
    Ok(view)
}
