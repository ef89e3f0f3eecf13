//! Invoicing orders, issuing, voiding and writing off invoices.
//!
//! Lock order, for every change of money: the order's row, then invoices, then
//! payments, so invoices, payments, edits and deliveries of one order take turns
//! and never wait for each other in a circle.

use chrono::NaiveDate;
use ordercrm_kernel::audit::{self, Entry};
use ordercrm_kernel::authz::Action;
use ordercrm_kernel::id::new_id;
use ordercrm_kernel::input::Text;
use ordercrm_kernel::{Ctx, Error, FieldError, Money, Result, numbers};
use ordercrm_order::model::OrderStatus;
use ordercrm_order::settlement::{self, Invoiceable, Take, Taken};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, DatabaseTransaction, EntityTrait, QueryFilter, UpdateMany};
use serde_json::json;
use uuid::Uuid;

use crate::dto::{CreateInvoice, InvoiceReason, InvoiceView, UpdateInvoice};
use crate::entity::{instalment, invoice, invoice_line};
use crate::error::{OverLine, PaymentError};
use crate::model::{
    InvoiceAction, InvoiceStatus, MAX_INSTALMENTS, PaymentTerms, WHOLE_BPS, due_on, split,
    starts_from,
};
use crate::{events, ledger, queries};

/// Invoice numbers have no gaps: given at issue, in the issuer's transaction.
pub const NUMBERS: numbers::Kind = numbers::Kind::gap_free("invoice");
const DEFAULT_PREFIX: &str = "INV-";

/// What an invoice takes: units per order line (all that is left when `None`),
/// the shipping fee, its schedule, a note.
pub(crate) struct Plan {
    pub lines: Option<Vec<(i32, i64)>>,
    pub shipping: Option<bool>,
    pub schedule: Vec<(i32, i32)>,
    /// Whether `schedule` was asked for (else one row, due by the terms).
    pub scheduled: bool,
    pub notes: Option<String>,
}

fn check_schedule(
    input: Option<Vec<crate::dto::InstalmentInput>>,
    errors: &mut Vec<FieldError>,
) -> Vec<(i32, i32)> {
    let Some(rows) = input else {
        return vec![(WHOLE_BPS, 0)];
    };
    if !(1..=MAX_INSTALMENTS).contains(&rows.len()) {
        errors.push(FieldError::new(
            "schedule",
            "length",
            format!("must have 1 to {MAX_INSTALMENTS} rows"),
        ));
        return Vec::new();
    }
    let mut out = Vec::with_capacity(rows.len());
    let mut sum: i64 = 0;
    let mut last_days = 0;
    for (i, r) in rows.into_iter().enumerate() {
        let share = r
            .share_bps
            .check_i32(errors, &format!("schedule[{i}].share_bps"));
        let days = r
            .due_days
            .check_i32(errors, &format!("schedule[{i}].due_days"));
        if days < last_days {
            errors.push(FieldError::new(
                format!("schedule[{i}].due_days"),
                "order",
                "rows fall due in order: not before the row above",
            ));
        }
        last_days = days;
        sum += i64::from(share);
        out.push((share, days));
    }
    if sum != i64::from(WHOLE_BPS) {
        errors.push(FieldError::new(
            "schedule",
            "sum",
            format!("the shares add up to {sum} basis points, not 10000"),
        ));
    }
    out
}

