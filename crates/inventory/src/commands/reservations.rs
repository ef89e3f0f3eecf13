//! Holding stock for orders and carts. Orders call these with their own
//! transaction, so a hold commits or rolls back with the order that made it.
//!
//! Each line is held by one conditional UPDATE (`reserved = reserved + n WHERE
//! on_hand - reserved >= n`), so no read-then-write race exists on either engine;
//! lines are taken in (product, warehouse) order, so two reservations touching the
//! same levels in opposite order queue instead of deadlocking.

use std::collections::BTreeMap;

use ordercrm_kernel::audit::{self, Entry};
use ordercrm_kernel::authz::Action;
use ordercrm_kernel::input::Text;
use ordercrm_kernel::{Ctx, FieldError, Result, id::new_id};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder};
use serde_json::json;
use uuid::Uuid;

use super::levels::{self, Floor, Moved, Note, Place};
use crate::dto::{Consume, CreateReservation, ReservationView, ShortLine};
use crate::entity::{reservation, reservation_line};
use crate::error::InventoryError;
use crate::events;
use crate::model::{self, MovementKind, ReservationStatus};
use crate::queries;

/// Hold every line or none. 409 `insufficient-stock` names each short line.
#[tracing::instrument(skip_all)]
pub async fn reserve(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    input: CreateReservation,
) -> Result<ReservationView> {
    ctx.actor.require(Action::InventoryWrite)?;
    let mut errors = Vec::new();
    model::check_lines(&mut errors, input.lines.len());
    for (i, line) in input.lines.iter().enumerate() {
        model::check_positive(&mut errors, &format!("lines[{i}].quantity"), line.quantity);
    }
    let reference = Text::check(input.reference, &mut errors, "reference");
    if input.expires_at.is_some_and(|at| at <= ctx.now) {
        errors.push(FieldError::new(
            "expires_at",
            "in_past",
            "must be in the future",
        ));
    }
    let pairs: Vec<(String, &str, &str)> = input
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            (
                format!("lines[{i}]."),
                l.sku.as_str(),
                l.warehouse_code.as_str(),
            )
        })
        .collect();
    let places = levels::resolve(txn, &pairs, &mut errors).await?;
    if !errors.is_empty() {
        return Err(ordercrm_kernel::Error::validation(errors));
    }

    let lines: Vec<(i64, Place)> = input
        .lines
        .iter()
        .zip(places.into_iter().flatten())
        .map(|(l, p)| (l.quantity, p))
        .collect();
    let holder = Holder {
        reference,
        expires_at: input.expires_at,
        order_id: None,
    };
    match hold(txn, ctx, holder, lines).await? {
        Ok(view) => Ok(view),
        Err(short) => Err(InventoryError::Insufficient(short).into()),
    }
}

/// What a reservation is for.
struct Holder {
    reference: Option<String>,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
    order_id: Option<Uuid>,
}

/// One line an order holds: how many of a product in a warehouse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderHold {
    pub product_id: Uuid,
    pub warehouse_id: Uuid,
    pub quantity: i64,
}

/// Hold stock for an order, in the order's transaction: every line or none. The
/// reservation belongs to the order, not to whoever submitted it, so people and keys
/// that may order need no inventory rights (the order command checked what they
/// may do). `Ok(Err(short))`: nothing is held, and `short` names each short line.
#[tracing::instrument(skip_all)]
pub async fn hold_for_order(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    order_id: Uuid,
    order_number: &str,
    lines: &[OrderHold],
) -> Result<std::result::Result<ReservationView, Vec<ShortLine>>> {
    let places = queries::places(txn, lines.iter().map(|l| (l.product_id, l.warehouse_id))).await?;
    let mut held = Vec::with_capacity(lines.len());
    for l in lines {
        let place = queries::place_of(&places, (l.product_id, l.warehouse_id))?;
        held.push((l.quantity, place.clone()));
    }
    let holder = Holder {
        reference: Some(order_number.to_owned()),
        expires_at: None,
        order_id: Some(order_id),
    };
    hold(txn, ctx, holder, held).await
}

