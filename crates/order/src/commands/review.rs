//! The review that runs on submit and release: each rule gives a verdict with the
//! inputs it used, and the outcome is the worst of them (reject, then hold, then
//! approve). Stock is the rule that changes something: it holds every line or none.

use std::collections::BTreeMap;

use ordercrm_inventory::commands::reservations::{OrderHold, hold_for_order};
use ordercrm_inventory::queries::for_orders;
use ordercrm_kernel::authz::Actor;
use ordercrm_kernel::rate::Rate;
use ordercrm_kernel::{Ctx, Currency, Money, Result};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{Condition, DatabaseTransaction, EntityTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;

use crate::dto::{Review, Verdict};
use crate::entity::{order, order_line};
use crate::model::{OrderStatus, PaymentStatus, PaymentTerms, VerdictKind};

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
    review(txn, ctx, row, lines, None).await
}

/// The review of an approved order as an edit would leave it (`row`, `lines`, not
/// written): every rule but stock, which the edit settles itself (it adjusts the
/// reservation by the difference, or is refused), so this reserves nothing.
/// Lines whose price the edit set (`touched`, by number) are held to the editor's
/// discount cap (`editor`: a role, or `api_key`), the others to their creator's.
pub(crate) async fn run_for_edit(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    row: &order::Model,
    lines: &[order_line::Model],
    editor: Option<&str>,
    touched: &std::collections::HashSet<i32>,
) -> Result<Reviewed> {
    review(txn, ctx, row, lines, Some((editor, touched))).await
}

/// Who edited which lines' prices, for an edit's review.
type Edited<'a> = Option<(Option<&'a str>, &'a std::collections::HashSet<i32>)>;

