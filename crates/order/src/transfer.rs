//! Orders as CSV, for the spreadsheet: one row per order, amounts in major units
//! (`55.18`) in the order's currency.

use ordercrm_kernel::Money;

use crate::dto::OrderView;

pub fn header_row() -> Vec<String> {
    [
        "number",
        "status",
        "fulfillment_status",
        "payment_status",
        "channel",
        "channel_name",
        "external_id",
        "customer_id",
        "customer_name",
        "currency",
        "lines",
        "subtotal",
        "discount_total",
        "tax_total",
        "shipping_fee",
        "grand_total",
        "prepaid",
        "payment_terms",
        "payment_terms_days",
        "requested_delivery_on",
        "delayed",
        "created_at",
        "id",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

/// `19.99`, `-0.05`, `500`: the amount without its code.
fn major(m: Money) -> String {
    let text = m.to_string();
    text.rsplit_once(' ')
        .map_or(text.clone(), |(amount, _)| amount.to_owned())
}

pub fn row(v: &OrderView) -> Vec<String> {
    let o = &v.order;
    vec![
        o.number.clone(),
        o.status.as_str().to_owned(),
        o.fulfillment_status.as_str().to_owned(),
        o.payment_status.as_str().to_owned(),
        o.channel.as_str().to_owned(),
        o.channel_name.clone(),
        o.external_id.clone().unwrap_or_default(),
        o.customer.id.to_string(),
        o.customer.name.clone(),
        o.currency.code().to_owned(),
        o.lines.len().to_string(),
        major(o.subtotal),
        major(o.discount_total),
        major(o.tax_total),
        major(o.shipping_fee),
        major(o.grand_total),
        major(o.prepaid),
        o.payment_terms.as_str().to_owned(),
        o.payment_terms_days
            .map(|d| d.to_string())
            .unwrap_or_default(),
        o.requested_delivery_on
            .map(|d| d.to_string())
            .unwrap_or_default(),
        v.delayed.to_string(),
        o.created_at.to_rfc3339(),
        o.id.to_string(),
    ]
}
