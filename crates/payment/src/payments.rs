//! Recording payments and allocating them.

use std::collections::BTreeSet;

use ordercrm_kernel::audit::{self, Entry};
use ordercrm_kernel::authz::Action;
use ordercrm_kernel::error::problems;
use ordercrm_kernel::id::new_id;
use ordercrm_kernel::input::Text;
use ordercrm_kernel::{Ctx, Currency, Error, FieldError, Result, numbers};
use ordercrm_order::model::OrderStatus;
use ordercrm_order::settlement::{self, IntakePayment, Invoiceable};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::json;
use uuid::Uuid;

use crate::dto::{AllocatePayment, AllocationInput, CreatePayment, PaymentView};
use crate::entity::{invoice, payment};
use crate::error::{OverAllocation, PaymentError};
use crate::model::{InvoiceStatus, MAX_ALLOCATIONS, PaymentState};
use crate::{events, ledger, queries};

/// Payment numbers may have gaps (a rolled-back payment uses its number up).
pub const NUMBERS: numbers::Kind = numbers::Kind::sequence("payment");
const DEFAULT_PREFIX: &str = "PAY-";

/// What `POST /v1/payments` did: recorded a new payment, or found the one the
/// provider's reference names (a notification sent again).
pub enum Received {
    Created(PaymentView),
    Existing(PaymentView),
}