/// `POST /v1/orders/{id}/invoices`.
#[tracing::instrument(skip(txn, ctx, input))]
pub async fn create_for_order(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    order_id: Uuid,
    input: CreateInvoice,
) -> Result<InvoiceView> {
    ctx.actor.require(Action::PaymentsWrite)?;
    let mut errors = Vec::new();
    let lines = input.lines.map(|lines| {
        if !(1..=200).contains(&lines.len()) {
            errors.push(FieldError::new(
                "lines",
                "length",
                "must have 1 to 200 lines",
            ));
        }
        lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                (
                    l.line_no
                        .check_i32(&mut errors, &format!("lines[{i}].line_no")),
                    l.quantity
                        .check(&mut errors, &format!("lines[{i}].quantity")),
                )
            })
            .collect::<Vec<_>>()
    });
    let scheduled = input.schedule.is_some();
    let schedule = check_schedule(input.schedule, &mut errors);
    let notes = Text::check(input.notes, &mut errors, "notes");
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    let order = settlement::lock(txn, Some(&ctx.actor), order_id).await?;
    let plan = Plan {
        lines,
        shipping: input.shipping,
        schedule,
        scheduled,
        notes,
    };
    let row = make(txn, ctx, &order, plan).await?;
    let row = if input.issue {
        issue_row(txn, ctx, row).await?
    } else {
        row
    };
    let data = queries::invoice_data_of(txn, &row, ctx.now.date_naive()).await?;
    Ok(queries::invoice_view(&ctx.actor, data))
}

/// Change a draft's notes or schedule, at `if_match` when given. Nothing changed
/// (an empty body, or what it already says): no new version, no event.
#[tracing::instrument(skip(txn, ctx, input))]
pub async fn update(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    if_match: Option<i64>,
    input: UpdateInvoice,
) -> Result<InvoiceView> {
    ctx.actor.require(Action::PaymentsWrite)?;
    let mut errors = Vec::new();
    let notes = input.notes.map(|n| Text::check(n, &mut errors, "notes"));
    let schedule = input
        .schedule
        .map(|rows| check_schedule(Some(rows), &mut errors));
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    let today = ctx.now.date_naive();
    let before = queries::find_invoice(txn, &ctx.actor, id).await?;
    // As it stands now: inside the change its instalments are already the new ones.
    let before_data = queries::invoice_data_of(txn, &before, today).await?;
    let changed = ordercrm_kernel::version::unless_unchanged(txn, async |t| {
        let row = claim(t, ctx, id, InvoiceAction::Edit, if_match, |u| {
            let u = match &notes {
                Some(n) => u.col_expr(invoice::Column::Notes, Expr::value(n.clone())),
                None => u,
            };
            match &schedule {
                Some(_) => u.col_expr(invoice::Column::Scheduled, Expr::value(true)),
                None => u,
            }
        })
        .await?;
        if let Some(rows) = &schedule {
            instalment::Entity::delete_many()
                .filter(instalment::COLUMN.invoice_id.eq(id))
                .exec(t)
                .await?;
            insert_schedule(t, id, row.total_amount, rows).await?;
        }
        Ok((
            before_data.clone(),
            queries::invoice_data_of(t, &row, today).await?,
        ))
    })
    .await?;
    let Some((_, data)) = changed else {
        return Ok(queries::invoice_view(
            &ctx.actor,
            queries::invoice_data_of(txn, &before, today).await?,
        ));
    };
    events::invoice(txn, ctx, &events::INVOICE_UPDATED, &data).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("invoice.update", "invoice", id)
            .changes(json!({"notes": data.notes, "instalments": data.instalments.len()})),
    )
    .await?;
    Ok(queries::invoice_view(&ctx.actor, data))
}

