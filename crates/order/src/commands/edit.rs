//! Edits of what has not shipped: one change (lines added, removed, re-quantified
//! or re-priced; addresses, the requested day, payment terms, order discount,
//! shipping fee), worked out in memory against the order as it stands, then either
//! shown (`preview`: nothing written, no event) or applied (`apply`, at the
//! caller's `If-Match`): the lines and totals rewritten by the one totals rule, the
//! reservation grown or shrunk by the difference only, the review run again on an
//! approved order (one that now fails a rule goes on hold), the dispatch notes
//! brought in line, the edit kept, and `order.updated` written. An edit that
//! cannot be satisfied changes nothing.

use std::collections::{BTreeMap, HashSet};

use ordercrm_inventory::commands::reservations::{OrderHold, adjust_for_order, hold_for_order};
use ordercrm_inventory::queries::for_orders;
use ordercrm_kernel::audit::{self, Entry};
use ordercrm_kernel::authz::{Action, Actor};
use ordercrm_kernel::id::new_id;
use ordercrm_kernel::input::Text;
use ordercrm_kernel::{Ctx, Currency, Error, FieldError, Money, Result};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::json;
use uuid::Uuid;

use super::create::{Line, amount, check_lines, totals_error};
use super::review;
use crate::dto::{EditApplied, EditPreview, OrderEdit, OrderEditView, OrderView, StockImpact};
use crate::entity::{order, order_edit, order_line, shipment_line};
use crate::error::OrderError;
use crate::fulfillment::dispatch;
use crate::fulfillment::model::fulfillment_of;
use crate::model::{self, LineMoney, OrderAction, OrderStatus, PaymentTerms};
use crate::{events, queries};

/// The edit worked out: the order and its lines as they would be.
struct Planned {
    before: order::Model,
    row: order::Model,
    old_lines: Vec<order_line::Model>,
    lines: Vec<order_line::Model>,
    /// Line ids the edit removes.
    removed: Vec<Uuid>,
    stock: Vec<StockImpact>,
    /// Per product and warehouse, what the reservation gains or lets go of.
    holds: Vec<OrderHold>,
    /// Whether the order holds stock the edit must adjust.
    holds_stock: bool,
    review: Option<review::Reviewed>,
    /// Whether the addresses or the requested day changed (the notes carry them).
    shipping_changed: bool,
    /// Whether the edit changes money an invoice billed.
    touches_invoiced: bool,
}

/// What the edit would do, writing nothing.
#[tracing::instrument(skip(txn, ctx, input))]
pub async fn preview(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    input: OrderEdit,
) -> Result<EditPreview> {
    ctx.actor.require(Action::OrdersWrite)?;
    let current = queries::find_visible(txn, &ctx.actor, id).await?;
    editable(txn, &current).await?;
    let mut current = current;
    // As the edit would number it.
    current.version += 1;
    let planned = plan(txn, ctx, current, &input).await?;
    let applicable = planned.stock.iter().all(|s| s.sufficient);
    let mut row = planned.row.clone();
    if let Some(r) = &planned.review
        && row.status == OrderStatus::Approved.as_str()
        && r.review.outcome != OrderStatus::Approved
    {
        row.status = OrderStatus::OnHold.as_str().to_owned();
        row.version += 1;
    }
    let parts = queries::Parts {
        lines: planned.lines.clone(),
        prepayments: queries::parts_of(txn, id).await?.prepayments,
    };
    let c = currency(&row)?;
    Ok(EditPreview {
        order: queries::view(&ctx.actor, &row, &parts, ctx.now.date_naive()),
        grand_total_before: Money::new(planned.before.grand_total_amount, c),
        grand_total_after: Money::new(row.grand_total_amount, c),
        grand_total_change: Money::new(
            row.grand_total_amount - planned.before.grand_total_amount,
            c,
        ),
        stock: planned.stock,
        applicable,
        review: planned.review.map(|r| r.review),
    })
}

