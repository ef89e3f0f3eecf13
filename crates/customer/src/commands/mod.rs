//! Use cases that change customers. Each takes the caller's transaction, checks
//! access, applies the rules, writes rows, and records its event and audit entry.

pub mod activity;
pub mod addresses;
pub mod contacts;
pub mod intake;

mod archive;
mod create;
mod erase;
mod merge;
mod update;

pub use archive::archive;
pub use create::{DEFAULT_PREFIX, NUMBERS, create};
pub use erase::{Erasure, erase};
pub use merge::merge;
pub use update::update;

use ordercrm_kernel::authz::Actor;
use ordercrm_kernel::{FieldError, Result};
use sea_orm::{Condition, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::entity::{customer, external_ref};
use crate::error::CustomerError;
use crate::queries;

/// Another live customer with this email or phone: 409 unless duplicates are allowed.
async fn check_duplicate(
    txn: &DatabaseTransaction,
    actor: &Actor,
    email: Option<&str>,
    phone: Option<&str>,
    except: Option<Uuid>,
) -> Result<()> {
    // Email before phone, in every request: two requests never wait on each other's
    // second lock.
    for (field, value) in [("email", email), ("phone", phone)] {
        let Some(value) = value else { continue };
        ordercrm_kernel::db::lock_for_check(txn, &format!("customer.{field}:{value}")).await?;
        let column = if field == "email" {
            customer::COLUMN.email_normalized
        } else {
            customer::COLUMN.phone_normalized
        };
        let mut find = customer::Entity::find()
            .filter(column.eq(value))
            .filter(customer::COLUMN.archived.eq(false));
        if let Some(id) = except {
            find = find.filter(customer::COLUMN.id.ne(id));
        }
        if let Some(existing) = find.one(txn).await? {
            // The id only when the caller may see that customer: never reveal more.
            let visible = queries::find_visible(txn, actor, existing.id).await.is_ok();
            return Err(CustomerError::Duplicate {
                field,
                existing: visible.then_some(existing.id),
            }
            .into());
        }
    }
    Ok(())
}

/// External references are unique per channel.
async fn check_refs(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    refs: &[crate::dto::ExternalRef],
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
        let taken = external_ref::Entity::find()
            .filter(
                Condition::all()
                    .add(external_ref::COLUMN.channel.eq(r.channel.trim()))
                    .add(external_ref::COLUMN.external_id.eq(r.external_id.trim())),
            )
            .one(conn)
            .await?;
        if let Some(t) = taken.filter(|t| Some(t.customer_id) != except) {
            let visible = queries::find_visible(conn, actor, t.customer_id)
                .await
                .is_ok();
            return Err(CustomerError::ExternalRefTaken {
                channel: r.channel.0.clone(),
                external_id: r.external_id.0.clone(),
                existing: visible.then_some(t.customer_id),
            }
            .into());
        }
    }
    Ok(())
}

/// The customer whose details the actor changes: 403 without the permission, 404 when
/// not visible, 409 `erased` once erased (nothing may bring its data back).
pub(crate) async fn parent_for_write(
    txn: &DatabaseTransaction,
    actor: &Actor,
    id: Uuid,
) -> Result<customer::Model> {
    actor.require(ordercrm_kernel::authz::Action::CustomersWrite)?;
    let row = queries::find_visible(txn, actor, id).await?;
    refuse_erased(&row)?;
    Ok(row)
}

/// The customer the actor changes, claimed for this transaction at `if_match` (see
/// `ordercrm_kernel::version`): 404 when not visible, 409 once erased, 412 when stale.
/// The row comes back with its version already bumped.
pub(crate) async fn claim_for_write(
    txn: &DatabaseTransaction,
    ctx: &ordercrm_kernel::Ctx,
    id: Uuid,
    if_match: Option<i64>,
) -> Result<customer::Model> {
    parent_for_write(txn, &ctx.actor, id).await?;
    ordercrm_kernel::version::claim(
        txn,
        customer::Entity::update_many()
            .col_expr(
                customer::Column::UpdatedAt,
                sea_orm::sea_query::Expr::value(ctx.now),
            )
            .filter(customer::COLUMN.id.eq(id))
            .filter(customer::COLUMN.erased_at.is_null()),
        customer::Entity::find_by_id(id),
        customer::Column::Version,
        if_match,
        |found| match found {
            Some(row) if row.erased_at.is_some() => CustomerError::Erased(row.number).into(),
            _ => CustomerError::NotFound(id.to_string()).into(),
        },
    )
    .await
}

/// `row` as it was before [`claim_for_write`] bumped its version.
pub(crate) fn as_read(row: &customer::Model) -> customer::Model {
    customer::Model {
        version: row.version - 1,
        ..row.clone()
    }
}

pub(crate) fn refuse_erased(row: &customer::Model) -> Result<()> {
    match row.erased_at {
        Some(_) => Err(CustomerError::Erased(row.number.clone()).into()),
        None => Ok(()),
    }
}