async fn insert_schedule(
    txn: &DatabaseTransaction,
    id: Uuid,
    total: i64,
    schedule: &[(i32, i32)],
) -> Result<()> {
    let shares: Vec<i32> = schedule.iter().map(|(s, _)| *s).collect();
    let amounts = split(total, &shares);
    let rows: Vec<instalment::Model> = schedule
        .iter()
        .zip(amounts)
        .zip(1..)
        .map(|(((share, days), amount), row_no)| instalment::Model {
            id: new_id(),
            invoice_id: id,
            row_no,
            share_bps: *share,
            due_days: *days,
            amount,
            due_on: None,
        })
        .collect();
    instalment::Entity::insert_many(rows.into_iter().map(instalment::ActiveModel::from))
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// Put a draft together from `order` (locked by the caller): its lines take
/// their units by one conditional statement each. `invoice.created`.
pub(crate) async fn make(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    order: &Invoiceable,
    plan: Plan,
) -> Result<invoice::Model> {
    if !order.approved {
        return Err(PaymentError::Conflict(
            "not_approved",
            format!(
                "order {} was never approved: nothing of it is invoiced",
                order.number
            ),
        )
        .into());
    }
    if matches!(order.status, OrderStatus::Cancelled | OrderStatus::Rejected) {
        return Err(PaymentError::Conflict(
            "order_ended",
            format!(
                "order {} is {}: nothing of it is invoiced",
                order.number, order.status
            ),
        )
        .into());
    }
    let mut errors = Vec::new();
    let asked: Vec<(&settlement::InvoiceableLine, i64)> = match &plan.lines {
        None => order
            .lines
            .iter()
            .filter(|l| l.quantity > l.invoiced)
            .map(|l| (l, l.quantity - l.invoiced))
            .collect(),
        Some(lines) => {
            let sums = settlement::sum_per_line(lines, &mut errors);
            let mut asked = Vec::new();
            for (no, (q, field)) in sums {
                match order.lines.iter().find(|l| l.line_no == no) {
                    Some(l) => asked.push((l, q)),
                    None => errors.push(FieldError::new(
                        format!("{field}.line_no"),
                        "unknown_line",
                        format!("the order has no line {no}"),
                    )),
                }
            }
            asked
        }
    };
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    let shipping = match plan.shipping {
        None => !order.shipping_invoiced && order.shipping > 0,
        Some(true) if order.shipping_invoiced => {
            return Err(PaymentError::Conflict(
                "shipping_invoiced",
                "the order's shipping fee is already on another invoice".into(),
            )
            .into());
        }
        // A fee of nothing is not taken: an edit may set one later.
        Some(s) => s && order.shipping > 0,
    };
    if asked.is_empty() && !shipping {
        return Err(PaymentError::Conflict(
            "nothing_to_invoice",
            format!("everything of order {} is invoiced", order.number),
        )
        .into());
    }
    let takes: Vec<Take> = asked
        .iter()
        .map(|(l, q)| Take {
            line_id: l.id,
            quantity: *q,
        })
        .collect();
    let taken = match settlement::take(txn, order.id, &takes, shipping).await? {
        Ok(taken) => taken,
        Err(short) => {
            let lines = short
                .iter()
                .map(|s| OverLine {
                    line_no: order
                        .lines
                        .iter()
                        .find(|l| l.id == s.line_id)
                        .map_or(0, |l| l.line_no),
                    requested: s.requested,
                    available: s.available,
                })
                .collect();
            return Err(PaymentError::OverInvoice(lines).into());
        }
    };
    let id = new_id();
    let shipping_amount = if shipping { order.shipping } else { 0 };
    let mut line_rows = Vec::with_capacity(taken.len());
    for ((l, _), t) in asked.iter().zip(&taken) {
        let gross = l.unit_price.saturating_mul(t.quantity);
        let net = t.total - t.tax;
        let after_discount = if order.prices_include_tax {
            t.total
        } else {
            net
        };
        line_rows.push(invoice_line::Model {
            id: new_id(),
            invoice_id: id,
            line_no: i32::try_from(line_rows.len() + 1).unwrap_or(i32::MAX),
            order_line_id: Some(l.id),
            order_line_no: Some(l.line_no),
            product_id: Some(l.product_id),
            sku: Some(l.sku.clone()),
            name: l.name.clone(),
            quantity: t.quantity,
            unit_price_amount: l.unit_price,
            discount_amount: std::cmp::max(gross - after_discount, 0),
            tax_rate_bps: l.tax_rate_bps,
            net_amount: net,
            tax_amount: t.tax,
            total_amount: t.total,
        });
    }
    let subtotal: i64 = line_rows.iter().map(|l| l.net_amount).sum();
    let tax: i64 = line_rows.iter().map(|l| l.tax_amount).sum();
    let total: i64 = line_rows.iter().map(|l| l.total_amount).sum::<i64>() + shipping_amount;
    let row = invoice::ActiveModel {
        id: Set(id),
        number: Set(None),
        status: Set(InvoiceStatus::Draft.as_str().to_owned()),
        customer_id: Set(order.customer_id),
        customer_name: Set(order.customer_name.clone()),
        order_id: Set(Some(order.id)),
        currency: Set(order.currency.code().to_owned()),
        subtotal_amount: Set(subtotal),
        tax_amount: Set(tax),
        shipping_amount: Set(shipping_amount),
        total_amount: Set(total),
        paid_amount: Set(0),
        credited_amount: Set(0),
        payment_terms: Set(order.terms.as_str().to_owned()),
        payment_terms_days: Set(order.terms_days),
        issued_on: Set(None),
        due_on: Set(None),
        next_due_on: Set(None),
        scheduled: Set(plan.scheduled),
        base_currency: Set(None),
        base_rate: Set(None),
        total_base_amount: Set(None),
        notes: Set(plan.notes),
        status_reason: Set(None),
        created_by: Set(ctx.actor.principal()),
        issued_by: Set(None),
        issued_at: Set(None),
        closed_at: Set(None),
        issue_requested_at: Set(None),
        dunned_on: Set(None),
        written_off_amount: Set(None),
        version: Set(1),
        created_at: Set(ctx.now),
        updated_at: Set(ctx.now),
    }
    .insert(txn)
    .await?;
    invoice_line::Entity::insert_many(
        line_rows
            .iter()
            .map(|l| invoice_line::ActiveModel::from(l.clone())),
    )
    .exec_without_returning(txn)
    .await?;
    insert_schedule(txn, id, total, &plan.schedule).await?;
    let data = queries::invoice_data_of(txn, &row, ctx.now.date_naive()).await?;
    events::invoice(txn, ctx, &events::INVOICE_CREATED, &data).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("invoice.create", "invoice", id).changes(json!({
            "order_id": order.id, "total": data.total, "lines": data.lines.len(),
        })),
    )
    .await?;
    Ok(row)
}

