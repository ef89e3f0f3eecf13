//! Credit notes: part of an invoice taken back (a return's refund, a price put
//! right after the fact). A credit note first lowers what the invoice still owes;
//! what it credits beyond that was paid, so that money is released from the
//! invoice's payments and split, exactly, into refunds, the customer's credit and
//! settlements outside. Voiding one puts everything back as it was.
//!
//! Locks, as for every change of money: the customer's payments, then the
//! invoice's order, then the invoice, then payments.

use ordercrm_kernel::audit::{self, Entry};
use ordercrm_kernel::authz::Action;
use ordercrm_kernel::id::new_id;
use ordercrm_kernel::input::Text;
use ordercrm_kernel::{Ctx, Error, FieldError, Money, Result, numbers};
use ordercrm_order::settlement;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, DatabaseTransaction, EntityTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;

use crate::dto::{CreateCreditNote, CreditNoteView, VoidCreditNote};
use crate::entity::{credit_note, invoice, payment, refund};
use crate::error::PaymentError;
use crate::model::{CreditNoteStatus, InvoiceStatus, PaymentMethod, RefundStatus};
use crate::refunds::{self, Ask};
use crate::{events, ledger, queries};

/// Credit note numbers have no gaps, like invoices': given at issue.
pub const NUMBERS: numbers::Kind = numbers::Kind::gap_free("credit_note");
const DEFAULT_PREFIX: &str = "CN-";

/// The request, checked: amounts in minor units of the invoice's currency.
struct Asked {
    amount: Option<i64>,
    reason: Option<String>,
    return_id: Option<Uuid>,
    refund: i64,
    method: Option<PaymentMethod>,
    credit: i64,
    outside: i64,
}