/// Apply the edit at `if_match` (required): all of it, or nothing.
#[tracing::instrument(skip(txn, ctx, input))]
pub async fn apply(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    if_match: Option<i64>,
    input: OrderEdit,
) -> Result<EditApplied> {
    ctx.actor.require(Action::OrdersWrite)?;
    let Some(if_match) = if_match else {
        return Err(Error::new(
            ordercrm_kernel::error::problems::PRECONDITION_REQUIRED,
            "send If-Match with the ETag you previewed or read: an edit applies to the order as you saw it",
        ));
    };
    queries::find_visible(txn, &ctx.actor, id).await?;
    let claimed = claim(txn, ctx, id, if_match).await?;
    editable(txn, &claimed).await?;
    let change = serde_json::to_value(&input).unwrap_or_default();
    let planned = plan(txn, ctx, claimed, &input).await?;
    let short: Vec<&StockImpact> = planned.stock.iter().filter(|s| !s.sufficient).collect();
    if !short.is_empty() {
        return Err(short_of_stock(&short));
    }
    let Planned {
        before,
        mut row,
        old_lines,
        lines,
        removed,
        holds,
        holds_stock,
        review,
        shipping_changed,
        touches_invoiced,
        ..
    } = planned;

    // Stock first: a refusal leaves nothing written.
    if holds_stock && !holds.is_empty() {
        let adjustable = match row.reservation_id {
            Some(r) => ordercrm_inventory::commands::reservations::adjustable(txn, r).await?,
            None => false,
        };
        match row.reservation_id.filter(|_| adjustable) {
            Some(reservation) => {
                if let Err(short) = adjust_for_order(txn, ctx, row.id, reservation, &holds).await? {
                    return Err(ordercrm_inventory::InventoryError::Insufficient(short).into());
                }
            }
            None => {
                let wanted: Vec<OrderHold> =
                    holds.iter().filter(|h| h.quantity > 0).copied().collect();
                match hold_for_order(txn, ctx, row.id, &row.number, &wanted).await? {
                    Ok(reservation) => row.reservation_id = Some(reservation.id),
                    Err(short) => {
                        return Err(ordercrm_inventory::InventoryError::Insufficient(short).into());
                    }
                }
            }
        }
    }

    if touches_invoiced {
        crate::settlement::moved(txn, ctx, id, crate::settlement::Moment::Editing).await?;
    }
    // The lines: removed, rewritten where anything changed, added.
    if !removed.is_empty() {
        order_line::Entity::delete_many()
            .filter(order_line::COLUMN.id.is_in(removed.iter().copied()))
            .exec(txn)
            .await?;
    }
    let old = queries::lines_of(txn, row.id).await?;
    let mut added = Vec::new();
    for line in &lines {
        match old.iter().find(|o| o.id == line.id) {
            Some(was) if was == line => {}
            Some(_) => {
                let mut changed = order_line::ActiveModel::from(line.clone()).reset_all();
                // Returns count on the line without taking the order: an edit
                // never writes those counts back from what it read.
                changed.return_claimed_quantity = sea_orm::ActiveValue::NotSet;
                changed.returned_quantity = sea_orm::ActiveValue::NotSet;
                changed.credited_quantity = sea_orm::ActiveValue::NotSet;
                changed.credited_amount = sea_orm::ActiveValue::NotSet;
                // Nor invoices' (undone above when the edit touches them).
                changed.invoiced_quantity = sea_orm::ActiveValue::NotSet;
                changed.invoiced_amount = sea_orm::ActiveValue::NotSet;
                changed.invoiced_tax_amount = sea_orm::ActiveValue::NotSet;
                changed.update(txn).await?;
            }
            None => added.push(order_line::ActiveModel::from(line.clone())),
        }
    }
    if !added.is_empty() {
        order_line::Entity::insert_many(added)
            .exec_without_returning(txn)
            .await?;
    }

    let held = review.as_ref().is_some_and(|r| {
        row.status == OrderStatus::Approved.as_str() && r.review.outcome != OrderStatus::Approved
    });
    if let Some(r) = &review {
        row.review = Some(json!(r.review));
        if let Some((currency, rate, amount)) = &r.base {
            row.base_currency = Some(currency.code().to_owned());
            row.base_rate = Some(rate.to_string());
            row.grand_total_base_amount = Some(*amount);
        }
    }
    row.updated_at = ctx.now;
    let mut active = row.into_active_model().reset_all();
    // Payments keep these, in their own statements.
    active.paid_amount = sea_orm::ActiveValue::NotSet;
    active.shipping_invoiced = sea_orm::ActiveValue::NotSet;
    let row = active.update(txn).await?;
    let parts = queries::parts_of(txn, row.id).await?;
    let data = queries::data(&row, &parts);
    events::record(txn, ctx, &events::UPDATED, &data).await?;
    let c = currency(&row)?;
    audit::record(
        txn,
        ctx,
        Entry::new("order.edit", "order", row.id).changes(json!({
            "change": change,
            "grand_total": {"from": before.grand_total_amount, "to": row.grand_total_amount},
        })),
    )
    .await?;

    let mut view = queries::view(&ctx.actor, &row, &parts, ctx.now.date_naive());
    if held {
        view = hold_after_edit(txn, ctx, row).await?;
    }
    if view.order.status != OrderStatus::Draft {
        dispatch::follow_edit(
            txn,
            ctx,
            &old_lines,
            &parts.lines,
            &view.order,
            shipping_changed,
        )
        .await?;
    }
    if view.order.status != OrderStatus::Draft {
        crate::settlement::moved(txn, ctx, id, crate::settlement::Moment::Edited).await?;
    }
    // Delivered in full by taking away what had not shipped, and paid: done.
    if view.order.status == OrderStatus::Approved
        && crate::fulfillment::model::delivered_in_full(&parts.lines)
    {
        let row = queries::order_row(txn, id).await?;
        if crate::completion::complete_if_done(txn, ctx, &row, &parts.lines).await? {
            view = queries::get(txn, &ctx.actor, id, ctx.now.date_naive()).await?;
        }
    }
    let edit = order_edit::ActiveModel {
        id: Set(new_id()),
        order_id: Set(id),
        order_version: Set(data.version),
        actor: Set(ctx.actor.principal()),
        reason: Set(Text::check(input.reason, &mut Vec::new(), "reason")),
        change: Set(change),
        currency: Set(c.code().to_owned()),
        grand_total_before: Set(before.grand_total_amount),
        grand_total_after: Set(data.grand_total.amount),
        status_after: Set(view.order.status.as_str().to_owned()),
        highest_line_no: Set(highest_line_no(txn, id, &old_lines)
            .await?
            .max(parts.lines.iter().map(|l| l.line_no).max().unwrap_or(0))),
        created_at: Set(ctx.now),
    }
    .insert(txn)
    .await?;
    Ok(EditApplied {
        order: view,
        edit: edit_view(edit),
    })
}

