//! Requesting, deciding, receiving and closing returns.

use std::collections::BTreeMap;

use ordercrm_inventory::queries::for_orders;
use ordercrm_kernel::audit::{self, Entry};
use ordercrm_kernel::authz::Action;
use ordercrm_kernel::id::new_id;
use ordercrm_kernel::input::Text;
use ordercrm_kernel::{Ctx, Error, FieldError, Result, numbers};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, DatabaseTransaction, EntityTrait, QueryFilter, UpdateMany};
use serde_json::json;
use uuid::Uuid;

use super::dto::{
    CloseReturn, CreateReturn, ReceiveReturn, ReturnData, ReturnDecision, ReturnView,
};
use super::error::{OverLine, ReturnError};
use super::events;
use super::model::{
    Disposition, MAX_RETURN_LINES, Resolution, ReturnAction, ReturnStatus, credit, starts_from,
};
use super::queries;
use crate::entity::{order, order_line, return_line, return_receipt, return_row};

pub const NUMBERS: numbers::Kind = numbers::Kind::sequence("return");
const DEFAULT_PREFIX: &str = "RMA-";

fn lines_length(count: usize, errors: &mut Vec<FieldError>) {
    if !(1..=MAX_RETURN_LINES).contains(&count) {
        errors.push(FieldError::new(
            "lines",
            "length",
            format!("must have 1 to {MAX_RETURN_LINES} lines"),
        ));
    }
}

/// Take return `id` for `action`: visible to the caller, in a state the action
/// starts from, at `if_match` when given; `set` says what changes. Its version
/// bumps. Returns the row as changed and its order.
async fn claim_return(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    action: ReturnAction,
    if_match: Option<i64>,
    set: impl FnOnce(UpdateMany<return_row::Entity>) -> UpdateMany<return_row::Entity>,
) -> Result<(return_row::Model, order::Model)> {
    ctx.actor.require(action.needs())?;
    let (_, order) = queries::find(txn, &ctx.actor, id).await?;
    let update = return_row::Entity::update_many()
        .col_expr(return_row::Column::UpdatedAt, Expr::value(ctx.now))
        .filter(return_row::COLUMN.id.eq(id))
        .filter(
            return_row::COLUMN
                .status
                .is_in(starts_from(action).iter().map(|s| s.as_str())),
        );
    let claimed = ordercrm_kernel::version::claim(
        txn,
        set(update),
        return_row::Entity::find_by_id(id),
        return_row::Column::Version,
        if_match,
        |found| match found {
            None => ReturnError::NotFound(id.to_string()).into(),
            Some(r) => ReturnError::InvalidTransition {
                status: ReturnStatus::parse(&r.status).unwrap_or(ReturnStatus::Requested),
                action,
            }
            .into(),
        },
    )
    .await?;
    Ok((claimed, order))
}

/// Give back the units a return claimed and will not bring: each line's claim
/// falls by what it asked for minus what arrived.
async fn release_claims(txn: &DatabaseTransaction, lines: &[return_line::Model]) -> Result<()> {
    let mut lines: Vec<&return_line::Model> = lines.iter().collect();
    lines.sort_by_key(|l| l.order_line_no);
    for l in lines {
        let unreceived = l.quantity - l.received_quantity;
        if unreceived > 0 {
            order_line::Entity::update_many()
                .col_expr(
                    order_line::Column::ReturnClaimedQuantity,
                    Expr::col(order_line::Column::ReturnClaimedQuantity).sub(unreceived),
                )
                .filter(order_line::COLUMN.id.eq(l.order_line_id))
                .exec(txn)
                .await?;
        }
    }
    Ok(())
}

async fn announce(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    event: &ordercrm_kernel::events::EventType<ReturnData>,
    row: &return_row::Model,
    order: &order::Model,
    audit_action: &str,
    changes: serde_json::Value,
) -> Result<ReturnView> {
    let lines = queries::lines_of(txn, row.id).await?;
    let data = queries::data(row, &lines, order);
    events::record(txn, ctx, event, &data).await?;
    audit::record(
        txn,
        ctx,
        Entry::new(audit_action, "return", row.id).changes(changes),
    )
    .await?;
    Ok(queries::view(&ctx.actor, data))
}