fn check(input: CreateCreditNote, currency: &str) -> Result<Asked> {
    let mut errors = Vec::new();
    let money = |m: Option<Money>, field: &str, errors: &mut Vec<FieldError>| {
        m.map(|m| {
            if m.currency.code() != currency {
                errors.push(FieldError::new(
                    format!("{field}.currency"),
                    "currency_mismatch",
                    format!("the invoice is in {currency}"),
                ));
            }
            m.amount
        })
    };
    let amount = input.amount.map(|a| a.check(&mut errors, "amount"));
    let amount = money(amount, "amount", &mut errors);
    let refund = input.refund.map(|a| a.check(&mut errors, "refund"));
    let refund = money(refund, "refund", &mut errors).unwrap_or(0);
    let credit = input.credit.map(|a| a.check(&mut errors, "credit"));
    let credit = money(credit, "credit", &mut errors).unwrap_or(0);
    let outside = input.outside.map(|a| a.check(&mut errors, "outside"));
    let outside = money(outside, "outside", &mut errors).unwrap_or(0);
    let method = ordercrm_kernel::input::Choice::check_opt(
        input.refund_method.as_ref(),
        &mut errors,
        "refund_method",
    );
    let reason = Text::check(input.reason, &mut errors, "reason");
    if input.return_id.is_none() {
        if amount.is_none() {
            errors.push(FieldError::new(
                "amount",
                "required",
                "an amount, unless the credit note is for a return",
            ));
        }
        if reason.is_none() {
            errors.push(FieldError::new(
                "reason",
                "required",
                "a reason, unless the credit note is for a return",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    Ok(Asked {
        amount,
        reason,
        return_id: input.return_id,
        refund,
        method,
        credit,
        outside,
    })
}

/// What of return `id` (of order `order_id`) is left to credit, and its number.
async fn return_left(
    txn: &DatabaseTransaction,
    id: Uuid,
    order_id: Option<Uuid>,
) -> Result<(i64, String)> {
    let found = settlement::return_due(txn, id)
        .await?
        .filter(|r| Some(r.order_id) == order_id);
    let Some(ret) = found else {
        return Err(Error::validation(vec![FieldError::new(
            "return_id",
            "unknown_return",
            format!("no return {id} of the invoice's order"),
        )]));
    };
    if !ret.closed {
        return Err(PaymentError::Conflict(
            "return_not_closed",
            format!(
                "return {} is not closed: its refund due is final once it is",
                ret.number
            ),
        )
        .into());
    }
    let credited: i64 = credit_note::Entity::find()
        .filter(credit_note::COLUMN.return_id.eq(id))
        .filter(
            credit_note::COLUMN
                .status
                .eq(CreditNoteStatus::Issued.as_str()),
        )
        .all(txn)
        .await?
        .iter()
        .map(|c| c.amount)
        .sum();
    Ok((ret.refund_due - credited, ret.number))
}

/// `POST /v1/invoices/{id}/credit-notes`.
#[tracing::instrument(skip(txn, ctx, input))]
pub async fn issue(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    invoice_id: Uuid,
    input: CreateCreditNote,
) -> Result<CreditNoteView> {
    ctx.actor.require(Action::PaymentsWrite)?;
    let found = queries::find_invoice(txn, &ctx.actor, invoice_id).await?;
    let asked = check(input, &found.currency)?;
    ordercrm_kernel::db::lock_for_check(txn, &format!("payments:{}", found.customer_id)).await?;
    if let Some(order) = found.order_id {
        settlement::lock(txn, None, order).await?;
    }
    let inv = invoice::Entity::find_by_id(invoice_id)
        .one(txn)
        .await?
        .ok_or_else(|| Error::from(PaymentError::InvoiceNotFound(invoice_id.to_string())))?;
    if inv.status != InvoiceStatus::Open.as_str() {
        return Err(PaymentError::Conflict(
            "invoice_not_open",
            format!(
                "the invoice is {}: credit notes stand against issued invoices (a draft is \
                 edited or voided instead)",
                inv.status
            ),
        )
        .into());
    }
    let worth = inv.total_amount - inv.credited_amount;
    let (amount, reason) = match asked.return_id {
        Some(r) => {
            let (left, number) = return_left(txn, r, inv.order_id).await?;
            let amount = asked.amount.unwrap_or(left);
            if amount > left || left <= 0 {
                return Err(PaymentError::OverCredit {
                    requested: amount,
                    available: std::cmp::max(left, 0),
                }
                .into());
            }
            (amount, asked.reason.unwrap_or(format!("return {number}")))
        }
        None => (
            asked.amount.unwrap_or_default(),
            asked.reason.unwrap_or_default(),
        ),
    };
    if amount > worth {
        return Err(PaymentError::OverCredit {
            requested: amount,
            available: worth,
        }
        .into());
    }
    let applied = std::cmp::min(amount, inv.owed());
    let to_split = amount - applied;
    let split = asked
        .refund
        .saturating_add(asked.credit)
        .saturating_add(asked.outside);
    if split != to_split {
        return Err(PaymentError::CreditSplit {
            applied,
            to_split,
            split,
        }
        .into());
    }
    let prefix =
        ordercrm_settings::queries::number_prefix(txn, "credit_note_number_prefix", DEFAULT_PREFIX)
            .await?;
    let number = numbers::format(&prefix, numbers::next(txn, NUMBERS).await?);
    let today = ctx.now.date_naive();
    let note = credit_note::ActiveModel::from(credit_note::Model {
        id: new_id(),
        number: number.clone(),
        status: CreditNoteStatus::Issued.as_str().to_owned(),
        customer_id: inv.customer_id,
        invoice_id: inv.id,
        order_id: inv.order_id,
        return_id: asked.return_id,
        currency: inv.currency.clone(),
        amount,
        applied_amount: applied,
        refund_amount: asked.refund,
        credit_amount: asked.credit,
        outside_amount: asked.outside,
        reason,
        effective_on: today,
        created_by: ctx.actor.principal(),
        void_reason: None,
        voided_by: None,
        voided_on: None,
        voided_at: None,
        version: 1,
        created_at: ctx.now,
        updated_at: ctx.now,
    })
    .insert(txn)
    .await?;
    let released = if to_split > 0 {
        ledger::release(txn, ctx, &inv, note.id, to_split).await?
    } else {
        Vec::new()
    };
    let inv = move_invoice(txn, ctx, &inv, -to_split, amount).await?;
    if let Some(order) = inv.order_id {
        settlement::settle(txn, ctx, order, -to_split, amount).await?;
    }
    // The refund first, then what was settled outside, from the payments in the
    // order they were released; what neither takes stays their credit.
    let mut made = Vec::new();
    for (part, outside) in [(asked.refund, false), (asked.outside, true)] {
        let mut left = part;
        for (pay, got) in &released {
            let taken: i64 = made
                .iter()
                .filter(|r: &&refund::Model| r.payment_id == pay.id)
                .map(|r| r.amount)
                .sum();
            let take = std::cmp::min(left, got - taken);
            if take <= 0 {
                continue;
            }
            let method = asked
                .method
                .or_else(|| PaymentMethod::parse(&pay.method))
                .unwrap_or(PaymentMethod::Other);
            let fresh = payment::Entity::find_by_id(pay.id)
                .one(txn)
                .await?
                .ok_or_else(|| Error::from(PaymentError::PaymentNotFound(pay.id.to_string())))?;
            made.push(
                refunds::request(
                    txn,
                    ctx,
                    Ask {
                        pay: &fresh,
                        amount: take,
                        method,
                        credit_note_id: Some(note.id),
                        order_id: inv.order_id,
                        reason: Some(format!("credit note {number}")),
                        outside,
                    },
                )
                .await?,
            );
            left -= take;
        }
    }
    let data = queries::credit_note_data(txn, &note).await?;
    events::credit_note(txn, ctx, &events::CREDIT_NOTE_ISSUED, &data).await?;
    ledger::announce_invoice(txn, ctx, &inv, applied).await?;
    for r in &made {
        let event = if r.status == RefundStatus::Succeeded.as_str() {
            &events::REFUND_SUCCEEDED
        } else {
            &events::REFUND_REQUESTED
        };
        events::refund(txn, ctx, event, &queries::refund_data(txn, r).await?).await?;
    }
    announce_payments(txn, ctx, released.iter().map(|(p, _)| p.id)).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("credit_note.issue", "credit_note", note.id).changes(json!({
            "invoice_id": inv.id, "amount": amount, "applied": applied, "refund": asked.refund,
            "credit": asked.credit, "outside": asked.outside, "return_id": asked.return_id})),
    )
    .await?;
    Ok(queries::credit_note_view(&ctx.actor, data))
}

/// Invoice `inv`'s paid amount moved by `paid` and its credited amount by
/// `credited`, its next due date with them: the invoice as it now stands.
async fn move_invoice(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    inv: &invoice::Model,
    paid: i64,
    credited: i64,
) -> Result<invoice::Model> {
    let new_paid = Expr::col(invoice::Column::PaidAmount).add(paid);
    let new_credited = Expr::col(invoice::Column::CreditedAmount).add(credited);
    let row = invoice::Entity::update_many()
        .col_expr(invoice::Column::PaidAmount, new_paid.clone())
        .col_expr(invoice::Column::CreditedAmount, new_credited.clone())
        .col_expr(
            invoice::Column::Version,
            Expr::col(invoice::Column::Version).add(1),
        )
        .col_expr(invoice::Column::UpdatedAt, Expr::value(ctx.now))
        .filter(invoice::COLUMN.id.eq(inv.id))
        .filter(new_paid.clone().gte(0))
        .filter(new_credited.clone().gte(0))
        .filter(
            new_paid
                .add(new_credited)
                .lte(Expr::col(invoice::Column::TotalAmount)),
        )
        .exec_with_returning(txn)
        .await?
        .pop()
        .ok_or_else(|| {
            Error::from(PaymentError::Conflict(
                "invoice_changed",
                "the invoice changed meanwhile: read it again".into(),
            ))
        })?;
    ledger::refresh_next_due(txn, row.id).await?;
    Ok(invoice::Entity::find_by_id(row.id)
        .one(txn)
        .await?
        .unwrap_or(row))
}

/// One `payment.allocated` per payment whose allocations a credit note moved.
async fn announce_payments(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    ids: impl Iterator<Item = Uuid>,
) -> Result<()> {
    let mut ids: Vec<Uuid> = ids.collect();
    ids.sort();
    ids.dedup();
    for id in ids {
        if let Some(pay) = payment::Entity::find_by_id(id).one(txn).await? {
            let data = queries::payment_data(txn, &pay).await?;
            events::payment(txn, ctx, &events::PAYMENT_ALLOCATED, &data).await?;
        }
    }
    Ok(())
}

/// `POST /v1/credit-notes/{id}/void`: the invoice owes what it owed before the
/// credit note; the money it released is applied to the invoice again (409
/// `credit_used` when a payment spent it since); its refunds not paid out fail,
/// and one paid out refuses the void (409 `refunded`).
#[tracing::instrument(skip(txn, ctx, input))]
pub async fn void(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    if_match: Option<i64>,
    input: VoidCreditNote,
) -> Result<CreditNoteView> {
    let mut errors = Vec::new();
    let reason = Text::check(input.reason, &mut errors, "reason");
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    ctx.actor.require(Action::PaymentsWrite)?;
    let found = queries::find_credit_note(txn, &ctx.actor, id).await?;
    ordercrm_kernel::db::lock_for_check(txn, &format!("payments:{}", found.customer_id)).await?;
    if let Some(order) = found.order_id {
        settlement::lock(txn, None, order).await?;
    }
    let update = credit_note::Entity::update_many()
        .col_expr(
            credit_note::Column::Status,
            Expr::value(CreditNoteStatus::Void.as_str()),
        )
        .col_expr(credit_note::Column::VoidReason, Expr::value(reason.clone()))
        .col_expr(
            credit_note::Column::VoidedBy,
            Expr::value(ctx.actor.principal()),
        )
        .col_expr(
            credit_note::Column::VoidedOn,
            Expr::value(ctx.now.date_naive()),
        )
        .col_expr(credit_note::Column::VoidedAt, Expr::value(ctx.now))
        .col_expr(credit_note::Column::UpdatedAt, Expr::value(ctx.now))
        .filter(credit_note::COLUMN.id.eq(id))
        .filter(
            credit_note::COLUMN
                .status
                .eq(CreditNoteStatus::Issued.as_str()),
        );
    let note = ordercrm_kernel::version::claim(
        txn,
        update,
        credit_note::Entity::find_by_id(id),
        credit_note::Column::Version,
        if_match,
        |found| match found {
            None => PaymentError::CreditNoteNotFound(id.to_string()).into(),
            Some(_) => {
                PaymentError::Conflict("already_void", "the credit note is void already".into())
                    .into()
            }
        },
    )
    .await?;
    let refunds = refund::Entity::find()
        .filter(refund::COLUMN.credit_note_id.eq(id))
        .all(txn)
        .await?;
    if let Some(paid_out) = refunds
        .iter()
        .find(|r| r.status == RefundStatus::Succeeded.as_str() && !r.outside)
    {
        return Err(PaymentError::Conflict(
            "refunded",
            format!(
                "refund {} of it was paid out: the money left, so the credit note stands",
                paid_out.number
            ),
        )
        .into());
    }
    let why = format!("credit note {} voided", note.number);
    let mut failed = Vec::new();
    for r in refunds
        .iter()
        .filter(|r| r.status != RefundStatus::Failed.as_str())
    {
        failed.push(refunds::fail_row(txn, ctx, r, &why).await?);
    }
    let inv = invoice::Entity::find_by_id(note.invoice_id)
        .one(txn)
        .await?
        .ok_or_else(|| Error::from(PaymentError::InvoiceNotFound(note.invoice_id.to_string())))?;
    let restored = ledger::restore(txn, ctx, &inv, note.id).await?;
    let back: i64 = restored.iter().map(|(_, a)| *a).sum();
    move_invoice(txn, ctx, &inv, back, -note.amount).await?;
    if let Some(order) = inv.order_id {
        settlement::settle(txn, ctx, order, back, -note.amount).await?;
    }
    let data = queries::credit_note_data(txn, &note).await?;
    events::credit_note(txn, ctx, &events::CREDIT_NOTE_VOIDED, &data).await?;
    for r in &failed {
        events::refund(
            txn,
            ctx,
            &events::REFUND_FAILED,
            &queries::refund_data(txn, r).await?,
        )
        .await?;
    }
    announce_payments(txn, ctx, restored.iter().map(|(p, _)| p.id)).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("credit_note.void", "credit_note", note.id)
            .changes(json!({"status": CreditNoteStatus::Void, "reason": reason})),
    )
    .await?;
    Ok(queries::credit_note_view(&ctx.actor, data))
}