/// Explicit allocations after their checks: (invoice, amount) in request order.
fn check_allocations(
    input: &[AllocationInput],
    currency: Option<Currency>,
    errors: &mut Vec<FieldError>,
) -> Vec<(Uuid, i64)> {
    if input.len() > MAX_ALLOCATIONS {
        errors.push(FieldError::new(
            "allocations",
            "length",
            format!("must have at most {MAX_ALLOCATIONS} entries"),
        ));
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(input.len());
    for (i, a) in input.iter().enumerate() {
        let field = format!("allocations[{i}].amount");
        let m = a.amount.check(errors, &field);
        if currency.is_some_and(|c| c != m.currency) {
            errors.push(FieldError::new(
                format!("{field}.currency"),
                "currency_mismatch",
                "must be the payment's currency",
            ));
        }
        if !seen.insert(a.invoice_id) {
            errors.push(FieldError::new(
                format!("allocations[{i}].invoice_id"),
                "duplicate",
                "an invoice is named once",
            ));
        }
        out.push((a.invoice_id, m.amount));
    }
    out
}

/// Record money received from a customer, and allocate it: to the invoices
/// named, or automatically (oldest due first; a payment for an order: its
/// invoices, then held for the ones to come). What is left is credit.
#[tracing::instrument(skip(txn, ctx, input))]
pub async fn receive(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    input: CreatePayment,
) -> Result<Received> {
    ctx.actor.require(Action::PaymentsWrite)?;
    let mut errors = Vec::new();
    let money = input.amount.check(&mut errors, "amount");
    let method = input.method.check(&mut errors, "method");
    let provider = input
        .provider
        .as_ref()
        .map(|p| p.check(&mut errors, "provider").to_lowercase());
    let reference = input
        .reference
        .as_ref()
        .map(|r| r.check(&mut errors, "reference"));
    if provider.is_some() != reference.is_some() {
        errors.push(FieldError::new(
            if provider.is_some() {
                "reference"
            } else {
                "provider"
            },
            "required",
            "provider and reference go together",
        ));
    }
    let today = ctx.now.date_naive();
    let received_on = input.received_on.map_or(today, |d| d.0);
    // A day ahead for the time zones a bank's date may be in; ten years back at most.
    if received_on > today + chrono::Days::new(1) {
        errors.push(FieldError::new(
            "received_on",
            "in_future",
            "must not be in the future",
        ));
    } else if today
        .checked_sub_months(chrono::Months::new(120))
        .is_some_and(|limit| received_on < limit)
    {
        errors.push(FieldError::new(
            "received_on",
            "range",
            "must be within the last ten years",
        ));
    }
    // A key bound to a channel records payments for its channel's orders only.
    if ctx.actor.channel().is_some() && input.order_id.is_none() {
        errors.push(FieldError::new(
            "order_id",
            "required",
            "a key bound to a channel names the order (of its channel) the payment is for",
        ));
    }
    let notes = Text::check(input.notes, &mut errors, "notes");
    let explicit = input
        .allocations
        .as_ref()
        .map(|a| check_allocations(a, Some(money.currency), &mut errors));
    let customer = paying_customer(txn, &ctx.actor, input.customer_id).await?;
    if customer.is_none() {
        errors.push(FieldError::new(
            "customer_id",
            "unknown_customer",
            "no such customer, or not one of yours",
        ));
    }
    let (Some(method), Some(customer), true) = (method, customer, errors.is_empty()) else {
        return Err(Error::validation(errors));
    };
    if let (Some(p), Some(r)) = (&provider, &reference) {
        ordercrm_kernel::db::lock_for_check(txn, &format!("payment:{p}:{r}")).await?;
        if let Some(existing) = payment::Entity::find()
            .filter(payment::COLUMN.provider.eq(p.as_str()))
            .filter(payment::COLUMN.reference.eq(r.as_str()))
            .one(txn)
            .await?
        {
            let same = existing.customer_id == customer.id
                && existing.amount == money.amount
                && existing.currency == money.currency.code()
                && existing.method == method.as_str()
                && input.order_id.is_none_or(|o| existing.order_id == Some(o));
            let visible = queries::find_payment(txn, &ctx.actor, existing.id)
                .await
                .is_ok();
            if same && visible {
                return Ok(Received::Existing(PaymentView {
                    data: queries::payment_data(txn, &existing).await?,
                }));
            }
            return Err(Error::new(
                problems::ALREADY_EXISTS,
                format!(
                    "{p} payment '{r}' is already recorded, for another customer, amount, method or order"
                ),
            ));
        }
    }
    // A customer's payments take turns (automatic allocation reads what is owed);
    // then the orders, invoices and payments, in the order every change takes them.
    ordercrm_kernel::db::lock_for_check(txn, &format!("payments:{}", customer.id)).await?;
    let order = match input.order_id {
        None => None,
        Some(id) => {
            let o = settlement::lock(txn, Some(&ctx.actor), id).await?;
            let mut errors = Vec::new();
            if o.customer_id != customer.id {
                errors.push(FieldError::new(
                    "order_id",
                    "other_customer",
                    "the order is another customer's",
                ));
            }
            if o.currency != money.currency {
                errors.push(FieldError::new(
                    "amount.currency",
                    "currency_mismatch",
                    format!("the order is in {}", o.currency),
                ));
            }
            if !errors.is_empty() {
                return Err(Error::validation(errors));
            }
            if matches!(o.status, OrderStatus::Cancelled | OrderStatus::Rejected) {
                return Err(PaymentError::Conflict(
                    "order_ended",
                    format!("order {} is {}: nothing is paid for it", o.number, o.status),
                )
                .into());
            }
            Some(o)
        }
    };
    let prefix =
        ordercrm_settings::queries::number_prefix(txn, "payment_number_prefix", DEFAULT_PREFIX)
            .await?;
    let number = numbers::format(&prefix, numbers::next(txn, NUMBERS).await?);
    let pay = payment::ActiveModel {
        id: Set(new_id()),
        number: Set(number),
        status: Set(PaymentState::Received.as_str().to_owned()),
        customer_id: Set(customer.id),
        order_id: Set(order.as_ref().map(|o| o.id)),
        currency: Set(money.currency.code().to_owned()),
        amount: Set(money.amount),
        allocated_amount: Set(0),
        refunded_amount: Set(0),
        reversed_amount: Set(0),
        reversed_on: Set(None),
        reversed_at: Set(None),
        reversal_reason: Set(None),
        method: Set(method.as_str().to_owned()),
        provider: Set(provider),
        reference: Set(reference),
        received_on: Set(received_on),
        notes: Set(notes),
        created_by: Set(ctx.actor.principal()),
        version: Set(1),
        created_at: Set(ctx.now),
        updated_at: Set(ctx.now),
    }
    .insert(txn)
    .await?;
    let pay = allocate_now(txn, ctx, pay, explicit, order.as_ref()).await?;
    let data = queries::payment_data(txn, &pay).await?;
    events::payment(txn, ctx, &events::PAYMENT_RECEIVED, &data).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("payment.receive", "payment", pay.id).changes(json!({
            "customer_id": pay.customer_id, "amount": data.amount, "method": data.method,
            "allocated": data.allocated,
        })),
    )
    .await?;
    Ok(Received::Created(PaymentView { data }))
}