/// Ask to send delivered goods back. Each line's units are claimed by one
/// conditional statement (claimed + asked ≤ delivered), so concurrent requests
/// together never claim more than was delivered.
#[tracing::instrument(skip(txn, ctx, input))]
pub async fn request(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    order_id: Uuid,
    input: CreateReturn,
) -> Result<ReturnView> {
    ctx.actor.require(Action::ReturnsWrite)?;
    let mut errors = Vec::new();
    lines_length(input.lines.len(), &mut errors);
    let reason = input.reason.check(&mut errors, "reason");
    let resolution = input.resolution.check(&mut errors, "resolution");
    let lines: Vec<(i32, i64)> = input
        .lines
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
        .collect();
    let asked = crate::fulfillment::commands::sum_per_line(&lines, &mut errors);
    let exchange: Vec<(usize, i32, String)> = input
        .exchange
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, e)| {
            (
                i,
                e.line_no
                    .check_i32(&mut errors, &format!("exchange[{i}].line_no")),
                e.sku.check(&mut errors, &format!("exchange[{i}].sku")),
            )
        })
        .collect();
    if input
        .exchange
        .as_ref()
        .is_some_and(|e| e.len() > MAX_RETURN_LINES)
    {
        errors.push(FieldError::new(
            "exchange",
            "length",
            format!("at most {MAX_RETURN_LINES} lines"),
        ));
    }
    if input.exchange.is_some() && resolution.is_some_and(|r| r != Resolution::Exchange) {
        errors.push(FieldError::new(
            "exchange",
            "unexpected",
            "only with the resolution exchange",
        ));
    }
    for (i, line_no, _) in &exchange {
        if !asked.contains_key(line_no) {
            errors.push(FieldError::new(
                format!("exchange[{i}].line_no"),
                "not_returned",
                format!("line {line_no} is not one this return sends back"),
            ));
        }
        if exchange.iter().filter(|(_, n, _)| n == line_no).count() > 1 {
            errors.push(FieldError::new(
                format!("exchange[{i}].line_no"),
                "duplicate",
                format!("line {line_no} is named twice"),
            ));
        }
    }
    let (Some(resolution), true) = (resolution, errors.is_empty()) else {
        return Err(Error::validation(errors));
    };
    if ctx.actor.carriers().is_some() {
        return Err(crate::error::OrderError::NotFound(order_id.to_string()).into());
    }
    let order = crate::fulfillment::queries::find_order(txn, &ctx.actor, order_id).await?;
    let lines = crate::queries::lines_of(txn, order_id).await?;
    let mut claiming: Vec<(order_line::Model, i64)> = Vec::new();
    let mut over = Vec::new();
    for (line_no, (quantity, field)) in &asked {
        match lines.iter().find(|l| l.line_no == *line_no) {
            None => errors.push(FieldError::new(
                format!("{field}.line_no"),
                "unknown_line",
                format!("the order has no line {line_no}"),
            )),
            Some(l) => {
                let returnable = l.delivered_quantity - l.return_claimed_quantity;
                if *quantity > returnable {
                    over.push(OverLine {
                        line_no: *line_no,
                        requested: *quantity,
                        available: std::cmp::max(returnable, 0),
                    });
                }
                claiming.push((l.clone(), *quantity));
            }
        }
    }
    // An exchange's replacements: (product, unit price) per order line.
    let mut replacements: BTreeMap<i32, (Option<Uuid>, i64)> = BTreeMap::new();
    if resolution == Resolution::Exchange {
        let skus: Vec<&str> = exchange.iter().map(|(_, _, s)| s.as_str()).collect();
        let (products, by_sku) = for_orders::products(txn, &[], &skus).await?;
        let currency = crate::queries::currency(&order.currency);
        for (i, line_no, sku) in &exchange {
            let field = format!("exchange[{i}].sku");
            let Some(p) = by_sku
                .get(&for_orders::normalize_sku(sku))
                .and_then(|id| products.get(id))
            else {
                errors.push(FieldError::new(
                    field,
                    "unknown_product",
                    format!("no product with SKU '{sku}'"),
                ));
                continue;
            };
            let same = lines
                .iter()
                .any(|l| l.line_no == *line_no && l.product_id == p.id);
            if same {
                continue;
            }
            if !p.active {
                errors.push(FieldError::state(
                    field,
                    "inactive",
                    format!("'{}' is inactive", p.sku),
                ));
                continue;
            }
            match p.list_price.filter(|m| m.currency == currency) {
                Some(price) => {
                    replacements.insert(*line_no, (Some(p.id), price.amount));
                }
                None => errors.push(FieldError::state(
                    field,
                    "no_list_price",
                    format!("'{}' has no list price in {currency}", p.sku),
                )),
            }
        }
    }
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    if !over.is_empty() {
        return Err(ReturnError::OverReturn(over).into());
    }
    for (l, q) in &claiming {
        let claimed = Expr::col(order_line::Column::ReturnClaimedQuantity);
        let done = order_line::Entity::update_many()
            .col_expr(
                order_line::Column::ReturnClaimedQuantity,
                claimed.clone().add(*q),
            )
            .filter(order_line::COLUMN.id.eq(l.id))
            .filter(
                claimed
                    .add(*q)
                    .lte(Expr::col(order_line::Column::DeliveredQuantity)),
            )
            .exec(txn)
            .await?;
        if done.rows_affected != 1 {
            // Another return claimed these units since they were read.
            let now = order_line::Entity::find_by_id(l.id).one(txn).await?;
            let available = now.map_or(0, |n| {
                std::cmp::max(n.delivered_quantity - n.return_claimed_quantity, 0)
            });
            return Err(ReturnError::OverReturn(vec![OverLine {
                line_no: l.line_no,
                requested: *q,
                available,
            }])
            .into());
        }
    }

    let prefix =
        ordercrm_settings::queries::number_prefix(txn, "return_number_prefix", DEFAULT_PREFIX)
            .await?;
    let number = numbers::format(&prefix, numbers::next(txn, NUMBERS).await?);
    let id = new_id();
    let row = return_row::ActiveModel {
        id: Set(id),
        number: Set(number),
        order_id: Set(order_id),
        status: Set(ReturnStatus::Requested.as_str().to_owned()),
        resolution: Set(resolution.as_str().to_owned()),
        reason: Set(reason),
        decision_note: Set(None),
        currency: Set(order.currency.clone()),
        refund_due_amount: Set(0),
        shipping_refund_amount: Set(0),
        replacement_order_id: Set(None),
        requested_by: Set(ctx.actor.principal()),
        decided_by: Set(None),
        decided_at: Set(None),
        received_at: Set(None),
        closed_at: Set(None),
        version: Set(1),
        created_at: Set(ctx.now),
        updated_at: Set(ctx.now),
    }
    .insert(txn)
    .await?;
    let line_rows: Vec<return_line::Model> = claiming
        .iter()
        .zip(1..)
        .map(|((l, q), line_no)| return_line::Model {
            id: new_id(),
            return_id: id,
            line_no,
            order_line_id: l.id,
            order_line_no: l.line_no,
            product_id: l.product_id,
            sku: l.sku.clone(),
            name: l.name.clone(),
            quantity: *q,
            received_quantity: 0,
            restocked_quantity: 0,
            scrapped_quantity: 0,
            refund_amount: 0,
            replacement_product_id: replacements.get(&l.line_no).and_then(|r| r.0),
            replacement_unit_price: (resolution == Resolution::Exchange)
                .then(|| replacements.get(&l.line_no).map_or(0, |r| r.1)),
            sent_back_quantity: 0,
        })
        .collect();
    return_line::Entity::insert_many(
        line_rows
            .iter()
            .map(|l| return_line::ActiveModel::from(l.clone())),
    )
    .exec_without_returning(txn)
    .await?;
    announce(
        txn,
        ctx,
        &events::REQUESTED,
        &row,
        &order,
        "return.request",
        json!({"number": row.number, "order_id": order_id, "resolution": resolution,
            "lines": claiming.iter().map(|(l, q)| json!({"line_no": l.line_no, "quantity": q}))
                .collect::<Vec<_>>()}),
    )
    .await
}

