//! Keeping an order's dispatch notes in step with it: opened when it is approved,
//! their status following what their lines have shipped, voided when the order
//! ends before they shipped in full. Called inside the order's own transaction.

use std::collections::BTreeMap;

use ordercrm_kernel::id::new_id;
use ordercrm_kernel::{Ctx, Result};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::dto::{DispatchLineView, DispatchNoteView, DispatchOrder};
use super::events;
use super::model::{DispatchStatus, Shipped, shipped_state};
use crate::dto::OrderData;
use crate::entity::{dispatch_note, order_line};
use crate::model::OrderStatus;

/// The note as readers see it: its lines are the order's lines in its warehouse.
pub(crate) fn view(note: &dispatch_note::Model, order: &OrderData) -> DispatchNoteView {
    DispatchNoteView {
        id: note.id,
        number: note.number.clone(),
        order: DispatchOrder {
            id: order.id,
            number: order.number.clone(),
            status: order.status,
            customer: order.customer.clone(),
        },
        warehouse_id: note.warehouse_id,
        warehouse_code: note.warehouse_code.clone(),
        status: DispatchStatus::parse(&note.status).unwrap_or(DispatchStatus::Open),
        ship_to: note
            .ship_to
            .clone()
            .and_then(|v| serde_json::from_value(v).ok()),
        requested_delivery_on: note.requested_delivery_on,
        promised_on: note.promised_on,
        lines: order
            .lines
            .iter()
            .filter(|l| l.warehouse_id == Some(note.warehouse_id))
            .map(|l| DispatchLineView {
                line_no: l.line_no,
                product_id: l.product_id,
                sku: l.sku.clone(),
                name: l.name.clone(),
                unit: l.unit.clone(),
                quantity: l.quantity,
                shipped_quantity: l.shipped_quantity,
                open_quantity: l.quantity - l.shipped_quantity,
            })
            .collect(),
        version: note.version,
        created_at: note.created_at,
        updated_at: note.updated_at,
    }
}

pub(crate) async fn notes_of(
    conn: &impl ConnectionTrait,
    order_id: Uuid,
) -> Result<Vec<dispatch_note::Model>> {
    Ok(dispatch_note::Entity::find()
        .filter(dispatch_note::COLUMN.order_id.eq(order_id))
        .all(conn)
        .await?)
}

/// Open a note for each warehouse the order ships from that has none yet (an order
/// released after a hold keeps the notes it had).
pub(crate) async fn open_for(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    order: &OrderData,
) -> Result<()> {
    let existing: Vec<Uuid> = notes_of(txn, order.id)
        .await?
        .into_iter()
        .map(|n| n.warehouse_id)
        .collect();
    let mut warehouses: BTreeMap<String, Uuid> = BTreeMap::new();
    for l in &order.lines {
        if let (Some(id), Some(code)) = (l.warehouse_id, &l.warehouse_code)
            && !existing.contains(&id)
        {
            warehouses.insert(code.clone(), id);
        }
    }
    for (code, warehouse_id) in warehouses {
        let note = dispatch_note::ActiveModel {
            id: Set(new_id()),
            number: Set(format!("{}-{}", order.number, code)),
            order_id: Set(order.id),
            warehouse_id: Set(warehouse_id),
            warehouse_code: Set(code),
            status: Set(DispatchStatus::Open.as_str().to_owned()),
            ship_to: Set(order
                .shipping_address
                .as_ref()
                .map(|a| serde_json::json!(a))),
            requested_delivery_on: Set(order.requested_delivery_on),
            promised_on: Set(order
                .requested_delivery_on
                .unwrap_or_else(|| ctx.now.date_naive())),
            version: Set(1),
            created_at: Set(ctx.now),
            updated_at: Set(ctx.now),
        }
        .insert(txn)
        .await?;
        events::note(
            txn,
            ctx,
            &events::DISPATCH_NOTE_CREATED,
            &view(&note, order),
        )
        .await?;
    }
    Ok(())
}

