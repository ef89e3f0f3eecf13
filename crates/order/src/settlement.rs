//! Between orders and payments. Payments build on orders (an invoice takes an
//! order's lines, a payment pays its invoices), and orders tell payments when
//! something happens that payments act on (a prepayment at intake, an approval, a
//! shipment, a delivery, an end): through [`Settlement`], which the payment crate
//! installs at startup, called in the order's own transaction.
//!
//! What an order counts of its money lives here, in one place: the units and money
//! invoices took of each line (never more than the line; the last units take what
//! is left of its total and tax), and what was paid towards it, from which
//! `payment_status` follows, `order.paid`, and the completion rule.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use ordercrm_kernel::authz::Actor;
use ordercrm_kernel::{Ctx, Currency, Error, Result};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{DatabaseTransaction, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::entity::{order, order_line};
use crate::model::{self, OrderStatus, PaymentMethod, PaymentStatus, PaymentTerms};
use crate::{OrderError, events, queries};

/// What a channel says was paid when it sends the order.
#[derive(Debug, Clone)]
pub struct IntakePayment {
    pub amount: i64,
    pub currency: Currency,
    pub method: PaymentMethod,
    pub provider: String,
    pub reference: String,
    pub paid_at: DateTime<Utc>,
}

/// Something that happened to an order that payments may act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    /// Approved (by the review or a manager's override).
    Approved,
    /// Goods left in this shipment.
    Shipped(Uuid),
    /// Everything that ships is delivered.
    Delivered,
    /// An edit is about to change money an invoice billed: undo the invoices.
    Editing,
    /// An edit changed the order (invoice again what the policy says).
    Edited,
    /// Cancelled or rejected: its invoices are undone, and money paid for it is
    /// the customer's credit again.
    Ended,
}

/// What payments do when orders move.
#[async_trait::async_trait]
pub trait Settlement: Send + Sync {
    /// Record the prepayment an order arrived with, held for it.
    async fn intake(
        &self,
        txn: &DatabaseTransaction,
        ctx: &Ctx,
        order: &Invoiceable,
        payment: IntakePayment,
    ) -> Result<()>;

    /// React to `moment` (invoice by the company's policy, let go of what is held).
    async fn moved(
        &self,
        txn: &DatabaseTransaction,
        ctx: &Ctx,
        order_id: Uuid,
        moment: Moment,
    ) -> Result<()>;
}

static INSTALLED: OnceLock<&'static dyn Settlement> = OnceLock::new();

/// Called once at startup by the payment crate.
pub fn install(settlement: &'static dyn Settlement) {
    let _ = INSTALLED.set(settlement);
}

pub(crate) async fn intake(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    order: &Invoiceable,
    payment: IntakePayment,
) -> Result<()> {
    match INSTALLED.get() {
        Some(s) => s.intake(txn, ctx, order, payment).await,
        // Money must never be dropped silently.
        None => Err(Error::new(
            ordercrm_kernel::error::problems::INTERNAL,
            "payments are not installed: a prepayment cannot be recorded",
        )),
    }
}

pub(crate) async fn moved(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    order_id: Uuid,
    moment: Moment,
) -> Result<()> {
    match INSTALLED.get() {
        Some(s) => s.moved(txn, ctx, order_id, moment).await,
        None => Ok(()),
    }
}

/// An order as invoicing and payments see it.
#[derive(Debug, Clone)]
pub struct Invoiceable {
    pub id: Uuid,
    pub number: String,
    pub status: OrderStatus,
    /// Approved at least once: its goods may have shipped.
    pub approved: bool,
    pub customer_id: Uuid,
    pub customer_name: String,
    pub currency: Currency,
    pub channel: String,
    pub channel_name: String,
    pub prices_include_tax: bool,
    pub terms: PaymentTerms,
    pub terms_days: Option<i32>,
    pub shipping: i64,
    pub shipping_invoiced: bool,
    pub grand_total: i64,
    pub paid: i64,
    /// What credit notes took off it.
    pub credited: i64,
    pub lines: Vec<InvoiceableLine>,
}

#[derive(Debug, Clone)]
pub struct InvoiceableLine {
    pub id: Uuid,
    pub line_no: i32,
    pub product_id: Uuid,
    pub sku: String,
    pub name: String,
    pub quantity: i64,
    pub unit_price: i64,
    pub tax_rate_bps: i32,
    pub tracks_inventory: bool,
    pub shipped: i64,
    pub delivered: i64,
    pub invoiced: i64,
}