/// A manager's decision: the note checked, the return taken for `action` and
/// moved to `to`. Approving and rejecting record who decided, when and why;
/// closing records when.
async fn decide(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    (id, if_match): (Uuid, Option<i64>),
    action: ReturnAction,
    to: ReturnStatus,
    input: ReturnDecision,
) -> Result<(return_row::Model, order::Model, Option<String>)> {
    ctx.actor.require(Action::ReturnsApprove)?;
    let mut errors = Vec::new();
    let note = Text::check(input.note, &mut errors, "note");
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    let (row, order) = claim_return(txn, ctx, id, action, if_match, |u| {
        let u = u.col_expr(return_row::Column::Status, Expr::value(to.as_str()));
        if to == ReturnStatus::Closed {
            return u.col_expr(return_row::Column::ClosedAt, Expr::value(ctx.now));
        }
        u.col_expr(return_row::Column::DecisionNote, Expr::value(note.clone()))
            .col_expr(
                return_row::Column::DecidedBy,
                Expr::value(ctx.actor.principal()),
            )
            .col_expr(return_row::Column::DecidedAt, Expr::value(ctx.now))
    })
    .await?;
    Ok((row, order, note))
}

/// Approve a requested return: the warehouse expects the goods.
#[tracing::instrument(skip(txn, ctx, input))]
pub async fn approve(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    if_match: Option<i64>,
    input: ReturnDecision,
) -> Result<ReturnView> {
    let to = ReturnStatus::Approved;
    let (row, order, note) =
        decide(txn, ctx, (id, if_match), ReturnAction::Approve, to, input).await?;
    announce(
        txn,
        ctx,
        &events::APPROVED,
        &row,
        &order,
        "return.approve",
        json!({"status": to, "note": note}),
    )
    .await
}

/// Reject a return before anything arrived: its units may be returned again.
#[tracing::instrument(skip(txn, ctx, input))]
pub async fn reject(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    if_match: Option<i64>,
    input: ReturnDecision,
) -> Result<ReturnView> {
    let to = ReturnStatus::Rejected;
    let (row, order, note) =
        decide(txn, ctx, (id, if_match), ReturnAction::Reject, to, input).await?;
    release_claims(txn, &queries::lines_of(txn, id).await?).await?;
    announce(
        txn,
        ctx,
        &events::REJECTED,
        &row,
        &order,
        "return.reject",
        json!({"status": to, "note": note}),
    )
    .await
}