/// Bring each note's status in line with its lines, after a shipment or its
/// cancellation; once the order has ended, a note not shipped in full is voided.
/// One event per note whose status changed.
pub(crate) async fn refresh(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    lines: &[order_line::Model],
    order: &OrderData,
) -> Result<()> {
    let ended = matches!(order.status, OrderStatus::Cancelled | OrderStatus::Rejected);
    for note in notes_of(txn, order.id).await? {
        let shipped = shipped_state(
            lines
                .iter()
                .filter(|l| l.warehouse_id == Some(note.warehouse_id)),
        );
        let target = if ended && shipped != Shipped::All {
            DispatchStatus::Voided
        } else {
            shipped.dispatch()
        };
        if note.status == target.as_str() {
            continue;
        }
        let event = if target == DispatchStatus::Voided {
            &events::DISPATCH_NOTE_VOIDED
        } else {
            &events::DISPATCH_NOTE_UPDATED
        };
        let changed = set_status(txn, ctx, note, target).await?;
        events::note(txn, ctx, event, &view(&changed, order)).await?;
    }
    Ok(())
}

/// Bring the notes in line with an edit of their order: a note whose warehouse has
/// no lines left is voided; one whose lines or ship-to changed takes the order's
/// address and requested day (while it has not shipped in full) and its status from
/// its lines, one `dispatch_note.updated` each; a warehouse new to the order gets a
/// note (approved orders).
pub(crate) async fn follow_edit(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    before: &[order_line::Model],
    lines: &[order_line::Model],
    order: &OrderData,
    shipping_changed: bool,
) -> Result<()> {
    let of = |lines: &[order_line::Model], warehouse: Uuid| -> Vec<order_line::Model> {
        let mut mine: Vec<order_line::Model> = lines
            .iter()
            .filter(|l| l.warehouse_id == Some(warehouse))
            .cloned()
            .collect();
        mine.sort_by_key(|l| l.line_no);
        mine
    };
    for note in notes_of(txn, order.id).await? {
        let (was, now) = (of(before, note.warehouse_id), of(lines, note.warehouse_id));
        let target = if now.is_empty() {
            DispatchStatus::Voided
        } else {
            shipped_state(now.iter()).dispatch()
        };
        let lines_changed = was != now;
        let ships_later = target != DispatchStatus::Shipped && target != DispatchStatus::Voided;
        let readdressed = shipping_changed && ships_later;
        if !lines_changed && !readdressed && note.status == target.as_str() {
            continue;
        }
        let mut active: dispatch_note::ActiveModel = note.clone().into();
        active.status = Set(target.as_str().to_owned());
        if readdressed {
            active.ship_to = Set(order
                .shipping_address
                .as_ref()
                .map(|a| serde_json::json!(a)));
            active.requested_delivery_on = Set(order.requested_delivery_on);
            active.promised_on = Set(order.requested_delivery_on.unwrap_or(note.promised_on));
        }
        active.version = Set(note.version + 1);
        active.updated_at = Set(ctx.now);
        let changed = active.update(txn).await?;
        let event = if target == DispatchStatus::Voided {
            &events::DISPATCH_NOTE_VOIDED
        } else {
            &events::DISPATCH_NOTE_UPDATED
        };
        events::note(txn, ctx, event, &view(&changed, order)).await?;
    }
    if order.status == OrderStatus::Approved {
        open_for(txn, ctx, order).await?;
    }
    Ok(())
}

async fn set_status(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    note: dispatch_note::Model,
    status: DispatchStatus,
) -> Result<dispatch_note::Model> {
    dispatch_note::Entity::update_many()
        .col_expr(dispatch_note::Column::Status, Expr::value(status.as_str()))
        .col_expr(
            dispatch_note::Column::Version,
            Expr::col(dispatch_note::Column::Version).add(1),
        )
        .col_expr(dispatch_note::Column::UpdatedAt, Expr::value(ctx.now))
        .filter(dispatch_note::COLUMN.id.eq(note.id))
        .exec(txn)
        .await?;
    Ok(dispatch_note::Model {
        status: status.as_str().to_owned(),
        version: note.version + 1,
        updated_at: ctx.now,
        ..note
    })
}
