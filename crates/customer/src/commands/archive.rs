use ordercrm_kernel::audit::{self, Entry};
use ordercrm_kernel::authz::Action;
use ordercrm_kernel::crypto::FieldCipher;
use ordercrm_kernel::{Ctx, Result};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{DatabaseTransaction, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::dto::CustomerView;
use crate::entity::customer;
use crate::error::CustomerError;
use crate::{events, queries};

/// Archive (soft delete): the customer leaves lists and duplicate checks, its
/// history stays. Archiving twice is harmless.
pub async fn archive(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    cipher: &FieldCipher,
    id: Uuid,
    if_match: Option<i64>,
) -> Result<CustomerView> {
    ctx.actor.require(Action::CustomersWrite)?;
    let current = queries::find_visible(txn, &ctx.actor, id).await?;
    ordercrm_kernel::version::check_if_match(if_match, current.version)?;
    if current.archived {
        return queries::get(txn, &ctx.actor, cipher, id).await;
    }
    let done = customer::Entity::update_many()
        .col_expr(customer::COLUMN.archived, Expr::value(true))
        .col_expr(customer::COLUMN.archived_at, Expr::value(ctx.now))
        .col_expr(
            customer::COLUMN.version,
            Expr::col(customer::COLUMN.version).add(1),
        )
        .col_expr(customer::COLUMN.updated_at, Expr::value(ctx.now))
        .filter(customer::COLUMN.id.eq(id))
        .filter(customer::COLUMN.version.eq(current.version))
        .exec(txn)
        .await?;
    if done.rows_affected == 0 {
        return Err(CustomerError::VersionMismatch {
            current: current.version + 1,
        }
        .into());
    }
    let view = queries::get(txn, &ctx.actor, cipher, id).await?;
    events::record(txn, ctx, events::ARCHIVED, &view).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("customer.archive", "customer", id)
            .changes(serde_json::json!({"archived": {"from": false, "to": true}})),
    )
    .await?;
    Ok(view)
}
