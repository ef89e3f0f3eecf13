//! The allocation ledger: the only place money moves between payments, invoices
//! and orders. Each move adds rows (never changes one) and keeps three sums in
//! step with them in the same transaction: the payment's allocated amount, the
//! invoice's paid amount (by a conditional statement: never above its total) and
//! the order's paid amount (the order crate's rule, which also completes it).

use std::collections::BTreeMap;

use ordercrm_kernel::id::new_id;
use ordercrm_kernel::{Ctx, Error, Result};
use ordercrm_order::settlement;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::entity::{allocation, invoice, payment};
use crate::error::{OverAllocation, PaymentError};
use crate::model::{PaymentStatus, payment_status};
use crate::{events, queries};

async fn row(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    pay: &payment::Model,
    order_id: Option<Uuid>,
    invoice_id: Option<Uuid>,
    amount: i64,
) -> Result<()> {
    note_row(txn, ctx, pay, order_id, invoice_id, amount, None).await
}

async fn note_row(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    pay: &payment::Model,
    order_id: Option<Uuid>,
    invoice_id: Option<Uuid>,
    amount: i64,
    credit_note_id: Option<Uuid>,
) -> Result<()> {
    let exchange_difference = match invoice_id {
        Some(id) => realised(txn, pay, id, amount).await?,
        None => None,
    };
    allocation::ActiveModel::from(allocation::Model {
        id: new_id(),
        payment_id: pay.id,
        customer_id: pay.customer_id,
        currency: pay.currency.clone(),
        order_id,
        invoice_id,
        amount,
        effective_on: ctx.now.date_naive(),
        credit_note_id,
        exchange_difference,
        created_by: ctx.actor.principal(),
        created_at: ctx.now,
    })
    .insert(txn)
    .await?;
    Ok(())
}

/// The exchange difference realised by `amount` of payment `pay` on invoice
/// `id`: at the rate on the day the money was received less at the invoice's
/// rate, in its base currency; `None` when the invoice is in the base currency,
/// has no rate, or no rate was published by the day the money arrived.
async fn realised(
    txn: &DatabaseTransaction,
    pay: &payment::Model,
    id: Uuid,
    amount: i64,
) -> Result<Option<i64>> {
    use ordercrm_kernel::{Currency, Money, rate::Rate};
    let Some(inv) = invoice::Entity::find_by_id(id).one(txn).await? else {
        return Ok(None);
    };
    let (Some(base), Some(at_invoice)) = (
        inv.base_currency
            .as_deref()
            .and_then(|b| b.parse::<Currency>().ok()),
        inv.base_rate.as_deref().and_then(Rate::parse),
    ) else {
        return Ok(None);
    };
    let currency = queries::currency(&inv.currency);
    if currency == base {
        return Ok(None);
    }
    let Some(at_payment) =
        ordercrm_settings::rates::queries::rate_on(txn, currency, base, pay.received_on).await?
    else {
        return Ok(None);
    };
    let money = Money::new(amount, currency);
    Ok(
        match (
            at_payment.convert(money, base),
            at_invoice.convert(money, base),
        ) {
            (Ok(paid), Ok(billed)) => paid.amount.checked_sub(billed.amount),
            _ => None,
        },
    )
}

/// Invoice `id`'s paid amount up by `amount`, if it is open and owes that much:
/// the invoice as it now stands, `None` when it does not.
async fn pay_invoice(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    amount: i64,
) -> Result<Option<invoice::Model>> {
    let paid = Expr::col(invoice::Column::PaidAmount).add(amount);
    Ok(invoice::Entity::update_many()
        .col_expr(invoice::Column::PaidAmount, paid.clone())
        .col_expr(
            invoice::Column::Version,
            Expr::col(invoice::Column::Version).add(1),
        )
        .col_expr(invoice::Column::UpdatedAt, Expr::value(ctx.now))
        .filter(invoice::COLUMN.id.eq(id))
        .filter(
            invoice::COLUMN
                .status
                .eq(crate::model::InvoiceStatus::Open.as_str()),
        )
        .filter(
            paid.add(Expr::col(invoice::Column::CreditedAmount))
                .lte(Expr::col(invoice::Column::TotalAmount)),
        )
        .exec_with_returning(txn)
        .await?
        .pop())
}

