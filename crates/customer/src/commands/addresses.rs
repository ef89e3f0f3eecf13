//! Billing and shipping addresses, one default of each kind.

use ordercrm_kernel::audit::{self, Entry};
use ordercrm_kernel::version::unless_unchanged;
use ordercrm_kernel::{Ctx, FieldError, Result, id::new_id};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};
use uuid::Uuid;

use super::{optional, parent_for_write, required};
use crate::dto::{AddressView, CreateAddress, UpdateAddress};
use crate::entity::address;
use crate::error::CustomerError;
use crate::events;

pub const KINDS: &[&str] = &["billing", "shipping"];
pub const MAX_PER_CUSTOMER: u64 = 50;

fn check_country(errors: &mut Vec<FieldError>, country: &str) {
    if !(country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase())) {
        errors.push(FieldError::new(
            "country",
            "invalid_country",
            "must be an ISO 3166-1 alpha-2 code such as CN",
        ));
    }
}

/// Only one default per kind: the previous one loses the flag (its own event).
async fn clear_default(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    customer_id: Uuid,
    kind: &str,
) -> Result<()> {
    let changed = ordercrm_kernel::version::bump_all_returning(
        txn,
        address::Entity::update_many()
            .col_expr(address::COLUMN.is_default, Expr::value(false))
            .col_expr(address::COLUMN.updated_at, Expr::value(ctx.now))
            .filter(address::COLUMN.customer_id.eq(customer_id))
            .filter(address::COLUMN.kind.eq(kind))
            .filter(address::COLUMN.is_default.eq(true)),
        address::Column::Version,
    )
    .await?;
    for row in changed {
        events::address(txn, ctx, &events::ADDRESS_UPDATED, &AddressView::from(row)).await?;
    }
    Ok(())
}

pub async fn create(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    customer_id: Uuid,
    input: CreateAddress,
) -> Result<AddressView> {
    parent_for_write(txn, &ctx.actor, customer_id).await?;
    let mut errors = Vec::new();
    if !KINDS.contains(&input.kind.as_str()) {
        errors.push(FieldError::new(
            "kind",
            "invalid_kind",
            "must be billing or shipping",
        ));
    }
    let recipient = optional(&mut errors, "recipient", input.recipient, 200);
    let line1 = required(&mut errors, "line1", &input.line1, 200);
    let line2 = optional(&mut errors, "line2", input.line2, 200);
    let city = required(&mut errors, "city", &input.city, 100);
    let region = optional(&mut errors, "region", input.region, 100);
    let postal_code = optional(&mut errors, "postal_code", input.postal_code, 20);
    let country = input.country.trim().to_owned();
    check_country(&mut errors, &country);
    let phone = optional(&mut errors, "phone", input.phone, 40);
    let same_kind = address::Entity::find()
        .filter(address::COLUMN.customer_id.eq(customer_id))
        .filter(address::COLUMN.kind.eq(&input.kind))
        .count(txn)
        .await?;
    let total = address::Entity::find()
        .filter(address::COLUMN.customer_id.eq(customer_id))
        .count(txn)
        .await?;
    if total >= MAX_PER_CUSTOMER {
        errors.push(FieldError::new(
            "customer_id",
            "too_many",
            format!("at most {MAX_PER_CUSTOMER} addresses"),
        ));
    }
    if !errors.is_empty() {
        return Err(CustomerError::Invalid(errors).into());
    }
    let is_default = input.is_default || same_kind == 0;
    if is_default {
        clear_default(txn, ctx, customer_id, &input.kind).await?;
    }
    let row = address::ActiveModel {
        id: Set(new_id()),
        customer_id: Set(customer_id),
        kind: Set(input.kind),
        recipient: Set(recipient),
        line1: Set(line1),
        line2: Set(line2),
        city: Set(city),
        region: Set(region),
        postal_code: Set(postal_code),
        country: Set(country),
        phone: Set(phone),
        is_default: Set(is_default),
        version: Set(1),
        created_at: Set(ctx.now),
        updated_at: Set(ctx.now),
    }
    .insert(txn)
    .await?;
    let view = AddressView::from(row);
    events::address(txn, ctx, &events::ADDRESS_CREATED, &view).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("customer.address_create", "customer", customer_id)
            .changes(serde_json::json!({"address_id": view.id, "kind": view.kind})),
    )
    .await?;
    Ok(view)
}

async fn find(txn: &DatabaseTransaction, customer_id: Uuid, id: Uuid) -> Result<address::Model> {
    address::Entity::find_by_id(id)
        .filter(address::COLUMN.customer_id.eq(customer_id))
        .one(txn)
        .await?
        .ok_or_else(|| CustomerError::NotFound(format!("{customer_id}/addresses/{id}")).into())
}

