//! Creating and changing suppliers.

use ordercrm_kernel::audit::{self, Entry};
use ordercrm_kernel::authz::Action;
use ordercrm_kernel::validation::{optional, required};
use ordercrm_kernel::version::{claim, unless_unchanged};
use ordercrm_kernel::{Ctx, Currency, FieldError, Result, id::new_id};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, DatabaseTransaction, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::dto::{CreateSupplier, SupplierView, UpdateSupplier};
use crate::entity::supplier;
use crate::error::InventoryError;
use crate::events;
use crate::queries;

fn check_lead_time(errors: &mut Vec<FieldError>, days: i32) {
    if !(0..=365).contains(&days) {
        errors.push(FieldError::new(
            "lead_time_days",
            "range",
            "must be between 0 and 365",
        ));
    }
}

fn check_currency(errors: &mut Vec<FieldError>, code: &str) -> String {
    match code.trim().parse::<Currency>() {
        Ok(c) => c.code().to_owned(),
        Err(_) => {
            errors.push(FieldError::new(
                "currency",
                "invalid_currency",
                format!("'{code}' is not an ISO 4217 currency code"),
            ));
            code.to_owned()
        }
    }
}

fn check_contact(errors: &mut Vec<FieldError>, email: Option<&str>, phone: Option<&str>) {
    ordercrm_kernel::validation::email(errors, "email", email);
    ordercrm_kernel::validation::phone(errors, "phone", phone);
}

#[tracing::instrument(skip_all)]
pub async fn create(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    input: CreateSupplier,
) -> Result<SupplierView> {
    ctx.actor.require(Action::PurchasingWrite)?;
    let mut errors = Vec::new();
    let name = required(&mut errors, "name", &input.name, 200);
    let contact_name = optional(&mut errors, "contact_name", input.contact_name, 200);
    let email = optional(&mut errors, "email", input.email, 254);
    let phone = optional(&mut errors, "phone", input.phone, 50);
    check_contact(&mut errors, email.as_deref(), phone.as_deref());
    check_lead_time(&mut errors, input.lead_time_days);
    let currency = check_currency(&mut errors, &input.currency);
    if !errors.is_empty() {
        return Err(InventoryError::Invalid(errors).into());
    }
    let id = new_id();
    let row = supplier::ActiveModel {
        id: Set(id),
        name: Set(name),
        contact_name: Set(contact_name),
        email: Set(email),
        phone: Set(phone),
        lead_time_days: Set(input.lead_time_days),
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
        let name = input
            .name
            .as_deref()
            .map(|n| required(&mut errors, "name", n, 200));
        let contact_name = input
            .contact_name
            .map(|c| optional(&mut errors, "contact_name", c, 200));
        let email = input.email.map(|e| optional(&mut errors, "email", e, 254));
        let phone = input.phone.map(|p| optional(&mut errors, "phone", p, 50));
        check_contact(
            &mut errors,
            email.as_ref().and_then(|e| e.as_deref()),
            phone.as_ref().and_then(|p| p.as_deref()),
        );
        if let Some(d) = input.lead_time_days {
            check_lead_time(&mut errors, d);
        }
        let currency = input
            .currency
            .as_deref()
            .map(|c| check_currency(&mut errors, c));
        if !errors.is_empty() {
            return Err(InventoryError::Invalid(errors).into());
        }
        let mut active: supplier::ActiveModel = row.clone().into();
        if let Some(v) = name {
            active.name = Set(v);
        }
        if let Some(v) = contact_name {
            active.contact_name = Set(v);
        }
        if let Some(v) = email {
            active.email = Set(v);
        }
        if let Some(v) = phone {
            active.phone = Set(v);
        }
        if let Some(v) = input.lead_time_days {
            active.lead_time_days = Set(v);
        }
        if let Some(v) = currency {
            active.currency = Set(v);
        }
        if let Some(v) = input.active {
            active.active = Set(v);
        }
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