/// Keep invoice `id`'s `next_due_on` with what is paid of it: the due date of its
/// first instalment (in row order) not paid in full, null when nothing is owed.
pub(crate) async fn refresh_next_due(txn: &DatabaseTransaction, id: Uuid) -> Result<()> {
    let Some(inv) = invoice::Entity::find_by_id(id).one(txn).await? else {
        return Ok(());
    };
    let rows = crate::entity::instalment::Entity::find()
        .filter(crate::entity::instalment::COLUMN.invoice_id.eq(id))
        .order_by_asc(crate::entity::instalment::Column::RowNo)
        .all(txn)
        .await?;
    let amounts: Vec<i64> = rows.iter().map(|r| r.amount).collect();
    let paid = crate::model::rows_paid(&amounts, inv.settled());
    let next = rows
        .iter()
        .zip(paid)
        .find(|(r, p)| *p < r.amount)
        .and_then(|(r, _)| r.due_on);
    if next != inv.next_due_on {
        invoice::Entity::update_many()
            .col_expr(invoice::Column::NextDueOn, Expr::value(next))
            .filter(invoice::COLUMN.id.eq(id))
            .exec(txn)
            .await?;
    }
    Ok(())
}

/// The invoice's payment-status event, when `amount` moved it.
pub(crate) async fn announce_invoice(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    inv: &invoice::Model,
    amount: i64,
) -> Result<()> {
    let before = payment_status(inv.settled() - amount, inv.total_amount);
    let after = payment_status(inv.settled(), inv.total_amount);
    let event = match (before, after) {
        (b, PaymentStatus::Paid) if b != PaymentStatus::Paid => &events::INVOICE_PAID,
        (PaymentStatus::Unpaid, PaymentStatus::PartiallyPaid) => &events::INVOICE_PARTIALLY_PAID,
        _ => return Ok(()),
    };
    let data = queries::invoice_data_of(txn, inv, ctx.now.date_naive()).await?;
    events::invoice(txn, ctx, event, &data).await?;
    Ok(())
}

/// The payment's allocated amount up by `amount` (never above its amount), its
/// version bumped: the payment as it now stands.
async fn allocate_from(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    amount: i64,
) -> Result<payment::Model> {
    let allocated = Expr::col(payment::Column::AllocatedAmount).add(amount);
    payment::Entity::update_many()
        .col_expr(payment::Column::AllocatedAmount, allocated.clone())
        .col_expr(
            payment::Column::Version,
            Expr::col(payment::Column::Version).add(1),
        )
        .col_expr(payment::Column::UpdatedAt, Expr::value(ctx.now))
        .filter(payment::COLUMN.id.eq(id))
        .filter(allocated.clone().gte(0))
        .filter(
            allocated
                .add(Expr::col(payment::Column::RefundedAmount))
                .add(Expr::col(payment::Column::ReversedAmount))
                .lte(Expr::col(payment::Column::Amount)),
        )
        .exec_with_returning(txn)
        .await?
        .pop()
        .ok_or_else(|| {
            PaymentError::OverAllocation(vec![OverAllocation {
                invoice_id: None,
                requested: amount,
                available: 0,
            }])
            .into()
        })
}

/// Apply `amount` of payment `pay` (its credit) to invoice `inv_id`, whose order
/// the caller locked: 409 `over-allocation` when the invoice owes less.
pub(crate) async fn apply(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    pay: &payment::Model,
    inv_id: Uuid,
    amount: i64,
) -> Result<payment::Model> {
    let Some(inv) = pay_invoice(txn, ctx, inv_id, amount).await? else {
        let owed = invoice::Entity::find_by_id(inv_id)
            .one(txn)
            .await?
            .filter(|i| i.status == crate::model::InvoiceStatus::Open.as_str())
            .map_or(0, |i| i.owed());
        return Err(PaymentError::OverAllocation(vec![OverAllocation {
            invoice_id: Some(inv_id),
            requested: amount,
            available: owed,
        }])
        .into());
    };
    refresh_next_due(txn, inv.id).await?;
    let pay = allocate_from(txn, ctx, pay.id, amount).await?;
    row(txn, ctx, &pay, inv.order_id, Some(inv.id), amount).await?;
    if let Some(order) = inv.order_id {
        settlement::add_paid(txn, ctx, order, amount).await?;
    }
    announce_invoice(txn, ctx, &inv, amount).await?;
    Ok(pay)
}

