//! Shipping an order's goods and cancelling a shipment before pickup. Each takes
//! the order's row first (its version bumps), so one order's shipments run one
//! after the other and each sees what the one before shipped.

use std::collections::BTreeMap;

use ordercrm_inventory::commands::reservations::OrderHold;
use ordercrm_inventory::commands::shipping::{ship_for_order, unship_for_order};
use ordercrm_kernel::audit::{self, Entry};
use ordercrm_kernel::authz::Action;
use ordercrm_kernel::id::new_id;
use ordercrm_kernel::input::Text;
use ordercrm_kernel::{Ctx, Error, FieldError, Result};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
};
use serde_json::json;
use uuid::Uuid;

use super::dispatch;
use super::dto::{CancelShipment, CreateShipment, Package, ShipmentView};
use super::error::{FulfillmentError, OverLine};
use super::events;
use super::model::{MAX_SHIPMENT_LINES, ShipmentStatus, fulfillment_of, progress};
use super::queries;
use crate::entity::{order, order_line, shipment, shipment_line};
use crate::error::OrderError;
use crate::model::{FulfillmentStatus, OrderStatus};

/// Take the order for a fulfillment change: visible to the caller for fulfillment,
/// in one of `statuses` when given. Its version bumps.
pub(crate) async fn claim_order(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    statuses: Option<&[OrderStatus]>,
) -> Result<order::Model> {
    queries::find_order(txn, &ctx.actor, id).await?;
    let mut update = order::Entity::update_many()
        .col_expr(order::Column::UpdatedAt, Expr::value(ctx.now))
        .filter(order::COLUMN.id.eq(id));
    if let Some(statuses) = statuses {
        update = update.filter(
            order::COLUMN
                .status
                .is_in(statuses.iter().map(|s| s.as_str())),
        );
    }
    ordercrm_kernel::version::claim(
        txn,
        update,
        order::Entity::find_by_id(id),
        order::Column::Version,
        None,
        |found| match found {
            None => OrderError::NotFound(id.to_string()).into(),
            Some(row) => FulfillmentError::NotShippable(
                OrderStatus::parse(&row.status).unwrap_or(OrderStatus::Draft),
            )
            .into(),
        },
    )
    .await
}

fn check_package(p: Package, errors: &mut Vec<FieldError>) -> Package {
    let f = |name: &str| format!("package.{name}");
    Package {
        weight_grams: p.weight_grams.inspect(|v| {
            v.check(errors, &f("weight_grams"));
        }),
        length_mm: p.length_mm.inspect(|v| {
            v.check(errors, &f("length_mm"));
        }),
        width_mm: p.width_mm.inspect(|v| {
            v.check(errors, &f("width_mm"));
        }),
        height_mm: p.height_mm.inspect(|v| {
            v.check(errors, &f("height_mm"));
        }),
        reference: Text::check(p.reference, errors, &f("reference")).map(Text),
    }
}

/// The stock each (product, warehouse) gives or takes back, for the inventory.
fn takes(lines: &[(order_line::Model, i64)]) -> Vec<OrderHold> {
    let mut sums: BTreeMap<(Uuid, Uuid), i64> = BTreeMap::new();
    for (l, q) in lines {
        if let (true, Some(w)) = (l.tracks_inventory, l.warehouse_id) {
            *sums.entry((l.product_id, w)).or_default() += q;
        }
    }
    sums.into_iter()
        .map(|((product_id, warehouse_id), quantity)| OrderHold {
            product_id,
            warehouse_id,
            quantity,
        })
        .collect()
}

/// Change each line's `shipped_quantity` by its delta, each by one statement that
/// keeps it within 0..=quantity. `false`: some line would leave that range.
async fn move_shipped(
    txn: &DatabaseTransaction,
    lines: &[(order_line::Model, i64)],
) -> Result<bool> {
    for (l, delta) in lines {
        let shipped = Expr::col(order_line::Column::ShippedQuantity);
        let done = order_line::Entity::update_many()
            .col_expr(
                order_line::Column::ShippedQuantity,
                shipped.clone().add(*delta),
            )
            .filter(order_line::COLUMN.id.eq(l.id))
            .filter(shipped.clone().add(*delta).gte(0))
            .filter(
                shipped
                    .add(*delta)
                    .lte(Expr::col(order_line::Column::Quantity)),
            )
            .exec(txn)
            .await?;
        if done.rows_affected != 1 {
            return Ok(false);
        }
    }
    Ok(true)
}