impl Invoiceable {
    pub(crate) fn of(row: &order::Model, lines: &[order_line::Model]) -> Self {
        Self {
            id: row.id,
            number: row.number.clone(),
            status: OrderStatus::parse(&row.status).unwrap_or(OrderStatus::Draft),
            approved: row.approved_at.is_some(),
            customer_id: row.customer_id,
            customer_name: row.customer_name.clone(),
            currency: queries::currency(&row.currency),
            channel: row.channel.clone(),
            channel_name: row.channel_name.clone(),
            prices_include_tax: row.prices_include_tax,
            terms: PaymentTerms::parse(&row.payment_terms).unwrap_or(PaymentTerms::Prepaid),
            terms_days: row.payment_terms_days,
            shipping: row.shipping_amount,
            shipping_invoiced: row.shipping_invoiced,
            grand_total: row.grand_total_amount,
            paid: row.paid_amount,
            credited: row.credited_amount,
            lines: lines
                .iter()
                .map(|l| InvoiceableLine {
                    id: l.id,
                    line_no: l.line_no,
                    product_id: l.product_id,
                    sku: l.sku.clone(),
                    name: l.name.clone(),
                    quantity: l.quantity,
                    unit_price: l.unit_price_amount,
                    tax_rate_bps: l.tax_rate_bps,
                    tracks_inventory: l.tracks_inventory,
                    shipped: l.shipped_quantity,
                    delivered: l.delivered_quantity,
                    invoiced: l.invoiced_quantity,
                })
                .collect(),
        }
    }
}

/// Order `id` for a change of its money, its row locked until the transaction
/// ends (invoices and payments of one order take turns): only if `actor` sees
/// it (404 otherwise); `None` for the system (the order's own transitions).
pub async fn lock(
    txn: &DatabaseTransaction,
    actor: Option<&Actor>,
    id: Uuid,
) -> Result<Invoiceable> {
    if let Some(actor) = actor {
        queries::find_visible(txn, actor, id).await?;
    }
    // A write that changes nothing takes the row's lock on both engines.
    let row = order::Entity::update_many()
        .col_expr(order::Column::Version, Expr::col(order::Column::Version))
        .filter(order::COLUMN.id.eq(id))
        .exec_with_returning(txn)
        .await?
        .pop()
        .ok_or_else(|| Error::from(OrderError::NotFound(id.to_string())))?;
    let lines = queries::lines_of(txn, id).await?;
    Ok(Invoiceable::of(&row, &lines))
}

/// Order `id` if `actor` sees it (404 otherwise), without a lock: the caller's
/// own permission decides what it may do with it.
pub async fn read(
    conn: &impl sea_orm::ConnectionTrait,
    actor: &Actor,
    id: Uuid,
) -> Result<Invoiceable> {
    let row = queries::find_visible(conn, actor, id).await?;
    let lines = queries::lines_of(conn, id).await?;
    Ok(Invoiceable::of(&row, &lines))
}

/// What shipment `shipment_id` carried: (order line id, units).
pub async fn shipment_lines(
    conn: &impl sea_orm::ConnectionTrait,
    shipment_id: Uuid,
) -> Result<Vec<(Uuid, i64)>> {
    Ok(crate::entity::shipment_line::Entity::find()
        .filter(
            crate::entity::shipment_line::COLUMN
                .shipment_id
                .eq(shipment_id),
        )
        .all(conn)
        .await?
        .into_iter()
        .map(|l| (l.order_line_id, l.quantity))
        .collect())
}

/// Per order line, the sum of the quantities `lines` (line number, quantity)
/// ask for, and the first entry that asked it (see fulfillment's rule).
pub fn sum_per_line(
    lines: &[(i32, i64)],
    errors: &mut Vec<ordercrm_kernel::FieldError>,
) -> std::collections::BTreeMap<i32, (i64, String)> {
    crate::fulfillment::commands::sum_per_line(lines, errors)
}

/// Units of one order line an invoice asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Take {
    pub line_id: Uuid,
    pub quantity: i64,
}

/// What a [`Take`] took: its share of the line's money.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Taken {
    pub line_id: Uuid,
    pub quantity: i64,
    pub total: i64,
    pub tax: i64,
}

/// A line that has fewer units left to invoice than asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Short {
    pub line_id: Uuid,
    pub requested: i64,
    pub available: i64,
}