/// Take invoice `id` for `action`: visible, in a state the action starts from,
/// at `if_match` when given; `set` says what changes. Its order's row first.
async fn claim(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    action: InvoiceAction,
    if_match: Option<i64>,
    set: impl FnOnce(UpdateMany<invoice::Entity>) -> UpdateMany<invoice::Entity>,
) -> Result<invoice::Model> {
    ctx.actor.require(Action::PaymentsWrite)?;
    let found = queries::find_invoice(txn, &ctx.actor, id).await?;
    if let Some(order) = found.order_id {
        settlement::lock(txn, None, order).await?;
    }
    let update = invoice::Entity::update_many()
        .col_expr(invoice::Column::UpdatedAt, Expr::value(ctx.now))
        .filter(invoice::COLUMN.id.eq(id))
        .filter(
            invoice::COLUMN
                .status
                .is_in(starts_from(action).iter().map(|s| s.as_str())),
        );
    ordercrm_kernel::version::claim(
        txn,
        set(update),
        invoice::Entity::find_by_id(id),
        invoice::Column::Version,
        if_match,
        |found| match found {
            None => PaymentError::InvoiceNotFound(id.to_string()).into(),
            Some(r) => PaymentError::InvalidTransition {
                status: InvoiceStatus::parse(&r.status).unwrap_or(InvoiceStatus::Draft),
                action,
            }
            .into(),
        },
    )
    .await
}

/// Issue a draft: its number (gap-free), issue date (today), due dates by its
/// terms and schedule, and its rate to the base currency; then money held for its
/// order is applied to it.
#[tracing::instrument(skip(txn, ctx))]
pub async fn issue(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    if_match: Option<i64>,
) -> Result<InvoiceView> {
    let row = claim(txn, ctx, id, InvoiceAction::Issue, if_match, |u| u).await?;
    let row = issue_row(txn, ctx, row).await?;
    let data = queries::invoice_data_of(txn, &row, ctx.now.date_naive()).await?;
    Ok(queries::invoice_view(&ctx.actor, data))
}

