//! An order's goods leaving and, when a shipment is cancelled before pickup, coming
//! back. The order calls these in its own transaction after taking its own row, so
//! shipments of one order run one after the other; each level still changes by one
//! conditional statement, so the books cannot go below zero whatever the caller does.

use ordercrm_kernel::audit::{self, Entry};
use ordercrm_kernel::{Ctx, Result};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{DatabaseTransaction, EntityTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;

use super::levels::{self, Floor, Moved, Note, Place};
use super::reservations::{OrderHold, finished, lines_of, set_status};
use crate::entity::{reservation, reservation_line};
use crate::error::InventoryError;
use crate::events;
use crate::model::{MovementKind, ReservationStatus};

fn out_of_step() -> ordercrm_kernel::Error {
    InventoryError::Conflict(
        "the order's reserved stock is out of step; run `ordercrm inventory verify`".into(),
    )
    .into()
}

/// The order's reservation, its version bumped: the row lock makes a concurrent
/// release of the same reservation wait. `statuses`: the ones this change starts from.
async fn claim(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    order_id: Uuid,
    reservation_id: Uuid,
    statuses: &[ReservationStatus],
) -> Result<reservation::Model> {
    let statuses: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
    ordercrm_kernel::version::try_claim(
        txn,
        reservation::Entity::update_many()
            .col_expr(reservation::Column::UpdatedAt, Expr::value(ctx.now))
            .filter(reservation::COLUMN.id.eq(reservation_id))
            .filter(reservation::COLUMN.order_id.eq(order_id))
            .filter(reservation::COLUMN.status.is_in(statuses)),
        reservation::Column::Version,
        None,
    )
    .await?
    .ok_or_else(out_of_step)
}

/// Split `quantity` over the lines of `key` that `room` allows, in line order: an
/// order's reservation has one line per level, a general one may have several.
fn spread(
    lines: &[(reservation_line::Model, Place)],
    key: (Uuid, Uuid),
    quantity: i64,
    room: impl Fn(&reservation_line::Model) -> i64,
) -> Result<Vec<(usize, i64)>> {
    let mut left = quantity;
    let mut parts = Vec::new();
    for (i, (line, place)) in lines.iter().enumerate() {
        if left == 0 {
            break;
        }
        if place.key() != key {
            continue;
        }
        let take = std::cmp::min(room(line), left);
        if take > 0 {
            parts.push((i, take));
            left -= take;
        }
    }
    if left > 0 {
        return Err(out_of_step());
    }
    Ok(parts)
}

/// Ship `takes` from the order's reservation: on-hand and reserved fall together,
/// one `shipment` ledger line per level. `reference` names the shipment.
#[tracing::instrument(skip_all)]
pub async fn ship_for_order(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    order_id: Uuid,
    reservation_id: Uuid,
    takes: &[OrderHold],
    reference: &str,
) -> Result<()> {
    let claimed = claim(
        txn,
        ctx,
        order_id,
        reservation_id,
        &[
            ReservationStatus::Active,
            ReservationStatus::PartiallyConsumed,
        ],
    )
    .await?;
    let mut lines = lines_of(txn, reservation_id).await?;
    let mut takes = takes.to_vec();
    takes.sort_by_key(|t| (t.product_id, t.warehouse_id));
    for t in &takes {
        let key = (t.product_id, t.warehouse_id);
        for (i, q) in spread(&lines, key, t.quantity, |l| l.open())? {
            let Some((line, place)) = lines.get_mut(i) else {
                return Err(out_of_step());
            };
            let after = levels::change(txn, ctx, key, -q, -q, Floor::Zero)
                .await?
                .ok_or_else(out_of_step)?;
            let movement = levels::record(
                txn,
                ctx,
                place,
                &after,
                Moved::new(MovementKind::Shipment, q, -q),
                Note {
                    reference: Some(reference.to_owned()),
                    reservation_id: Some(reservation_id),
                    ..Default::default()
                },
            )
            .await?;
            let level = place.level_view(&after);
            events::level_changed(txn, ctx, &events::STOCK_LEVEL_SHIPPED, &movement, &level)
                .await?;
            reservation_line::Entity::update_many()
                .col_expr(
                    reservation_line::Column::Consumed,
                    Expr::col(reservation_line::Column::Consumed).add(q),
                )
                .filter(reservation_line::COLUMN.id.eq(line.id))
                .exec(txn)
                .await?;
            line.consumed += q;
        }
    }
    let open: i64 = lines.iter().map(|(l, _)| l.open()).sum();
    let status = if open == 0 {
        ReservationStatus::Consumed
    } else {
        ReservationStatus::PartiallyConsumed
    };
    set_status(txn, reservation_id, status).await?;
    let view = finished(claimed, status, lines, |_| {});
    events::reservation_of(
        txn,
        ctx,
        &events::RESERVATION_CONSUMED,
        &view,
        Some(order_id),
    )
    .await?;
    audit::record(
        txn,
        ctx,
        Entry::new("reservation.consume", "reservation", reservation_id)
            .changes(json!({"shipment": reference, "status": view.status})),
    )
    .await?;
    Ok(())
}

/// Put back what a shipment cancelled before pickup took: on-hand rises again, one
/// `shipment_reversal` ledger line per level. While the order still wants the goods
/// (`hold_again`) they are held for it again; otherwise (the order was cancelled
/// meanwhile) they are available and the reservation line records them as released.
#[tracing::instrument(skip_all)]
pub async fn unship_for_order(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    order_id: Uuid,
    reservation_id: Uuid,
    takes: &[OrderHold],
    reference: &str,
    hold_again: bool,
) -> Result<()> {
    let claimed = claim(
        txn,
        ctx,
        order_id,
        reservation_id,
        &[
            ReservationStatus::Active,
            ReservationStatus::PartiallyConsumed,
            ReservationStatus::Consumed,
            ReservationStatus::Released,
        ],
    )
    .await?;
    let mut lines = lines_of(txn, reservation_id).await?;
    let mut takes = takes.to_vec();
    takes.sort_by_key(|t| (t.product_id, t.warehouse_id));
    let reserved_delta = |q: i64| if hold_again { q } else { 0 };
    for t in &takes {
        let key = (t.product_id, t.warehouse_id);
        for (i, q) in spread(&lines, key, t.quantity, |l| l.consumed)? {
            let Some((line, place)) = lines.get_mut(i) else {
                return Err(out_of_step());
            };
            let after = levels::change(txn, ctx, key, q, reserved_delta(q), Floor::Zero)
                .await?
                .ok_or_else(out_of_step)?;
            let movement = levels::record(
                txn,
                ctx,
                place,
                &after,
                Moved::new(MovementKind::ShipmentReversal, q, q),
                Note {
                    reference: Some(reference.to_owned()),
                    reservation_id: Some(reservation_id),
                    ..Default::default()
                },
            )
            .await?;
            let after = levels::check_alert(txn, ctx, place, &after).await?;
            let level = place.level_view(&after);
            events::level_changed(
                txn,
                ctx,
                &events::STOCK_LEVEL_SHIPMENT_REVERSED,
                &movement,
                &level,
            )
            .await?;
            let mut update = reservation_line::Entity::update_many().col_expr(
                reservation_line::Column::Consumed,
                Expr::col(reservation_line::Column::Consumed).sub(q),
            );
            if !hold_again {
                update = update.col_expr(
                    reservation_line::Column::Released,
                    Expr::col(reservation_line::Column::Released).add(q),
                );
                line.released += q;
            }
            update
                .filter(reservation_line::COLUMN.id.eq(line.id))
                .exec(txn)
                .await?;
            line.consumed -= q;
        }
    }
    let consumed: i64 = lines.iter().map(|(l, _)| l.consumed).sum();
    let status = if hold_again {
        if consumed == 0 {
            ReservationStatus::Active
        } else {
            ReservationStatus::PartiallyConsumed
        }
    } else {
        // The order let go of the rest already: what comes back is let go too.
        ReservationStatus::Released
    };
    set_status(txn, reservation_id, status).await?;
    let view = finished(claimed, status, lines, |_| {});
    events::reservation_of(
        txn,
        ctx,
        &events::RESERVATION_RESTORED,
        &view,
        Some(order_id),
    )
    .await?;
    audit::record(
        txn,
        ctx,
        Entry::new("reservation.restore", "reservation", reservation_id).changes(
            json!({"shipment": reference, "status": view.status, "held_again": hold_again}),
        ),
    )
    .await?;
    Ok(())
}

/// Goods a customer sent back under an order's return, at a warehouse the caller
/// checked is active: restocked (on-hand rises, a `return_restock` line) or
/// scrapped (a `return_scrap` line, on-hand unchanged). Nothing is held: the order
/// let go of these units when they shipped. `reference` names the return.
#[tracing::instrument(skip_all)]
pub async fn receive_return(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    (product_id, warehouse_id): (Uuid, Uuid),
    quantity: i64,
    restock: bool,
    reference: &str,
) -> Result<crate::dto::StockChange> {
    let product = crate::entity::product::Entity::find_by_id(product_id)
        .one(txn)
        .await?;
    let warehouse = crate::entity::warehouse::Entity::find_by_id(warehouse_id)
        .one(txn)
        .await?;
    let (Some(product), Some(warehouse)) = (product, warehouse) else {
        return Err(out_of_step());
    };
    let place = Place { product, warehouse };
    let note = Note {
        reference: Some(reference.to_owned()),
        ..Default::default()
    };
    if restock {
        return super::stock::receive_at(
            txn,
            ctx,
            &place,
            quantity,
            (MovementKind::ReturnRestock, &events::STOCK_LEVEL_RETURNED),
            note,
        )
        .await;
    }
    levels::ensure(txn, ctx, &place).await?;
    // A no-op change still locks the row and returns it, so the ledger line carries
    // an on-hand no concurrent writer can make stale.
    let after = levels::change(txn, ctx, place.key(), 0, 0, Floor::Zero)
        .await?
        .ok_or_else(out_of_step)?;
    let movement = levels::record(
        txn,
        ctx,
        &place,
        &after,
        Moved::new(MovementKind::ReturnScrap, quantity, 0),
        note,
    )
    .await?;
    let level = place.level_view(&after);
    events::level_changed(txn, ctx, &events::STOCK_LEVEL_RETURNED, &movement, &level).await?;
    Ok(crate::dto::StockChange {
        movements: vec![movement],
        levels: vec![level],
    })
}
