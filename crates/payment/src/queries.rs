//! Reads. Invoices and payments are seen by whoever sees their customer (a sales
//! rep: their own customers'), with `payments.read`; a key bound to a channel sees
//! those of its channel's orders; a key bound to carriers none.

use std::collections::HashMap;

use chrono::NaiveDate;
use ordercrm_kernel::authz::{Action, Actor, Visibility};
use ordercrm_kernel::input::{Choice, CursorParam, Day, Limit, NonBlank};
use ordercrm_kernel::pagination::{PageRequest, Seek};
use ordercrm_kernel::{Currency, Error, Money, Page, Result};
use ordercrm_order::dto::OrderCustomer;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Select};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::dto::{
    AllocationView, CreditNoteData, CreditNoteView, CustomerBalance, InstalmentView, InvoiceData,
    InvoiceLineView, InvoiceView, PaymentData, PaymentView, RefundData, RefundView,
};
use crate::entity::{allocation, credit_note, instalment, invoice, invoice_line, payment, refund};
use crate::error::PaymentError;
use crate::model::{
    CreditNoteAction, CreditNoteStatus, InvoiceStatus, PaymentMethod, PaymentState, PaymentStatus,
    PaymentTerms, RefundStatus, allowed_actions, payment_status, rows_paid,
};

pub(crate) fn currency(code: &str) -> Currency {
    code.parse().unwrap_or_else(|_| {
        Currency::all()
            .first()
            .copied()
            .unwrap_or_else(|| unreachable!())
    })
}

/// Rows of `customer_id` column `customer` that `actor` may see, as a condition.
fn customers_seen(actor: &Actor, customer: impl sea_orm::ColumnTrait) -> sea_orm::Condition {
    match actor.visibility() {
        Visibility::All => sea_orm::Condition::all(),
        Visibility::Nothing => sea_orm::Condition::all().add(Expr::value(false)),
        Visibility::OwnedBy(owners) => {
            let mut customers = Query::select();
            customers
                .column(Alias::new("id"))
                .from(Alias::new("customers"))
                .and_where(Expr::col(Alias::new("owner_id")).is_in(owners));
            sea_orm::Condition::all().add(Expr::col(customer).in_subquery(customers))
        }
    }
}

pub(crate) fn visible_invoices(actor: &Actor) -> Select<invoice::Entity> {
    let mut select =
        invoice::Entity::find().filter(customers_seen(actor, invoice::Column::CustomerId));
    if actor.carriers().is_some() {
        select = select.filter(Expr::value(false));
    }
    if let Some(orders) = ordercrm_order::settlement::channel_orders(actor) {
        select = select.filter(Expr::col(invoice::Column::OrderId).in_subquery(orders));
    }
    select
}

pub(crate) fn visible_payments(actor: &Actor) -> Select<payment::Entity> {
    let mut select =
        payment::Entity::find().filter(customers_seen(actor, payment::Column::CustomerId));
    if actor.carriers().is_some() {
        select = select.filter(Expr::value(false));
    }
    if let Some(orders) = ordercrm_order::settlement::channel_orders(actor) {
        select = select.filter(Expr::col(payment::Column::OrderId).in_subquery(orders));
    }
    select
}

pub(crate) async fn find_invoice(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
) -> Result<invoice::Model> {
    visible_invoices(actor)
        .filter(invoice::COLUMN.id.eq(id))
        .one(conn)
        .await?
        .ok_or_else(|| PaymentError::InvoiceNotFound(id.to_string()).into())
}

pub(crate) async fn find_payment(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
) -> Result<payment::Model> {
    visible_payments(actor)
        .filter(payment::COLUMN.id.eq(id))
        .one(conn)
        .await?
        .ok_or_else(|| PaymentError::PaymentNotFound(id.to_string()).into())
}

/// Order numbers of `ids` (invoices and payments show them).
async fn order_numbers(
    conn: &impl ConnectionTrait,
    ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut select = Query::select();
    select
        .column(Alias::new("id"))
        .column(Alias::new("number"))
        .from(Alias::new("orders"))
        .and_where(Expr::col(Alias::new("id")).is_in(ids));
    let mut out = HashMap::new();
    for row in conn.query_all(&select).await? {
        out.insert(
            row.try_get::<Uuid>("", "id")?,
            row.try_get::<String>("", "number")?,
        );
    }
    Ok(out)
}