async fn review(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    row: &order::Model,
    lines: &[order_line::Model],
    edit: Edited<'_>,
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

    let today = ctx.now.date_naive();
    let mut reservation_id = row.reservation_id;
    if !rejected {
        verdicts.push(if edit.is_some() {
            verdict(
                "stock",
                VerdictKind::Pass,
                "ok",
                "the edit holds what the order needs, by the difference".into(),
                json!({"reservation_id": reservation_id}),
            )
        } else {
            stock(txn, ctx, row, lines, &mut reservation_id).await?
        });
        let limit = customer.as_ref().and_then(|c| c.credit_limit);
        verdicts.extend(credit(txn, row, limit, currency, today).await?);
        verdicts.push(price(txn, row, lines, currency, today, edit).await?);
    }

    // The base currency; without one, the default currency; without that, the
    // order's own (a one-currency business needs neither setting).
    let base_code = ordercrm_settings::queries::base_currency(txn)
        .await?
        .unwrap_or(currency);
    let rate = ordercrm_settings::rates::queries::rate_on(txn, currency, base_code, today).await?;
    let threshold = ordercrm_settings::queries::value(txn, "order_approval_threshold")
        .await?
        .and_then(|v| v.as_i64());
    let grand_total = Money::new(row.grand_total_amount, currency);
    let converted = rate.map(|r| (r, r.convert(grand_total, base_code)));
    let base = match converted {
        Some((rate, Err(_))) => {
            verdicts.push(verdict(
                "amount",
                VerdictKind::Hold,
                "manual_approval",
                format!("{grand_total} at {rate} is too large to count in {base_code}"),
                json!({"grand_total": grand_total, "rate": rate, "threshold": threshold}),
            ));
            None
        }
        Some((rate, Ok(converted))) => {
            let inputs = json!({"grand_total": grand_total, "rate": rate,
                "grand_total_base": converted, "threshold": threshold});
            verdicts.push(match threshold {
                Some(t) if converted.amount >= t => verdict(
                    "amount",
                    VerdictKind::Hold,
                    "manual_approval",
                    format!(
                        "{converted} reaches the approval threshold {}",
                        Money::new(t, base_code)
                    ),
                    inputs,
                ),
                _ => verdict(
                    "amount",
                    VerdictKind::Pass,
                    "ok",
                    format!("{converted} in the base currency"),
                    inputs,
                ),
            });
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

    let mut outcome = if verdicts.iter().any(|v| v.verdict == VerdictKind::Reject) {
        OrderStatus::Rejected
    } else if verdicts.iter().any(|v| v.verdict == VerdictKind::Hold) {
        OrderStatus::OnHold
    } else {
        OrderStatus::Approved
    };
    // A held order whose goods have all left: rejecting it would let go of nothing
    // and strand it. It goes on to delivery; the verdicts stay for people to see.
    if outcome != OrderStatus::Approved && crate::queries::shipped_out(lines) {
        verdicts.push(verdict(
            "fulfillment",
            VerdictKind::Pass,
            "shipped_out",
            "everything has shipped: the order goes on to delivery whatever the other rules say \
             (a return brings goods back)"
                .into(),
            json!({"lines": lines.iter().map(|l| json!({"line_no": l.line_no,
                "quantity": l.quantity, "shipped_quantity": l.shipped_quantity})).collect::<Vec<_>>()}),
        ));
        outcome = OrderStatus::Approved;
    }
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

/// Hold every stocked line's unshipped units, summed per product and warehouse,
/// unless the order already holds its stock (released after a manual hold) or has
/// nothing left to hold (everything shipped).
async fn stock(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    row: &order::Model,
    lines: &[order_line::Model],
    reservation_id: &mut Option<Uuid>,
) -> Result<Verdict> {
    if let Some(id) = *reservation_id
        && ordercrm_inventory::commands::reservations::still_holds(txn, id).await?
    {
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
        let unshipped = l.quantity - l.shipped_quantity;
        if let (true, Some(w), true) = (l.tracks_inventory, l.warehouse_id, unshipped > 0) {
            let q = wanted.entry((l.product_id, w)).or_default();
            *q = q.saturating_add(unshipped);
        }
    }
    if wanted.is_empty() {
        return Ok(verdict(
            "stock",
            VerdictKind::Pass,
            "ok",
            "no line has unshipped stock to reserve".into(),
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
    *reservation_id = None;
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

/// Prices below cost, and discounts beyond the cap of the role that took the
/// order (`order_discount_caps`), are held for a person to look at.
async fn price(
    txn: &DatabaseTransaction,
    row: &order::Model,
    lines: &[order_line::Model],
    currency: Currency,
    today: chrono::NaiveDate,
    edit: Edited<'_>,
) -> Result<Verdict> {
    if let Some(return_id) = row.replaces_return_id {
        return Ok(verdict(
            "price",
            VerdictKind::Pass,
            "exchange",
            "a replacement for returned goods: priced by the exchange, not held to costs or caps"
                .into(),
            json!({"return_id": return_id}),
        ));
    }
    let ids: Vec<Uuid> = lines.iter().map(|l| l.product_id).collect();
    let (products, _) = for_orders::products(txn, &ids, &[]).await?;
    let caps = ordercrm_settings::queries::value(txn, "order_discount_caps").await?;
    let cap_of = |role: Option<&str>| role.and_then(|role| caps.as_ref()?.get(role)?.as_i64());
    let cap = cap_of(row.creator_role.as_deref());
    let mut findings = Vec::new();
    let mut missing = Vec::new();
    for l in lines {
        let product = products.get(&l.product_id);
        let cost = match product.and_then(|p| p.cost) {
            Some(cost) if cost.currency == currency => Some(cost.amount),
            Some(cost) => {
                match ordercrm_settings::rates::queries::rate_on(
                    txn,
                    cost.currency,
                    currency,
                    today,
                )
                .await?
                {
                    Some(rate) => rate.convert(cost, currency).ok().map(|m| m.amount),
                    None => {
                        missing.push(format!("{}→{currency}", cost.currency));
                        None
                    }
                }
            }
            None => None,
        };
        if let Some(cost) = cost
            && l.unit_price_amount < cost
        {
            findings.push(
                json!({"line_no": l.line_no, "sku": l.sku, "reason": "below_cost",
                "unit_price": l.unit_price_amount, "cost": cost}),
            );
        }
        // The discount is what the customer gets off the list price (when it is in
        // the order's currency): a lowered unit price counts as much as a discount.
        let list = product
            .and_then(|p| p.list_price)
            .filter(|m| m.currency == currency)
            .map_or(l.unit_price_amount, |m| {
                std::cmp::max(m.amount, l.unit_price_amount)
            });
        let full = i128::from(l.quantity) * i128::from(list);
        let paid = i128::from(l.quantity) * i128::from(l.unit_price_amount)
            - i128::from(l.discount_amount)
            - i128::from(l.order_discount_share);
        let off = full - paid;
        let (cap, role) = match edit {
            Some((editor, touched)) if touched.contains(&l.line_no) => (cap_of(editor), editor),
            _ => (cap, row.creator_role.as_deref()),
        };
        if let Some(cap) = cap
            && full > 0
            // off / full > cap / 10000, without division.
            && off * 10_000 > i128::from(cap) * full
        {
            let bps = off * 10_000 / full;
            findings.push(
                json!({"line_no": l.line_no, "sku": l.sku, "reason": "discount_over_cap",
                "discount_bps": i64::try_from(bps).unwrap_or(i64::MAX), "cap_bps": cap,
                "role": role}),
            );
        }
    }
    if !missing.is_empty() {
        missing.sort();
        missing.dedup();
        return Ok(verdict(
            "price",
            VerdictKind::Hold,
            "exchange_rate_missing",
            format!(
                "no rate published for {} to compare prices with costs: finance publishes one, then release the order",
                missing.join(", ")
            ),
            json!({"missing": missing}),
        ));
    }
    Ok(if findings.is_empty() {
        verdict(
            "price",
            VerdictKind::Pass,
            "ok",
            "prices at or above cost, discounts within the cap".into(),
            json!({"cap_bps": cap, "role": row.creator_role}),
        )
    } else {
        verdict(
            "price",
            VerdictKind::Hold,
            "price_review",
            format!(
                "{} line(s) below cost or over the discount cap",
                findings.len()
            ),
            json!({"lines": findings, "cap_bps": cap, "role": row.creator_role}),
        )
    })
}

/// Orders on credit (`net`, `eom`): this order plus the customer's approved orders
/// not yet paid, in the credit limit's currency, must stay within the limit. An
/// order counts what is still unpaid of it, invoiced or not, so its open invoices
/// and what is not invoiced yet count once each.
/// Submissions for one customer take turns here, so two cannot both fit the last
/// of the limit.
async fn credit(
    txn: &DatabaseTransaction,
    row: &order::Model,
    limit: Option<Money>,
    currency: Currency,
    today: chrono::NaiveDate,
) -> Result<Option<Verdict>> {
    let on_credit = matches!(
        PaymentTerms::parse(&row.payment_terms),
        Some(PaymentTerms::Net | PaymentTerms::Eom)
    );
    if !on_credit {
        return Ok(None);
    }
    let Some(limit) = limit else {
        return Ok(Some(verdict(
            "credit",
            VerdictKind::Pass,
            "ok",
            "the customer has no credit limit".into(),
            json!({"credit_limit": null}),
        )));
    };
    ordercrm_kernel::db::lock_for_check(txn, &format!("credit:{}", row.customer_id)).await?;
    // The customer's and its merged duplicates' orders that hold or may soon hold
    // credit: approved, and held ones whose stock is reserved (a manager may approve
    // those without another review).
    let mut same_customer = Query::select();
    same_customer
        .column(Alias::new("id"))
        .from(Alias::new("customers"))
        .cond_where(
            Condition::any()
                .add(Expr::col(Alias::new("id")).eq(row.customer_id))
                .add(Expr::col(Alias::new("merged_into_id")).eq(row.customer_id)),
        );
    let open = order::Entity::find()
        .filter(Expr::col(order::Column::CustomerId).in_subquery(same_customer))
        .filter(
            Condition::any()
                .add(order::COLUMN.status.eq(OrderStatus::Approved.as_str()))
                .add(
                    Condition::all()
                        .add(order::COLUMN.status.eq(OrderStatus::OnHold.as_str()))
                        .add(order::COLUMN.reservation_id.is_not_null()),
                ),
        )
        .filter(
            order::COLUMN
                .payment_status
                .ne(PaymentStatus::Paid.as_str()),
        )
        .filter(order::COLUMN.id.ne(row.id))
        .all(txn)
        .await?;
    let mut missing = Vec::new();
    let mut too_large = false;
    // What an order still owes in the limit's currency: at the rate it stored when
    // submitted if that is the limit's currency, else at today's.
    let mut owed = async |o: &order::Model| -> Result<i64> {
        let unpaid = i128::from(o.grand_total_amount - o.paid_amount - o.credited_amount);
        if let (Some(base), Some(code)) = (o.grand_total_base_amount, o.base_currency.as_deref())
            && code == limit.currency.code()
            && o.grand_total_amount > 0
        {
            let share = i128::from(base) * unpaid / i128::from(o.grand_total_amount);
            return Ok(i64::try_from(share).unwrap_or(i64::MAX));
        }
        let from: Currency = o.currency.parse().unwrap_or(currency);
        let unpaid = i64::try_from(unpaid).unwrap_or(i64::MAX);
        match ordercrm_settings::rates::queries::rate_on(txn, from, limit.currency, today).await? {
            Some(rate) => Ok(
                match rate.convert(Money::new(unpaid, from), limit.currency) {
                    Ok(m) => m.amount,
                    Err(_) => {
                        too_large = true;
                        i64::MAX
                    }
                },
            ),
            None => {
                missing.push(format!("{from}→{}", limit.currency));
                Ok(0)
            }
        }
    };
    let this = owed(row).await?;
    let mut open_amount: i64 = 0;
    for o in &open {
        open_amount = open_amount.saturating_add(owed(o).await?);
    }
    let exposure = this.saturating_add(open_amount);
    if !missing.is_empty() {
        missing.sort();
        missing.dedup();
        return Ok(Some(verdict(
            "credit",
            VerdictKind::Hold,
            "exchange_rate_missing",
            format!(
                "no rate published for {}: finance publishes one, then release the order",
                missing.join(", ")
            ),
            json!({"missing": missing}),
        )));
    }
    // Totals only: the other orders may be ones this caller does not see.
    let inputs = json!({
        "credit_limit": limit,
        "this_order": Money::new(this, limit.currency),
        "open_orders": open.len(),
        "open_amount": Money::new(open_amount, limit.currency),
        "exposure": Money::new(exposure, limit.currency),
        "too_large_to_count": too_large,
    });
    Ok(Some(if exposure > limit.amount {
        verdict(
            "credit",
            VerdictKind::Hold,
            "credit_limit_exceeded",
            format!(
                "exposure {} is over the credit limit {limit}",
                Money::new(exposure, limit.currency)
            ),
            inputs,
        )
    } else {
        verdict(
            "credit",
            VerdictKind::Pass,
            "ok",
            "within the credit limit".into(),
            inputs,
        )
    }))
}
