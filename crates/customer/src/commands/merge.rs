//! Fold a duplicate into the customer that stays. Every child row moves in one
//! transaction; the duplicate is archived and points at the survivor. Later domains
//! (orders, invoices, tickets) add their tables to `move_children`.
//!
//! Both rows are claimed with conditional updates before anything moves (the source
//! must not be merged yet, the target must be neither merged nor archived), in the
//! order of their ids: of two merges racing over the same customers one wins and the
//! other is refused, A→B and B→A cannot both happen, and the two never deadlock.

use ordercrm_kernel::audit::{self, Entry};
use ordercrm_kernel::crypto::FieldCipher;
use ordercrm_kernel::version::bump_all_returning;
use ordercrm_kernel::version::{claim, try_claim};
use ordercrm_kernel::{Ctx, FieldError, Result};
use sea_orm::sea_query::Expr;
use sea_orm::{DatabaseTransaction, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::parent_for_write;
use crate::dto::CustomerView;
use crate::entity::{address, contact, customer, external_ref, follow_up, note};
use crate::{events, queries};

pub async fn merge(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    cipher: &FieldCipher,
    target_id: Uuid,
    source_id: Uuid,
    if_match: Option<i64>,
) -> Result<CustomerView> {
    if source_id == target_id {
        return Err(ordercrm_kernel::Error::validation(vec![FieldError::new(
            "source_id",
            "same_customer",
            "cannot merge a customer into itself",
        )]));
    }
    let target = parent_for_write(txn, &ctx.actor, target_id).await?;
    let source = parent_for_write(txn, &ctx.actor, source_id)
        .await
        .map_err(|e| {
            if e.status() == 404 {
                ordercrm_kernel::Error::validation(vec![FieldError::new(
                    "source_id",
                    "unknown_customer",
                    "no such customer, or not one you can change",
                )])
            } else {
                e
            }
        })?;
    ordercrm_kernel::version::check_if_match(if_match, target.version)?;
    if source.merged_into_id.is_some() {
        return Err(already_merged());
    }
    if target.merged_into_id.is_some() || target.archived {
        return Err(unfit_target());
    }
    ctx.hooks.at("customer.merge.checked").await;

    // Claim both rows, lower id first; each claim re-checks what was read above.
    let mut claims = [(source_id, true), (target_id, false)];
    claims.sort_by_key(|(id, _)| *id);
    for (id, is_source) in claims {
        if is_source {
            let source_claim = customer::Entity::update_many()
                .col_expr(customer::COLUMN.merged_into_id, Expr::value(target_id))
                .col_expr(customer::COLUMN.archived, Expr::value(true))
                .col_expr(
                    customer::COLUMN.archived_at,
                    Expr::value(source.archived_at.unwrap_or(ctx.now)),
                )
                .col_expr(customer::COLUMN.updated_at, Expr::value(ctx.now))
                .filter(customer::COLUMN.id.eq(id))
                .filter(customer::COLUMN.merged_into_id.is_null())
                .filter(customer::COLUMN.erased_at.is_null());
            try_claim(txn, source_claim, customer::Column::Version, None)
                .await?
                .ok_or_else(already_merged)?;
        } else {
            // The version only when the caller named one: without If-Match a merge
            // into a target that just changed is still the merge they asked for.
            let target_claim = customer::Entity::update_many()
                .col_expr(customer::COLUMN.updated_at, Expr::value(ctx.now))
                .filter(customer::COLUMN.id.eq(id))
                .filter(customer::COLUMN.merged_into_id.is_null())
                .filter(customer::COLUMN.archived.eq(false))
                .filter(customer::COLUMN.erased_at.is_null());
            claim(
                txn,
                target_claim,
                customer::Entity::find_by_id(id),
                customer::Column::Version,
                if_match,
                |_| unfit_target(),
            )
            .await?;
        }
    }
    let moved = move_children(txn, ctx, source_id, target_id).await?;
    // Two transitions: the duplicate is archived into the target, which absorbed it.
    let duplicate = queries::get(txn, &ctx.actor, cipher, source_id).await?;
    events::record(txn, ctx, &events::ARCHIVED, &duplicate).await?;
    let view = queries::get(txn, &ctx.actor, cipher, target_id).await?;
    events::record(txn, ctx, &events::MERGED, &view).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("customer.merge", "customer", target_id)
            .changes(serde_json::json!({"source_id": source_id, "source_number": source.number, "moved": moved})),
    )
    .await?;
    Ok(view)
}