/// Allocate what `pay` has left: `explicit` (invoice, amount) pairs, or
/// automatically when `None`; held for `order` with what is left when given.
async fn allocate_now(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    mut pay: payment::Model,
    explicit: Option<Vec<(Uuid, i64)>>,
    order: Option<&Invoiceable>,
) -> Result<payment::Model> {
    let left = pay.free();
    // `[]`: nothing allocated, nothing held: all of it credit.
    let hold_rest = explicit.as_ref().is_none_or(|pairs| !pairs.is_empty());
    let plan: Vec<(Uuid, i64)> = match explicit {
        Some(pairs) => {
            let mut over = Vec::new();
            let mut sum: i64 = 0;
            for (id, amount) in &pairs {
                let inv = queries::visible_invoices(&ctx.actor)
                    .filter(invoice::COLUMN.id.eq(*id))
                    .one(txn)
                    .await?
                    .filter(|i| i.customer_id == pay.customer_id);
                let Some(inv) = inv else {
                    return Err(Error::validation(vec![FieldError::new(
                        "allocations",
                        "unknown_invoice",
                        format!("no invoice {id} of this customer"),
                    )]));
                };
                if inv.currency != pay.currency {
                    return Err(Error::validation(vec![FieldError::new(
                        "allocations",
                        "currency_mismatch",
                        format!("invoice {id} is in {}", inv.currency),
                    )]));
                }
                let owed = if inv.status == InvoiceStatus::Open.as_str() {
                    inv.owed()
                } else {
                    0
                };
                if *amount > owed {
                    over.push(OverAllocation {
                        invoice_id: Some(*id),
                        requested: *amount,
                        available: owed,
                    });
                }
                sum = sum.saturating_add(*amount);
            }
            if sum > left {
                over.push(OverAllocation {
                    invoice_id: None,
                    requested: sum,
                    available: left,
                });
            }
            if !over.is_empty() {
                return Err(PaymentError::OverAllocation(over).into());
            }
            pairs
        }
        None => automatic(txn, &ctx.actor, &pay, order.map(|o| o.id), left).await?,
    };
    // Orders' rows first, in one order, then the invoices.
    let invoices: Vec<invoice::Model> = invoice::Entity::find()
        .filter(invoice::COLUMN.id.is_in(plan.iter().map(|(id, _)| *id)))
        .all(txn)
        .await?;
    let mut orders: Vec<Uuid> = invoices.iter().filter_map(|i| i.order_id).collect();
    orders.sort();
    orders.dedup();
    for o in orders {
        if order.is_none_or(|locked| locked.id != o) {
            settlement::lock(txn, None, o).await?;
        }
    }
    for (id, amount) in plan {
        pay = ledger::apply(txn, ctx, &pay, id, amount).await?;
    }
    if let Some(o) = order.filter(|_| hold_rest) {
        // Held money waits for invoices to come: at most what is not invoiced yet
        // (an invoice written off is not one to come), and what is still owed.
        let fresh = settlement::lock(txn, None, o.id).await?;
        // Issued ones (open or written off): a draft is an invoice to come.
        let invoiced: i64 = invoice::Entity::find()
            .filter(invoice::COLUMN.order_id.eq(o.id))
            .filter(invoice::COLUMN.status.is_in([
                InvoiceStatus::Open.as_str(),
                InvoiceStatus::Uncollectible.as_str(),
            ]))
            .all(txn)
            .await?
            .iter()
            .map(|i| i.total_amount)
            .sum();
        let room = std::cmp::max(
            std::cmp::min(
                fresh.grand_total - fresh.paid - fresh.credited,
                fresh.grand_total - invoiced,
            ),
            0,
        );
        let hold = std::cmp::min(room, pay.free());
        if hold > 0 {
            pay = ledger::hold(txn, ctx, &pay, o.id, hold).await?;
        }
    }
    Ok(pay)
}