/// The edits made to an order, oldest first.
pub async fn list(
    conn: &impl sea_orm::ConnectionTrait,
    actor: &Actor,
    id: Uuid,
) -> Result<Vec<OrderEditView>> {
    actor.require(Action::OrdersRead)?;
    queries::find_visible(conn, actor, id).await?;
    Ok(order_edit::Entity::find()
        .filter(order_edit::COLUMN.order_id.eq(id))
        .order_by_asc(order_edit::Column::OrderVersion)
        .all(conn)
        .await?
        .into_iter()
        .map(edit_view)
        .collect())
}

fn edit_view(e: order_edit::Model) -> OrderEditView {
    let c = queries::currency(&e.currency);
    OrderEditView {
        id: e.id,
        order_id: e.order_id,
        order_version: e.order_version,
        actor: e.actor,
        reason: e.reason,
        change: e.change,
        grand_total_before: Money::new(e.grand_total_before, c),
        grand_total_after: Money::new(e.grand_total_after, c),
        grand_total_change: Money::new(e.grand_total_after - e.grand_total_before, c),
        status_after: OrderStatus::parse(&e.status_after).unwrap_or(OrderStatus::Draft),
        created_at: e.created_at,
    }
}

fn currency(row: &order::Model) -> Result<Currency> {
    row.currency.parse().map_err(|_| {
        Error::new(
            ordercrm_kernel::error::problems::INTERNAL,
            "an order with an unknown currency",
        )
    })
}