/// After a fulfillment change: each line's delivered quantity from the shipments
/// delivered, the order's `fulfillment_status` and milestones, its dispatch notes,
/// the order's event when its fulfillment moved (forward: `order.shipped` or
/// `order.delivered`; back: `order.updated`), and the completion rule.
pub(crate) async fn settle_order(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    claimed: order::Model,
) -> Result<()> {
    let before = FulfillmentStatus::parse(&claimed.fulfillment_status)
        .unwrap_or(FulfillmentStatus::Unfulfilled);
    let order_id = claimed.id;
    let was_delivered = claimed.delivered_at.is_some();
    let shipments = shipment::Entity::find()
        .filter(shipment::COLUMN.order_id.eq(order_id))
        .filter(shipment::COLUMN.return_id.is_null())
        .filter(
            shipment::COLUMN
                .status
                .ne(ShipmentStatus::Cancelled.as_str()),
        )
        .order_by_asc(shipment::Column::CreatedAt)
        .all(txn)
        .await?;
    let delivered_ids: Vec<Uuid> = shipments
        .iter()
        .filter(|s| s.delivered_at.is_some())
        .map(|s| s.id)
        .collect();
    let mut delivered: BTreeMap<Uuid, i64> = BTreeMap::new();
    if !delivered_ids.is_empty() {
        for l in shipment_line::Entity::find()
            .filter(shipment_line::COLUMN.shipment_id.is_in(delivered_ids))
            .all(txn)
            .await?
        {
            *delivered.entry(l.order_line_id).or_default() += l.quantity;
        }
    }
    let mut lines = crate::queries::lines_of(txn, order_id).await?;
    for l in &mut lines {
        let now = delivered.get(&l.id).copied().unwrap_or(0);
        if now != l.delivered_quantity {
            order_line::Entity::update_many()
                .col_expr(order_line::Column::DeliveredQuantity, Expr::value(now))
                .filter(order_line::COLUMN.id.eq(l.id))
                .exec(txn)
                .await?;
            l.delivered_quantity = now;
        }
    }
    let fulfillment = fulfillment_of(&lines);
    let mut row = claimed.into_active_model();
    row.fulfillment_status = Set(fulfillment.as_str().to_owned());
    // The first shipment still standing (a cancelled one never left); the last
    // delivery, once everything is delivered.
    row.first_shipped_at = Set(shipments.first().map(|s| s.created_at));
    row.delivered_at = Set(super::model::delivered_in_full(&lines)
        .then(|| shipments.iter().filter_map(|s| s.delivered_at).max())
        .flatten());
    row.updated_at = Set(ctx.now);
    let row = row.update(txn).await?;
    let parts = crate::queries::parts_of(txn, order_id).await?;
    let data = crate::queries::data(&row, &parts);
    dispatch::refresh(txn, ctx, &lines, &data).await?;
    if before != fulfillment {
        // Goods coming back (or a delivery after a return) change the order but
        // are no delivery: `order.updated`, next to the return's own event.
        let returns = |s: FulfillmentStatus| {
            matches!(
                s,
                FulfillmentStatus::PartiallyReturned | FulfillmentStatus::Returned
            )
        };
        let event = if progress(fulfillment) < progress(before) || returns(fulfillment) {
            &crate::events::UPDATED
        } else if progress(fulfillment) >= progress(FulfillmentStatus::PartiallyDelivered) {
            &crate::events::DELIVERED
        } else {
            &crate::events::SHIPPED
        };
        crate::events::record(txn, ctx, event, &data).await?;
    }
    if !was_delivered && row.delivered_at.is_some() {
        crate::settlement::moved(txn, ctx, order_id, crate::settlement::Moment::Delivered).await?;
        // Invoicing may have applied a prepayment: read the order again.
        let row = crate::queries::order_row(txn, order_id).await?;
        crate::completion::complete_if_done(txn, ctx, &row, &lines).await?;
        return Ok(());
    }
    crate::completion::complete_if_done(txn, ctx, &row, &lines).await?;
    Ok(())
}

