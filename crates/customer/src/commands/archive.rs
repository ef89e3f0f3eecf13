use ordercrm_kernel::audit::{self, Entry};
use ordercrm_kernel::authz::Action;
use ordercrm_kernel::crypto::FieldCipher;
use ordercrm_kernel::{Ctx, Result};
use sea_orm::sea_query::Expr;
use sea_orm::{DatabaseTransaction, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::dto::CustomerView;
use crate::entity::customer;
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
    if current.archived {
        ordercrm_kernel::version::check_if_match(if_match, current.version)?;
        return queries::get(txn, &ctx.actor, cipher, id).await;
    }
    let claimed = super::claim_for_write(txn, ctx, id, if_match).await?;
    if claimed.archived {
        // Archived by someone else while we looked: archiving twice is harmless.
        return queries::get(txn, &ctx.actor, cipher, id).await;
    }
    customer::Entity::update_many()
        .col_expr(customer::COLUMN.archived, Expr::value(true))
        .col_expr(customer::COLUMN.archived_at, Expr::value(ctx.now))
        .filter(customer::COLUMN.id.eq(id))
        .exec(txn)
        .await?;
    let view = queries::get(txn, &ctx.actor, cipher, id).await?;
    events::record(txn, ctx, &events::ARCHIVED, &view).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("customer.archive", "customer", id)
            .changes(serde_json::json!({"archived": {"from": false, "to": true}})),
    )
    .await?;
    Ok(view)
}