fn already_merged() -> ordercrm_kernel::Error {
    ordercrm_kernel::Error::validation(vec![FieldError::state(
        "source_id",
        "already_merged",
        "this customer was already merged",
    )])
}

fn unfit_target() -> ordercrm_kernel::Error {
    ordercrm_kernel::Error::new(
        ordercrm_kernel::error::problems::CONFLICT,
        "the customer to keep was archived or merged into another; merge into that one instead",
    )
}

/// Re-point every row that belongs to `from` at `to`; the counts, for the audit log.
/// Each moved contact, address and follow-up is a new version of it, with its event
/// (notes are never versioned: `customer.merged` says theirs moved).
async fn move_children(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    from: Uuid,
    to: Uuid,
) -> Result<serde_json::Value> {
    // The survivor keeps its primary contact and default addresses.
    let target_has_primary = contact::Entity::find()
        .filter(contact::COLUMN.customer_id.eq(to))
        .filter(contact::COLUMN.is_primary.eq(true))
        .one(txn)
        .await?
        .is_some();
    if target_has_primary {
        contact::Entity::update_many()
            .col_expr(contact::COLUMN.is_primary, Expr::value(false))
            .filter(contact::COLUMN.customer_id.eq(from))
            .exec(txn)
            .await?;
    }
    for kind in ["billing", "shipping"] {
        let has_default = address::Entity::find()
            .filter(address::COLUMN.customer_id.eq(to))
            .filter(address::COLUMN.kind.eq(kind))
            .filter(address::COLUMN.is_default.eq(true))
            .one(txn)
            .await?
            .is_some();
        if has_default {
            address::Entity::update_many()
                .col_expr(address::COLUMN.is_default, Expr::value(false))
                .filter(address::COLUMN.customer_id.eq(from))
                .filter(address::COLUMN.kind.eq(kind))
                .exec(txn)
                .await?;
        }
    }
    let moved_contacts = bump_all_returning(
        txn,
        contact::Entity::update_many()
            .col_expr(contact::COLUMN.customer_id, Expr::value(to))
            .col_expr(contact::COLUMN.updated_at, Expr::value(ctx.now))
            .filter(contact::COLUMN.customer_id.eq(from)),
        contact::Column::Version,
    )
    .await?;
    for row in &moved_contacts {
        let view = crate::dto::ContactView::from(row.clone());
        events::contact(txn, ctx, &events::CONTACT_UPDATED, &view).await?;
    }
    let moved_addresses = bump_all_returning(
        txn,
        address::Entity::update_many()
            .col_expr(address::COLUMN.customer_id, Expr::value(to))
            .col_expr(address::COLUMN.updated_at, Expr::value(ctx.now))
            .filter(address::COLUMN.customer_id.eq(from)),
        address::Column::Version,
    )
    .await?;
    for row in &moved_addresses {
        let view = crate::dto::AddressView::from(row.clone());
        events::address(txn, ctx, &events::ADDRESS_UPDATED, &view).await?;
    }
    let (contacts, addresses) = (moved_contacts.len(), moved_addresses.len());
    let notes = note::Entity::update_many()
        .col_expr(note::COLUMN.customer_id, Expr::value(to))
        .filter(note::COLUMN.customer_id.eq(from))
        .exec(txn)
        .await?
        .rows_affected;
    let moved_follow_ups = bump_all_returning(
        txn,
        follow_up::Entity::update_many()
            .col_expr(follow_up::COLUMN.customer_id, Expr::value(to))
            .col_expr(follow_up::COLUMN.updated_at, Expr::value(ctx.now))
            .filter(follow_up::COLUMN.customer_id.eq(from)),
        follow_up::Column::Version,
    )
    .await?;
    for row in &moved_follow_ups {
        let view = queries::follow_up_view(row.clone(), ctx.now);
        events::follow_up(txn, ctx, &events::FOLLOW_UP_UPDATED, &view).await?;
    }
    let follow_ups = moved_follow_ups.len();
    let external_refs = external_ref::Entity::update_many()
        .col_expr(external_ref::COLUMN.customer_id, Expr::value(to))
        .filter(external_ref::COLUMN.customer_id.eq(from))
        .exec(txn)
        .await?
        .rows_affected;
    Ok(serde_json::json!({
        "contacts": contacts, "addresses": addresses, "notes": notes,
        "follow_ups": follow_ups, "external_refs": external_refs,
    }))
}