/// Hold `amount` of payment `pay` for order `order_id` (locked by the caller),
/// for its invoices to come.
pub(crate) async fn hold(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    pay: &payment::Model,
    order_id: Uuid,
    amount: i64,
) -> Result<payment::Model> {
    let pay = allocate_from(txn, ctx, pay.id, amount).await?;
    row(txn, ctx, &pay, Some(order_id), None, amount).await?;
    settlement::add_paid(txn, ctx, order_id, amount).await?;
    Ok(pay)
}

/// Hold `amount` of payment `pay` for order `order_id`, whose paid amount already
/// counts it (an intake prepayment the order recorded itself).
pub(crate) async fn hold_recorded(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    pay: &payment::Model,
    order_id: Uuid,
    amount: i64,
) -> Result<payment::Model> {
    let pay = allocate_from(txn, ctx, pay.id, amount).await?;
    row(txn, ctx, &pay, Some(order_id), None, amount).await?;
    Ok(pay)
}

/// What each payment holds for order `order_id`, oldest payment first.
async fn held_for(txn: &DatabaseTransaction, order_id: Uuid) -> Result<Vec<(Uuid, i64)>> {
    let mut held: BTreeMap<Uuid, i64> = BTreeMap::new();
    for a in allocation::Entity::find()
        .filter(allocation::COLUMN.order_id.eq(order_id))
        .filter(allocation::COLUMN.invoice_id.is_null())
        .order_by_asc(allocation::Column::CreatedAt)
        .all(txn)
        .await?
    {
        *held.entry(a.payment_id).or_default() += a.amount;
    }
    // Payment ids are v7: their order is the order they were recorded in.
    Ok(held.into_iter().filter(|(_, a)| *a > 0).collect())
}

/// Money held for order `order_id` goes onto `inv`, just issued for it, oldest
/// payment first, up to what it owes: two rows per payment (off the hold, onto
/// the invoice); the payment's and the order's sums do not move. One
/// `payment.allocated` per payment, the invoice's payment event once.
pub(crate) async fn apply_held(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    order_id: Uuid,
    inv: &invoice::Model,
) -> Result<()> {
    let mut owed = inv.owed();
    let mut moved = 0;
    let mut last = None;
    for (payment_id, held) in held_for(txn, order_id).await? {
        if owed <= 0 {
            break;
        }
        let amount = std::cmp::min(held, owed);
        let Some(now) = pay_invoice(txn, ctx, inv.id, amount).await? else {
            return Err(Error::new(
                ordercrm_kernel::error::problems::CONFLICT,
                "the invoice changed while held money was applied to it",
            ));
        };
        let pay = payment::Entity::update_many()
            .col_expr(
                payment::Column::Version,
                Expr::col(payment::Column::Version).add(1),
            )
            .col_expr(payment::Column::UpdatedAt, Expr::value(ctx.now))
            .filter(payment::COLUMN.id.eq(payment_id))
            .exec_with_returning(txn)
            .await?
            .pop()
            .ok_or_else(|| Error::from(PaymentError::PaymentNotFound(payment_id.to_string())))?;
        row(txn, ctx, &pay, Some(order_id), None, -amount).await?;
        row(txn, ctx, &pay, Some(order_id), Some(inv.id), amount).await?;
        let data = queries::payment_data(txn, &pay).await?;
        events::payment(txn, ctx, &events::PAYMENT_ALLOCATED, &data).await?;
        owed -= amount;
        moved += amount;
        last = Some(now);
    }
    if let Some(now) = last {
        refresh_next_due(txn, inv.id).await?;
        announce_invoice(txn, ctx, &now, moved).await?;
    }
    Ok(())
}

