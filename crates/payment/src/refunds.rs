//! Refunds: money going back to a customer from one payment. A refund takes its
//! money off the payment at once (`refunded_amount`), so it cannot be allocated
//! or refunded twice; a failed one gives it back as the payment's credit.

use ordercrm_kernel::audit::{self, Entry};
use ordercrm_kernel::authz::Action;
use ordercrm_kernel::error::problems;
use ordercrm_kernel::id::new_id;
use ordercrm_kernel::input::{Choice, Text};
use ordercrm_kernel::{Ctx, Error, FieldError, Money, Result, numbers};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, DatabaseTransaction, EntityTrait, QueryFilter, UpdateMany};
use serde_json::json;
use uuid::Uuid;

use crate::dto::{CreateRefund, RefundReason, RefundView, SucceedRefund};
use crate::entity::{payment, refund};
use crate::error::PaymentError;
use crate::model::{PaymentMethod, RefundAction, RefundStatus, refund_starts_from};
use crate::{events, queries};

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
                .add(Expr::col(payment::Column::ReversedAmount))
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

/// `POST /v1/payments/{id}/refunds`: pay back part of what a payment left as the
/// customer's credit (409 `over-allocation` beyond its unallocated money).
#[tracing::instrument(skip(txn, ctx, input))]
pub async fn create(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    payment_id: Uuid,
    input: CreateRefund,
) -> Result<RefundView> {
    ctx.actor.require(Action::PaymentsWrite)?;
    let found = queries::find_payment(txn, &ctx.actor, payment_id).await?;
    let mut errors = Vec::new();
    let amount = input.amount.check(&mut errors, "amount");
    if amount.currency.code() != found.currency {
        errors.push(FieldError::new(
            "amount.currency",
            "currency_mismatch",
            format!("the payment is in {}", found.currency),
        ));
    }
    let method = Choice::check_opt(input.method.as_ref(), &mut errors, "method");
    let reason = Text::check(input.reason, &mut errors, "reason");
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    ordercrm_kernel::db::lock_for_check(txn, &format!("payments:{}", found.customer_id)).await?;
    let pay = payment::Entity::find_by_id(payment_id)
        .one(txn)
        .await?
        .ok_or_else(|| Error::from(PaymentError::PaymentNotFound(payment_id.to_string())))?;
    if pay.reversed_at.is_some() {
        return Err(PaymentError::Conflict(
            "payment_reversed",
            "the payment was reversed: the bank took the money back, there is none to refund"
                .into(),
        )
        .into());
    }
    let method = method
        .or_else(|| PaymentMethod::parse(&pay.method))
        .unwrap_or(PaymentMethod::Other);
    let row = request(
        txn,
        ctx,
        Ask {
            pay: &pay,
            amount: amount.amount,
            method,
            credit_note_id: None,
            order_id: pay.order_id,
            reason,
            outside: false,
        },
    )
    .await?;
    let data = queries::refund_data(txn, &row).await?;
    events::refund(txn, ctx, &events::REFUND_REQUESTED, &data).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("refund.request", "refund", row.id)
            .changes(json!({"payment_id": pay.id, "amount": amount, "status": data.status})),
    )
    .await?;
    Ok(queries::refund_view(&ctx.actor, data))
}

