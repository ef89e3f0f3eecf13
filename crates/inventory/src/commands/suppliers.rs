//! Creating and changing suppliers.

use ordercrm_kernel::audit::{self, Entry};
use ordercrm_kernel::authz::Action;
use ordercrm_kernel::input::{Email, Phone, Text};
use ordercrm_kernel::version::{claim, unless_unchanged};
use ordercrm_kernel::{Ctx, Result, id::new_id, patch};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, DatabaseTransaction, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::dto::{CreateSupplier, SupplierView, UpdateSupplier};
use crate::entity::supplier;
use crate::error::InventoryError;
use crate::events;
use crate::queries;

#[tracing::instrument(skip_all)]
pub async fn create(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    input: CreateSupplier,
) -> Result<SupplierView> {
    ctx.actor.require(Action::PurchasingWrite)?;
    let mut errors = Vec::new();
    let e = &mut errors;
    let name = input.name.check(e, "name");
    let contact_name = Text::check(input.contact_name, e, "contact_name");
    let email = Email::check(input.email, e, "email");
    let phone = Phone::check(input.phone, e, "phone");
    let lead_time_days = input.lead_time_days.check_i32(e, "lead_time_days");
    let currency = input
        .currency
        .check(e, "currency")
        .map(|c| c.code().to_owned())
        .unwrap_or_default();
    if !errors.is_empty() {
        return Err(ordercrm_kernel::Error::validation(errors));
    }
    let id = new_id();
    let row = supplier::ActiveModel {
        id: Set(id),
        name: Set(name),
        contact_name: Set(contact_name),
        email: Set(email),
        phone: Set(phone),
        lead_time_days: Set(lead_time_days),
        currency: Set(currency),
        active: Set(input.active),
        version: Set(1),
        created_at: Set(ctx.now),
        updated_at: Set(ctx.now),
    }
    .insert(txn)
    .await?;
    let view = queries::suppliers::view(row);
    events::supplier(txn, ctx, &events::SUPPLIER_CREATED, &view).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("supplier.create", "supplier", id).changes(audit::diff(
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
    input: UpdateSupplier,
) -> Result<SupplierView> {
    ctx.actor.require(Action::PurchasingWrite)?;
    let changed = unless_unchanged(txn, async |txn| {
        let row = claim(
            txn,
            supplier::Entity::update_many()
                .col_expr(supplier::Column::UpdatedAt, Expr::value(ctx.now))
                .filter(supplier::COLUMN.id.eq(id)),
            supplier::Entity::find_by_id(id),
            supplier::Column::Version,
            if_match,
            |_| InventoryError::not_found("supplier", id).into(),
        )
        .await?;
        let before = queries::suppliers::view(supplier::Model {
            version: row.version - 1,
            ..row.clone()
        });
        let mut errors = Vec::new();
        let e = &mut errors;
        let name = input.name.as_ref().map(|n| n.check(e, "name"));
        let contact_name = input
            .contact_name
            .clone()
            .map(|c| Text::check(c, e, "contact_name"));
        let email = input.email.clone().map(|v| Email::check(v, e, "email"));
        let phone = input.phone.clone().map(|v| Phone::check(v, e, "phone"));
        let lead_time_days = input
            .lead_time_days
            .map(|d| d.check_i32(e, "lead_time_days"));
        let currency = input.currency.as_ref().map(|c| {
            c.check(e, "currency")
                .map(|c| c.code().to_owned())
                .unwrap_or_default()
        });
        if !errors.is_empty() {
            return Err(ordercrm_kernel::Error::validation(errors));
        }
        let mut active: supplier::ActiveModel = row.clone().into();
        active.name = patch::set(name);
        active.contact_name = patch::set(contact_name);
        active.email = patch::set(email);
        active.phone = patch::set(phone);
        active.lead_time_days = patch::set(lead_time_days);
        active.currency = patch::set(currency);
        active.active = patch::set(input.active);
        active.updated_at = Set(ctx.now);
        Ok((before, queries::suppliers::view(active.update(txn).await?)))
    })
    .await?;
    let Some((before, view)) = changed else {
        return queries::suppliers::get(txn, &ctx.actor, id).await;
    };
    events::supplier(txn, ctx, &events::SUPPLIER_UPDATED, &view).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("supplier.update", "supplier", id).changes(audit::diff(
            &serde_json::to_value(&before).unwrap_or_default(),
            &serde_json::to_value(&view).unwrap_or_default(),
        )),
    )
    .await?;
    Ok(view)
}
