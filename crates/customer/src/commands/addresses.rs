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

use super::parent_for_write;
use crate::dto::{AddressView, CreateAddress, UpdateAddress};
use crate::entity::address;
use crate::error::CustomerError;
use crate::events;
use crate::model::AddressKind;
use ordercrm_kernel::input::{Phone, Text};

pub const MAX_PER_CUSTOMER: u64 = 50;

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
    let kind = input.kind.check(&mut errors, "kind");
    let recipient = Text::check(input.recipient, &mut errors, "recipient");
    let line1 = input.line1.check(&mut errors, "line1");
    let line2 = Text::check(input.line2, &mut errors, "line2");
    let city = input.city.check(&mut errors, "city");
    let region = Text::check(input.region, &mut errors, "region");
    let postal_code = Text::check(input.postal_code, &mut errors, "postal_code");
    let country = input.country.check(&mut errors, "country");
    let phone = Phone::check(input.phone, &mut errors, "phone");
    let kind = kind.map_or("", AddressKind::as_str);
    let same_kind = address::Entity::find()
        .filter(address::COLUMN.customer_id.eq(customer_id))
        .filter(address::COLUMN.kind.eq(kind))
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
        return Err(ordercrm_kernel::Error::validation(errors));
    }
    let is_default = input.is_default || same_kind == 0;
    if is_default {
        clear_default(txn, ctx, customer_id, kind).await?;
    }
    let row = address::ActiveModel {
        id: Set(new_id()),
        customer_id: Set(customer_id),
        kind: Set(kind.to_owned()),
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
        let e = &mut errors;
        let recipient = patch.recipient.map(|v| Text::check(v, e, "recipient"));
        let line1 = patch.line1.as_ref().map(|v| v.check(e, "line1"));
        let line2 = patch.line2.map(|v| Text::check(v, e, "line2"));
        let city = patch.city.as_ref().map(|v| v.check(e, "city"));
        let region = patch.region.map(|v| Text::check(v, e, "region"));
        let postal_code = patch.postal_code.map(|v| Text::check(v, e, "postal_code"));
        let country = patch.country.as_ref().map(|c| c.check(e, "country"));
        let phone = patch.phone.map(|v| Phone::check(v, e, "phone"));
        if patch.is_default == Some(false) && current.is_default {
            errors.push(FieldError::new(
                "is_default",
                "default_required",
                "make another address the default instead",
            ));
        }
        if !errors.is_empty() {
            return Err(ordercrm_kernel::Error::validation(errors));
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