/// Take units of order `order_id`'s lines (and its shipping fee when `shipping`)
/// for an invoice, each line by one conditional statement (invoiced + asked ≤
/// ordered), so concurrent invoices never take more than was ordered. A line's
/// money goes in proportion, the cumulative share rounded down, and the units that
/// finish a line take what is left of its total and tax, so invoicing an order in
/// any parts adds up to its grand total exactly. `Err` lists the lines short.
pub async fn take(
    txn: &DatabaseTransaction,
    order_id: Uuid,
    takes: &[Take],
    shipping: bool,
) -> Result<std::result::Result<Vec<Taken>, Vec<Short>>> {
    let mut taken = Vec::with_capacity(takes.len());
    let mut short = Vec::new();
    for t in takes {
        let claimed = order_line::Entity::update_many()
            .col_expr(
                order_line::Column::InvoicedQuantity,
                Expr::col(order_line::Column::InvoicedQuantity).add(t.quantity),
            )
            .filter(order_line::COLUMN.id.eq(t.line_id))
            .filter(order_line::COLUMN.order_id.eq(order_id))
            .filter(
                Expr::col(order_line::Column::InvoicedQuantity)
                    .add(t.quantity)
                    .lte(Expr::col(order_line::Column::Quantity)),
            )
            .exec_with_returning(txn)
            .await?
            .pop();
        let Some(line) = claimed else {
            let line = order_line::Entity::find_by_id(t.line_id).one(txn).await?;
            short.push(Short {
                line_id: t.line_id,
                requested: t.quantity,
                available: line.map_or(0, |l| l.quantity - l.invoiced_quantity),
            });
            continue;
        };
        let (total, tax) = share(&line);
        order_line::Entity::update_many()
            .col_expr(
                order_line::Column::InvoicedAmount,
                Expr::col(order_line::Column::InvoicedAmount).add(total),
            )
            .col_expr(
                order_line::Column::InvoicedTaxAmount,
                Expr::col(order_line::Column::InvoicedTaxAmount).add(tax),
            )
            .filter(order_line::COLUMN.id.eq(line.id))
            .exec(txn)
            .await?;
        taken.push(Taken {
            line_id: line.id,
            quantity: t.quantity,
            total,
            tax,
        });
    }
    if !short.is_empty() {
        return Ok(Err(short));
    }
    // The order's view does not show what was invoiced: its version stays.
    if shipping {
        let took = order::Entity::update_many()
            .col_expr(order::Column::ShippingInvoiced, Expr::value(true))
            .filter(order::COLUMN.id.eq(order_id))
            .filter(order::COLUMN.shipping_invoiced.eq(false))
            .exec(txn)
            .await?;
        if took.rows_affected != 1 {
            return Err(Error::new(
                ordercrm_kernel::error::problems::CONFLICT,
                "the order's shipping fee is already on another invoice",
            ));
        }
    }
    Ok(Ok(taken))
}

/// `line`'s money for the units just taken: `line` holds its invoiced units with
/// them added, its invoiced money without.
fn share(line: &order_line::Model) -> (i64, i64) {
    if line.invoiced_quantity >= line.quantity {
        return (
            line.total_amount - line.invoiced_amount,
            line.tax_amount - line.invoiced_tax_amount,
        );
    }
    let cumulative = |of: i64| -> i64 {
        let v = i128::from(of) * i128::from(line.invoiced_quantity) / i128::from(line.quantity);
        i64::try_from(v).unwrap_or(0)
    };
    let clamp = |target: i64, before: i64, of: i64| (target - before).clamp(0, of - before);
    (
        clamp(
            cumulative(line.total_amount),
            line.invoiced_amount,
            line.total_amount,
        ),
        clamp(
            cumulative(line.tax_amount),
            line.invoiced_tax_amount,
            line.tax_amount,
        ),
    )
}

/// Give back what an invoice took (it is void): its lines' units and money, and
/// the shipping fee when it took it.
pub async fn give_back(
    txn: &DatabaseTransaction,
    order_id: Uuid,
    taken: &[Taken],
    shipping: bool,
) -> Result<()> {
    let mut taken: Vec<&Taken> = taken.iter().collect();
    taken.sort_by_key(|t| t.line_id);
    for t in taken {
        order_line::Entity::update_many()
            .col_expr(
                order_line::Column::InvoicedQuantity,
                Expr::col(order_line::Column::InvoicedQuantity).sub(t.quantity),
            )
            .col_expr(
                order_line::Column::InvoicedAmount,
                Expr::col(order_line::Column::InvoicedAmount).sub(t.total),
            )
            .col_expr(
                order_line::Column::InvoicedTaxAmount,
                Expr::col(order_line::Column::InvoicedTaxAmount).sub(t.tax),
            )
            .filter(order_line::COLUMN.id.eq(t.line_id))
            .filter(order_line::COLUMN.order_id.eq(order_id))
            .exec(txn)
            .await?;
    }
    if shipping {
        order::Entity::update_many()
            .col_expr(order::Column::ShippingInvoiced, Expr::value(false))
            .filter(order::COLUMN.id.eq(order_id))
            .exec(txn)
            .await?;
    }
    Ok(())
}