/// The rate of `currency` to the base currency on `on`: `Ok(None)` when no base
/// currency is set, 409 when the rate is not published.
async fn base_rate(
    txn: &DatabaseTransaction,
    currency: ordercrm_kernel::Currency,
    total: i64,
    on: NaiveDate,
) -> Result<Option<(ordercrm_kernel::Currency, ordercrm_kernel::rate::Rate, i64)>> {
    let Some(base) = ordercrm_settings::queries::base_currency(txn).await? else {
        return Ok(None);
    };
    let Some(rate) = ordercrm_settings::rates::queries::rate_on(txn, currency, base, on).await?
    else {
        return Err(PaymentError::Conflict(
            "exchange_rate_missing",
            format!("no {currency}→{base} rate is published for {on}: finance publishes one, then issue it"),
        )
        .into());
    };
    let converted = rate
        .convert(Money::new(total, currency), base)
        .map_err(|_| {
            PaymentError::Conflict("too_large", "the total is too large to convert".into())
        })?;
    Ok(Some((base, rate, converted.amount)))
}

/// Issue `row` (a draft this transaction claimed or made, its order locked).
pub(crate) async fn issue_row(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    row: invoice::Model,
) -> Result<invoice::Model> {
    let today = ctx.now.date_naive();
    let currency = queries::currency(&row.currency);
    let base = base_rate(txn, currency, row.total_amount, today).await?;
    let prefix =
        ordercrm_settings::queries::number_prefix(txn, "invoice_number_prefix", DEFAULT_PREFIX)
            .await?;
    let number = numbers::format(&prefix, numbers::next(txn, NUMBERS).await?);
    let terms = PaymentTerms::parse(&row.payment_terms).unwrap_or(PaymentTerms::Prepaid);
    let by_terms = due_on(terms, row.payment_terms_days, today);
    let rows = instalment::Entity::find()
        .filter(instalment::COLUMN.invoice_id.eq(row.id))
        .all(txn)
        .await?;
    // One row asked for no days of its own: it follows the terms.
    let single = !row.scheduled;
    let mut last_due = by_terms;
    for r in &rows {
        // One row follows the terms; a schedule's rows their own days.
        let due = if single {
            by_terms
        } else {
            today
                .checked_add_days(chrono::Days::new(u64::try_from(r.due_days).unwrap_or(0)))
                .unwrap_or(today)
        };
        last_due = due;
        instalment::Entity::update_many()
            .col_expr(instalment::Column::DueOn, Expr::value(due))
            .filter(instalment::COLUMN.id.eq(r.id))
            .exec(txn)
            .await?;
    }
    let mut update = invoice::Entity::update_many()
        .col_expr(
            invoice::Column::Status,
            Expr::value(InvoiceStatus::Open.as_str()),
        )
        .col_expr(invoice::Column::Number, Expr::value(number.clone()))
        .col_expr(invoice::Column::IssuedOn, Expr::value(today))
        .col_expr(invoice::Column::DueOn, Expr::value(last_due))
        .col_expr(
            invoice::Column::IssuedBy,
            Expr::value(ctx.actor.principal()),
        )
        .col_expr(invoice::Column::IssuedAt, Expr::value(ctx.now))
        .col_expr(
            invoice::Column::IssueRequestedAt,
            Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
        )
        .col_expr(invoice::Column::UpdatedAt, Expr::value(ctx.now))
        .col_expr(
            invoice::Column::Version,
            Expr::col(invoice::Column::Version).add(1),
        )
        .filter(invoice::COLUMN.id.eq(row.id))
        .filter(invoice::COLUMN.status.eq(InvoiceStatus::Draft.as_str()));
    if let Some((base, rate, amount)) = base {
        update = update
            .col_expr(invoice::Column::BaseCurrency, Expr::value(base.code()))
            .col_expr(invoice::Column::BaseRate, Expr::value(rate.to_string()))
            .col_expr(invoice::Column::TotalBaseAmount, Expr::value(amount));
    }
    let row = update
        .exec_with_returning(txn)
        .await?
        .pop()
        .ok_or_else(|| Error::from(PaymentError::InvoiceNotFound(row.id.to_string())))?;
    ledger::refresh_next_due(txn, row.id).await?;
    let row = invoice::Entity::find_by_id(row.id)
        .one(txn)
        .await?
        .ok_or_else(|| Error::from(PaymentError::InvoiceNotFound(row.id.to_string())))?;
    let data = queries::invoice_data_of(txn, &row, today).await?;
    events::invoice(txn, ctx, &events::INVOICE_ISSUED, &data).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("invoice.issue", "invoice", row.id)
            .changes(json!({"status": InvoiceStatus::Open, "number": number, "due_on": last_due})),
    )
    .await?;
    if let Some(order) = row.order_id {
        ledger::apply_held(txn, ctx, order, &row).await?;
        return invoice::Entity::find_by_id(row.id)
            .one(txn)
            .await?
            .ok_or_else(|| PaymentError::InvoiceNotFound(row.id.to_string()).into());
    }
    Ok(row)
}