/// The customer's open invoices in the payment's currency that owe something,
/// oldest due first (of `order` only, when given), filled with `left`.
async fn automatic(
    txn: &DatabaseTransaction,
    actor: &ordercrm_kernel::Actor,
    pay: &payment::Model,
    order: Option<Uuid>,
    mut left: i64,
) -> Result<Vec<(Uuid, i64)>> {
    // Only invoices the caller sees: a channel's key pays its channel's.
    let mut select = queries::visible_invoices(actor)
        .filter(invoice::COLUMN.customer_id.eq(pay.customer_id))
        .filter(invoice::COLUMN.currency.eq(pay.currency.as_str()))
        .filter(invoice::COLUMN.status.eq(InvoiceStatus::Open.as_str()))
        .filter(
            Expr::col(invoice::Column::PaidAmount)
                .add(Expr::col(invoice::Column::CreditedAmount))
                .lt(Expr::col(invoice::Column::TotalAmount)),
        );
    if let Some(o) = order {
        select = select.filter(invoice::COLUMN.order_id.eq(o));
    }
    let mut plan = Vec::new();
    // Oldest due first, by the first instalment each still owes on (the index's
    // order); one request pays at most
    // MAX_ALLOCATIONS invoices, the rest of the money stays credit.
    for inv in select
        .order_by_asc(invoice::Column::NextDueOn)
        .order_by_asc(invoice::Column::Id)
        .limit(u64::try_from(MAX_ALLOCATIONS).unwrap_or(200))
        .all(txn)
        .await?
    {
        if left <= 0 {
            break;
        }
        let take = std::cmp::min(left, inv.owed());
        plan.push((inv.id, take));
        left -= take;
    }
    Ok(plan)
}

/// `POST /v1/payments/{id}/allocate`: apply a payment's credit to invoices.
#[tracing::instrument(skip(txn, ctx, input))]
pub async fn allocate(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    input: AllocatePayment,
) -> Result<PaymentView> {
    ctx.actor.require(Action::PaymentsWrite)?;
    let found = queries::find_payment(txn, &ctx.actor, id).await?;
    let mut errors = Vec::new();
    let explicit = input.allocations.as_ref().map(|a| {
        if a.is_empty() {
            errors.push(FieldError::new(
                "allocations",
                "length",
                "must have 1 to 200 entries",
            ));
        }
        check_allocations(a, queries::currency(&found.currency).into(), &mut errors)
    });
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    ordercrm_kernel::db::lock_for_check(txn, &format!("payments:{}", found.customer_id)).await?;
    let before = payment::Entity::find_by_id(id)
        .one(txn)
        .await?
        .ok_or_else(|| Error::from(PaymentError::PaymentNotFound(id.to_string())))?;
    if before.free() <= 0 {
        return Err(PaymentError::Conflict(
            "fully_allocated",
            "the payment has nothing left to allocate".into(),
        )
        .into());
    }
    let pay = allocate_now(txn, ctx, before.clone(), explicit, None).await?;
    if pay.allocated_amount == before.allocated_amount {
        return Err(PaymentError::Conflict(
            "nothing_owed",
            "the customer has no open invoice in the payment's currency that owes anything".into(),
        )
        .into());
    }
    let data = queries::payment_data(txn, &pay).await?;
    events::payment(txn, ctx, &events::PAYMENT_ALLOCATED, &data).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("payment.allocate", "payment", pay.id)
            .changes(json!({"allocated": data.allocated})),
    )
    .await?;
    Ok(PaymentView { data })
}

/// How many merges a payment's customer is followed through.
const MERGE_HOPS: usize = 16;

/// Whom a payment is recorded for: a customer merged into another is that other
/// one (where its invoices and credit went), through any chain of merges.
/// `None`: no such customer for this caller.
async fn paying_customer(
    txn: &DatabaseTransaction,
    actor: &ordercrm_kernel::Actor,
    id: Uuid,
) -> Result<Option<ordercrm_customer::queries::OrderingCustomer>> {
    let mut id = id;
    for _ in 0..MERGE_HOPS {
        // A merge of this customer waits for this payment, or this payment for it.
        ordercrm_kernel::db::share_for_check(txn, &format!("customer:{id}")).await?;
        let Some(c) = ordercrm_customer::queries::ordering_customer(txn, actor, id).await? else {
            return Ok(None);
        };
        match c.merged_into {
            Some(next) if next != id => id = next,
            _ => return Ok(Some(c)),
        }
    }
    Ok(None)
}

