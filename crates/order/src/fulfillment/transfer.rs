//! Dispatch notes as CSV, for the pick list on paper: one row per note, its lines
//! still to ship in one cell (`TEA×3; MUG×1`).

use super::dto::DispatchNoteView;

pub fn note_header_row() -> Vec<String> {
    [
        "number",
        "status",
        "order_number",
        "order_status",
        "customer_name",
        "warehouse_code",
        "promised_on",
        "requested_delivery_on",
        "ship_to",
        "open_lines",
        "open_units",
        "id",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

pub fn note_row(n: &DispatchNoteView) -> Vec<String> {
    let open: Vec<String> = n
        .lines
        .iter()
        .filter(|l| l.open_quantity > 0)
        .map(|l| format!("{}×{}", l.sku, l.open_quantity))
        .collect();
    let units: i64 = n.lines.iter().map(|l| l.open_quantity).sum();
    let ship_to = n.ship_to.as_ref().map_or(String::new(), |a| {
        [
            a.recipient.clone(),
            Some(a.line1.clone()),
            a.line2.clone(),
            Some(a.city.clone()),
            a.postal_code.clone(),
            Some(a.country.clone()),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ")
    });
    vec![
        n.number.clone(),
        n.status.as_str().to_owned(),
        n.order.number.clone(),
        n.order.status.as_str().to_owned(),
        n.order.customer.name.clone(),
        n.warehouse_code.clone(),
        n.promised_on.to_string(),
        n.requested_delivery_on
            .map(|d| d.to_string())
            .unwrap_or_default(),
        ship_to,
        open.join("; "),
        units.to_string(),
        n.id.to_string(),
    ]
}