/// Let go of what an order still holds (it was cancelled or rejected). A reservation
/// already released, consumed or expired is left as it is.
#[tracing::instrument(skip(txn, ctx))]
pub async fn release_for_order(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    order_id: Uuid,
    reservation_id: Uuid,
) -> Result<Option<ReservationView>> {
    let open = [
        ReservationStatus::Active.as_str(),
        ReservationStatus::PartiallyConsumed.as_str(),
    ];
    let claimed = ordercrm_kernel::version::try_claim(
        txn,
        reservation::Entity::update_many()
            .col_expr(reservation::Column::UpdatedAt, Expr::value(ctx.now))
            .filter(reservation::COLUMN.id.eq(reservation_id))
            .filter(reservation::COLUMN.status.is_in(open)),
        reservation::Column::Version,
        None,
    )
    .await?;
    match claimed {
        Some(claimed) => let_go(
            txn,
            ctx,
            claimed,
            ReservationStatus::Released,
            Some(order_id),
        )
        .await
        .map(Some),
        None => Ok(None),
    }
}

/// Grow or shrink what an order's reservation holds by `changes` (a signed quantity
/// per product and warehouse, each pair once), in the order's transaction, when the
/// order is edited: all or nothing. The stock moves by one statement for every level
/// after one that locks them in key order ([`levels::reserve_many`]); a pair the
/// reservation has no line for gets a new line; a shrink is recorded as released.
/// `Ok(Err(short))`: nothing changed, and `short` names each level that has too little.
#[tracing::instrument(skip(txn, ctx, changes))]
pub async fn adjust_for_order(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    order_id: Uuid,
    reservation_id: Uuid,
    changes: &[OrderHold],
) -> Result<std::result::Result<ReservationView, Vec<ShortLine>>> {
    // Taken while it still belongs to the order: held, partly shipped, or shipped
    // in full (an edit may add to an order whose held lines all left).
    let held = [
        ReservationStatus::Active.as_str(),
        ReservationStatus::PartiallyConsumed.as_str(),
        ReservationStatus::Consumed.as_str(),
    ];
    let claimed = ordercrm_kernel::version::try_claim(
        txn,
        reservation::Entity::update_many()
            .col_expr(reservation::Column::UpdatedAt, Expr::value(ctx.now))
            .filter(reservation::COLUMN.id.eq(reservation_id))
            .filter(reservation::COLUMN.order_id.eq(order_id))
            .filter(reservation::COLUMN.status.is_in(held)),
        reservation::Column::Version,
        None,
    )
    .await?
    .ok_or_else(|| {
        InventoryError::Conflict(format!(
            "reservation {reservation_id} no longer holds stock for order {order_id}"
        ))
    })?;
    let mut lines = lines_of(txn, reservation_id).await?;
    let places =
        queries::places(txn, changes.iter().map(|c| (c.product_id, c.warehouse_id))).await?;
    let mut wanted: Vec<((Uuid, Uuid), i64)> = changes
        .iter()
        .filter(|c| c.quantity != 0)
        .map(|c| ((c.product_id, c.warehouse_id), c.quantity))
        .collect();
    wanted.sort_by_key(|(key, _)| *key);
    // A shrink takes from what the reservation still holds there.
    for (key, quantity) in &wanted {
        let open: i64 = lines
            .iter()
            .filter(|(l, _)| (l.product_id, l.warehouse_id) == *key)
            .map(|(l, _)| l.open())
            .sum();
        if open.checked_add(*quantity).is_none_or(|left| left < 0) {
            return Err(InventoryError::Conflict(
                "the reservation holds less than the order had: run `ordercrm inventory verify`"
                    .into(),
            )
            .into());
        }
    }
    let raised = match levels::reserve_many(txn, ctx, &wanted).await? {
        Ok(raised) => raised,
        Err(short_keys) => {
            let mut short = Vec::new();
            for (key, available) in short_keys {
                let quantity = wanted
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map_or(0, |(_, q)| *q);
                short.push(queries::place_of(&places, key)?.short(quantity, available));
            }
            return Ok(Err(short));
        }
    };
    let mut next_line = lines.iter().map(|(l, _)| l.line_no).max().unwrap_or(0);
    for (key, quantity) in &wanted {
        if *quantity > 0 {
            if let Some((line, _)) = lines
                .iter_mut()
                .find(|(l, _)| (l.product_id, l.warehouse_id) == *key)
            {
                let grown = line.quantity.checked_add(*quantity).ok_or_else(|| {
                    InventoryError::Conflict(
                        "a reservation line would hold more than can be counted".into(),
                    )
                })?;
                reservation_line::Entity::update_many()
                    .col_expr(reservation_line::Column::Quantity, Expr::value(grown))
                    .filter(reservation_line::COLUMN.id.eq(line.id))
                    .exec(txn)
                    .await?;
                line.quantity = grown;
            } else {
                next_line += 1;
                let line = reservation_line::Model {
                    id: new_id(),
                    reservation_id,
                    line_no: next_line,
                    product_id: key.0,
                    warehouse_id: key.1,
                    quantity: *quantity,
                    consumed: 0,
                    released: 0,
                };
                reservation_line::ActiveModel::from(line.clone())
                    .insert(txn)
                    .await?;
                lines.push((line, queries::place_of(&places, *key)?.clone()));
            }
        } else {
            let mut left = -quantity;
            for (line, _) in lines
                .iter_mut()
                .filter(|(l, _)| (l.product_id, l.warehouse_id) == *key)
            {
                let take = std::cmp::min(left, line.open());
                if take == 0 {
                    continue;
                }
                reservation_line::Entity::update_many()
                    .col_expr(
                        reservation_line::Column::Released,
                        Expr::col(reservation_line::Column::Released).add(take),
                    )
                    .filter(reservation_line::COLUMN.id.eq(line.id))
                    .exec(txn)
                    .await?;
                line.released += take;
                left -= take;
            }
        }
    }
    for after in &raised {
        let key = (after.product_id, after.warehouse_id);
        levels::check_alert(txn, ctx, queries::place_of(&places, key)?, after).await?;
    }
    let open: i64 = lines.iter().map(|(l, _)| l.open()).sum();
    let consumed: i64 = lines.iter().map(|(l, _)| l.consumed).sum();
    let status = match (open > 0, consumed > 0) {
        (true, true) => ReservationStatus::PartiallyConsumed,
        (true, false) => ReservationStatus::Active,
        (false, true) => ReservationStatus::Consumed,
        (false, false) => ReservationStatus::Released,
    };
    set_status(txn, reservation_id, status).await?;
    let view = finished(claimed, status, lines, |_| {});
    events::reservation_of(
        txn,
        ctx,
        &events::RESERVATION_ADJUSTED,
        &view,
        Some(order_id),
    )
    .await?;
    let changed: Vec<serde_json::Value> = wanted
        .iter()
        .map(|((product, warehouse), quantity)| {
            json!({"product_id": product, "warehouse_id": warehouse, "change": quantity})
        })
        .collect();
    audit::record(
        txn,
        ctx,
        Entry::new("reservation.adjust", "reservation", reservation_id)
            .changes(json!({"lines": changed, "status": view.status})),
    )
    .await?;
    Ok(Ok(view))
}