/// Customer names of `ids`.
async fn customer_names(
    conn: &impl ConnectionTrait,
    ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut select = Query::select();
    select
        .column(Alias::new("id"))
        .column(Alias::new("name"))
        .from(Alias::new("customers"))
        .and_where(Expr::col(Alias::new("id")).is_in(ids));
    let mut out = HashMap::new();
    for row in conn.query_all(&select).await? {
        out.insert(
            row.try_get::<Uuid>("", "id")?,
            row.try_get::<String>("", "name")?,
        );
    }
    Ok(out)
}

/// An invoice's rows besides its own.
#[derive(Debug, Clone, Default)]
pub(crate) struct InvoiceParts {
    pub lines: Vec<invoice_line::Model>,
    /// The exchange difference its allocations realised, when any did.
    pub exchange_difference: Option<i64>,
    pub instalments: Vec<instalment::Model>,
    pub order_number: Option<String>,
}

async fn invoice_parts(
    conn: &impl ConnectionTrait,
    rows: &[invoice::Model],
) -> Result<HashMap<Uuid, InvoiceParts>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut parts: HashMap<Uuid, InvoiceParts> = HashMap::new();
    for l in invoice_line::Entity::find()
        .filter(invoice_line::COLUMN.invoice_id.is_in(ids.clone()))
        .order_by_asc(invoice_line::Column::LineNo)
        .all(conn)
        .await?
    {
        parts.entry(l.invoice_id).or_default().lines.push(l);
    }
    for a in allocation::Entity::find()
        .filter(allocation::COLUMN.invoice_id.is_in(ids.clone()))
        .filter(allocation::COLUMN.exchange_difference.is_not_null())
        .all(conn)
        .await?
    {
        if let (Some(id), Some(d)) = (a.invoice_id, a.exchange_difference) {
            let e = &mut parts.entry(id).or_default().exchange_difference;
            *e = Some(e.unwrap_or(0).saturating_add(d));
        }
    }
    for i in instalment::Entity::find()
        .filter(instalment::COLUMN.invoice_id.is_in(ids))
        .order_by_asc(instalment::Column::RowNo)
        .all(conn)
        .await?
    {
        parts.entry(i.invoice_id).or_default().instalments.push(i);
    }
    let numbers = order_numbers(conn, rows.iter().filter_map(|r| r.order_id).collect()).await?;
    for r in rows {
        if let Some(n) = r.order_id.and_then(|o| numbers.get(&o)) {
            parts.entry(r.id).or_default().order_number = Some(n.clone());
        }
    }
    Ok(parts)
}

pub(crate) async fn invoice_data_of(
    conn: &impl ConnectionTrait,
    row: &invoice::Model,
    today: NaiveDate,
) -> Result<InvoiceData> {
    let mut parts = invoice_parts(conn, std::slice::from_ref(row)).await?;
    Ok(invoice_data(
        row,
        &parts.remove(&row.id).unwrap_or_default(),
        today,
    ))
}