/// Close a received return: its refund due is final; units asked for that never
/// arrived may be returned again.
#[tracing::instrument(skip(txn, ctx, input))]
pub async fn close(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    cipher: &ordercrm_kernel::crypto::FieldCipher,
    id: Uuid,
    if_match: Option<i64>,
    input: CloseReturn,
) -> Result<ReturnView> {
    let replace = input.replace;
    let (row, order, note) = decide(
        txn,
        ctx,
        (id, if_match),
        ReturnAction::Close,
        ReturnStatus::Closed,
        ReturnDecision { note: input.note },
    )
    .await?;
    let lines = queries::lines_of(txn, id).await?;
    if row.resolution == Resolution::Repair.as_str() {
        let waiting: i64 = lines
            .iter()
            .map(|l| l.received_quantity - l.sent_back_quantity)
            .sum();
        if waiting > 0 {
            return Err(Error::new(
                ordercrm_kernel::error::problems::CONFLICT,
                format!(
                    "{waiting} unit(s) received for repair have not been shipped back: \
                     POST /v1/returns/{id}/shipments first"
                ),
            ));
        }
        // The goods are the customer's again: they may be returned again.
        let all: Vec<return_line::Model> = lines
            .iter()
            .map(|l| return_line::Model {
                received_quantity: 0,
                ..l.clone()
            })
            .collect();
        release_claims(txn, &all).await?;
    } else {
        release_claims(txn, &lines).await?;
    }
    let mut row = row;
    let exchange = row.resolution == Resolution::Exchange.as_str();
    if replace.is_some() && !exchange {
        return Err(Error::invalid_field(
            "replace",
            "unexpected",
            format!("only when closing an exchange, not a {}", row.resolution),
        ));
    }
    if exchange && replace != Some(false) && lines.iter().any(|l| l.received_quantity > 0) {
        let replacement = replace_goods(txn, ctx, cipher, &row, &order, &lines)
            .await
            .map_err(|e| {
                if e.status() >= 500 {
                    return e;
                }
                Error::new(
                    ordercrm_kernel::error::problems::CONFLICT,
                    format!(
                        "the replacement order could not be taken ({}): fix that and close \
                         again, or close with \"replace\": false",
                        e.detail
                    ),
                )
                .with_extension("replacement_errors", json!(e.errors))
            })?;
        row = return_row::Entity::update_many()
            .col_expr(
                return_row::Column::ReplacementOrderId,
                Expr::value(replacement),
            )
            .filter(return_row::COLUMN.id.eq(id))
            .exec_with_returning(txn)
            .await?
            .pop()
            .ok_or_else(out_of_step)?;
    }
    announce(
        txn,
        ctx,
        &events::CLOSED,
        &row,
        &order,
        "return.close",
        json!({"status": ReturnStatus::Closed, "refund_due": row.refund_due_amount,
            "note": note}),
    )
    .await
}

/// An exchange's replacement for the units received: an order through intake and
/// review like any other (its stock reserved, or held when short), marked as the
/// return's so the price rule leaves it alone. The same product costs nothing;
/// another costs its list price less what the returned units were paid.
async fn replace_goods(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    cipher: &ordercrm_kernel::crypto::FieldCipher,
    row: &return_row::Model,
    order: &order::Model,
    lines: &[return_line::Model],
) -> Result<Uuid> {
    let order_lines = crate::queries::lines_of(txn, order.id).await?;
    let money = |amount: i64| json!({"amount": amount, "currency": order.currency});
    let mut wanted = Vec::new();
    for l in lines.iter().filter(|l| l.received_quantity > 0) {
        let units = l.received_quantity;
        let price = l.replacement_unit_price.unwrap_or(0);
        let discount = match (
            l.replacement_product_id,
            order_lines.iter().find(|o| o.id == l.order_line_id),
        ) {
            (Some(_), Some(o)) => {
                let paid = super::model::value_in_price_terms(
                    o.total_amount,
                    o.tax_amount,
                    order.prices_include_tax,
                    o.quantity,
                    units,
                );
                let gross = i128::from(price) * i128::from(units);
                i64::try_from(std::cmp::min(gross, i128::from(paid))).unwrap_or(0)
            }
            _ => 0,
        };
        wanted.push(json!({
            "product_id": l.replacement_product_id.unwrap_or(l.product_id),
            "quantity": units,
            "unit_price": money(price),
            "discount": money(discount),
        }));
    }
    let mut body = json!({
        "customer_id": order.customer_id,
        "channel": order.channel,
        "currency": order.currency,
        "lines": wanted,
        "shipping_address": order.shipping_address,
        "billing_address": order.billing_address,
        "payment_terms": order.payment_terms,
        "payment_terms_days": order.payment_terms_days,
        "notes": format!("Replacement for {} (order {})", row.number, order.number),
        "tags": ["exchange"],
        "submit": true,
    });
    if let (false, Some(fields)) = (order.channel_name.is_empty(), body.as_object_mut()) {
        fields.insert("channel_name".into(), json!(order.channel_name));
    }
    let input: crate::dto::CreateOrder = serde_json::from_value(body).map_err(|e| {
        Error::new(
            ordercrm_kernel::error::problems::INTERNAL,
            format!("the replacement order could not be written: {e}"),
        )
    })?;
    match crate::commands::create::create_as(txn, ctx, cipher, input, Some(row.id)).await? {
        crate::commands::create::Intake::Created(v)
        | crate::commands::create::Intake::Existing(v) => Ok(v.order.id),
    }
}

