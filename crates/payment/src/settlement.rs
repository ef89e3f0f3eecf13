//! What payments do when orders move: record the prepayment an order arrives
//! with, invoice by the company's `invoice_policy` (prepaid orders at approval),
//! and give held money back to the customer's credit when an order ends.

use ordercrm_kernel::{Ctx, Result};
use ordercrm_order::model::{OrderStatus, PaymentTerms};
use ordercrm_order::settlement::{IntakePayment, Invoiceable, Moment, Settlement};
use sea_orm::DatabaseTransaction;
use uuid::Uuid;

use crate::invoices::{Plan, make};
use crate::model::{InvoicePolicy, WHOLE_BPS};

pub struct Payments;

/// Install payments into orders: called once at startup.
pub fn install() {
    static PAYMENTS: Payments = Payments;
    ordercrm_order::settlement::install(&PAYMENTS);
}

async fn policy(txn: &DatabaseTransaction) -> Result<InvoicePolicy> {
    Ok(ordercrm_settings::queries::value(txn, "invoice_policy")
        .await?
        .and_then(|v| v.as_str().and_then(InvoicePolicy::parse))
        .unwrap_or(InvoicePolicy::Manual))
}

/// Invoice what `plan` says of `order`, for the issuer to issue once this change
/// commits ([`crate::issuer`]); an invoice that cannot be issued (no exchange rate
/// yet) stays a draft for finance, and nothing left to invoice is no invoice.
async fn invoice_now(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    order: &Invoiceable,
    plan: Plan,
) -> Result<()> {
    let nothing = plan.lines.as_ref().is_some_and(Vec::is_empty);
    let everything_invoiced = order.lines.iter().all(|l| l.invoiced >= l.quantity)
        && (order.shipping_invoiced || order.shipping == 0);
    if nothing || everything_invoiced {
        return Ok(());
    }
    let row = make(txn, ctx, order, plan).await?;
    let currency = crate::queries::currency(&row.currency);
    let base = ordercrm_settings::queries::base_currency(txn).await?;
    if let Some(base) = base
        && base != currency
        && ordercrm_settings::rates::queries::rate_on(txn, currency, base, ctx.now.date_naive())
            .await?
            .is_none()
    {
        return Ok(());
    }
    crate::issuer::request(txn, ctx, row.id).await
}

fn plan(lines: Option<Vec<(i32, i64)>>) -> Plan {
    Plan {
        lines,
        shipping: None,
        schedule: vec![(WHOLE_BPS, 0)],
        scheduled: false,
        notes: None,
    }
}

#[async_trait::async_trait]
impl Settlement for Payments {
    async fn intake(
        &self,
        txn: &DatabaseTransaction,
        ctx: &Ctx,
        order: &Invoiceable,
        payment: IntakePayment,
    ) -> Result<()> {
        crate::payments::intake(txn, ctx, order, payment).await
    }

    async fn moved(
        &self,
        txn: &DatabaseTransaction,
        ctx: &Ctx,
        order_id: Uuid,
        moment: Moment,
    ) -> Result<()> {
        match moment {
            Moment::Ended => {
                crate::invoices::undo_for_order(txn, ctx, order_id, "the order ended").await?;
                return crate::ledger::release_held(txn, ctx, order_id).await;
            }
            Moment::Editing => {
                return crate::invoices::undo_for_order(txn, ctx, order_id, "the order was edited")
                    .await;
            }
            _ => {}
        }
        let policy = policy(txn).await?;
        let order = ordercrm_order::settlement::lock(txn, None, order_id).await?;
        match moment {
            Moment::Approved
                if policy == InvoicePolicy::Approval || order.terms == PaymentTerms::Prepaid =>
            {
                invoice_now(txn, ctx, &order, plan(None)).await
            }
            Moment::Shipped(shipment) if policy == InvoicePolicy::Shipment => {
                let carried = ordercrm_order::settlement::shipment_lines(txn, shipment).await?;
                // The shipment's units not invoiced yet, and lines that do not ship.
                let mut lines = Vec::new();
                for l in &order.lines {
                    let left = l.quantity - l.invoiced;
                    let want = if l.tracks_inventory {
                        carried
                            .iter()
                            .filter(|(id, _)| *id == l.id)
                            .map(|(_, q)| q)
                            .sum::<i64>()
                    } else {
                        left
                    };
                    let q = want.min(left);
                    if q > 0 {
                        lines.push((l.line_no, q));
                    }
                }
                invoice_now(txn, ctx, &order, plan(Some(lines))).await
            }
            Moment::Delivered if policy == InvoicePolicy::Delivery => {
                invoice_now(txn, ctx, &order, plan(None)).await
            }
            // After an edit, what the policy would have invoiced by now.
            Moment::Edited if order.approved && order.status == OrderStatus::Approved => {
                let lines = match policy {
                    _ if order.terms == PaymentTerms::Prepaid => None,
                    InvoicePolicy::Approval => None,
                    InvoicePolicy::Shipment => Some(
                        order
                            .lines
                            .iter()
                            .filter(|l| {
                                l.shipped > l.invoiced
                                    || (!l.tracks_inventory && l.quantity > l.invoiced)
                            })
                            .map(|l| {
                                let upto = if l.tracks_inventory {
                                    l.shipped
                                } else {
                                    l.quantity
                                };
                                (l.line_no, upto - l.invoiced)
                            })
                            .collect(),
                    ),
                    InvoicePolicy::Delivery => Some(
                        order
                            .lines
                            .iter()
                            .filter(|l| l.tracks_inventory && l.delivered > l.invoiced)
                            .map(|l| (l.line_no, l.delivered - l.invoiced))
                            .collect(),
                    ),
                    InvoicePolicy::Manual => return Ok(()),
                };
                invoice_now(txn, ctx, &order, plan(lines)).await
            }
            _ => Ok(()),
        }
    }
}
