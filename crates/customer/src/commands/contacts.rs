//! People at a company customer.

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
use crate::dto::{ContactView, CreateContact, UpdateContact};
use crate::entity::contact;
use crate::error::CustomerError;
use crate::events;
use crate::model::CustomerKind;
use ordercrm_kernel::input::{Email, Phone, Text};

pub const MAX_PER_CUSTOMER: u64 = 100;

/// Only one primary contact: make room for a new one (the previous one's event).
async fn clear_primary(txn: &DatabaseTransaction, ctx: &Ctx, customer_id: Uuid) -> Result<()> {
    let changed = ordercrm_kernel::version::bump_all_returning(
        txn,
        contact::Entity::update_many()
            .col_expr(contact::COLUMN.is_primary, Expr::value(false))
            .col_expr(contact::COLUMN.updated_at, Expr::value(ctx.now))
            .filter(contact::COLUMN.customer_id.eq(customer_id))
            .filter(contact::COLUMN.is_primary.eq(true)),
        contact::Column::Version,
    )
    .await?;
    for row in changed {
        events::contact(txn, ctx, &events::CONTACT_UPDATED, &ContactView::from(row)).await?;
    }
    Ok(())
}

pub async fn create(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    customer_id: Uuid,
    input: CreateContact,
) -> Result<ContactView> {
    let parent = parent_for_write(txn, &ctx.actor, customer_id).await?;
    let mut errors = Vec::new();
    if parent.kind != CustomerKind::Company.as_str() {
        errors.push(FieldError::new(
            "customer_id",
            "not_a_company",
            "contacts belong to company customers",
        ));
    }
    let name = input.name.check(&mut errors, "name");
    let title = Text::check(input.title, &mut errors, "title");
    let email = Email::check(input.email, &mut errors, "email");
    let phone = Phone::check(input.phone, &mut errors, "phone");
    let count = contact::Entity::find()
        .filter(contact::COLUMN.customer_id.eq(customer_id))
        .count(txn)
        .await?;
    if count >= MAX_PER_CUSTOMER {
        errors.push(FieldError::new(
            "customer_id",
            "too_many",
            format!("at most {MAX_PER_CUSTOMER} contacts"),
        ));
    }
    if !errors.is_empty() {
        return Err(ordercrm_kernel::Error::validation(errors));
    }
    // The first contact is primary whatever the request says.
    let is_primary = input.is_primary || count == 0;
    if is_primary {
        clear_primary(txn, ctx, customer_id).await?;
    }
    let row = contact::ActiveModel {
        id: Set(new_id()),
        customer_id: Set(customer_id),
        name: Set(name),
        title: Set(title),
        email: Set(email),
        phone: Set(phone),
        is_primary: Set(is_primary),
        version: Set(1),
        created_at: Set(ctx.now),
        updated_at: Set(ctx.now),
    }
    .insert(txn)
    .await?;
    let view = ContactView::from(row);
    events::contact(txn, ctx, &events::CONTACT_CREATED, &view).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("customer.contact_create", "customer", customer_id)
            .changes(serde_json::json!({"contact_id": view.id, "name": view.name})),
    )
    .await?;
    Ok(view)
}

async fn find(txn: &DatabaseTransaction, customer_id: Uuid, id: Uuid) -> Result<contact::Model> {
    contact::Entity::find_by_id(id)
        .filter(contact::COLUMN.customer_id.eq(customer_id))
        .one(txn)
        .await?
        .ok_or_else(|| CustomerError::NotFound(format!("{customer_id}/contacts/{id}")).into())
}