/// Payments applied to or held for order `order_id` changed by `delta`: see
/// [`settle`].
pub async fn add_paid(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    order_id: Uuid,
    delta: i64,
) -> Result<()> {
    settle(txn, ctx, order_id, delta, 0).await
}

/// What payments applied to or hold for order `order_id` changed by `paid`, and
/// what credit notes took off it by `credited`: both never below 0, together never
/// above its grand total (409 otherwise, nothing changed); then its
/// `payment_status` (from the two together), `order.paid` when it becomes paid,
/// and the completion rule (delivered before, paid now: completed; completed,
/// no longer paid: approved again, `order.reopened`).
pub async fn settle(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    order_id: Uuid,
    paid: i64,
    credited: i64,
) -> Result<()> {
    let credited = Expr::col(order::Column::CreditedAmount).add(credited);
    let paid = Expr::col(order::Column::PaidAmount).add(paid);
    let Some(row) = order::Entity::update_many()
        .col_expr(order::Column::PaidAmount, paid.clone())
        .col_expr(order::Column::CreditedAmount, credited.clone())
        .col_expr(
            order::Column::Version,
            Expr::col(order::Column::Version).add(1),
        )
        .col_expr(order::Column::UpdatedAt, Expr::value(ctx.now))
        .filter(order::COLUMN.id.eq(order_id))
        .filter(paid.clone().gte(0))
        .filter(credited.clone().gte(0))
        .filter(
            paid.add(credited)
                .lte(Expr::col(order::Column::GrandTotalAmount)),
        )
        .exec_with_returning(txn)
        .await?
        .pop()
    else {
        return Err(Error::new(
            ordercrm_kernel::error::problems::CONFLICT,
            format!("order {order_id} would be paid or credited more than its grand total"),
        ));
    };
    let status = model::payment_status(
        row.paid_amount.saturating_add(row.credited_amount),
        row.grand_total_amount,
    );
    if status.as_str() == row.payment_status {
        return Ok(());
    }
    let row = order::Entity::update_many()
        .col_expr(order::Column::PaymentStatus, Expr::value(status.as_str()))
        .filter(order::COLUMN.id.eq(order_id))
        .exec_with_returning(txn)
        .await?
        .pop()
        .ok_or_else(|| Error::from(OrderError::NotFound(order_id.to_string())))?;
    if status == PaymentStatus::Paid {
        let parts = queries::parts_of(txn, order_id).await?;
        let data = queries::data(&row, &parts);
        events::record(txn, ctx, &events::PAID, &data).await?;
        crate::completion::complete_if_done(txn, ctx, &row, &parts.lines).await?;
    } else if row.status == OrderStatus::Completed.as_str() {
        crate::completion::reopen(txn, ctx, &row).await?;
    }
    Ok(())
}

/// Orders of `actor`'s channel, as a subquery, when it is a key bound to one:
/// invoices and payments of other channels' orders are not its business.
pub fn channel_orders(actor: &Actor) -> Option<sea_orm::sea_query::SelectStatement> {
    use sea_orm::{QuerySelect, QueryTrait};
    let binding = actor.channel()?;
    let mut select = order::Entity::find()
        .select_only()
        .column(order::Column::Id)
        .filter(order::COLUMN.channel.eq(binding.channel.as_str()));
    if !binding.name.is_empty() {
        select = select.filter(order::COLUMN.channel_name.eq(binding.name.clone()));
    }
    Some(select.into_query())
}

/// A return, as credit notes see it.
#[derive(Debug, Clone)]
pub struct ReturnDue {
    pub id: Uuid,
    pub number: String,
    pub order_id: Uuid,
    /// Closed with its refund due final.
    pub closed: bool,
    pub refund_due: i64,
    pub currency: String,
}

/// Return `id`, when there is one.
pub async fn return_due(txn: &DatabaseTransaction, id: Uuid) -> Result<Option<ReturnDue>> {
    Ok(crate::entity::return_row::Entity::find_by_id(id)
        .one(txn)
        .await?
        .map(|r| ReturnDue {
            id: r.id,
            number: r.number,
            order_id: r.order_id,
            closed: r.status == crate::returns::model::ReturnStatus::Closed.as_str(),
            refund_due: r.refund_due_amount,
            currency: r.currency,
        }))
}