/// Take refund `id` for `action`: visible, in a state it starts from, at
/// `if_match` when given; `set` says what changes.
async fn claim(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    action: RefundAction,
    if_match: Option<i64>,
    set: impl FnOnce(UpdateMany<refund::Entity>) -> UpdateMany<refund::Entity>,
) -> Result<refund::Model> {
    let update = refund::Entity::update_many()
        .col_expr(refund::Column::UpdatedAt, Expr::value(ctx.now))
        .filter(refund::COLUMN.id.eq(id))
        .filter(
            refund::COLUMN
                .status
                .is_in(refund_starts_from(action).iter().map(|s| s.as_str())),
        );
    ordercrm_kernel::version::claim(
        txn,
        set(update),
        refund::Entity::find_by_id(id),
        refund::Column::Version,
        if_match,
        |found| match found {
            None => PaymentError::RefundNotFound(id.to_string()).into(),
            Some(r) => Error::new(
                problems::CONFLICT,
                format!(
                    "the refund is {}; {} starts from {}",
                    r.status,
                    action.as_str(),
                    refund_starts_from(action)
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            )
            .with_extension("current_status", json!(r.status))
            .with_extension("allowed_from", json!(refund_starts_from(action))),
        },
    )
    .await
}

async fn announce(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    row: &refund::Model,
    event: &ordercrm_kernel::events::EventType<crate::dto::RefundData>,
    audit_action: &str,
    changes: serde_json::Value,
) -> Result<RefundView> {
    let data = queries::refund_data(txn, row).await?;
    events::refund(txn, ctx, event, &data).await?;
    audit::record(
        txn,
        ctx,
        Entry::new(audit_action, "refund", row.id).changes(changes),
    )
    .await?;
    Ok(queries::refund_view(&ctx.actor, data))
}

/// `POST /v1/refunds/{id}/approve`: a manager who did not ask for it lets a
/// refund at or above the threshold go ahead (`pending`).
#[tracing::instrument(skip(txn, ctx, input))]
pub async fn approve(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    if_match: Option<i64>,
    input: RefundReason,
) -> Result<RefundView> {
    let mut errors = Vec::new();
    let note = Text::check(input.reason, &mut errors, "reason");
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    ctx.actor.require(Action::RefundsApprove)?;
    let found = queries::find_refund(txn, &ctx.actor, id).await?;
    let me = ctx.actor.principal();
    if found.requested_by == me {
        return Err(Error::new(
            problems::FORBIDDEN,
            "a refund is approved by someone other than who asked for it",
        ));
    }
    let row = claim(txn, ctx, id, RefundAction::Approve, if_match, |u| {
        u.col_expr(
            refund::Column::Status,
            Expr::value(RefundStatus::Pending.as_str()),
        )
        .col_expr(refund::Column::ApprovedBy, Expr::value(me.clone()))
        .col_expr(refund::Column::ApprovedAt, Expr::value(ctx.now))
        .filter(refund::COLUMN.requested_by.ne(me.clone()))
    })
    .await?;
    announce(
        txn,
        ctx,
        &row,
        &events::REFUND_APPROVED,
        "refund.approve",
        json!({"status": RefundStatus::Pending, "note": note}),
    )
    .await
}

/// `POST /v1/refunds/{id}/succeed`: the money left.
#[tracing::instrument(skip(txn, ctx, input))]
pub async fn succeed(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    if_match: Option<i64>,
    input: SucceedRefund,
) -> Result<RefundView> {
    ctx.actor.require(Action::PaymentsWrite)?;
    queries::find_refund(txn, &ctx.actor, id).await?;
    let provider = input.provider.map(|p| p.as_str().trim().to_owned());
    let reference = input.reference.map(|r| r.as_str().trim().to_owned());
    let row = claim(txn, ctx, id, RefundAction::Succeed, if_match, |u| {
        u.col_expr(
            refund::Column::Status,
            Expr::value(RefundStatus::Succeeded.as_str()),
        )
        .col_expr(refund::Column::Provider, Expr::value(provider.clone()))
        .col_expr(refund::Column::Reference, Expr::value(reference.clone()))
        .col_expr(refund::Column::SettledOn, Expr::value(ctx.now.date_naive()))
        .col_expr(refund::Column::CompletedAt, Expr::value(ctx.now))
    })
    .await?;
    announce(
        txn,
        ctx,
        &row,
        &events::REFUND_SUCCEEDED,
        "refund.succeed",
        json!({"status": RefundStatus::Succeeded, "provider": provider, "reference": reference}),
    )
    .await
}

/// `POST /v1/refunds/{id}/fail`: it did not happen (refused, bounced); the money
/// is the payment's credit again.
#[tracing::instrument(skip(txn, ctx, input))]
pub async fn fail(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    if_match: Option<i64>,
    input: RefundReason,
) -> Result<RefundView> {
    let mut errors = Vec::new();
    let reason = Text::check(input.reason, &mut errors, "reason");
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    ctx.actor.require(Action::PaymentsWrite)?;
    let found = queries::find_refund(txn, &ctx.actor, id).await?;
    ordercrm_kernel::db::lock_for_check(txn, &format!("payments:{}", found.customer_id)).await?;
    // The state and version first; the money after.
    let row = claim(txn, ctx, id, RefundAction::Fail, if_match, |u| u).await?;
    let row = fail_row(txn, ctx, &row, reason.as_deref().unwrap_or("failed")).await?;
    announce(
        txn,
        ctx,
        &row,
        &events::REFUND_FAILED,
        "refund.fail",
        json!({"status": RefundStatus::Failed, "reason": reason}),
    )
    .await
}