/// Per order line, the sum of the quantities `lines` (line number, quantity, in
/// request order) ask for and the first entry (`lines[i]`) that asked it: a line
/// named twice asks the sum, which must still be countable.
pub(crate) fn sum_per_line(
    lines: &[(i32, i64)],
    errors: &mut Vec<FieldError>,
) -> BTreeMap<i32, (i64, String)> {
    let mut asked: BTreeMap<i32, (i64, String)> = BTreeMap::new();
    for (i, (line_no, quantity)) in lines.iter().enumerate() {
        let entry = asked.entry(*line_no).or_insert((0, format!("lines[{i}]")));
        match entry.0.checked_add(*quantity) {
            Some(sum) => entry.0 = sum,
            None => errors.push(FieldError::new(
                format!("lines[{i}].quantity"),
                "range",
                "the lines naming this order line add up to more than can be counted",
            )),
        }
    }
    asked
}

/// A shipment request after its checks.
pub(crate) struct Checked {
    pub carrier: String,
    pub tracking_number: String,
    pub package: Option<Package>,
    /// Per order line, the sum asked and the first field that asked it.
    pub asked: BTreeMap<i32, (i64, String)>,
}

/// The checks every shipment request gets, before anything is looked up: 400
/// listing what is wrong, 403 for a carrier the key does not serve.
pub(crate) fn check_shipment(ctx: &Ctx, input: CreateShipment) -> Result<Checked> {
    let mut errors = Vec::new();
    if !(1..=MAX_SHIPMENT_LINES).contains(&input.lines.len()) {
        errors.push(FieldError::new(
            "lines",
            "length",
            format!("must have 1 to {MAX_SHIPMENT_LINES} lines"),
        ));
    }
    let carrier = input
        .carrier
        .check(&mut errors, "carrier")
        .unwrap_or_default();
    let tracking_number = input.tracking_number.check(&mut errors, "tracking_number");
    if !carrier.is_empty() && !ctx.actor.serves_carrier(&carrier) {
        return Err(Error::new(
            ordercrm_kernel::error::problems::FORBIDDEN,
            format!("this key ships for its own carriers only, not '{carrier}'"),
        ));
    }
    let package = input.package.map(|p| check_package(p, &mut errors));
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
    let asked = sum_per_line(&lines, &mut errors);
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    Ok(Checked {
        carrier,
        tracking_number,
        package,
        asked,
    })
}

/// Whether a shipment not cancelled has the carrier and number of `checked`
/// (`repairs_only`: a repair's parcel back to its customer), the number taken in
/// turns with every other shipment checking it, so two cannot both find it free.
pub(crate) async fn number_in_use(
    txn: &DatabaseTransaction,
    checked: &Checked,
    repairs_only: bool,
) -> Result<bool> {
    let key = format!("tracking:{}:{}", checked.carrier, checked.tracking_number);
    ordercrm_kernel::db::lock_for_check(txn, &key).await?;
    let mut select = shipment::Entity::find()
        .filter(shipment::COLUMN.carrier.eq(&checked.carrier))
        .filter(
            shipment::COLUMN
                .tracking_number
                .eq(&checked.tracking_number),
        )
        .filter(
            shipment::COLUMN
                .status
                .ne(ShipmentStatus::Cancelled.as_str()),
        );
    if repairs_only {
        select = select.filter(shipment::COLUMN.return_id.is_not_null());
    }
    Ok(select.one(txn).await?.is_some())
}