/// Hold `lines` (quantity, place) for `holder`: all or none.
async fn hold(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    holder: Holder,
    lines: Vec<(i64, Place)>,
) -> Result<std::result::Result<ReservationView, Vec<ShortLine>>> {
    // Sum per level, in key order: a bundle listing one item twice is checked as
    // one demand, and every reservation locks levels in the same order.
    let mut wanted: BTreeMap<(Uuid, Uuid), (i64, &Place)> = BTreeMap::new();
    for (quantity, place) in &lines {
        let entry = wanted.entry(place.key()).or_insert((0, place));
        entry.0 = entry.0.checked_add(*quantity).ok_or_else(|| {
            ordercrm_kernel::Error::invalid_field(
                "lines",
                "range",
                format!("{} is asked for more than can be counted", place.label()),
            )
        })?;
    }
    // The rows first, the stock last: on PostgreSQL a level's row lock lasts from its
    // UPDATE to COMMIT, so the shorter that stretch, the more reservations of a hot
    // SKU go through per second.
    let id = new_id();
    let row = reservation::ActiveModel {
        id: Set(id),
        reference: Set(holder.reference),
        status: Set(ReservationStatus::Active.as_str().to_owned()),
        expires_at: Set(holder.expires_at),
        order_id: Set(holder.order_id),
        actor: Set(ctx.actor.principal()),
        version: Set(1),
        created_at: Set(ctx.now),
        updated_at: Set(ctx.now),
    }
    .insert(txn)
    .await?;
    let rows: Vec<(reservation_line::Model, &Place)> = lines
        .iter()
        .zip(1..)
        .map(|((quantity, place), line_no)| {
            let l = reservation_line::Model {
                id: new_id(),
                reservation_id: id,
                line_no,
                product_id: place.product.id,
                warehouse_id: place.warehouse.id,
                quantity: *quantity,
                consumed: 0,
                released: 0,
            };
            (l, place)
        })
        .collect();
    reservation_line::Entity::insert_many(
        rows.iter()
            .map(|(l, _)| reservation_line::ActiveModel::from(l.clone())),
    )
    .exec_without_returning(txn)
    .await?;

    // Two statements for the stock however many lines: the order's statement count
    // does not grow with its lines.
    let keys: Vec<((Uuid, Uuid), i64)> = wanted.iter().map(|(k, (q, _))| (*k, *q)).collect();
    let raised = match levels::reserve_many(txn, ctx, &keys).await? {
        Ok(raised) => raised,
        Err(short_keys) => {
            let short = short_keys
                .into_iter()
                .filter_map(|(key, available)| {
                    wanted
                        .get(&key)
                        .map(|(quantity, place)| place.short(*quantity, available))
                })
                .collect();
            // Nothing was raised; take back the rows, so even a caller that keeps its
            // transaction after the refusal holds nothing.
            reservation_line::Entity::delete_many()
                .filter(reservation_line::COLUMN.reservation_id.eq(id))
                .exec(txn)
                .await?;
            reservation::Entity::delete_by_id(id).exec(txn).await?;
            return Ok(Err(short));
        }
    };
    let held: Vec<(crate::entity::level::Model, &Place)> = raised
        .into_iter()
        .filter_map(|after| {
            wanted
                .get(&(after.product_id, after.warehouse_id))
                .map(|(_, place)| (after, *place))
        })
        .collect();
    for (after, place) in &held {
        levels::check_alert(txn, ctx, place, after).await?;
    }
    let view =
        queries::reservations::view(row, rows.into_iter().map(|(l, p)| (l, p.clone())).collect());
    events::reservation_of(
        txn,
        ctx,
        &events::RESERVATION_CREATED,
        &view,
        holder.order_id,
    )
    .await?;
    audit::record(
        txn,
        ctx,
        Entry::new("reservation.create", "reservation", id).changes(
            json!({"lines": view.lines, "reference": view.reference, "expires_at": view.expires_at}),
        ),
    )
    .await?;
    Ok(Ok(view))
}