/// Take the order for the edit at `if_match`: its version bumps, so two edits of
/// one order run one after the other and the second is 412.
async fn claim(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    if_match: i64,
) -> Result<order::Model> {
    let from: Vec<&str> = model::starts_from(OrderAction::Edit)
        .iter()
        .map(|s| s.as_str())
        .collect();
    ordercrm_kernel::version::claim(
        txn,
        order::Entity::update_many()
            .col_expr(order::Column::UpdatedAt, Expr::value(ctx.now))
            .filter(order::COLUMN.id.eq(id))
            .filter(order::COLUMN.status.is_in(from)),
        order::Entity::find_by_id(id),
        order::Column::Version,
        Some(if_match),
        |found| match found {
            None => OrderError::NotFound(id.to_string()).into(),
            Some(row) => OrderError::InvalidTransition {
                status: OrderStatus::parse(&row.status).unwrap_or(OrderStatus::Draft),
                action: OrderAction::Edit,
                from: model::starts_from(OrderAction::Edit),
            }
            .into(),
        },
    )
    .await
}

/// Drafts, approved and held orders with something left to ship.
async fn editable(txn: &DatabaseTransaction, row: &order::Model) -> Result<()> {
    let status = OrderStatus::parse(&row.status).unwrap_or(OrderStatus::Draft);
    if !model::starts_from(OrderAction::Edit).contains(&status) {
        return Err(OrderError::InvalidTransition {
            status,
            action: OrderAction::Edit,
            from: model::starts_from(OrderAction::Edit),
        }
        .into());
    }
    if queries::shipped_out(&queries::lines_of(txn, row.id).await?) {
        return Err(OrderError::ShippedOut(OrderAction::Edit, status).into());
    }
    Ok(())
}

/// 409 `/problems/insufficient-stock`, naming each level that is short.
fn short_of_stock(short: &[&StockImpact]) -> Error {
    let lines: Vec<ordercrm_inventory::dto::ShortLine> = short
        .iter()
        .map(|s| ordercrm_inventory::dto::ShortLine {
            sku: s.sku.clone(),
            warehouse_code: s.warehouse_code.clone(),
            requested: s.reserve_change,
            available: s.available,
        })
        .collect();
    ordercrm_inventory::InventoryError::Insufficient(lines).into()
}