/// Ship a repair's goods back to the customer: a shipment of the order marked with
/// the return, for units received and not yet sent back. It moves no stock and
/// counts towards none of the order's quantities; carriers track it and the
/// customer signs for it like any shipment.
#[tracing::instrument(skip(txn, ctx, input))]
pub async fn ship_back(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    input: crate::fulfillment::dto::CreateShipment,
) -> Result<crate::fulfillment::dto::ShipmentView> {
    use crate::entity::{shipment, shipment_line};
    use crate::fulfillment::error::{FulfillmentError, OverLine as OverShipped};
    ctx.actor.require(Action::FulfillmentWrite)?;
    let checked = crate::fulfillment::commands::check_shipment(ctx, input)?;
    let (_, order) = queries::find(txn, &ctx.actor, id).await?;
    let held = hold_open_repair(txn, id).await?;
    // Read after taking the row: a close that won the race is what the answer says.
    let row = return_row::Entity::find_by_id(id)
        .one(txn)
        .await?
        .ok_or_else(|| Error::from(ReturnError::NotFound(id.to_string())))?;
    let status = ReturnStatus::parse(&row.status).unwrap_or(ReturnStatus::Requested);
    if row.resolution != Resolution::Repair.as_str() || !held {
        return Err(Error::new(
            ordercrm_kernel::error::problems::CONFLICT,
            format!(
                "the return is a {} and {status}: only a received repair ships goods back",
                row.resolution
            ),
        )
        .with_extension("current_status", json!(status)));
    }
    // A parcel of its own: a carrier's later report about another parcel's number
    // must not land on the repair's, nor the other way round.
    if crate::fulfillment::commands::number_in_use(txn, &checked, false).await? {
        return Err(Error::validation(vec![FieldError::state(
            "tracking_number",
            "in_use",
            format!(
                "{} {} is another shipment's number: the repaired goods go in a parcel of their own",
                checked.carrier, checked.tracking_number
            ),
        )]));
    }
    let lines = queries::lines_of(txn, id).await?;
    let order_lines = crate::queries::lines_of(txn, order.id).await?;
    let mut errors = Vec::new();
    let mut over = Vec::new();
    let mut sending = Vec::new();
    for (line_no, (quantity, field)) in &checked.asked {
        match lines.iter().find(|l| l.order_line_no == *line_no) {
            None => errors.push(FieldError::new(
                format!("{field}.line_no"),
                "unknown_line",
                format!("the return has no goods of order line {line_no}"),
            )),
            Some(l) => {
                let left = l.received_quantity - l.sent_back_quantity;
                if *quantity > left {
                    over.push(OverShipped {
                        line_no: *line_no,
                        requested: *quantity,
                        unshipped: left,
                    });
                }
                sending.push((l.clone(), *quantity));
            }
        }
    }
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    if !over.is_empty() {
        return Err(FulfillmentError::OverShipment(over).into());
    }
    // One conditional statement per line: two requests never send one unit twice.
    for (l, q) in &sending {
        let sent = Expr::col(return_line::Column::SentBackQuantity);
        let done = return_line::Entity::update_many()
            .col_expr(return_line::Column::SentBackQuantity, sent.clone().add(*q))
            .filter(return_line::COLUMN.id.eq(l.id))
            .filter(
                sent.add(*q)
                    .lte(Expr::col(return_line::Column::ReceivedQuantity)),
            )
            .exec(txn)
            .await?;
        if done.rows_affected != 1 {
            return Err(FulfillmentError::OverShipment(Vec::new()).into());
        }
    }
    let shipment_id = new_id();
    let shipped = shipment::ActiveModel {
        id: Set(shipment_id),
        order_id: Set(order.id),
        carrier: Set(checked.carrier),
        tracking_number: Set(checked.tracking_number),
        status: Set(crate::fulfillment::model::ShipmentStatus::Pending
            .as_str()
            .to_owned()),
        package: Set(checked.package.map(|p| json!(p))),
        cancel_reason: Set(None),
        cancelled_at: Set(None),
        delivered_at: Set(None),
        signed_by: Set(None),
        proof: Set(None),
        created_by: Set(ctx.actor.principal()),
        return_id: Set(Some(id)),
        version: Set(1),
        created_at: Set(ctx.now),
        updated_at: Set(ctx.now),
    }
    .insert(txn)
    .await?;
    let line_rows: Vec<shipment_line::Model> = sending
        .iter()
        .zip(1..)
        .map(|((l, q), line_no)| {
            let order_line = order_lines.iter().find(|o| o.id == l.order_line_id);
            shipment_line::Model {
                id: new_id(),
                shipment_id,
                line_no,
                order_line_id: l.order_line_id,
                order_line_no: l.order_line_no,
                product_id: l.product_id,
                sku: l.sku.clone(),
                name: l.name.clone(),
                warehouse_id: order_line.and_then(|o| o.warehouse_id).unwrap_or_default(),
                warehouse_code: order_line
                    .and_then(|o| o.warehouse_code.clone())
                    .unwrap_or_default(),
                quantity: *q,
            }
        })
        .collect();
    shipment_line::Entity::insert_many(
        line_rows
            .iter()
            .map(|l| shipment_line::ActiveModel::from(l.clone())),
    )
    .exec_without_returning(txn)
    .await?;
    let view = crate::fulfillment::queries::shipment_view(&shipped, &line_rows, &order.number);
    crate::fulfillment::events::shipment(
        txn,
        ctx,
        &crate::fulfillment::events::SHIPMENT_CREATED,
        &view,
        order.customer_id,
    )
    .await?;
    audit::record(
        txn,
        ctx,
        Entry::new("shipment.create", "shipment", shipment_id).changes(json!({
            "order_id": order.id, "return_id": id, "carrier": view.carrier,
            "tracking_number": view.tracking_number, "lines": view.lines,
        })),
    )
    .await?;
    Ok(view)
}