pub(crate) fn invoice_data(
    row: &invoice::Model,
    parts: &InvoiceParts,
    today: NaiveDate,
) -> InvoiceData {
    let c = currency(&row.currency);
    let m = |amount: i64| Money::new(amount, c);
    let status = InvoiceStatus::parse(&row.status).unwrap_or(InvoiceStatus::Draft);
    let open = status == InvoiceStatus::Open;
    let amounts: Vec<i64> = parts.instalments.iter().map(|i| i.amount).collect();
    // Credit notes settle the earliest rows first, as payments do.
    let paid_rows = rows_paid(&amounts, row.settled());
    let instalments: Vec<InstalmentView> = parts
        .instalments
        .iter()
        .zip(paid_rows)
        .map(|(i, paid)| InstalmentView {
            row_no: i.row_no,
            share_bps: i.share_bps,
            due_days: i.due_days,
            amount: m(i.amount),
            due_on: i.due_on,
            paid: m(paid),
            outstanding: m(i.amount - paid),
            overdue: open && i.due_on.is_some_and(|d| d < today) && paid < i.amount,
        })
        .collect();
    InvoiceData {
        id: row.id,
        number: row.number.clone(),
        status,
        payment_status: payment_status(row.settled(), row.total_amount),
        overdue: instalments.iter().any(|i| i.overdue),
        customer: OrderCustomer {
            id: row.customer_id,
            name: row.customer_name.clone(),
        },
        order_id: row.order_id,
        order_number: parts.order_number.clone(),
        currency: c,
        lines: parts
            .lines
            .iter()
            .map(|l| InvoiceLineView {
                line_no: l.line_no,
                order_line_no: l.order_line_no,
                product_id: l.product_id,
                sku: l.sku.clone(),
                name: l.name.clone(),
                quantity: l.quantity,
                unit_price: m(l.unit_price_amount),
                discount: m(l.discount_amount),
                tax_rate_bps: l.tax_rate_bps,
                net: m(l.net_amount),
                tax: m(l.tax_amount),
                total: m(l.total_amount),
            })
            .collect(),
        subtotal: m(row.subtotal_amount),
        tax_total: m(row.tax_amount),
        shipping_fee: m(row.shipping_amount),
        total: m(row.total_amount),
        paid: m(row.paid_amount),
        credited: m(row.credited_amount),
        outstanding: m(row.owed()),
        exchange_difference: match (parts.exchange_difference, row.base_currency.as_deref()) {
            (Some(d), Some(b)) => Some(Money::new(d, currency(b))),
            _ => None,
        },
        payment_terms: PaymentTerms::parse(&row.payment_terms).unwrap_or(PaymentTerms::Prepaid),
        payment_terms_days: row.payment_terms_days,
        issued_on: row.issued_on,
        due_on: row.due_on,
        next_due_on: if status == InvoiceStatus::Open {
            row.next_due_on
        } else {
            None
        },
        instalments,
        total_base: match (row.total_base_amount, row.base_currency.as_deref()) {
            (Some(a), Some(b)) => Some(Money::new(a, currency(b))),
            _ => None,
        },
        base_rate: row.base_rate.clone(),
        notes: row.notes.clone(),
        status_reason: row.status_reason.clone(),
        created_by: row.created_by.clone(),
        issued_by: row.issued_by.clone(),
        issued_at: row.issued_at,
        closed_at: row.closed_at,
        issue_requested_at: row.issue_requested_at,
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

pub(crate) fn invoice_view(actor: &Actor, data: InvoiceData) -> InvoiceView {
    let allowed_actions = allowed_actions(
        actor,
        data.status,
        data.paid.amount.saturating_add(data.credited.amount),
        data.total.amount,
    );
    InvoiceView {
        data,
        allowed_actions,
    }
}

pub async fn get_invoice(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    today: NaiveDate,
) -> Result<InvoiceView> {
    actor.require(Action::PaymentsRead)?;
    let row = find_invoice(conn, actor, id).await?;
    Ok(invoice_view(
        actor,
        invoice_data_of(conn, &row, today).await?,
    ))
}

/// Query parameters of `GET /v1/invoices` and `GET /v1/orders/{id}/invoices`:
/// newest first.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListInvoices {
    #[param(value_type = Option<InvoiceStatus>)]
    pub status: Option<Choice<InvoiceStatus>>,
    /// Derived from allocations: `unpaid`, `partially_paid`, `paid`.
    #[param(value_type = Option<PaymentStatus>)]
    pub payment_status: Option<Choice<PaymentStatus>>,
    pub customer_id: Option<Uuid>,
    /// Open invoices due before today with something unpaid (`true`), or the others.
    pub overdue: Option<bool>,
    #[param(value_type = Option<Currency>)]
    pub currency: Option<Choice<Currency>>,
    /// The invoice number, exactly (`INV-000042`).
    #[param(value_type = Option<String>, max_length = 40)]
    pub number: Option<NonBlank<40>>,
    /// Due on or after this day.
    #[param(value_type = Option<String>, format = Date)]
    pub due_from: Option<Day>,
    /// Due on or before this day.
    #[param(value_type = Option<String>, format = Date)]
    pub due_until: Option<Day>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<Limit>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<CursorParam>,
}

/// The checks `list_invoices` makes of its query, for an export to make before it
/// starts streaming.
pub fn check_invoices(query: &ListInvoices) -> Result<()> {
    let mut errors = Vec::new();
    Choice::check_opt(query.status.as_ref(), &mut errors, "status");
    Choice::check_opt(query.payment_status.as_ref(), &mut errors, "payment_status");
    Choice::check_opt(query.currency.as_ref(), &mut errors, "currency");
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    PageRequest::new(query.limit, query.cursor.as_deref(), "-created_at")?;
    Ok(())
}

/// The checks `list_payments` makes of its query.
pub fn check_payments(query: &ListPayments) -> Result<()> {
    let mut errors = Vec::new();
    Choice::check_opt(query.method.as_ref(), &mut errors, "method");
    Choice::check_opt(query.currency.as_ref(), &mut errors, "currency");
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    PageRequest::new(query.limit, query.cursor.as_deref(), "-created_at")?;
    Ok(())
}

/// Invoices `actor` may see, of one order when `order_id` is given (404 when the
/// order is not one it sees).
pub async fn list_invoices(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    order_id: Option<Uuid>,
    query: ListInvoices,
    today: NaiveDate,
) -> Result<Page<InvoiceView>> {
    actor.require(Action::PaymentsRead)?;
    let mut errors = Vec::new();
    let status = Choice::check_opt(query.status.as_ref(), &mut errors, "status");
    let paid = Choice::check_opt(query.payment_status.as_ref(), &mut errors, "payment_status");
    let cur = Choice::check_opt(query.currency.as_ref(), &mut errors, "currency");
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    let page = PageRequest::new(query.limit, query.cursor.as_deref(), "-created_at")?;
    if let Some(order_id) = order_id {
        ordercrm_order::settlement::read(conn, actor, order_id).await?;
    }
    let mut select = visible_invoices(actor);
    if let Some(order_id) = order_id {
        select = select.filter(invoice::COLUMN.order_id.eq(order_id));
    }
    if let Some(s) = status {
        select = select.filter(invoice::COLUMN.status.eq(s.as_str()));
    }
    if let Some(p) = paid {
        let paid =
            Expr::col(invoice::Column::PaidAmount).add(Expr::col(invoice::Column::CreditedAmount));
        let total = Expr::col(invoice::Column::TotalAmount);
        select = select.filter(match p {
            PaymentStatus::Paid => paid.gte(total),
            PaymentStatus::PartiallyPaid => paid.clone().gt(0).and(paid.lt(total)),
            PaymentStatus::Unpaid => paid.clone().eq(0).and(paid.lt(total)),
        });
    }
    if let Some(c) = query.customer_id {
        select = select.filter(invoice::COLUMN.customer_id.eq(c));
    }
    if let Some(c) = cur {
        select = select.filter(invoice::COLUMN.currency.eq(c.code()));
    }
    if let Some(n) = &query.number {
        select = select.filter(invoice::COLUMN.number.eq(n.as_str().trim()));
    }
    if let Some(d) = query.due_from {
        select = select.filter(invoice::COLUMN.due_on.gte(d.0));
    }
    if let Some(d) = query.due_until {
        select = select.filter(invoice::COLUMN.due_on.lte(d.0));
    }
    if let Some(overdue) = query.overdue {
        // Open, with an instalment due before today not paid in full.
        let late = Expr::col(invoice::Column::Status)
            .eq(InvoiceStatus::Open.as_str())
            .and(Expr::col(invoice::Column::NextDueOn).is_not_null())
            .and(Expr::col(invoice::Column::NextDueOn).lt(today));
        select = select.filter(if overdue { late } else { late.not() });
    }
    let seek = Seek::newest_first(invoice::Column::CreatedAt, invoice::Column::Id);
    let rows = seek.select(select, &page)?.all(conn).await?;
    let parts = invoice_parts(conn, &rows).await?;
    let views = rows
        .iter()
        .map(|r| {
            let p = parts.get(&r.id).cloned().unwrap_or_default();
            invoice_view(actor, invoice_data(r, &p, today))
        })
        .collect();
    Ok(seek.page_of(&rows, &page, views))
}

pub(crate) async fn payment_data(
    conn: &impl ConnectionTrait,
    row: &payment::Model,
) -> Result<PaymentData> {
    let ledger = allocation::Entity::find()
        .filter(allocation::COLUMN.payment_id.eq(row.id))
        .order_by_asc(allocation::Column::CreatedAt)
        .order_by_asc(allocation::Column::Id)
        .all(conn)
        .await?;
    let invoice_ids: Vec<Uuid> = ledger.iter().filter_map(|a| a.invoice_id).collect();
    // Each invoice's number, and the base currency its differences are in.
    let numbers: HashMap<Uuid, (Option<String>, Option<String>)> = if invoice_ids.is_empty() {
        HashMap::new()
    } else {
        invoice::Entity::find()
            .filter(invoice::COLUMN.id.is_in(invoice_ids))
            .all(conn)
            .await?
            .into_iter()
            .map(|i| (i.id, (i.number, i.base_currency)))
            .collect()
    };
    let name = customer_names(conn, vec![row.customer_id])
        .await?
        .remove(&row.customer_id)
        .unwrap_or_default();
    let c = currency(&row.currency);
    let m = |amount: i64| Money::new(amount, c);
    Ok(PaymentData {
        id: row.id,
        number: row.number.clone(),
        status: if row.reversed_at.is_some() {
            PaymentState::Reversed
        } else {
            PaymentState::Received
        },
        customer: OrderCustomer {
            id: row.customer_id,
            name,
        },
        order_id: row.order_id,
        amount: m(row.amount),
        allocated: m(row.allocated_amount),
        refunded: m(row.refunded_amount),
        reversed: m(row.reversed_amount),
        unallocated: m(row.free()),
        method: PaymentMethod::parse(&row.method).unwrap_or(PaymentMethod::Other),
        provider: row.provider.clone(),
        reference: row.reference.clone(),
        received_on: row.received_on,
        reversed_on: row.reversed_on,
        reversal_reason: row.reversal_reason.clone(),
        notes: row.notes.clone(),
        allocations: ledger
            .iter()
            .map(|a| AllocationView {
                id: a.id,
                invoice_id: a.invoice_id,
                invoice_number: a
                    .invoice_id
                    .and_then(|i| numbers.get(&i).and_then(|n| n.0.clone())),
                order_id: a.order_id,
                amount: m(a.amount),
                exchange_difference: a.exchange_difference.and_then(|d| {
                    let base = a
                        .invoice_id
                        .and_then(|i| numbers.get(&i).and_then(|n| n.1.clone()))?;
                    Some(Money::new(d, currency(&base)))
                }),
                credit_note_id: a.credit_note_id,
                effective_on: a.effective_on,
                created_at: a.created_at,
            })
            .collect(),
        created_by: row.created_by.clone(),
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

pub async fn get_payment(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
) -> Result<PaymentView> {
    actor.require(Action::PaymentsRead)?;
    let row = find_payment(conn, actor, id).await?;
    Ok(PaymentView {
        data: payment_data(conn, &row).await?,
    })
}

/// Query parameters of `GET /v1/payments`: newest first.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListPayments {
    pub customer_id: Option<Uuid>,
    pub order_id: Option<Uuid>,
    #[param(value_type = Option<PaymentMethod>)]
    pub method: Option<Choice<PaymentMethod>>,
    #[param(value_type = Option<Currency>)]
    pub currency: Option<Choice<Currency>>,
    /// The provider's reference, exactly.
    #[param(value_type = Option<String>, max_length = 100)]
    pub reference: Option<NonBlank<100>>,
    /// Payments with unallocated credit left (`true`), or fully allocated.
    pub unallocated: Option<bool>,
    /// Received on or after this day.
    #[param(value_type = Option<String>, format = Date)]
    pub received_from: Option<Day>,
    /// Received on or before this day.
    #[param(value_type = Option<String>, format = Date)]
    pub received_until: Option<Day>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<Limit>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<CursorParam>,
}

pub async fn list_payments(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    query: ListPayments,
) -> Result<Page<PaymentView>> {
    actor.require(Action::PaymentsRead)?;
    let mut errors = Vec::new();
    let method = Choice::check_opt(query.method.as_ref(), &mut errors, "method");
    let cur = Choice::check_opt(query.currency.as_ref(), &mut errors, "currency");
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    let page = PageRequest::new(query.limit, query.cursor.as_deref(), "-created_at")?;
    let mut select = visible_payments(actor);
    if let Some(c) = query.customer_id {
        select = select.filter(payment::COLUMN.customer_id.eq(c));
    }
    if let Some(o) = query.order_id {
        select = select.filter(payment::COLUMN.order_id.eq(o));
    }
    if let Some(m) = method {
        select = select.filter(payment::COLUMN.method.eq(m.as_str()));
    }
    if let Some(c) = cur {
        select = select.filter(payment::COLUMN.currency.eq(c.code()));
    }
    if let Some(r) = &query.reference {
        select = select.filter(payment::COLUMN.reference.eq(r.as_str().trim()));
    }
    if let Some(u) = query.unallocated {
        let left = Expr::col(payment::Column::AllocatedAmount)
            .add(Expr::col(payment::Column::RefundedAmount))
            .add(Expr::col(payment::Column::ReversedAmount))
            .lt(Expr::col(payment::Column::Amount));
        select = select.filter(if u { left } else { left.not() });
    }
    if let Some(d) = query.received_from {
        select = select.filter(payment::COLUMN.received_on.gte(d.0));
    }
    if let Some(d) = query.received_until {
        select = select.filter(payment::COLUMN.received_on.lte(d.0));
    }
    let seek = Seek::newest_first(payment::Column::CreatedAt, payment::Column::Id);
    let rows = seek.select(select, &page)?.all(conn).await?;
    let mut views = Vec::with_capacity(rows.len());
    for r in &rows {
        views.push(PaymentView {
            data: payment_data(conn, r).await?,
        });
    }
    Ok(seek.page_of(&rows, &page, views))
}

/// What customer `id` owes on open invoices and holds as credit, per currency.
pub async fn balance(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
) -> Result<CustomerBalance> {
    actor.require(Action::PaymentsRead)?;
    if actor.carriers().is_some()
        || ordercrm_customer::queries::ordering_customer(conn, actor, id)
            .await?
            .is_none()
    {
        return Err(Error::not_found("customer", id));
    }
    let mut outstanding: std::collections::BTreeMap<String, i64> = Default::default();
    // What the caller sees of it: a key bound to a channel, its channel's.
    for i in visible_invoices(actor)
        .filter(invoice::COLUMN.customer_id.eq(id))
        .filter(invoice::COLUMN.status.eq(InvoiceStatus::Open.as_str()))
        .all(conn)
        .await?
    {
        let owed = i.owed();
        let e = outstanding.entry(i.currency).or_default();
        *e = e.saturating_add(owed);
    }
    let mut credit: std::collections::BTreeMap<String, i64> = Default::default();
    for p in visible_payments(actor)
        .filter(payment::COLUMN.customer_id.eq(id))
        .filter(
            Expr::col(payment::Column::AllocatedAmount)
                .add(Expr::col(payment::Column::RefundedAmount))
                .add(Expr::col(payment::Column::ReversedAmount))
                .lt(Expr::col(payment::Column::Amount)),
        )
        .all(conn)
        .await?
    {
        let free = p.free();
        let e = credit.entry(p.currency).or_default();
        *e = e.saturating_add(free);
    }
    let list = |m: std::collections::BTreeMap<String, i64>| {
        m.into_iter()
            .filter(|(_, a)| *a != 0)
            .map(|(c, a)| Money::new(a, currency(&c)))
            .collect()
    };
    Ok(CustomerBalance {
        customer_id: id,
        outstanding: list(outstanding),
        credit: list(credit),
    })
}

pub(crate) fn visible_credit_notes(actor: &Actor) -> Select<credit_note::Entity> {
    let mut select =
        credit_note::Entity::find().filter(customers_seen(actor, credit_note::Column::CustomerId));
    if actor.carriers().is_some() {
        select = select.filter(Expr::value(false));
    }
    if let Some(orders) = ordercrm_order::settlement::channel_orders(actor) {
        select = select.filter(Expr::col(credit_note::Column::OrderId).in_subquery(orders));
    }
    select
}

pub(crate) fn visible_refunds(actor: &Actor) -> Select<refund::Entity> {
    let mut select =
        refund::Entity::find().filter(customers_seen(actor, refund::Column::CustomerId));
    if actor.carriers().is_some() {
        select = select.filter(Expr::value(false));
    }
    if let Some(orders) = ordercrm_order::settlement::channel_orders(actor) {
        select = select.filter(Expr::col(refund::Column::OrderId).in_subquery(orders));
    }
    select
}

pub(crate) async fn find_credit_note(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
) -> Result<credit_note::Model> {
    visible_credit_notes(actor)
        .filter(credit_note::COLUMN.id.eq(id))
        .one(conn)
        .await?
        .ok_or_else(|| PaymentError::CreditNoteNotFound(id.to_string()).into())
}

pub(crate) async fn find_refund(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
) -> Result<refund::Model> {
    visible_refunds(actor)
        .filter(refund::COLUMN.id.eq(id))
        .one(conn)
        .await?
        .ok_or_else(|| PaymentError::RefundNotFound(id.to_string()).into())
}

pub(crate) async fn credit_note_data(
    conn: &impl ConnectionTrait,
    row: &credit_note::Model,
) -> Result<CreditNoteData> {
    let invoice_number = invoice::Entity::find_by_id(row.invoice_id)
        .one(conn)
        .await?
        .and_then(|i| i.number);
    let refunds = refund::Entity::find()
        .filter(refund::COLUMN.credit_note_id.eq(row.id))
        .order_by_asc(refund::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect();
    let name = customer_names(conn, vec![row.customer_id])
        .await?
        .remove(&row.customer_id)
        .unwrap_or_default();
    let c = currency(&row.currency);
    let m = |amount: i64| Money::new(amount, c);
    Ok(CreditNoteData {
        id: row.id,
        number: row.number.clone(),
        status: CreditNoteStatus::parse(&row.status).unwrap_or(CreditNoteStatus::Issued),
        customer: OrderCustomer {
            id: row.customer_id,
            name,
        },
        invoice_id: row.invoice_id,
        invoice_number,
        order_id: row.order_id,
        return_id: row.return_id,
        amount: m(row.amount),
        applied: m(row.applied_amount),
        refund: m(row.refund_amount),
        credit: m(row.credit_amount),
        outside: m(row.outside_amount),
        refunds,
        reason: row.reason.clone(),
        effective_on: row.effective_on,
        created_by: row.created_by.clone(),
        void_reason: row.void_reason.clone(),
        voided_by: row.voided_by.clone(),
        voided_on: row.voided_on,
        voided_at: row.voided_at,
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

pub(crate) fn credit_note_view(actor: &Actor, data: CreditNoteData) -> CreditNoteView {
    let allowed_actions =
        if actor.may(Action::PaymentsWrite) && data.status == CreditNoteStatus::Issued {
            vec![CreditNoteAction::Void]
        } else {
            Vec::new()
        };
    CreditNoteView {
        data,
        allowed_actions,
    }
}

pub async fn get_credit_note(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
) -> Result<CreditNoteView> {
    actor.require(Action::PaymentsRead)?;
    let row = find_credit_note(conn, actor, id).await?;
    Ok(credit_note_view(actor, credit_note_data(conn, &row).await?))
}

/// Query parameters of `GET /v1/credit-notes`: newest first.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListCreditNotes {
    #[param(value_type = Option<CreditNoteStatus>)]
    pub status: Option<Choice<CreditNoteStatus>>,
    pub invoice_id: Option<Uuid>,
    pub customer_id: Option<Uuid>,
    pub order_id: Option<Uuid>,
    pub return_id: Option<Uuid>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<Limit>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<CursorParam>,
}

pub async fn list_credit_notes(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    query: ListCreditNotes,
) -> Result<Page<CreditNoteView>> {
    actor.require(Action::PaymentsRead)?;
    let mut errors = Vec::new();
    let status = Choice::check_opt(query.status.as_ref(), &mut errors, "status");
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    let page = PageRequest::new(query.limit, query.cursor.as_deref(), "-created_at")?;
    let mut select = visible_credit_notes(actor);
    if let Some(s) = status {
        select = select.filter(credit_note::COLUMN.status.eq(s.as_str()));
    }
    if let Some(i) = query.invoice_id {
        select = select.filter(credit_note::COLUMN.invoice_id.eq(i));
    }
    if let Some(c) = query.customer_id {
        select = select.filter(credit_note::COLUMN.customer_id.eq(c));
    }
    if let Some(o) = query.order_id {
        select = select.filter(credit_note::COLUMN.order_id.eq(o));
    }
    if let Some(r) = query.return_id {
        select = select.filter(credit_note::COLUMN.return_id.eq(r));
    }
    let seek = Seek::newest_first(credit_note::Column::CreatedAt, credit_note::Column::Id);
    let rows = seek.select(select, &page)?.all(conn).await?;
    let mut views = Vec::with_capacity(rows.len());
    for r in &rows {
        views.push(credit_note_view(actor, credit_note_data(conn, r).await?));
    }
    Ok(seek.page_of(&rows, &page, views))
}

pub(crate) async fn refund_data(
    conn: &impl ConnectionTrait,
    row: &refund::Model,
) -> Result<RefundData> {
    let payment_number = payment::Entity::find_by_id(row.payment_id)
        .one(conn)
        .await?
        .map(|p| p.number)
        .unwrap_or_default();
    let name = customer_names(conn, vec![row.customer_id])
        .await?
        .remove(&row.customer_id)
        .unwrap_or_default();
    let c = currency(&row.currency);
    Ok(RefundData {
        id: row.id,
        number: row.number.clone(),
        status: RefundStatus::parse(&row.status).unwrap_or(RefundStatus::Pending),
        customer: OrderCustomer {
            id: row.customer_id,
            name,
        },
        payment_id: row.payment_id,
        payment_number,
        credit_note_id: row.credit_note_id,
        order_id: row.order_id,
        amount: Money::new(row.amount, c),
        method: PaymentMethod::parse(&row.method).unwrap_or(PaymentMethod::Other),
        outside: row.outside,
        provider: row.provider.clone(),
        reference: row.reference.clone(),
        reason: row.reason.clone(),
        failure_reason: row.failure_reason.clone(),
        requested_by: row.requested_by.clone(),
        approved_by: row.approved_by.clone(),
        approved_at: row.approved_at,
        settled_on: row.settled_on,
        completed_at: row.completed_at,
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

pub(crate) fn refund_view(actor: &Actor, data: RefundData) -> RefundView {
    let allowed_actions = crate::model::refund_actions(actor, data.status, &data.requested_by);
    RefundView {
        data,
        allowed_actions,
    }
}

pub async fn get_refund(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
) -> Result<RefundView> {
    actor.require(Action::PaymentsRead)?;
    let row = find_refund(conn, actor, id).await?;
    Ok(refund_view(actor, refund_data(conn, &row).await?))
}

/// Query parameters of `GET /v1/refunds`: newest first.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListRefunds {
    /// `pending_approval` is what waits for a manager, `pending` what waits to be paid out.
    #[param(value_type = Option<RefundStatus>)]
    pub status: Option<Choice<RefundStatus>>,
    pub payment_id: Option<Uuid>,
    pub credit_note_id: Option<Uuid>,
    pub customer_id: Option<Uuid>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<Limit>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<CursorParam>,
}

pub async fn list_refunds(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    query: ListRefunds,
) -> Result<Page<RefundView>> {
    actor.require(Action::PaymentsRead)?;
    let mut errors = Vec::new();
    let status = Choice::check_opt(query.status.as_ref(), &mut errors, "status");
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    let page = PageRequest::new(query.limit, query.cursor.as_deref(), "-created_at")?;
    let mut select = visible_refunds(actor);
    if let Some(s) = status {
        select = select.filter(refund::COLUMN.status.eq(s.as_str()));
    }
    if let Some(p) = query.payment_id {
        select = select.filter(refund::COLUMN.payment_id.eq(p));
    }
    if let Some(c) = query.credit_note_id {
        select = select.filter(refund::COLUMN.credit_note_id.eq(c));
    }
    if let Some(c) = query.customer_id {
        select = select.filter(refund::COLUMN.customer_id.eq(c));
    }
    let seek = Seek::newest_first(refund::Column::CreatedAt, refund::Column::Id);
    let rows = seek.select(select, &page)?.all(conn).await?;
    let mut views = Vec::with_capacity(rows.len());
    for r in &rows {
        views.push(refund_view(actor, refund_data(conn, r).await?));
    }
    Ok(seek.page_of(&rows, &page, views))
}