/// Work the edit out against `current`, writing nothing.
async fn plan(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    current: order::Model,
    input: &OrderEdit,
) -> Result<Planned> {
    let c = currency(&current)?;
    let old_lines = queries::lines_of(txn, current.id).await?;
    let mut errors = Vec::new();
    let field_count = |n: usize, field: &str, errors: &mut Vec<FieldError>| {
        if n > model::MAX_LINES {
            errors.push(FieldError::new(
                field,
                "length",
                format!("at most {} entries", model::MAX_LINES),
            ));
        }
    };
    field_count(input.add_lines.len(), "add_lines", &mut errors);
    field_count(input.change_lines.len(), "change_lines", &mut errors);
    field_count(input.remove_lines.len(), "remove_lines", &mut errors);
    // A replacement's goods and prices are what its exchange settled (and why the
    // price rule leaves it alone): an edit changes its address, day and terms only.
    if current.replaces_return_id.is_some() {
        for (field, named) in [
            ("add_lines", !input.add_lines.is_empty()),
            ("change_lines", !input.change_lines.is_empty()),
            ("remove_lines", !input.remove_lines.is_empty()),
            ("order_discount", input.order_discount.is_some()),
        ] {
            if named {
                errors.push(FieldError::state(
                    field,
                    "replacement",
                    "a replacement order's goods and prices are what its exchange settled: \
                     cancel it and take a new order for what the customer wants (reviewed \
                     like any order)",
                ));
            }
        }
    }
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }

    // Lines named twice, or not on the order.
    let mut named = HashSet::new();
    // Lines whose price or discount the edit sets: the editor's discount cap applies.
    let mut touched: HashSet<i32> = HashSet::new();
    let in_shipments: HashSet<Uuid> = shipment_line::Entity::find()
        .filter(
            shipment_line::COLUMN
                .order_line_id
                .is_in(old_lines.iter().map(|l| l.id)),
        )
        .all(txn)
        .await?
        .into_iter()
        .map(|s| s.order_line_id)
        .collect();
    let mut lines: Vec<order_line::Model> = old_lines.clone();
    let mut removed = Vec::new();
    for (i, n) in input.remove_lines.iter().enumerate() {
        let field = format!("remove_lines[{i}]");
        let found = errors.len();
        let no = n.check_i32(&mut errors, &field);
        if errors.len() > found {
            continue;
        }
        if !named.insert(no) {
            errors.push(FieldError::new(
                &field,
                "duplicate",
                format!("line {no} is named twice"),
            ));
            continue;
        }
        match lines.iter().position(|l| l.line_no == no) {
            None => errors.push(FieldError::new(
                &field,
                "unknown_line",
                format!("the order has no line {no}"),
            )),
            Some(at) => {
                let line = lines.remove(at);
                if in_shipments.contains(&line.id) {
                    errors.push(FieldError::state(
                        &field,
                        "line_shipped",
                        format!(
                            "line {no} was in a shipment (a cancelled one too): reduce its quantity instead"
                        ),
                    ));
                }
                removed.push(line.id);
            }
        }
    }
    for (i, change) in input.change_lines.iter().enumerate() {
        let f = |name: &str| format!("change_lines[{i}].{name}");
        let found = errors.len();
        let no = change.line_no.check_i32(&mut errors, &f("line_no"));
        if errors.len() > found {
            continue;
        }
        if !named.insert(no) {
            errors.push(FieldError::new(
                f("line_no"),
                "duplicate",
                format!("line {no} is named twice"),
            ));
            continue;
        }
        let Some(line) = lines.iter_mut().find(|l| l.line_no == no) else {
            errors.push(FieldError::new(
                f("line_no"),
                "unknown_line",
                format!("the order has no line {no}"),
            ));
            continue;
        };
        if let Some(q) = &change.quantity {
            let found = errors.len();
            let q = q.check(&mut errors, &f("quantity"));
            if errors.len() == found && q < line.shipped_quantity {
                errors.push(FieldError::state(
                    f("quantity"),
                    "below_shipped",
                    format!("line {no} shipped {}: not fewer", line.shipped_quantity),
                ));
            }
            line.quantity = q;
        }
        let price = amount(&mut errors, &f("unit_price"), change.unit_price, Some(c));
        let discount = amount(&mut errors, &f("discount"), change.discount, Some(c));
        let repriced = (change.unit_price.is_some() && price != line.unit_price_amount)
            || (change.discount.is_some() && discount != line.discount_amount);
        if repriced && line.shipped_quantity > 0 {
            errors.push(FieldError::state(
                f("unit_price"),
                "line_shipped",
                format!("line {no} shipped some at its price: its price stays"),
            ));
        }
        // The editor's cap counts where the editor gives more off than there was.
        let more_off = (change.unit_price.is_some() && price < line.unit_price_amount)
            || (change.discount.is_some() && discount > line.discount_amount);
        if more_off {
            touched.insert(no);
        }
        if change.unit_price.is_some() {
            line.unit_price_amount = price;
        }
        if change.discount.is_some() {
            line.discount_amount = discount;
        }
    }
    let added: Vec<Line> = if input.add_lines.is_empty() {
        Vec::new()
    } else {
        let before = errors.len();
        let mut found = Vec::new();
        let checked = check_lines(txn, &input.add_lines, c, &mut found).await?;
        errors.extend(found.into_iter().map(|mut e| {
            if let Some(rest) = e.field.strip_prefix("lines") {
                e.field = format!("add_lines{rest}");
            }
            e
        }));
        if errors.len() > before {
            Vec::new()
        } else {
            checked.unwrap_or_default()
        }
    };
    let order_discount = match input.order_discount {
        Some(_) => amount(&mut errors, "order_discount", input.order_discount, Some(c)),
        None => current.order_discount_amount,
    };
    let shipping = match input.shipping_fee {
        Some(_) => amount(&mut errors, "shipping_fee", input.shipping_fee, Some(c)),
        None => current.shipping_amount,
    };
    let shipping_address = input
        .shipping_address
        .clone()
        .map(|a| a.map(|a| json!(a.check(&mut errors, "shipping_address"))));
    let billing_address = input
        .billing_address
        .clone()
        .map(|a| a.map(|a| json!(a.check(&mut errors, "billing_address"))));
    let requested = input.requested_delivery_on.map(|d| d.map(|d| d.0));
    let (terms, terms_days) = terms(&mut errors, input, &current);
    Text::check(input.reason.clone(), &mut errors, "reason");
    if lines.len() + added.len() == 0 {
        errors.push(FieldError::new(
            "remove_lines",
            "no_lines_left",
            "an order keeps at least one line: cancel it instead",
        ));
    } else if lines.len() + added.len() > model::MAX_LINES {
        errors.push(FieldError::new(
            "add_lines",
            "length",
            format!("an order has at most {} lines", model::MAX_LINES),
        ));
    }
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }

    // New lines after the highest number the order ever had (a removed line's
    // number is not given to another product).
    let first_no = highest_line_no(txn, current.id, &old_lines).await? + 1;
    for (next_no, l) in (first_no..).zip(added) {
        touched.insert(next_no);
        lines.push(order_line::Model {
            id: new_id(),
            order_id: current.id,
            line_no: next_no,
            product_id: l.product.id,
            sku: l.product.sku,
            name: l.product.name,
            unit: l.product.unit,
            tax_rate_bps: l.product.tax_rate_bps,
            tracks_inventory: l.product.tracks_inventory,
            quantity: l.quantity,
            unit_price_amount: l.unit_price,
            discount_amount: l.discount,
            order_discount_share: 0,
            tax_amount: 0,
            total_amount: 0,
            warehouse_id: l.warehouse.as_ref().map(|w| w.id),
            warehouse_code: l.warehouse.map(|w| w.code),
            shipped_quantity: 0,
            delivered_quantity: 0,
            return_claimed_quantity: 0,
            returned_quantity: 0,
            credited_quantity: 0,
            credited_amount: 0,
            invoiced_quantity: 0,
            invoiced_amount: 0,
            invoiced_tax_amount: 0,
        });
    }
    let money: Vec<LineMoney> = lines
        .iter()
        .map(|l| LineMoney {
            quantity: l.quantity,
            unit_price: l.unit_price_amount,
            discount: l.discount_amount,
            tax_rate_bps: l.tax_rate_bps,
        })
        .collect();
    let totals = model::totals(&money, order_discount, shipping, current.prices_include_tax)
        .map_err(|e| {
            totals_error(e, |i| {
                let no = lines.get(i).map_or(0, |l| l.line_no);
                format!("lines[line_no={no}].discount")
            })
        })?;
    for (line, t) in lines.iter_mut().zip(&totals.lines) {
        line.order_discount_share = t.order_discount_share;
        line.tax_amount = t.tax;
        line.total_amount = t.total;
    }
    // What shipped was priced. Without an order discount a line's money is its own,
    // and a shipped line's price stays (above). With one, the discount is shared
    // over every line by its net: once anything shipped, no edit may change the
    // lines' money or the discount (returns and credit notes settle those).
    let discounted = current.order_discount_amount > 0 || order_discount > 0;
    let shipped_any = old_lines.iter().any(|l| l.shipped_quantity > 0);
    let money = |l: &order_line::Model| (l.id, l.quantity, l.unit_price_amount, l.discount_amount);
    let lines_moved = lines.len() != old_lines.len()
        || lines
            .iter()
            .zip(&old_lines)
            .any(|(a, b)| money(a) != money(b))
        || order_discount != current.order_discount_amount;
    if discounted && shipped_any && lines_moved {
        return Err(Error::validation(vec![FieldError::state(
            "change_lines",
            "shipped_value",
            "the order discount is shared over every line, and some of them shipped: \
             their lines and discount no longer change (addresses, the requested day, the \
             shipping fee and terms still do)",
        )]));
    }
    let settled = current.paid_amount.saturating_add(current.credited_amount);
    if settled > totals.grand_total {
        return Err(Error::validation(vec![FieldError::state(
            "change_lines",
            "below_paid",
            format!(
                "the grand total would be {}, less than the {} already paid or credited: refunds \
                 come with credit notes, not edits",
                Money::new(totals.grand_total, c),
                Money::new(settled, c)
            ),
        )]));
    }
    // What was invoiced was billed at its money: an edit that changes an invoiced
    // line (its units, price or discount), the order discount shared over invoiced
    // lines, or an invoiced shipping fee has the order's invoices undone first
    // (voided, money applied to them held for the order again) and made again
    // after, by the company's invoicing policy.
    let invoiced_any = old_lines.iter().any(|l| l.invoiced_quantity > 0);
    let line_touched = old_lines
        .iter()
        .filter(|l| l.invoiced_quantity > 0)
        .any(|old| {
            lines.iter().find(|l| l.id == old.id).is_none_or(|l| {
                money(l)
                    != (
                        old.id,
                        old.quantity,
                        old.unit_price_amount,
                        old.discount_amount,
                    )
            })
        });
    let touches_invoiced = line_touched
        || (invoiced_any && discounted && lines_moved)
        || (current.shipping_invoiced && shipping != current.shipping_amount);
    let mut row = current.clone();
    // The base-currency total at the rate the order was reviewed at, so the credit
    // check, the statistics and other orders' exposure see the edited total (an
    // approved order's review below replaces it at today's rate).
    if let (Some(rate), Some(base)) = (
        row.base_rate
            .as_deref()
            .and_then(ordercrm_kernel::rate::Rate::parse),
        row.base_currency
            .as_deref()
            .and_then(|b| b.parse::<Currency>().ok()),
    ) {
        row.grand_total_base_amount = rate
            .convert(Money::new(totals.grand_total, c), base)
            .ok()
            .map(|m| m.amount);
    }
    row.subtotal_amount = totals.subtotal;
    row.discount_amount = totals.discount;
    row.order_discount_amount = order_discount;
    row.tax_amount = totals.tax;
    row.shipping_amount = shipping;
    row.grand_total_amount = totals.grand_total;
    row.payment_status = model::payment_status(settled, totals.grand_total)
        .as_str()
        .to_owned();
    let mut shipping_changed = false;
    if let Some(a) = shipping_address
        && a != row.shipping_address
    {
        row.shipping_address = a;
        shipping_changed = true;
    }
    if let Some(a) = billing_address {
        row.billing_address = a;
    }
    if let Some(d) = requested
        && d != row.requested_delivery_on
    {
        row.requested_delivery_on = d;
        // A new promise: watched again.
        row.delay_announced_at = None;
        shipping_changed = true;
    }
    row.payment_terms = terms.as_str().to_owned();
    row.payment_terms_days = terms_days;
    // Taking away what had not shipped can leave the rest shipped, or delivered.
    let fulfillment = fulfillment_of(&lines);
    row.fulfillment_status = fulfillment.as_str().to_owned();
    row.delivered_at = if crate::fulfillment::model::delivered_in_full(&lines) {
        row.delivered_at.or(Some(ctx.now))
    } else {
        None
    };
    if lines == old_lines && row == current {
        return Err(Error::validation(vec![FieldError::new(
            "",
            "no_change",
            "the edit changes nothing on this order",
        )]));
    }

    // Stock: what the order needs held, before and after, per product and warehouse.
    let status = OrderStatus::parse(&current.status).unwrap_or(OrderStatus::Draft);
    let holds_stock = match status {
        OrderStatus::Approved => true,
        OrderStatus::OnHold => match current.reservation_id {
            Some(r) => ordercrm_inventory::commands::reservations::still_holds(txn, r).await?,
            None => false,
        },
        _ => false,
    };
    let needs = |lines: &[order_line::Model]| {
        let mut m: BTreeMap<(Uuid, Uuid), (i64, String, String)> = BTreeMap::new();
        for l in lines {
            if let (true, Some(w)) = (l.tracks_inventory, l.warehouse_id) {
                let e = m.entry((l.product_id, w)).or_insert((
                    0,
                    l.sku.clone(),
                    l.warehouse_code.clone().unwrap_or_default(),
                ));
                e.0 += (l.quantity - l.shipped_quantity).max(0);
            }
        }
        m
    };
    let (before_needs, after_needs) = (needs(&old_lines), needs(&lines));
    let keys: Vec<(Uuid, Uuid)> = before_needs
        .keys()
        .chain(after_needs.keys())
        .copied()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let products: Vec<Uuid> = keys.iter().map(|(p, _)| *p).collect();
    let available = for_orders::available(txn, &products).await?;
    let mut stock = Vec::new();
    let mut holds = Vec::new();
    for key in keys {
        let before = before_needs.get(&key);
        let after = after_needs.get(&key);
        let (sku, code) = after
            .or(before)
            .map(|(_, s, w)| (s.clone(), w.clone()))
            .unwrap_or_default();
        let (nb, na) = (before.map_or(0, |b| b.0), after.map_or(0, |a| a.0));
        let change = if holds_stock { na - nb } else { 0 };
        let free = available.get(&key).copied().unwrap_or(0).max(0);
        if change != 0 {
            holds.push(OrderHold {
                product_id: key.0,
                warehouse_id: key.1,
                quantity: change,
            });
        }
        if nb == na && change == 0 {
            continue;
        }
        stock.push(StockImpact {
            product_id: key.0,
            sku,
            warehouse_id: key.1,
            warehouse_code: code,
            needed_before: nb,
            needed_after: na,
            reserve_change: change,
            available: free,
            sufficient: change <= free,
        });
    }

    // The review again, for an approved order: as the order would be. Its stock rule
    // passes on the reservation the edit adjusts (or finds none needed).
    let review = if status == OrderStatus::Approved {
        let editor = match &ctx.actor {
            Actor::User(u) => Some(u.role.as_str().to_owned()),
            Actor::ApiKey(_) => Some("api_key".to_owned()),
            _ => None,
        };
        if order_discount > current.order_discount_amount {
            touched.extend(lines.iter().map(|l| l.line_no));
        }
        Some(review::run_for_edit(txn, ctx, &row, &lines, editor.as_deref(), &touched).await?)
    } else {
        None
    };
    Ok(Planned {
        before: current,
        row,
        old_lines,
        lines,
        removed,
        stock,
        holds,
        holds_stock,
        review,
        shipping_changed,
        touches_invoiced,
    })
}