/// Void a draft or an open invoice with nothing paid on it: what it took of its
/// order may be invoiced again; an issued one keeps its number.
#[tracing::instrument(skip(txn, ctx, input))]
pub async fn void(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    if_match: Option<i64>,
    input: InvoiceReason,
) -> Result<InvoiceView> {
    let mut errors = Vec::new();
    let reason = Text::check(input.reason, &mut errors, "reason");
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    ctx.actor.require(Action::PaymentsWrite)?;
    // Under the order's lock: payments take it before they touch its invoices.
    let found = queries::find_invoice(txn, &ctx.actor, id).await?;
    if let Some(order) = found.order_id {
        settlement::lock(txn, None, order).await?;
    }
    let current = queries::find_invoice(txn, &ctx.actor, id).await?;
    if current.paid_amount > 0 {
        return Err(PaymentError::Conflict(
            "has_payments",
            "money was applied to the invoice: it is not voided; a credit note takes back what \
             it billed"
                .into(),
        )
        .into());
    }
    if current.credited_amount > 0 {
        return Err(PaymentError::Conflict(
            "has_credit_notes",
            "credit notes stand against the invoice: void them first".into(),
        )
        .into());
    }
    let row = claim(txn, ctx, id, InvoiceAction::Void, if_match, |u| {
        u.col_expr(
            invoice::Column::Status,
            Expr::value(InvoiceStatus::Void.as_str()),
        )
        .col_expr(invoice::Column::StatusReason, Expr::value(reason.clone()))
        .col_expr(invoice::Column::ClosedAt, Expr::value(ctx.now))
        .filter(invoice::COLUMN.paid_amount.eq(0))
        .filter(invoice::COLUMN.credited_amount.eq(0))
    })
    .await?;
    if let Some(order) = row.order_id {
        give_back(txn, order, &row).await?;
    }
    announce(
        txn,
        ctx,
        &row,
        &events::INVOICE_VOIDED,
        "invoice.void",
        json!({"status": InvoiceStatus::Void, "reason": reason}),
    )
    .await
}

/// Write off what is still owed on an open invoice.
#[tracing::instrument(skip(txn, ctx, input))]
pub async fn mark_uncollectible(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    if_match: Option<i64>,
    input: InvoiceReason,
) -> Result<InvoiceView> {
    let mut errors = Vec::new();
    let reason = Text::check(input.reason, &mut errors, "reason");
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    let row = claim(
        txn,
        ctx,
        id,
        InvoiceAction::MarkUncollectible,
        if_match,
        |u| {
            u.col_expr(
                invoice::Column::Status,
                Expr::value(InvoiceStatus::Uncollectible.as_str()),
            )
            .col_expr(invoice::Column::StatusReason, Expr::value(reason.clone()))
            .col_expr(invoice::Column::ClosedAt, Expr::value(ctx.now))
            .col_expr(
                invoice::Column::WrittenOffAmount,
                Expr::col(invoice::Column::TotalAmount)
                    .sub(Expr::col(invoice::Column::PaidAmount))
                    .sub(Expr::col(invoice::Column::CreditedAmount)),
            )
            .filter(
                Expr::col(invoice::Column::PaidAmount)
                    .add(Expr::col(invoice::Column::CreditedAmount))
                    .lt(Expr::col(invoice::Column::TotalAmount)),
            )
        },
    )
    .await?;
    announce(
        txn,
        ctx,
        &row,
        &events::INVOICE_MARKED_UNCOLLECTIBLE,
        "invoice.mark_uncollectible",
        json!({"status": InvoiceStatus::Uncollectible, "reason": reason}),
    )
    .await
}

