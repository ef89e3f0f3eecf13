//! Invoices and payments as CSV, for the spreadsheet: one row each, amounts in
//! major units (`1000.01`) in the row's currency.

use ordercrm_kernel::Money;

use crate::dto::{InvoiceView, PaymentView};

fn names(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

/// `19.99`, `500`: the amount without its code.
fn major(m: Money) -> String {
    let text = m.to_string();
    text.rsplit_once(' ')
        .map_or(text.clone(), |(amount, _)| amount.to_owned())
}

fn day(d: Option<chrono::NaiveDate>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

pub fn invoice_header() -> Vec<String> {
    names(&[
        "number",
        "status",
        "payment_status",
        "overdue",
        "customer_id",
        "customer_name",
        "order_number",
        "currency",
        "subtotal",
        "tax_total",
        "shipping_fee",
        "total",
        "paid",
        "outstanding",
        "payment_terms",
        "issued_on",
        "due_on",
        "instalments",
        "total_base",
        "created_at",
        "id",
    ])
}

pub fn invoice_row(v: &InvoiceView) -> Vec<String> {
    let i = &v.data;
    vec![
        i.number.clone().unwrap_or_default(),
        i.status.as_str().to_owned(),
        i.payment_status.as_str().to_owned(),
        i.overdue.to_string(),
        i.customer.id.to_string(),
        i.customer.name.clone(),
        i.order_number.clone().unwrap_or_default(),
        i.currency.code().to_owned(),
        major(i.subtotal),
        major(i.tax_total),
        major(i.shipping_fee),
        major(i.total),
        major(i.paid),
        major(i.outstanding),
        i.payment_terms.as_str().to_owned(),
        day(i.issued_on),
        day(i.due_on),
        i.instalments.len().to_string(),
        i.total_base.map(major).unwrap_or_default(),
        i.created_at.to_rfc3339(),
        i.id.to_string(),
    ]
}

pub fn payment_header() -> Vec<String> {
    names(&[
        "number",
        "status",
        "customer_id",
        "customer_name",
        "order_id",
        "currency",
        "amount",
        "allocated",
        "unallocated",
        "method",
        "provider",
        "reference",
        "received_on",
        "created_at",
        "id",
    ])
}

pub fn payment_row(v: &PaymentView) -> Vec<String> {
    let p = &v.data;
    vec![
        p.number.clone(),
        p.status.as_str().to_owned(),
        p.customer.id.to_string(),
        p.customer.name.clone(),
        p.order_id.map(|o| o.to_string()).unwrap_or_default(),
        p.amount.currency.code().to_owned(),
        major(p.amount),
        major(p.allocated),
        major(p.unallocated),
        p.method.as_str().to_owned(),
        p.provider.clone().unwrap_or_default(),
        p.reference.clone().unwrap_or_default(),
        p.received_on.to_string(),
        p.created_at.to_rfc3339(),
        p.id.to_string(),
    ]
}