/// Take the reservation for this change: bump its version while it is still open.
/// The UPDATE locks the row, so a concurrent release and consume of the same
/// reservation run one after the other, and the second sees the first's status.
async fn claim(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    if_match: Option<i64>,
) -> Result<reservation::Model> {
    let open = [
        ReservationStatus::Active.as_str(),
        ReservationStatus::PartiallyConsumed.as_str(),
    ];
    ordercrm_kernel::version::claim(
        txn,
        reservation::Entity::update_many()
            .col_expr(reservation::Column::UpdatedAt, Expr::value(ctx.now))
            .filter(reservation::COLUMN.id.eq(id))
            .filter(reservation::COLUMN.status.is_in(open)),
        reservation::Entity::find_by_id(id),
        reservation::Column::Version,
        if_match,
        |found| match found {
            None => InventoryError::not_found("reservation", id).into(),
            Some(r) => InventoryError::InvalidState {
                what: "the reservation",
                status: r.status,
                allowed: "active or partially_consumed",
            }
            .into(),
        },
    )
    .await
    .and_then(|claimed| match claimed.order_id {
        // An order's stock goes when the order says: cancel or edit the order.
        Some(order_id) => Err(InventoryError::InvalidState {
            what: "the reservation",
            status: format!("held for order {order_id}"),
            allowed: "not held for an order: cancel or change the order instead",
        }
        .into()),
        None => Ok(claimed),
    })
}

/// Whether an order's edit can grow or shrink this reservation: it holds stock, or
/// everything it held shipped ([`adjust_for_order`]); not once released or expired.
pub async fn adjustable(conn: &impl sea_orm::ConnectionTrait, id: Uuid) -> Result<bool> {
    let held = [
        ReservationStatus::Active.as_str(),
        ReservationStatus::PartiallyConsumed.as_str(),
        ReservationStatus::Consumed.as_str(),
    ];
    Ok(reservation::Entity::find_by_id(id)
        .filter(reservation::COLUMN.status.is_in(held))
        .one(conn)
        .await?
        .is_some())
}

/// Whether an order's reservation still holds stock (active or partly shipped).
pub async fn still_holds(conn: &impl sea_orm::ConnectionTrait, id: Uuid) -> Result<bool> {
    let open = [
        ReservationStatus::Active.as_str(),
        ReservationStatus::PartiallyConsumed.as_str(),
    ];
    Ok(reservation::Entity::find_by_id(id)
        .filter(reservation::COLUMN.status.is_in(open))
        .one(conn)
        .await?
        .is_some())
}

