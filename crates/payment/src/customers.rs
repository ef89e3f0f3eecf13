//! What a customer merge does to invoices and payments: the duplicate's belong to
//! the customer that stays, with its credit (as orders do: one statement per
//! table, each row a new version, `customer.merged` the one event). An invoice
//! keeps the name it was issued to.

use ordercrm_kernel::version::bump_all;
use ordercrm_kernel::{Ctx, Result};
use sea_orm::sea_query::Expr;
use sea_orm::{DatabaseTransaction, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::entity::{allocation, credit_note, invoice, payment, refund};

/// Move every invoice, payment, allocation, credit note and refund of `from` to
/// `to`, in the merge's transaction.
#[tracing::instrument(skip(txn, ctx))]
pub async fn carry(txn: &DatabaseTransaction, ctx: &Ctx, from: Uuid, to: Uuid) -> Result<()> {
    bump_all(
        txn,
        invoice::Entity::update_many()
            .col_expr(invoice::Column::CustomerId, Expr::value(to))
            .col_expr(invoice::Column::UpdatedAt, Expr::value(ctx.now))
            .filter(invoice::COLUMN.customer_id.eq(from)),
        invoice::Column::Version,
    )
    .await?;
    bump_all(
        txn,
        payment::Entity::update_many()
            .col_expr(payment::Column::CustomerId, Expr::value(to))
            .col_expr(payment::Column::UpdatedAt, Expr::value(ctx.now))
            .filter(payment::COLUMN.customer_id.eq(from)),
        payment::Column::Version,
    )
    .await?;
    allocation::Entity::update_many()
        .col_expr(allocation::Column::CustomerId, Expr::value(to))
        .filter(allocation::COLUMN.customer_id.eq(from))
        .exec(txn)
        .await?;
    bump_all(
        txn,
        credit_note::Entity::update_many()
            .col_expr(credit_note::Column::CustomerId, Expr::value(to))
            .col_expr(credit_note::Column::UpdatedAt, Expr::value(ctx.now))
            .filter(credit_note::COLUMN.customer_id.eq(from)),
        credit_note::Column::Version,
    )
    .await?;
    bump_all(
        txn,
        refund::Entity::update_many()
            .col_expr(refund::Column::CustomerId, Expr::value(to))
            .col_expr(refund::Column::UpdatedAt, Expr::value(ctx.now))
            .filter(refund::COLUMN.customer_id.eq(from)),
        refund::Column::Version,
    )
    .await?;
    Ok(())
}

/// What a credit note's reason (required) says once it is erased.
const ERASED_TEXT: &str = "(erased)";

/// When customers' personal data is erased: the name their invoices were issued
/// to, and the words people typed about their invoices and payments (notes,
/// reasons, audit entries). Numbers and money stay, so the books add up.
pub async fn forget(txn: &DatabaseTransaction, customers: &[Uuid]) -> Result<()> {
    let invoices = invoice::Entity::update_many()
        .col_expr(
            invoice::Column::CustomerName,
            Expr::value(ordercrm_order::commands::erasure::ERASED_NAME),
        )
        .col_expr(invoice::Column::Notes, Expr::value(Option::<String>::None))
        .col_expr(
            invoice::Column::StatusReason,
            Expr::value(Option::<String>::None),
        )
        .filter(invoice::COLUMN.customer_id.is_in(customers.to_vec()))
        .exec_with_returning(txn)
        .await?;
    let payments = payment::Entity::update_many()
        .col_expr(payment::Column::Notes, Expr::value(Option::<String>::None))
        .col_expr(
            payment::Column::ReversalReason,
            Expr::value(Option::<String>::None),
        )
        .filter(payment::COLUMN.customer_id.is_in(customers.to_vec()))
        .exec_with_returning(txn)
        .await?;
    let notes = credit_note::Entity::update_many()
        .col_expr(credit_note::Column::Reason, Expr::value(ERASED_TEXT))
        .col_expr(
            credit_note::Column::VoidReason,
            Expr::value(Option::<String>::None),
        )
        .filter(credit_note::COLUMN.customer_id.is_in(customers.to_vec()))
        .exec_with_returning(txn)
        .await?;
    let refunds = refund::Entity::update_many()
        .col_expr(refund::Column::Reason, Expr::value(Option::<String>::None))
        .col_expr(
            refund::Column::FailureReason,
            Expr::value(Option::<String>::None),
        )
        .filter(refund::COLUMN.customer_id.is_in(customers.to_vec()))
        .exec_with_returning(txn)
        .await?;
    for (kind, ids) in [
        (
            "invoice",
            invoices
                .iter()
                .map(|i| i.id.to_string())
                .collect::<Vec<_>>(),
        ),
        (
            "payment",
            payments.iter().map(|p| p.id.to_string()).collect(),
        ),
        (
            "credit_note",
            notes.iter().map(|n| n.id.to_string()).collect(),
        ),
        ("refund", refunds.iter().map(|r| r.id.to_string()).collect()),
    ] {
        if ids.is_empty() {
            continue;
        }
        ordercrm_kernel::audit::entity::Entity::update_many()
            .col_expr(
                ordercrm_kernel::audit::entity::Column::Changes,
                Expr::value(serde_json::json!({"erased": true})),
            )
            .filter(ordercrm_kernel::audit::entity::COLUMN.entity_type.eq(kind))
            .filter(ordercrm_kernel::audit::entity::COLUMN.entity_id.is_in(ids))
            .exec(txn)
            .await?;
    }
    Ok(())
}