/// The highest line number `order` has had: its lines now, and what its edits left
/// (a removed line's number is not given again).
async fn highest_line_no(
    txn: &DatabaseTransaction,
    order: Uuid,
    lines: &[order_line::Model],
) -> Result<i32> {
    let now = lines.iter().map(|l| l.line_no).max().unwrap_or(0);
    let edited: Option<Option<i32>> = order_edit::Entity::find()
        .select_only()
        .expr(sea_orm::sea_query::Func::max(
            sea_orm::sea_query::Expr::col(order_edit::Column::HighestLineNo),
        ))
        .filter(order_edit::COLUMN.order_id.eq(order))
        .into_tuple()
        .one(txn)
        .await?;
    Ok(std::cmp::max(now, edited.flatten().unwrap_or(0)))
}

/// The payment terms after the edit, with their days.
fn terms(
    errors: &mut Vec<FieldError>,
    input: &OrderEdit,
    current: &order::Model,
) -> (PaymentTerms, Option<i32>) {
    let now = PaymentTerms::parse(&current.payment_terms).unwrap_or(PaymentTerms::Prepaid);
    let terms = input
        .payment_terms
        .as_ref()
        .and_then(|t| t.check(errors, "payment_terms"))
        .unwrap_or(now);
    let days = input
        .payment_terms_days
        .map(|d| d.check_i32(errors, "payment_terms_days"));
    let wants_days = matches!(terms, PaymentTerms::Net | PaymentTerms::Eom);
    match (wants_days, days) {
        (true, Some(d)) => (terms, Some(d)),
        // The days it had, if it keeps terms that have them.
        (true, None) if terms == now => (terms, current.payment_terms_days),
        (true, None) => {
            errors.push(FieldError::new(
                "payment_terms_days",
                "required",
                format!("required with {terms}"),
            ));
            (terms, None)
        }
        (false, Some(_)) => {
            errors.push(FieldError::new(
                "payment_terms_days",
                "unexpected",
                format!("only with net or eom, not {terms}"),
            ));
            (terms, None)
        }
        (false, None) => (terms, None),
    }
}

/// An approved order the edit's review did not pass: on hold, its own transition
/// (`order.held`, after the edit's `order.updated`).
async fn hold_after_edit(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    row: order::Model,
) -> Result<OrderView> {
    let version = row.version + 1;
    let mut active = row.into_active_model();
    active.status = Set(OrderStatus::OnHold.as_str().to_owned());
    active.status_reason = Set(None);
    active.version = Set(version);
    active.updated_at = Set(ctx.now);
    let row = active.update(txn).await?;
    let parts = queries::parts_of(txn, row.id).await?;
    let data = queries::data(&row, &parts);
    events::record(txn, ctx, &events::HELD, &data).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("order.hold", "order", row.id)
            .changes(json!({"status": OrderStatus::OnHold, "after": "edit", "review": row.review})),
    )
    .await?;
    Ok(queries::view(
        &ctx.actor,
        &row,
        &parts,
        ctx.now.date_naive(),
    ))
}
