//! Refunds: money going back to a customer from one payment. A refund takes its
//! money off the payment at once (`refunded_amount`), so it cannot be allocated
//! or refunded twice; a failed one gives it back as the payment's credit.

use ordercrm_kernel::id::new_id;
use ordercrm_kernel::{Ctx, Error, Money, Result, numbers};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, DatabaseTransaction, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::entity::{payment, refund};
use crate::error::PaymentError;
use crate::model::{PaymentMethod, RefundStatus};
use crate::queries;

pub const NUMBERS: numbers::Kind = numbers::Kind::sequence("refund");
const DEFAULT_PREFIX: &str = "RF-";

/// What a new refund is for.
pub(crate) struct Ask<'a> {
    pub pay: &'a payment::Model,
    pub amount: i64,
    pub method: PaymentMethod,
    pub credit_note_id: Option<Uuid>,
    pub order_id: Option<Uuid>,
    pub reason: Option<String>,
    /// Settled outside OrderCRM: recorded as succeeded, no approval.
    pub outside: bool,
}

/// Whether `amount` of `currency` reaches the `refund_approval_threshold` (in the
/// base currency, at today's rate; a currency without a rate to it does).
async fn needs_approval(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    amount: i64,
    currency: &str,
) -> Result<bool> {
    let Some(threshold) = ordercrm_settings::queries::value(txn, "refund_approval_threshold")
        .await?
        .and_then(|v| v.as_i64())
    else {
        return Ok(false);
    };
    let c = queries::currency(currency);
    let Some(base) = ordercrm_settings::queries::base_currency(txn).await? else {
        return Ok(amount >= threshold);
    };
    if base == c {
        return Ok(amount >= threshold);
    }
    let Some(rate) =
        ordercrm_settings::rates::queries::rate_on(txn, c, base, ctx.now.date_naive()).await?
    else {
        return Ok(true);
    };
    Ok(rate
        .convert(Money::new(amount, c), base)
        .map_or(true, |m| m.amount >= threshold))
}

/// Take `ask.amount` off payment `ask.pay` (its unallocated money: 409
/// `over-allocation` when it has less) and record the refund: `pending`, or
/// `pending_approval` at or above the threshold, or `succeeded` when settled
/// outside. No event: the caller announces it after what made it.
pub(crate) async fn request(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    ask: Ask<'_>,
) -> Result<refund::Model> {
    let refunded = Expr::col(payment::Column::RefundedAmount).add(ask.amount);
    payment::Entity::update_many()
        .col_expr(payment::Column::RefundedAmount, refunded.clone())
        .col_expr(
            payment::Column::Version,
            Expr::col(payment::Column::Version).add(1),
        )
        .col_expr(payment::Column::UpdatedAt, Expr::value(ctx.now))
        .filter(payment::COLUMN.id.eq(ask.pay.id))
        .filter(
            refunded
                .add(Expr::col(payment::Column::AllocatedAmount))
                .lte(Expr::col(payment::Column::Amount)),
        )
        .exec_with_returning(txn)
        .await?
        .pop()
        .ok_or_else(|| {
            Error::from(PaymentError::OverAllocation(vec![
                crate::error::OverAllocation {
                    invoice_id: None,
                    requested: ask.amount,
                    available: ask.pay.free(),
                },
            ]))
        })?;
    let status = if ask.outside {
        RefundStatus::Succeeded
    } else if needs_approval(txn, ctx, ask.amount, &ask.pay.currency).await? {
        RefundStatus::PendingApproval
    } else {
        RefundStatus::Pending
    };
    let prefix =
        ordercrm_settings::queries::number_prefix(txn, "refund_number_prefix", DEFAULT_PREFIX)
            .await?;
    let number = numbers::format(&prefix, numbers::next(txn, NUMBERS).await?);
    let done = status == RefundStatus::Succeeded;
    Ok(refund::ActiveModel::from(refund::Model {
        id: new_id(),
        number,
        status: status.as_str().to_owned(),
        customer_id: ask.pay.customer_id,
        payment_id: ask.pay.id,
        credit_note_id: ask.credit_note_id,
        order_id: ask.order_id,
        currency: ask.pay.currency.clone(),
        amount: ask.amount,
        method: ask.method.as_str().to_owned(),
        outside: ask.outside,
        provider: None,
        reference: None,
        reason: ask.reason,
        failure_reason: None,
        requested_by: ctx.actor.principal(),
        approved_by: None,
        approved_at: None,
        settled_on: done.then(|| ctx.now.date_naive()),
        completed_at: done.then_some(ctx.now),
        version: 1,
        created_at: ctx.now,
        updated_at: ctx.now,
    })
    .insert(txn)
    .await?)
}

/// Refund `row` failed (or its credit note was voided): its money is the
/// payment's credit again. The refund as it now stands.
pub(crate) async fn fail_row(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    row: &refund::Model,
    reason: &str,
) -> Result<refund::Model> {
    payment::Entity::update_many()
        .col_expr(
            payment::Column::RefundedAmount,
            Expr::col(payment::Column::RefundedAmount).sub(row.amount),
        )
        .col_expr(
            payment::Column::Version,
            Expr::col(payment::Column::Version).add(1),
        )
        .col_expr(payment::Column::UpdatedAt, Expr::value(ctx.now))
        .filter(payment::COLUMN.id.eq(row.payment_id))
        .exec(txn)
        .await?;
    refund::Entity::update_many()
        .col_expr(
            refund::Column::Status,
            Expr::value(RefundStatus::Failed.as_str()),
        )
        .col_expr(refund::Column::FailureReason, Expr::value(reason))
        .col_expr(refund::Column::SettledOn, Expr::value(ctx.now.date_naive()))
        .col_expr(refund::Column::CompletedAt, Expr::value(ctx.now))
        .col_expr(refund::Column::UpdatedAt, Expr::value(ctx.now))
        .col_expr(
            refund::Column::Version,
            Expr::col(refund::Column::Version).add(1),
        )
        .filter(refund::COLUMN.id.eq(row.id))
        .filter(refund::COLUMN.status.eq(row.status.clone()))
        .exec_with_returning(txn)
        .await?
        .pop()
        .ok_or_else(|| PaymentError::RefundNotFound(row.id.to_string()).into())
}