/// Take a repair's row while it is `received` (nothing changes on it): closing it
/// waits for a shipment back or its cancellation, and they for the close, which
/// then sees what they did. `false`: it is not received (closed, say).
async fn hold_open_repair(txn: &DatabaseTransaction, id: Uuid) -> Result<bool> {
    let held = return_row::Entity::update_many()
        .col_expr(
            return_row::Column::UpdatedAt,
            Expr::col(return_row::Column::UpdatedAt),
        )
        .filter(return_row::COLUMN.id.eq(id))
        .filter(
            return_row::COLUMN
                .status
                .eq(ReturnStatus::Received.as_str()),
        )
        .exec(txn)
        .await?;
    Ok(held.rows_affected == 1)
}

/// A repair's shipment cancelled before pickup: its units wait to be sent again,
/// as long as the repair is open (once closed, its goods are on their way).
pub(crate) async fn cancel_sent_back(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    claimed: &crate::entity::shipment::Model,
    return_id: Uuid,
    reason: Option<String>,
) -> Result<crate::fulfillment::dto::ShipmentView> {
    if !hold_open_repair(txn, return_id).await? {
        return Err(Error::new(
            ordercrm_kernel::error::problems::CONFLICT,
            "the repair this parcel carries is closed: its goods are on their way back",
        ));
    }
    let line_rows = crate::fulfillment::queries::lines_of_shipment(txn, claimed.id).await?;
    for s in &line_rows {
        return_line::Entity::update_many()
            .col_expr(
                return_line::Column::SentBackQuantity,
                Expr::col(return_line::Column::SentBackQuantity).sub(s.quantity),
            )
            .filter(return_line::COLUMN.return_id.eq(return_id))
            .filter(return_line::COLUMN.order_line_id.eq(s.order_line_id))
            .exec(txn)
            .await?;
    }
    let order = crate::queries::order_row(txn, claimed.order_id).await?;
    let view = crate::fulfillment::queries::shipment_view(claimed, &line_rows, &order.number);
    crate::fulfillment::events::shipment(
        txn,
        ctx,
        &crate::fulfillment::events::SHIPMENT_CANCELLED,
        &view,
        order.customer_id,
    )
    .await?;
    audit::record(
        txn,
        ctx,
        Entry::new("shipment.cancel", "shipment", claimed.id)
            .changes(json!({"status": view.status, "reason": reason, "return_id": return_id})),
    )
    .await?;
    Ok(view)
}

/// One checked receipt line.
struct Arrival {
    line: return_line::Model,
    quantity: i64,
    disposition: Disposition,
    warehouse: for_orders::WarehouseFacts,
}