/// Order `order_id` ended: what payments held for it is their credit again.
pub(crate) async fn release_held(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    order_id: Uuid,
) -> Result<()> {
    for (payment_id, held) in held_for(txn, order_id).await? {
        let pay = allocate_from(txn, ctx, payment_id, -held).await?;
        row(txn, ctx, &pay, Some(order_id), None, -held).await?;
        settlement::add_paid(txn, ctx, order_id, -held).await?;
        let data = queries::payment_data(txn, &pay).await?;
        events::payment(txn, ctx, &events::PAYMENT_ALLOCATED, &data).await?;
    }
    Ok(())
}

/// Money applied to `inv` (an invoice of order `order_id`, about to be voided
/// because the order changed) goes back to being held for the order: two rows per
/// payment; the payment's and the order's sums do not move. One
/// `payment.allocated` per payment.
pub(crate) async fn unapply_to_hold(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    order_id: Uuid,
    inv: &invoice::Model,
) -> Result<()> {
    let mut applied: BTreeMap<Uuid, i64> = BTreeMap::new();
    for a in allocation::Entity::find()
        .filter(allocation::COLUMN.invoice_id.eq(inv.id))
        .all(txn)
        .await?
    {
        *applied.entry(a.payment_id).or_default() += a.amount;
    }
    for (payment_id, amount) in applied.into_iter().filter(|(_, a)| *a > 0) {
        invoice::Entity::update_many()
            .col_expr(
                invoice::Column::PaidAmount,
                Expr::col(invoice::Column::PaidAmount).sub(amount),
            )
            .col_expr(
                invoice::Column::Version,
                Expr::col(invoice::Column::Version).add(1),
            )
            .filter(invoice::COLUMN.id.eq(inv.id))
            .exec(txn)
            .await?;
        let pay = payment::Entity::update_many()
            .col_expr(
                payment::Column::Version,
                Expr::col(payment::Column::Version).add(1),
            )
            .col_expr(payment::Column::UpdatedAt, Expr::value(ctx.now))
            .filter(payment::COLUMN.id.eq(payment_id))
            .exec_with_returning(txn)
            .await?
            .pop()
            .ok_or_else(|| Error::from(PaymentError::PaymentNotFound(payment_id.to_string())))?;
        row(txn, ctx, &pay, Some(order_id), Some(inv.id), -amount).await?;
        row(txn, ctx, &pay, Some(order_id), None, amount).await?;
        refresh_next_due(txn, inv.id).await?;
        let data = queries::payment_data(txn, &pay).await?;
        events::payment(txn, ctx, &events::PAYMENT_ALLOCATED, &data).await?;
    }
    Ok(())
}

/// Release `amount` applied to invoice `inv` back to its payments (their credit
/// again), the payment applied last first: one negative row per payment, naming
/// credit note `note`. What each payment got back, in that order; the invoice's
/// and the order's sums are the caller's to move.
pub(crate) async fn release(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    inv: &invoice::Model,
    note: Uuid,
    amount: i64,
) -> Result<Vec<(payment::Model, i64)>> {
    let mut applied: BTreeMap<Uuid, (i64, chrono::DateTime<chrono::Utc>)> = BTreeMap::new();
    for a in allocation::Entity::find()
        .filter(allocation::COLUMN.invoice_id.eq(inv.id))
        .all(txn)
        .await?
    {
        let e = applied.entry(a.payment_id).or_insert((0, a.created_at));
        e.0 += a.amount;
        if a.amount > 0 && a.created_at > e.1 {
            e.1 = a.created_at;
        }
    }
    let mut newest: Vec<(Uuid, i64, chrono::DateTime<chrono::Utc>)> = applied
        .into_iter()
        .filter(|(_, (sum, _))| *sum > 0)
        .map(|(id, (sum, at))| (id, sum, at))
        .collect();
    newest.sort_by(|a, b| b.2.cmp(&a.2).then(b.0.cmp(&a.0)));
    let mut left = amount;
    let mut out = Vec::new();
    for (payment_id, sum, _) in newest {
        if left <= 0 {
            break;
        }
        let take = std::cmp::min(sum, left);
        let pay = allocate_from(txn, ctx, payment_id, -take).await?;
        note_row(
            txn,
            ctx,
            &pay,
            inv.order_id,
            Some(inv.id),
            -take,
            Some(note),
        )
        .await?;
        left -= take;
        out.push((pay, take));
    }
    if left != 0 {
        return Err(Error::new(
            ordercrm_kernel::error::problems::CONFLICT,
            "the invoice's allocations do not cover what it says was paid",
        ));
    }
    Ok(out)
}