/// The prepayment an order arrived with: a payment held for the order (whose
/// paid amount the order set itself). A provider's reference already recorded is
/// the same money when the gateway's notification came first (same customer,
/// amount, currency and method, for no order): what of it is not allocated yet
/// is held for the order, and the order is paid only that (automatic allocation
/// may have paid the customer's older invoices with the rest). Any other use of
/// the reference is 409, without naming the order it is on.
pub(crate) async fn intake(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    order: &Invoiceable,
    p: IntakePayment,
) -> Result<()> {
    ordercrm_kernel::db::lock_for_check(txn, &format!("payment:{}:{}", p.provider, p.reference))
        .await?;
    let used = payment::Entity::find()
        .filter(payment::COLUMN.provider.eq(p.provider.as_str()))
        .filter(payment::COLUMN.reference.eq(p.reference.as_str()))
        .one(txn)
        .await?;
    if let Some(used) = used {
        // The gateway's notification came before the order: the same money (the
        // provider's reference, customer, amount, currency and method), for no
        // order yet, is this order's prepayment, if the caller may read it (reads
        // payments, and sees this one: a key bound to a channel sees only its
        // channel's orders' payments, so it cannot take one recorded by someone else).
        let adoptable = used.order_id.is_none()
            && used.customer_id == order.customer_id
            && used.currency == p.currency.code()
            && used.amount == p.amount
            && used.method == p.method.as_str()
            && ctx.actor.may(Action::PaymentsRead)
            && queries::find_payment(txn, &ctx.actor, used.id)
                .await
                .is_ok();
        if !adoptable {
            return Err(Error::new(
                problems::ALREADY_EXISTS,
                format!(
                    "{} payment '{}' is already recorded, and is not one this order can take",
                    p.provider, p.reference
                ),
            ));
        }
        // What is left of it is read as allocations of the customer's money take turns.
        ordercrm_kernel::db::lock_for_check(txn, &format!("payments:{}", used.customer_id)).await?;
        let pay = payment::Entity::update_many()
            .col_expr(payment::Column::OrderId, Expr::value(order.id))
            .col_expr(payment::Column::UpdatedAt, Expr::value(ctx.now))
            .col_expr(
                payment::Column::Version,
                Expr::col(payment::Column::Version).add(1),
            )
            .filter(payment::COLUMN.id.eq(used.id))
            .filter(payment::COLUMN.order_id.is_null())
            .exec_with_returning(txn)
            .await?
            .pop()
            .ok_or_else(|| Error::from(PaymentError::PaymentNotFound(used.id.to_string())))?;
        let free = std::cmp::min(pay.free(), p.amount);
        if free < p.amount {
            settlement::add_paid(txn, ctx, order.id, free - p.amount).await?;
        }
        let pay = if free > 0 {
            ledger::hold_recorded(txn, ctx, &pay, order.id, free).await?
        } else {
            pay
        };
        audit::record(
            txn,
            ctx,
            Entry::new("payment.adopt", "payment", pay.id)
                .changes(json!({"order_id": order.id, "held": free})),
        )
        .await?;
        let data = queries::payment_data(txn, &pay).await?;
        events::payment(txn, ctx, &events::PAYMENT_ALLOCATED, &data).await?;
        return Ok(());
    }
    let prefix =
        ordercrm_settings::queries::number_prefix(txn, "payment_number_prefix", DEFAULT_PREFIX)
            .await?;
    let number = numbers::format(&prefix, numbers::next(txn, NUMBERS).await?);
    let pay = payment::ActiveModel {
        id: Set(new_id()),
        number: Set(number),
        status: Set(PaymentState::Received.as_str().to_owned()),
        customer_id: Set(order.customer_id),
        order_id: Set(Some(order.id)),
        currency: Set(p.currency.code().to_owned()),
        amount: Set(p.amount),
        allocated_amount: Set(p.amount),
        refunded_amount: Set(0),
        reversed_amount: Set(0),
        reversed_on: Set(None),
        reversed_at: Set(None),
        reversal_reason: Set(None),
        method: Set(p.method.as_str().to_owned()),
        provider: Set(Some(p.provider)),
        reference: Set(Some(p.reference)),
        received_on: Set(p.paid_at.date_naive()),
        notes: Set(None),
        created_by: Set(ctx.actor.principal()),
        version: Set(1),
        created_at: Set(ctx.now),
        updated_at: Set(ctx.now),
    }
    .insert(txn)
    .await?;
    crate::entity::allocation::ActiveModel::from(crate::entity::allocation::Model {
        id: new_id(),
        payment_id: pay.id,
        customer_id: pay.customer_id,
        currency: pay.currency.clone(),
        order_id: Some(order.id),
        invoice_id: None,
        amount: p.amount,
        effective_on: pay.received_on,
        credit_note_id: None,
        exchange_difference: None,
        created_by: ctx.actor.principal(),
        created_at: ctx.now,
    })
    .insert(txn)
    .await?;
    let data = queries::payment_data(txn, &pay).await?;
    events::payment(txn, ctx, &events::PAYMENT_RECEIVED, &data).await?;
    Ok(())
}