pub async fn update(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    customer_id: Uuid,
    id: Uuid,
    if_match: Option<i64>,
    patch: UpdateAddress,
) -> Result<AddressView> {
    parent_for_write(txn, &ctx.actor, customer_id).await?;
    let changed = unless_unchanged(txn, async |txn| {
        let current = ordercrm_kernel::version::claim(
            txn,
            address::Entity::update_many()
                .col_expr(address::COLUMN.updated_at, Expr::value(ctx.now))
                .filter(address::COLUMN.id.eq(id))
                .filter(address::COLUMN.customer_id.eq(customer_id)),
            address::Entity::find_by_id(id).filter(address::COLUMN.customer_id.eq(customer_id)),
            address::Column::Version,
            if_match,
            |_| CustomerError::NotFound(format!("{customer_id}/addresses/{id}")).into(),
        )
        .await?;
        let before = address::Model {
            version: current.version - 1,
            ..current.clone()
        };
        let mut errors = Vec::new();
        let recipient = patch
            .recipient
            .map(|v| optional(&mut errors, "recipient", v, 200));
        let line1 = patch.line1.map(|v| required(&mut errors, "line1", &v, 200));
        let line2 = patch.line2.map(|v| optional(&mut errors, "line2", v, 200));
        let city = patch.city.map(|v| required(&mut errors, "city", &v, 100));
        let region = patch
            .region
            .map(|v| optional(&mut errors, "region", v, 100));
        let postal_code = patch
            .postal_code
            .map(|v| optional(&mut errors, "postal_code", v, 20));
        let country = patch.country.map(|c| c.trim().to_owned());
        if let Some(c) = &country {
            check_country(&mut errors, c);
        }
        let phone = patch.phone.map(|v| optional(&mut errors, "phone", v, 40));
        if patch.is_default == Some(false) && current.is_default {
            errors.push(FieldError::new(
                "is_default",
                "default_required",
                "make another address the default instead",
            ));
        }
        if !errors.is_empty() {
            return Err(CustomerError::Invalid(errors).into());
        }
        if patch.is_default == Some(true) && !current.is_default {
            clear_default(txn, ctx, customer_id, &current.kind).await?;
        }
        let row = address::ActiveModel {
            id: Set(id),
            recipient: recipient.map_or(NotSet, Set),
            line1: line1.map_or(NotSet, Set),
            line2: line2.map_or(NotSet, Set),
            city: city.map_or(NotSet, Set),
            region: region.map_or(NotSet, Set),
            postal_code: postal_code.map_or(NotSet, Set),
            country: country.map_or(NotSet, Set),
            phone: phone.map_or(NotSet, Set),
            is_default: patch.is_default.map_or(NotSet, Set),
            updated_at: Set(ctx.now),
            ..Default::default()
        };
        address::Entity::update_many()
            .set(row)
            .filter(address::COLUMN.id.eq(id))
            .exec(txn)
            .await?;
        Ok((
            AddressView::from(before),
            AddressView::from(find(txn, customer_id, id).await?),
        ))
    })
    .await?;
    let Some((before, view)) = changed else {
        return find(txn, customer_id, id).await.map(AddressView::from);
    };
    events::address(txn, ctx, &events::ADDRESS_UPDATED, &view).await?;
    let before = serde_json::to_value(&before).unwrap_or_default();
    audit::record(
        txn,
        ctx,
        Entry::new("customer.address_update", "customer", customer_id)
            .changes(serde_json::json!({"address_id": id, "changes": audit::diff(&before, &serde_json::to_value(&view).unwrap_or_default())})),
    )
    .await?;
    Ok(view)
}

pub async fn delete(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    customer_id: Uuid,
    id: Uuid,
) -> Result<()> {
    parent_for_write(txn, &ctx.actor, customer_id).await?;
    let current = find(txn, customer_id, id).await?;
    address::Entity::delete_by_id(id).exec(txn).await?;
    // A deletion is the address's next version: a reader dropping stale versions
    // does not drop it.
    let gone = address::Model {
        version: current.version + 1,
        ..current.clone()
    };
    events::address(txn, ctx, &events::ADDRESS_DELETED, &AddressView::from(gone)).await?;
    if current.is_default
        && let Some(next) = address::Entity::find()
            .filter(address::COLUMN.customer_id.eq(customer_id))
            .filter(address::COLUMN.kind.eq(&current.kind))
            .order_by_asc(address::Column::CreatedAt)
            .one(txn)
            .await?
    {
        let promoted = ordercrm_kernel::version::bump_all_returning(
            txn,
            address::Entity::update_many()
                .col_expr(address::COLUMN.is_default, Expr::value(true))
                .col_expr(address::COLUMN.updated_at, Expr::value(ctx.now))
                .filter(address::COLUMN.id.eq(next.id)),
            address::Column::Version,
        )
        .await?;
        for row in promoted {
            events::address(txn, ctx, &events::ADDRESS_UPDATED, &AddressView::from(row)).await?;
        }
    }
    audit::record(
        txn,
        ctx,
        Entry::new("customer.address_delete", "customer", customer_id)
            .changes(serde_json::json!({"address_id": id, "kind": current.kind})),
    )
    .await?;
    Ok(())
}

impl From<address::Model> for AddressView {
    fn from(m: address::Model) -> Self {
        Self {
            id: m.id,
            customer_id: m.customer_id,
            kind: m.kind,
            recipient: m.recipient,
            line1: m.line1,
            line2: m.line2,
            city: m.city,
            region: m.region,
            postal_code: m.postal_code,
            country: m.country,
            phone: m.phone,
            is_default: m.is_default,
            version: m.version,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}