/// Apply to invoice `inv` again what credit note `note` released from it, from
/// the same payments: 409 `credit_used` when one of them no longer has that much
/// unallocated. The payments as they now stand.
pub(crate) async fn restore(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    inv: &invoice::Model,
    note: Uuid,
) -> Result<Vec<(payment::Model, i64)>> {
    let mut released: BTreeMap<Uuid, i64> = BTreeMap::new();
    for a in allocation::Entity::find()
        .filter(allocation::COLUMN.credit_note_id.eq(note))
        .filter(allocation::COLUMN.invoice_id.eq(inv.id))
        .all(txn)
        .await?
    {
        *released.entry(a.payment_id).or_default() -= a.amount;
    }
    let mut out = Vec::new();
    for (payment_id, amount) in released.into_iter().filter(|(_, a)| *a > 0) {
        let pay = allocate_from(txn, ctx, payment_id, amount)
            .await
            .map_err(|_| {
                Error::from(PaymentError::Conflict(
                    "credit_used",
                    "the credit the credit note released was used since (applied to another \
                     invoice, refunded, or its payment reversed): it is not voided"
                        .into(),
                ))
            })?;
        note_row(
            txn,
            ctx,
            &pay,
            inv.order_id,
            Some(inv.id),
            amount,
            Some(note),
        )
        .await?;
        out.push((pay, amount));
    }
    Ok(out)
}

/// Everything payment `pay` still has on invoices or holds for orders comes off
/// (it was reversed): one negative row per invoice and per hold, the invoices'
/// paid amounts, their next due dates and the orders' paid amounts with them. The
/// caller holds the customer's payments lock and locks nothing else first.
pub(crate) async fn unwind(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    pay: &payment::Model,
) -> Result<payment::Model> {
    // (order, invoice): what the payment has on it.
    type Place = (Option<Uuid>, Option<Uuid>);
    let mut net: BTreeMap<Place, i64> = BTreeMap::new();
    for a in allocation::Entity::find()
        .filter(allocation::COLUMN.payment_id.eq(pay.id))
        .all(txn)
        .await?
    {
        *net.entry((a.order_id, a.invoice_id)).or_default() += a.amount;
    }
    let net: Vec<(Place, i64)> = net.into_iter().filter(|(_, a)| *a > 0).collect();
    // Orders' rows first, in one order, as every change of money does.
    let mut orders: Vec<Uuid> = net.iter().filter_map(|((o, _), _)| *o).collect();
    orders.sort();
    orders.dedup();
    for o in &orders {
        settlement::lock(txn, None, *o).await?;
    }
    let total: i64 = net.iter().map(|(_, a)| *a).sum();
    let pay = allocate_from(txn, ctx, pay.id, -total).await?;
    let mut per_order: BTreeMap<Uuid, i64> = BTreeMap::new();
    for ((order_id, invoice_id), amount) in &net {
        if let Some(inv) = invoice_id {
            invoice::Entity::update_many()
                .col_expr(
                    invoice::Column::PaidAmount,
                    Expr::col(invoice::Column::PaidAmount).sub(*amount),
                )
                .col_expr(
                    invoice::Column::Version,
                    Expr::col(invoice::Column::Version).add(1),
                )
                .col_expr(invoice::Column::UpdatedAt, Expr::value(ctx.now))
                .filter(invoice::COLUMN.id.eq(*inv))
                .exec(txn)
                .await?;
            refresh_next_due(txn, *inv).await?;
        }
        row(txn, ctx, &pay, *order_id, *invoice_id, -amount).await?;
        if let Some(o) = order_id {
            *per_order.entry(*o).or_default() += amount;
        }
    }
    for (order_id, amount) in per_order {
        settlement::add_paid(txn, ctx, order_id, -amount).await?;
    }
    Ok(pay)
}
