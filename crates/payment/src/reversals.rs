//! Reversals: a payment the bank or card scheme took back (a bounced transfer, a
//! charge-back). What it paid is owed again, what it held for orders is no longer
//! held, its refunds not paid out fail, and what was left of it is nobody's
//! credit. Its orders' `payment_status` follows, and a completed order that is no
//! longer paid is `approved` again (`order.reopened`).

use ordercrm_kernel::audit::{self, Entry};
use ordercrm_kernel::authz::Action;
use ordercrm_kernel::input::Text;
use ordercrm_kernel::{Ctx, Error, FieldError, Result};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{DatabaseTransaction, EntityTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;

use crate::dto::{PaymentView, ReversePayment};
use crate::entity::{payment, refund};
use crate::error::PaymentError;
use crate::model::RefundStatus;
use crate::{events, ledger, queries, refunds};

/// `POST /v1/payments/{id}/reverse`.
#[tracing::instrument(skip(txn, ctx, input))]
pub async fn reverse(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    if_match: Option<i64>,
    input: ReversePayment,
) -> Result<PaymentView> {
    let mut errors = Vec::new();
    let reason = Text::check(input.reason, &mut errors, "reason");
    if reason.is_none() {
        errors.push(FieldError::new(
            "reason",
            "required",
            "why the payment was taken back (bounced, charge-back)",
        ));
    }
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    ctx.actor.require(Action::PaymentsWrite)?;
    let found = queries::find_payment(txn, &ctx.actor, id).await?;
    ordercrm_kernel::db::lock_for_check(txn, &format!("payments:{}", found.customer_id)).await?;
    // Claim it first: one reversal, at the version read.
    ordercrm_kernel::version::claim(
        txn,
        payment::Entity::update_many()
            .col_expr(
                payment::Column::ReversedOn,
                Expr::value(ctx.now.date_naive()),
            )
            .col_expr(payment::Column::ReversedAt, Expr::value(ctx.now))
            .col_expr(payment::Column::ReversalReason, Expr::value(reason.clone()))
            .col_expr(payment::Column::UpdatedAt, Expr::value(ctx.now))
            .filter(payment::COLUMN.id.eq(id))
            .filter(payment::COLUMN.reversed_at.is_null()),
        payment::Entity::find_by_id(id),
        payment::Column::Version,
        if_match,
        |found| match found {
            None => PaymentError::PaymentNotFound(id.to_string()).into(),
            Some(_) => PaymentError::Conflict(
                "already_reversed",
                "the payment was reversed already".into(),
            )
            .into(),
        },
    )
    .await?;
    let mut failed = Vec::new();
    for r in refund::Entity::find()
        .filter(refund::COLUMN.payment_id.eq(id))
        .filter(refund::COLUMN.status.is_in([
            RefundStatus::PendingApproval.as_str(),
            RefundStatus::Pending.as_str(),
        ]))
        .all(txn)
        .await?
    {
        failed.push(refunds::fail_row(txn, ctx, &r, "the payment was reversed").await?);
    }
    let pay = payment::Entity::find_by_id(id)
        .one(txn)
        .await?
        .ok_or_else(|| Error::from(PaymentError::PaymentNotFound(id.to_string())))?;
    let pay = ledger::unwind(txn, ctx, &pay).await?;
    // What the refunds paid out stays paid out; the rest went back to the bank.
    let pay = payment::Entity::update_many()
        .col_expr(
            payment::Column::ReversedAmount,
            Expr::col(payment::Column::Amount).sub(Expr::col(payment::Column::RefundedAmount)),
        )
        .col_expr(
            payment::Column::Version,
            Expr::col(payment::Column::Version).add(1),
        )
        .filter(payment::COLUMN.id.eq(pay.id))
        .exec_with_returning(txn)
        .await?
        .pop()
        .ok_or_else(|| Error::from(PaymentError::PaymentNotFound(id.to_string())))?;
    let data = queries::payment_data(txn, &pay).await?;
    events::payment(txn, ctx, &events::PAYMENT_REVERSED, &data).await?;
    for r in &failed {
        let refund = queries::refund_data(txn, r).await?;
        events::refund(txn, ctx, &events::REFUND_FAILED, &refund).await?;
    }
    audit::record(
        txn,
        ctx,
        Entry::new("payment.reverse", "payment", pay.id).changes(json!({
            "status": data.status, "reason": reason, "reversed": data.reversed})),
    )
    .await?;
    Ok(PaymentView { data })
}
