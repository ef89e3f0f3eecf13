//! The review that runs on submit and release: each rule gives a verdict with the
//! inputs it used, and the outcome is the worst of them (reject, then hold, then
//! approve). Stock is the rule that changes something: it holds every line or none.

use std::collections::BTreeMap;

use ordercrm_inventory::commands::reservations::{OrderHold, hold_for_order};
use ordercrm_kernel::authz::Actor;
use ordercrm_kernel::rate::Rate;
use ordercrm_kernel::{Ctx, Currency, Money, Result};
use sea_orm::DatabaseTransaction;
use serde_json::json;
use uuid::Uuid;

use crate::dto::{Review, Verdict};
use crate::entity::{order, order_line};
use crate::model::{OrderStatus, VerdictKind};

/// What the review found, and what it changed: the stock it reserved and the
/// grand total in the base currency.
pub(crate) struct Reviewed {
    pub review: Review,
    pub reservation_id: Option<Uuid>,
    pub base: Option<(Currency, Rate, i64)>,
}

fn verdict(
    rule: &str,
    kind: VerdictKind,
    code: &str,
    message: String,
    inputs: serde_json::Value,
) -> Verdict {
    Verdict {
        rule: rule.to_owned(),
        verdict: kind,
        code: code.to_owned(),
        message,
        inputs,
    }
}

pub(crate) async fn run(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    row: &order::Model,
    lines: &[order_line::Model],
) -> Result<Reviewed> {
    let mut verdicts = Vec::new();
    let currency: Currency = row.currency.parse().map_err(|_| {
        ordercrm_kernel::Error::new(
            ordercrm_kernel::error::problems::INTERNAL,
            "an order with an unknown currency",
        )
    })?;

    // The customer as it is now, whoever asks: an archived or erased customer is
    // refused even if the caller could no longer see them.
    let customer =
        ordercrm_customer::queries::ordering_customer(txn, &Actor::System, row.customer_id).await?;
    let customer_verdict = match &customer {
        Some(c) if c.erased => verdict(
            "customer",
            VerdictKind::Reject,
            "customer_erased",
            "the customer's data was erased".into(),
            json!({"customer_id": c.id}),
        ),
        Some(c) if c.archived => verdict(
            "customer",
            VerdictKind::Reject,
            "customer_archived",
            "the customer is archived".into(),
            json!({"customer_id": c.id}),
        ),
        _ => verdict(
            "customer",
            VerdictKind::Pass,
            "ok",
            "the customer is active".into(),
            json!({"customer_id": row.customer_id}),
        ),
    };
    let rejected = customer_verdict.verdict == VerdictKind::Reject;
    verdicts.push(customer_verdict);

    let mut reservation_id = row.reservation_id;
    if !rejected {
        verdicts.push(stock(txn, ctx, row, lines, &mut reservation_id).await?);
    }

    let base_code = ordercrm_settings::queries::value(txn, "base_currency")
        .await?
        .and_then(|v| v.as_str().and_then(|s| s.parse::<Currency>().ok()))
        .unwrap_or(currency);
    let rate =
        ordercrm_settings::rates::queries::rate_on(txn, currency, base_code, ctx.now.date_naive())
            .await?;
    let grand_total = Money::new(row.grand_total_amount, currency);
    let base = match rate {
        Some(rate) => {
            let converted = rate.convert(grand_total, base_code).map_err(|_| {
                ordercrm_kernel::Error::invalid_field(
                    "lines",
                    "range",
                    "the grand total in the base currency is too large to count",
                )
            })?;
            verdicts.push(verdict(
                "amount",
                VerdictKind::Pass,
                "ok",
                format!("{converted} in the base currency"),
                json!({"grand_total": grand_total, "rate": rate, "grand_total_base": converted}),
            ));
            Some((base_code, rate, converted.amount))
        }
        None => {
            verdicts.push(verdict(
                "amount",
                VerdictKind::Hold,
                "exchange_rate_missing",
                format!("no {currency}→{base_code} rate is published for today: finance publishes one, then release the order"),
                json!({"from": currency, "to": base_code, "on": ctx.now.date_naive()}),
            ));
            None
        }
    };

    let outcome = if verdicts.iter().any(|v| v.verdict == VerdictKind::Reject) {
        OrderStatus::Rejected
    } else if verdicts.iter().any(|v| v.verdict == VerdictKind::Hold) {
        OrderStatus::OnHold
    } else {
        OrderStatus::Approved
    };
    Ok(Reviewed {
        review: Review {
            outcome,
            ran_at: ctx.now,
            verdicts,
        },
        reservation_id,
        base,
    })
}

/// Hold every stocked line, summed per product and warehouse, unless the order
/// already holds its stock (released after a manual hold).
async fn stock(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    row: &order::Model,
    lines: &[order_line::Model],
    reservation_id: &mut Option<Uuid>,
) -> Result<Verdict> {
    if let Some(id) = *reservation_id {
        return Ok(verdict(
            "stock",
            VerdictKind::Pass,
            "ok",
            "the order's stock is already reserved".into(),
            json!({"reservation_id": id}),
        ));
    }
    let mut wanted: BTreeMap<(Uuid, Uuid), i64> = BTreeMap::new();
    for l in lines {
        if let (true, Some(w)) = (l.tracks_inventory, l.warehouse_id) {
            let q = wanted.entry((l.product_id, w)).or_default();
            *q = q.saturating_add(l.quantity);
        }
    }
    if wanted.is_empty() {
        return Ok(verdict(
            "stock",
            VerdictKind::Pass,
            "ok",
            "no line tracks inventory".into(),
            json!({"lines": []}),
        ));
    }
    let holds: Vec<OrderHold> = wanted
        .iter()
        .map(|((product_id, warehouse_id), quantity)| OrderHold {
            product_id: *product_id,
            warehouse_id: *warehouse_id,
            quantity: *quantity,
        })
        .collect();
    match hold_for_order(txn, ctx, row.id, &row.number, &holds).await? {
        Ok(reservation) => {
            *reservation_id = Some(reservation.id);
            Ok(verdict(
                "stock",
                VerdictKind::Pass,
                "ok",
                "every line is reserved".into(),
                json!({"reservation_id": reservation.id, "lines": reservation.lines}),
            ))
        }
        Err(short) => Ok(verdict(
            "stock",
            VerdictKind::Hold,
            "insufficient_stock",
            format!(
                "{} line(s) short; nothing is reserved: release the order when stock arrives",
                short.len()
            ),
            json!({"lines": short}),
        )),
    }
}