pub async fn update(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    customer_id: Uuid,
    id: Uuid,
    if_match: Option<i64>,
    patch: UpdateContact,
) -> Result<ContactView> {
    parent_for_write(txn, &ctx.actor, customer_id).await?;
    let changed = unless_unchanged(txn, async |txn| {
        let current = ordercrm_kernel::version::claim(
            txn,
            contact::Entity::update_many()
                .col_expr(contact::COLUMN.updated_at, Expr::value(ctx.now))
                .filter(contact::COLUMN.id.eq(id))
                .filter(contact::COLUMN.customer_id.eq(customer_id)),
            contact::Entity::find_by_id(id).filter(contact::COLUMN.customer_id.eq(customer_id)),
            contact::Column::Version,
            if_match,
            |_| CustomerError::NotFound(format!("{customer_id}/contacts/{id}")).into(),
        )
        .await?;
        let before = contact::Model {
            version: current.version - 1,
            ..current.clone()
        };
        let mut errors = Vec::new();
        let name = patch.name.as_ref().map(|n| n.check(&mut errors, "name"));
        let title = patch
            .title
            .clone()
            .map(|t| Text::check(t, &mut errors, "title"));
        let email = patch
            .email
            .clone()
            .map(|e| Email::check(e, &mut errors, "email"));
        let phone = patch
            .phone
            .clone()
            .map(|p| Phone::check(p, &mut errors, "phone"));
        if patch.is_primary == Some(false) && current.is_primary {
            errors.push(FieldError::new(
                "is_primary",
                "primary_required",
                "make another contact primary instead",
            ));
        }
        if !errors.is_empty() {
            return Err(ordercrm_kernel::Error::validation(errors));
        }
        if patch.is_primary == Some(true) && !current.is_primary {
            clear_primary(txn, ctx, customer_id).await?;
        }
        let opt = |v: Option<Option<String>>| v.map_or(NotSet, Set);
        let row = contact::ActiveModel {
            id: Set(id),
            name: name.map_or(NotSet, Set),
            title: opt(title),
            email: opt(email),
            phone: opt(phone),
            is_primary: patch.is_primary.map_or(NotSet, Set),
            updated_at: Set(ctx.now),
            ..Default::default()
        };
        contact::Entity::update_many()
            .set(row)
            .filter(contact::COLUMN.id.eq(id))
            .exec(txn)
            .await?;
        Ok((
            ContactView::from(before),
            ContactView::from(find(txn, customer_id, id).await?),
        ))
    })
    .await?;
    let Some((before, view)) = changed else {
        return find(txn, customer_id, id).await.map(ContactView::from);
    };
    events::contact(txn, ctx, &events::CONTACT_UPDATED, &view).await?;
    let before = serde_json::to_value(&before).unwrap_or_default();
    audit::record(
        txn,
        ctx,
        Entry::new("customer.contact_update", "customer", customer_id)
            .changes(serde_json::json!({"contact_id": id, "changes": audit::diff(&before, &serde_json::to_value(&view).unwrap_or_default())})),
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
    contact::Entity::delete_by_id(id).exec(txn).await?;
    // A deletion is the contact's next version: a reader dropping stale versions
    // does not drop it.
    let gone = contact::Model {
        version: current.version + 1,
        ..current.clone()
    };
    events::contact(txn, ctx, &events::CONTACT_DELETED, &ContactView::from(gone)).await?;
    // Promote the oldest remaining contact, so a company always has a primary one.
    if current.is_primary
        && let Some(next) = contact::Entity::find()
            .filter(contact::COLUMN.customer_id.eq(customer_id))
            .order_by_asc(contact::Column::CreatedAt)
            .one(txn)
            .await?
    {
        let promoted = ordercrm_kernel::version::bump_all_returning(
            txn,
            contact::Entity::update_many()
                .col_expr(contact::COLUMN.is_primary, Expr::value(true))
                .col_expr(contact::COLUMN.updated_at, Expr::value(ctx.now))
                .filter(contact::COLUMN.id.eq(next.id)),
            contact::Column::Version,
        )
        .await?;
        for row in promoted {
            events::contact(txn, ctx, &events::CONTACT_UPDATED, &ContactView::from(row)).await?;
        }
    }
    audit::record(
        txn,
        ctx,
        Entry::new("customer.contact_delete", "customer", customer_id)
            .changes(serde_json::json!({"contact_id": id, "name": current.name})),
    )
    .await?;
    Ok(())
}

impl From<contact::Model> for ContactView {
    fn from(m: contact::Model) -> Self {
        Self {
            id: m.id,
            customer_id: m.customer_id,
            name: m.name,
            title: m.title,
            email: m.email,
            phone: m.phone,
            is_primary: m.is_primary,
            version: m.version,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}