/// Ship lines of an approved order: the goods leave its reservation in this
/// transaction; never more than ordered minus shipped. 409 `over-shipment` names
/// each line asked for more than it has left.
#[tracing::instrument(skip(txn, ctx, input))]
pub async fn create_shipment(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    order_id: Uuid,
    input: CreateShipment,
) -> Result<ShipmentView> {
    ctx.actor.require(Action::FulfillmentWrite)?;
    let checked = check_shipment(ctx, input)?;
    let mut errors = Vec::new();
    let claimed = claim_order(txn, ctx, order_id, Some(&[OrderStatus::Approved])).await?;
    // A repair's parcel has its number to itself (a carrier's report about it must
    // not land elsewhere); shipments of goods may share one, the latest winning.
    if number_in_use(txn, &checked, true).await? {
        return Err(Error::validation(vec![FieldError::state(
            "tracking_number",
            "in_use",
            format!(
                "{} {} is a repair's parcel back to its customer",
                checked.carrier, checked.tracking_number
            ),
        )]));
    }
    let Checked {
        carrier,
        tracking_number,
        package,
        asked,
    } = checked;
    let lines = crate::queries::lines_of(txn, order_id).await?;
    let mut shipping: Vec<(order_line::Model, i64)> = Vec::new();
    let mut over = Vec::new();
    for (line_no, (quantity, field)) in &asked {
        match lines.iter().find(|l| l.line_no == *line_no) {
            None => errors.push(FieldError::new(
                format!("{field}.line_no"),
                "unknown_line",
                format!("the order has no line {line_no}"),
            )),
            Some(l) if l.warehouse_id.is_none() => errors.push(FieldError::new(
                format!("{field}.line_no"),
                "not_shipped",
                format!(
                    "line {line_no} ({}) tracks no stock and is not shipped",
                    l.sku
                ),
            )),
            Some(l) => {
                let unshipped = l.quantity - l.shipped_quantity;
                if *quantity > unshipped {
                    over.push(OverLine {
                        line_no: *line_no,
                        requested: *quantity,
                        unshipped,
                    });
                }
                shipping.push((l.clone(), *quantity));
            }
        }
    }
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    if !over.is_empty() {
        return Err(FulfillmentError::OverShipment(over).into());
    }
    if !move_shipped(txn, &shipping).await? {
        // The order's row lock makes this unreachable; the statement holds regardless.
        return Err(FulfillmentError::OverShipment(Vec::new()).into());
    }
    let reference = format!("{} {carrier}:{tracking_number}", claimed.number);
    let stock = takes(&shipping);
    if !stock.is_empty() {
        let Some(reservation_id) = claimed.reservation_id else {
            return Err(ordercrm_inventory::error::InventoryError::Conflict(
                "the order holds no stock to ship; run `ordercrm inventory verify`".into(),
            )
            .into());
        };
        ship_for_order(txn, ctx, order_id, reservation_id, &stock, &reference).await?;
    }

    let id = new_id();
    let row = shipment::ActiveModel {
        id: Set(id),
        order_id: Set(order_id),
        carrier: Set(carrier),
        tracking_number: Set(tracking_number),
        status: Set(ShipmentStatus::Pending.as_str().to_owned()),
        package: Set(package.map(|p| json!(p))),
        cancel_reason: Set(None),
        cancelled_at: Set(None),
        delivered_at: Set(None),
        signed_by: Set(None),
        proof: Set(None),
        created_by: Set(ctx.actor.principal()),
        return_id: Set(None),
        version: Set(1),
        created_at: Set(ctx.now),
        updated_at: Set(ctx.now),
    }
    .insert(txn)
    .await?;
    let line_rows: Vec<shipment_line::Model> = shipping
        .iter()
        .zip(1..)
        .map(|((l, q), line_no)| shipment_line::Model {
            id: new_id(),
            shipment_id: id,
            line_no,
            order_line_id: l.id,
            order_line_no: l.line_no,
            product_id: l.product_id,
            sku: l.sku.clone(),
            name: l.name.clone(),
            warehouse_id: l.warehouse_id.unwrap_or_default(),
            warehouse_code: l.warehouse_code.clone().unwrap_or_default(),
            quantity: *q,
        })
        .collect();
    shipment_line::Entity::insert_many(
        line_rows
            .iter()
            .map(|l| shipment_line::ActiveModel::from(l.clone())),
    )
    .exec_without_returning(txn)
    .await?;
    let view = queries::shipment_view(&row, &line_rows, &claimed.number);
    events::shipment(
        txn,
        ctx,
        &events::SHIPMENT_CREATED,
        &view,
        claimed.customer_id,
    )
    .await?;
    audit::record(
        txn,
        ctx,
        Entry::new("shipment.create", "shipment", id).changes(json!({
            "order_id": order_id, "carrier": view.carrier,
            "tracking_number": view.tracking_number, "lines": view.lines,
        })),
    )
    .await?;
    settle_order(txn, ctx, claimed).await?;
    crate::settlement::moved(txn, ctx, order_id, crate::settlement::Moment::Shipped(id)).await?;
    Ok(view)
}