async fn announce(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    row: &invoice::Model,
    event: &ordercrm_kernel::events::EventType<crate::dto::InvoiceData>,
    audit_action: &str,
    changes: serde_json::Value,
) -> Result<InvoiceView> {
    let data = queries::invoice_data_of(txn, row, ctx.now.date_naive()).await?;
    events::invoice(txn, ctx, event, &data).await?;
    audit::record(
        txn,
        ctx,
        Entry::new(audit_action, "invoice", row.id).changes(changes),
    )
    .await?;
    Ok(queries::invoice_view(&ctx.actor, data))
}

/// Undo order `order_id`'s invoices because the order changed (an edit of what
/// they billed, a cancellation): each draft or open one is voided, money applied
/// to it held for the order again. A written-off one refuses the change (409).
pub(crate) async fn undo_for_order(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    order_id: Uuid,
    reason: &str,
) -> Result<()> {
    let invoices = invoice::Entity::find()
        .filter(invoice::COLUMN.order_id.eq(order_id))
        .filter(invoice::COLUMN.status.ne(InvoiceStatus::Void.as_str()))
        .all(txn)
        .await?;
    if let Some(written_off) = invoices
        .iter()
        .find(|i| i.status == InvoiceStatus::Uncollectible.as_str())
    {
        return Err(PaymentError::Conflict(
            "written_off",
            format!(
                "invoice {} of the order was written off: what it billed no longer changes",
                written_off.number.as_deref().unwrap_or_default()
            ),
        )
        .into());
    }
    if let Some(credited) = invoices.iter().find(|i| i.credited_amount > 0) {
        return Err(PaymentError::Conflict(
            "credited",
            format!(
                "credit notes stand against invoice {} of the order: what it billed no longer \
                 changes (void them first)",
                credited.number.as_deref().unwrap_or_default()
            ),
        )
        .into());
    }
    for inv in invoices {
        if inv.paid_amount > 0 {
            ledger::unapply_to_hold(txn, ctx, order_id, &inv).await?;
        }
        let row = invoice::Entity::update_many()
            .col_expr(
                invoice::Column::Status,
                Expr::value(InvoiceStatus::Void.as_str()),
            )
            .col_expr(invoice::Column::StatusReason, Expr::value(reason))
            .col_expr(invoice::Column::ClosedAt, Expr::value(ctx.now))
            .col_expr(invoice::Column::UpdatedAt, Expr::value(ctx.now))
            .col_expr(
                invoice::Column::Version,
                Expr::col(invoice::Column::Version).add(1),
            )
            .filter(invoice::COLUMN.id.eq(inv.id))
            .exec_with_returning(txn)
            .await?
            .pop()
            .ok_or_else(|| Error::from(PaymentError::InvoiceNotFound(inv.id.to_string())))?;
        give_back(txn, order_id, &row).await?;
        announce(
            txn,
            ctx,
            &row,
            &events::INVOICE_VOIDED,
            "invoice.void",
            json!({"status": InvoiceStatus::Void, "reason": reason}),
        )
        .await?;
    }
    Ok(())
}

/// What `row` took of its order, given back.
async fn give_back(txn: &DatabaseTransaction, order_id: Uuid, row: &invoice::Model) -> Result<()> {
    let lines = invoice_line::Entity::find()
        .filter(invoice_line::COLUMN.invoice_id.eq(row.id))
        .all(txn)
        .await?;
    let taken: Vec<Taken> = lines
        .iter()
        .filter_map(|l| {
            l.order_line_id.map(|line_id| Taken {
                line_id,
                quantity: l.quantity,
                total: l.total_amount,
                tax: l.tax_amount,
            })
        })
        .collect();
    settlement::give_back(txn, order_id, &taken, row.shipping_amount > 0).await
}