pub(super) async fn lines_of(
    txn: &DatabaseTransaction,
    id: Uuid,
) -> Result<Vec<(reservation_line::Model, Place)>> {
    let lines = reservation_line::Entity::find()
        .filter(reservation_line::COLUMN.reservation_id.eq(id))
        .order_by_asc(reservation_line::Column::LineNo)
        .all(txn)
        .await?;
    let places = queries::places(txn, lines.iter().map(|l| (l.product_id, l.warehouse_id))).await?;
    Ok(lines
        .into_iter()
        .filter_map(|l| {
            places
                .get(&(l.product_id, l.warehouse_id))
                .cloned()
                .map(|p| (l, p))
        })
        .collect())
}

pub(super) async fn set_status(
    txn: &DatabaseTransaction,
    id: Uuid,
    status: ReservationStatus,
) -> Result<()> {
    reservation::Entity::update_many()
        .col_expr(reservation::Column::Status, Expr::value(status.as_str()))
        .filter(reservation::COLUMN.id.eq(id))
        .exec(txn)
        .await?;
    Ok(())
}

/// The reservation as it stands after a change: the claimed row with its new status,
/// and its lines (read before the change) with `apply` done to each.
pub(super) fn finished(
    mut claimed: reservation::Model,
    status: ReservationStatus,
    mut lines: Vec<(reservation_line::Model, Place)>,
    apply: impl Fn(&mut reservation_line::Model),
) -> ReservationView {
    claimed.status = status.as_str().to_owned();
    for (l, _) in &mut lines {
        apply(l);
    }
    lines.sort_by_key(|(l, _)| l.line_no);
    queries::reservations::view(claimed, lines)
}

/// Let go of everything still held. `expired` is the sweeper's variant.
#[tracing::instrument(skip_all)]
pub async fn release(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    if_match: Option<i64>,
) -> Result<ReservationView> {
    ctx.actor.require(Action::InventoryWrite)?;
    let claimed = claim(txn, ctx, id, if_match).await?;
    let_go(txn, ctx, claimed, ReservationStatus::Released, None).await
}

/// Release everything `claimed` still holds, ending as `status`.
async fn let_go(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    claimed: reservation::Model,
    status: ReservationStatus,
    order_id: Option<Uuid>,
) -> Result<ReservationView> {
    let id = claimed.id;
    let mut lines = lines_of(txn, id).await?;
    lines.sort_by_key(|(l, _)| (l.product_id, l.warehouse_id, l.line_no));
    for (line, place) in &lines {
        let open = line.open();
        if open == 0 {
            continue;
        }
        let after = levels::change(txn, ctx, place.key(), 0, -open, Floor::Zero)
            .await?
            .ok_or_else(|| {
                InventoryError::Conflict(
                    "reserved stock is out of step; run `ordercrm inventory verify`".into(),
                )
            })?;
        reservation_line::Entity::update_many()
            .col_expr(
                reservation_line::Column::Released,
                Expr::col(reservation_line::Column::Released).add(open),
            )
            .filter(reservation_line::COLUMN.id.eq(line.id))
            .exec(txn)
            .await?;
        levels::check_alert(txn, ctx, place, &after).await?;
    }
    // Part shipped and the rest let go is still "released": the lines show the split.
    set_status(txn, id, status).await?;
    let view = finished(claimed, status, lines, |l| l.released += l.open());
    let event = if status == ReservationStatus::Expired {
        &events::RESERVATION_EXPIRED
    } else {
        &events::RESERVATION_RELEASED
    };
    events::reservation_of(txn, ctx, event, &view, order_id).await?;
    audit::record(
        txn,
        ctx,
        Entry::new(
            if status == ReservationStatus::Expired {
                "reservation.expire"
            } else {
                "reservation.release"
            },
            "reservation",
            id,
        )
        .changes(json!({"status": view.status})),
    )
    .await?;
    Ok(view)
}