/// Cancel a shipment the carrier has not picked up: its goods are back in stock,
/// held again for the order while it still wants them.
#[tracing::instrument(skip(txn, ctx, input))]
pub async fn cancel_shipment(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    if_match: Option<i64>,
    input: CancelShipment,
) -> Result<ShipmentView> {
    ctx.actor.require(Action::FulfillmentWrite)?;
    let mut errors = Vec::new();
    let reason = Text::check(input.reason, &mut errors, "reason");
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    let not_found = || -> Error { FulfillmentError::ShipmentNotFound(id.to_string()).into() };
    // Visible first; then the shipment's row and then the order's, the order every
    // change that takes both follows.
    let (found, _) = queries::find_shipment(txn, &ctx.actor, id).await?;
    let before_pickup = [
        ShipmentStatus::Pending.as_str(),
        ShipmentStatus::LabelPrinted.as_str(),
    ];
    let claimed = ordercrm_kernel::version::claim(
        txn,
        shipment::Entity::update_many()
            .col_expr(
                shipment::Column::Status,
                Expr::value(ShipmentStatus::Cancelled.as_str()),
            )
            .col_expr(shipment::Column::CancelledAt, Expr::value(ctx.now))
            .col_expr(shipment::Column::CancelReason, Expr::value(reason.clone()))
            .col_expr(shipment::Column::UpdatedAt, Expr::value(ctx.now))
            .filter(shipment::COLUMN.id.eq(id))
            .filter(shipment::COLUMN.status.is_in(before_pickup)),
        shipment::Entity::find_by_id(id),
        shipment::Column::Version,
        if_match,
        |found| match found {
            None => not_found(),
            Some(s) => FulfillmentError::NotCancellable(
                ShipmentStatus::parse(&s.status).unwrap_or(ShipmentStatus::Pending),
            )
            .into(),
        },
    )
    .await?;
    // Before pickup by its history too: a label reprinted after a pickup scan puts
    // the status back to label_printed, but the goods are gone.
    let moved = crate::entity::tracking_event::Entity::find()
        .filter(crate::entity::tracking_event::COLUMN.shipment_id.eq(id))
        .filter(
            crate::entity::tracking_event::COLUMN
                .status
                .ne(super::model::TrackingStatus::LabelPrinted.as_str()),
        )
        .one(txn)
        .await?;
    if let Some(event) = moved {
        return Err(FulfillmentError::PickedUp(event.status).into());
    }
    if let Some(return_id) = claimed.return_id {
        return crate::returns::commands::cancel_sent_back(txn, ctx, &claimed, return_id, reason)
            .await;
    }
    let claimed_order = claim_order(txn, ctx, found.order_id, None).await?;
    let line_rows = queries::lines_of_shipment(txn, id).await?;
    let order_lines = crate::queries::lines_of(txn, claimed_order.id).await?;
    let back: Vec<(order_line::Model, i64)> = line_rows
        .iter()
        .filter_map(|s| {
            order_lines
                .iter()
                .find(|l| l.id == s.order_line_id)
                .map(|l| (l.clone(), -s.quantity))
        })
        .collect();
    if !move_shipped(txn, &back).await? {
        return Err(ordercrm_inventory::error::InventoryError::Conflict(
            "the order's shipped quantities are out of step with its shipments".into(),
        )
        .into());
    }
    let stock: Vec<(order_line::Model, i64)> = back.iter().map(|(l, q)| (l.clone(), -q)).collect();
    let stock = takes(&stock);
    if let (false, Some(reservation_id)) = (stock.is_empty(), claimed_order.reservation_id) {
        let hold_again = matches!(
            OrderStatus::parse(&claimed_order.status),
            Some(OrderStatus::Approved | OrderStatus::OnHold)
        );
        let reference = format!(
            "{} {}:{} cancelled",
            claimed_order.number, claimed.carrier, claimed.tracking_number
        );
        unship_for_order(
            txn,
            ctx,
            claimed_order.id,
            reservation_id,
            &stock,
            &reference,
            hold_again,
        )
        .await?;
    }
    let view = queries::shipment_view(&claimed, &line_rows, &claimed_order.number);
    events::shipment(
        txn,
        ctx,
        &events::SHIPMENT_CANCELLED,
        &view,
        claimed_order.customer_id,
    )
    .await?;
    audit::record(
        txn,
        ctx,
        Entry::new("shipment.cancel", "shipment", id)
            .changes(json!({"status": view.status, "reason": reason})),
    )
    .await?;
    settle_order(txn, ctx, claimed_order).await?;
    Ok(view)
}