/// Record goods that arrived: each unit restocked or scrapped at a warehouse, the
/// return line and the order line counting it, and for a refund what it is
/// credited. The order's `fulfillment_status` follows (`partially_returned`,
/// `returned`).
#[tracing::instrument(skip(txn, ctx, input))]
pub async fn receive(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    if_match: Option<i64>,
    input: ReceiveReturn,
) -> Result<ReturnView> {
    ctx.actor.require(Action::ReturnsReceive)?;
    let mut errors = Vec::new();
    lines_length(input.lines.len(), &mut errors);
    let note = Text::check(input.note, &mut errors, "note");
    let mut checked = Vec::with_capacity(input.lines.len());
    for (i, l) in input.lines.iter().enumerate() {
        let f = |name: &str| format!("lines[{i}].{name}");
        checked.push((
            l.line_no.check_i32(&mut errors, &f("line_no")),
            l.quantity.check(&mut errors, &f("quantity")),
            l.disposition.check(&mut errors, &f("disposition")),
            l.warehouse_code
                .as_ref()
                .map(|c| c.check(&mut errors, &f("warehouse_code"))),
        ));
    }
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    // The return's row, then the order's (its version bumps: its lines count what
    // came back), as fulfillment takes them.
    let (row, _) = claim_return(txn, ctx, id, ReturnAction::Receive, if_match, |u| {
        u.col_expr(
            return_row::Column::Status,
            Expr::value(ReturnStatus::Received.as_str()),
        )
    })
    .await?;
    let claimed_order =
        crate::fulfillment::commands::claim_order(txn, ctx, row.order_id, None).await?;
    let lines = queries::lines_of(txn, id).await?;
    let order_lines = crate::queries::lines_of(txn, row.order_id).await?;
    let warehouses = for_orders::warehouses(txn).await?;
    let mut arrivals: Vec<Arrival> = Vec::new();
    let mut asked: BTreeMap<i32, i64> = BTreeMap::new();
    for (i, (line_no, quantity, disposition, code)) in checked.into_iter().enumerate() {
        let f = |name: &str| format!("lines[{i}].{name}");
        let Some(line) = lines.iter().find(|l| l.line_no == line_no) else {
            errors.push(FieldError::new(
                f("line_no"),
                "unknown_line",
                format!("the return has no line {line_no}"),
            ));
            continue;
        };
        let warehouse = match &code {
            Some(code) => match warehouses.get(&for_orders::normalize_code(code)) {
                None => {
                    errors.push(FieldError::new(
                        f("warehouse_code"),
                        "unknown_warehouse",
                        format!("no warehouse with code '{code}'"),
                    ));
                    None
                }
                Some(w) => Some(w.clone()),
            },
            None => order_lines
                .iter()
                .find(|o| o.id == line.order_line_id)
                .and_then(|o| o.warehouse_id)
                .and_then(|w| warehouses.values().find(|f| f.id == w).cloned()),
        };
        let Some(warehouse) = warehouse else {
            if code.is_none() {
                errors.push(FieldError::new(
                    f("warehouse_code"),
                    "required",
                    "the order line ships from no warehouse: name one",
                ));
            }
            continue;
        };
        if !warehouse.active {
            errors.push(FieldError::state(
                f("warehouse_code"),
                "inactive",
                format!("warehouse '{}' is inactive: name another", warehouse.code),
            ));
            continue;
        }
        let sum = asked.entry(line_no).or_default();
        match sum.checked_add(quantity) {
            Some(s) => *sum = s,
            None => errors.push(FieldError::new(
                f("quantity"),
                "range",
                "the lines naming this return line add up to more than can be counted",
            )),
        }
        let repair = row.resolution == Resolution::Repair.as_str();
        match disposition {
            Some(Disposition::Repair) if !repair => errors.push(FieldError::new(
                f("disposition"),
                "not_a_repair",
                "only a repair's goods are held for repair: restock or scrap",
            )),
            Some(Disposition::Restock | Disposition::Scrap) if repair => {
                errors.push(FieldError::new(
                    f("disposition"),
                    "repair_only",
                    "a repair's goods are received for repair (and shipped back)",
                ));
            }
            _ => {}
        }
        if let Some(disposition) = disposition {
            arrivals.push(Arrival {
                line: line.clone(),
                quantity,
                disposition,
                warehouse,
            });
        }
    }
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    let over: Vec<OverLine> = asked
        .iter()
        .filter_map(|(line_no, q)| {
            let l = lines.iter().find(|l| l.line_no == *line_no)?;
            let expected = l.quantity - l.received_quantity;
            (*q > expected).then_some(OverLine {
                line_no: *line_no,
                requested: *q,
                available: expected,
            })
        })
        .collect();
    if !over.is_empty() {
        return Err(ReturnError::OverReceipt(over).into());
    }

    let refund = row.resolution == Resolution::Refund.as_str();
    let mut credits: BTreeMap<Uuid, (i64, i64)> = order_lines
        .iter()
        .map(|l| (l.id, (l.credited_quantity, l.credited_amount)))
        .collect();
    let all_credited = |credits: &BTreeMap<Uuid, (i64, i64)>| {
        order_lines
            .iter()
            .filter(|l| l.warehouse_id.is_some())
            .all(|l| credits.get(&l.id).is_some_and(|c| c.0 >= l.quantity))
    };
    let credited_before = all_credited(&credits);
    // The counts first, order lines in line order (as requests claim them), so a
    // receipt and a request never wait on each other's lines; then the stock, levels
    // in key order, so two receipts never wait on each other's levels.
    arrivals.sort_by_key(|a| (a.line.order_line_no, a.line.line_no));
    let mut refunded: i64 = 0;
    let mut amounts = Vec::with_capacity(arrivals.len());
    for a in &arrivals {
        let order_line = order_lines
            .iter()
            .find(|o| o.id == a.line.order_line_id)
            .ok_or_else(out_of_step)?;
        let amount = if refund {
            let c = credits.entry(order_line.id).or_default();
            let amount = credit(
                order_line.total_amount,
                order_line.quantity,
                c.0,
                c.1,
                a.quantity,
            )
            .ok_or_else(out_of_step)?;
            c.0 += a.quantity;
            c.1 += amount;
            amount
        } else {
            0
        };
        refunded = refunded.checked_add(amount).ok_or_else(out_of_step)?;
        amounts.push(amount);
        let (credited_units, credited_amount) = if refund { (a.quantity, amount) } else { (0, 0) };
        // A repair's goods stay the customer's: the order line does not count them.
        let returned_units = if a.disposition == Disposition::Repair {
            0
        } else {
            a.quantity
        };
        let returned = Expr::col(order_line::Column::ReturnedQuantity);
        let counted = order_line::Entity::update_many()
            .col_expr(
                order_line::Column::ReturnedQuantity,
                returned.clone().add(returned_units),
            )
            .col_expr(
                order_line::Column::CreditedQuantity,
                Expr::col(order_line::Column::CreditedQuantity).add(credited_units),
            )
            .col_expr(
                order_line::Column::CreditedAmount,
                Expr::col(order_line::Column::CreditedAmount).add(credited_amount),
            )
            .filter(order_line::COLUMN.id.eq(order_line.id))
            // Back from the customer only what is still delivered to them: a parcel
            // that came back to the sender since no longer counts.
            .filter(
                returned
                    .add(a.quantity)
                    .lte(Expr::col(order_line::Column::DeliveredQuantity)),
            )
            .exec(txn)
            .await?;
        if counted.rows_affected != 1 {
            let available = std::cmp::max(
                order_line.delivered_quantity - order_line.returned_quantity,
                0,
            );
            return Err(Error::new(
                ordercrm_kernel::error::problems::CONFLICT,
                format!(
                    "order line {}: {available} unit(s) delivered and not yet returned remain \
                     with the customer (a parcel returned to the sender no longer counts as \
                     delivered); nothing was recorded",
                    order_line.line_no
                ),
            )
            .with_extension(
                "lines",
                json!([{"line_no": order_line.line_no, "available": available}]),
            ));
        }
        let received = Expr::col(return_line::Column::ReceivedQuantity);
        let (restocked, scrapped) = match a.disposition {
            Disposition::Restock => (a.quantity, 0),
            Disposition::Scrap => (0, a.quantity),
            Disposition::Repair => (0, 0),
        };
        let done = return_line::Entity::update_many()
            .col_expr(
                return_line::Column::ReceivedQuantity,
                received.clone().add(a.quantity),
            )
            .col_expr(
                return_line::Column::RestockedQuantity,
                Expr::col(return_line::Column::RestockedQuantity).add(restocked),
            )
            .col_expr(
                return_line::Column::ScrappedQuantity,
                Expr::col(return_line::Column::ScrappedQuantity).add(scrapped),
            )
            .col_expr(
                return_line::Column::RefundAmount,
                Expr::col(return_line::Column::RefundAmount).add(amount),
            )
            .filter(return_line::COLUMN.id.eq(a.line.id))
            .filter(
                received
                    .add(a.quantity)
                    .lte(Expr::col(return_line::Column::Quantity)),
            )
            .exec(txn)
            .await?;
        if done.rows_affected != 1 {
            return Err(out_of_step());
        }
    }
    let mut stock: Vec<(&Arrival, i64)> = arrivals.iter().zip(amounts).collect();
    stock.sort_by_key(|(a, _)| (a.line.product_id, a.warehouse.id, a.line.line_no));
    let mut receipts = Vec::with_capacity(stock.len());
    for (a, amount) in stock {
        if a.disposition != Disposition::Repair {
            ordercrm_inventory::commands::shipping::receive_return(
                txn,
                ctx,
                (a.line.product_id, a.warehouse.id),
                a.quantity,
                a.disposition == Disposition::Restock,
                &row.number,
            )
            .await?;
        }
        let receipt = return_receipt::Model {
            id: new_id(),
            return_id: id,
            return_line_no: a.line.line_no,
            quantity: a.quantity,
            disposition: a.disposition.as_str().to_owned(),
            warehouse_id: Some(a.warehouse.id),
            warehouse_code: Some(a.warehouse.code.clone()),
            refund_amount: amount,
            note: note.clone(),
            received_by: ctx.actor.principal(),
            created_at: ctx.now,
        };
        return_receipt::ActiveModel::from(receipt.clone())
            .insert(txn)
            .await?;
        receipts.push(
            json!({"line_no": receipt.return_line_no, "quantity": receipt.quantity,
            "disposition": receipt.disposition, "warehouse_code": receipt.warehouse_code,
            "refund": amount}),
        );
    }
    // The shipping fee goes back with the order's last units, when the setting says so.
    let shipping = if refund
        && !credited_before
        && all_credited(&credits)
        && claimed_order.shipping_amount > 0
        && ordercrm_settings::queries::value(txn, "refund_shipping_on_full_return")
            .await?
            .and_then(|v| v.as_bool())
            .unwrap_or(false)
    {
        claimed_order.shipping_amount
    } else {
        0
    };
    let due = refunded.checked_add(shipping).ok_or_else(out_of_step)?;
    let row = return_row::Entity::update_many()
        .col_expr(
            return_row::Column::RefundDueAmount,
            Expr::col(return_row::Column::RefundDueAmount).add(due),
        )
        .col_expr(
            return_row::Column::ShippingRefundAmount,
            Expr::col(return_row::Column::ShippingRefundAmount).add(shipping),
        )
        .col_expr(
            return_row::Column::ReceivedAt,
            Expr::value(row.received_at.unwrap_or(ctx.now)),
        )
        .filter(return_row::COLUMN.id.eq(id))
        .exec_with_returning(txn)
        .await?
        .pop()
        .ok_or_else(out_of_step)?;
    crate::fulfillment::commands::settle_order(txn, ctx, claimed_order).await?;
    let order = crate::queries::order_row(txn, row.order_id).await?;
    announce(
        txn,
        ctx,
        &events::RECEIVED,
        &row,
        &order,
        "return.receive",
        json!({"receipts": receipts, "refund": refunded, "shipping_refund": shipping}),
    )
    .await
}

fn out_of_step() -> Error {
    ordercrm_inventory::error::InventoryError::Conflict(
        "the return's counts are out of step with its order; nothing was recorded".into(),
    )
    .into()
}