/// Ship held stock: on-hand and reserved fall together, one `shipment` ledger line
/// per line shipped. Without `lines`, everything still held ships.
#[tracing::instrument(skip_all)]
pub async fn consume(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    if_match: Option<i64>,
    input: Consume,
) -> Result<ReservationView> {
    ctx.actor.require(Action::InventoryWrite)?;
    let mut errors = Vec::new();
    let reference = Text::check(input.reference, &mut errors, "reference");
    let claimed = claim(txn, ctx, id, if_match).await?;
    if claimed.expires_at.is_some_and(|at| at <= ctx.now) {
        return Err(InventoryError::InvalidState {
            what: "the reservation",
            status: "expired".into(),
            allowed: "active or partially_consumed, not past expires_at",
        }
        .into());
    }
    let lines = lines_of(txn, id).await?;
    let mut take = model::Takes::default();
    match &input.lines {
        None => {
            for (l, _) in &lines {
                take.all(l.line_no, l.open());
            }
        }
        Some(chosen) => {
            model::check_lines(&mut errors, chosen.len());
            for (i, c) in chosen.iter().enumerate() {
                match lines.iter().find(|(l, _)| l.line_no == c.line_no) {
                    None => errors.push(FieldError::new(
                        format!("lines[{i}].line_no"),
                        "unknown_line",
                        format!("the reservation has no line {}", c.line_no),
                    )),
                    Some((l, _)) => {
                        let field = format!("lines[{i}].quantity");
                        take.add(&mut errors, &field, c.line_no, c.quantity, l.open(), || {
                            FieldError::new(
                                &field,
                                "range",
                                format!(
                                    "line {} has {} still held, in all of this request's lines for it",
                                    c.line_no,
                                    l.open()
                                ),
                            )
                        });
                    }
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(ordercrm_kernel::Error::validation(errors));
    }
    let mut ordered: Vec<&(reservation_line::Model, Place)> = lines.iter().collect();
    ordered.sort_by_key(|(l, _)| (l.product_id, l.warehouse_id, l.line_no));
    for (line, place) in ordered {
        let q = take.get(line.line_no);
        if q == 0 {
            continue;
        }
        let after = levels::change(txn, ctx, place.key(), -q, -q, Floor::Zero)
            .await?
            .ok_or_else(|| InventoryError::Insufficient(vec![place.short(q, 0)]))?;
        let movement = levels::record(
            txn,
            ctx,
            place,
            &after,
            Moved::new(MovementKind::Shipment, q, -q),
            Note {
                reference: reference.clone().or_else(|| claimed.reference.clone()),
                reservation_id: Some(id),
                ..Default::default()
            },
        )
        .await?;
        let level = place.level_view(&after);
        events::level_changed(txn, ctx, &events::STOCK_LEVEL_SHIPPED, &movement, &level).await?;
        reservation_line::Entity::update_many()
            .col_expr(
                reservation_line::Column::Consumed,
                Expr::col(reservation_line::Column::Consumed).add(q),
            )
            .filter(reservation_line::COLUMN.id.eq(line.id))
            .exec(txn)
            .await?;
    }
    let still_open: i64 = lines
        .iter()
        .map(|(l, _)| l.open() - take.get(l.line_no))
        .sum();
    let status = if still_open == 0 {
        ReservationStatus::Consumed
    } else {
        ReservationStatus::PartiallyConsumed
    };
    set_status(txn, id, status).await?;
    let view = finished(claimed, status, lines, |l| {
        l.consumed += take.get(l.line_no)
    });
    events::reservation(txn, ctx, &events::RESERVATION_CONSUMED, &view).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("reservation.consume", "reservation", id)
            .changes(json!({"shipped": take, "status": view.status})),
    )
    .await?;
    Ok(view)
}

/// Release holds whose `expires_at` has passed, each in its own transaction so one
/// bad row cannot stall the rest. Returns how many were released.
pub async fn sweep_expired(
    db: &ordercrm_kernel::Db,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<u64> {
    let open = [
        ReservationStatus::Active.as_str(),
        ReservationStatus::PartiallyConsumed.as_str(),
    ];
    let due: Vec<Uuid> = reservation::Entity::find()
        .filter(reservation::COLUMN.status.is_in(open))
        .filter(reservation::COLUMN.expires_at.lte(now))
        .order_by_asc(reservation::Column::ExpiresAt)
        .all(db.reader())
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect();
    let ctx = Ctx::system(now);
    let mut released = 0;
    for id in due {
        #[allow(clippy::disallowed_methods)] // a background sweep, one transaction per hold
        let txn = db.begin().await?;
        match claim(&txn, &ctx, id, None).await {
            Ok(claimed) => {
                let_go(&txn, &ctx, claimed, ReservationStatus::Expired, None).await?;
                txn.commit().await?;
                released += 1;
            }
            // Released or consumed meanwhile: nothing to do.
            Err(_) => txn.rollback().await?,
        }
    }
    Ok(released)
}
