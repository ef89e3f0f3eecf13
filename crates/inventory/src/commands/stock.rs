//! Receipts, adjustments, transfers, returns, WMS counts and reorder settings.
//! Shipments happen by consuming a reservation (see `reservations`).

use ordercrm_kernel::audit::{self, Entry};
use ordercrm_kernel::authz::Action;
use ordercrm_kernel::events::EventType;
use ordercrm_kernel::input::Text;
use ordercrm_kernel::version::unless_unchanged;
use ordercrm_kernel::{Ctx, FieldError, Result, id::new_id};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{DatabaseTransaction, EntityTrait, QueryFilter};
use serde_json::json;

use super::levels::{self, Floor, Moved, Note, Place};
use crate::dto::{
    Adjust, CountResult, Disposition, LevelView, Receive, Return, StockChange, Transfer,
    UpdateLevel, WmsCount,
};
use crate::entity::level;
use crate::error::InventoryError;
use crate::events;
use crate::model::{self, MovementKind};

fn invalid(errors: Vec<FieldError>) -> ordercrm_kernel::Error {
    ordercrm_kernel::Error::validation(errors)
}

async fn audit_change(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    action: &str,
    change: &StockChange,
) -> Result<()> {
    let id = change
        .levels
        .first()
        .map(LevelView::label)
        .unwrap_or_default();
    audit::record(
        txn,
        ctx,
        Entry::new(action, "stock_level", id).changes(json!({"movements": change.movements})),
    )
    .await?;
    Ok(())
}

/// Goods in: on-hand rises by `quantity`.
#[tracing::instrument(skip_all)]
pub async fn receive(txn: &DatabaseTransaction, ctx: &Ctx, input: Receive) -> Result<StockChange> {
    ctx.actor.require(Action::InventoryWrite)?;
    let mut errors = Vec::new();
    model::check_positive(&mut errors, "quantity", input.quantity);
    let reference = Text::check(input.reference, &mut errors, "reference");
    let place = levels::resolve_one(txn, &input.sku, &input.warehouse_code, errors).await?;
    let change = receive_at(
        txn,
        ctx,
        &place,
        input.quantity,
        (MovementKind::Receipt, &events::STOCK_LEVEL_RECEIVED),
        Note {
            reference,
            ..Default::default()
        },
    )
    .await?;
    audit_change(txn, ctx, "inventory.receive", &change).await?;
    Ok(change)
}

/// On-hand up by `quantity` at `place`, as `kind`, written as `event`: receipts,
/// restocked returns and purchase-order receipts share it.
pub(crate) async fn receive_at(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    place: &Place,
    quantity: i64,
    (kind, event): (MovementKind, &EventType<events::StockLevelChanged>),
    note: Note,
) -> Result<StockChange> {
    levels::ensure(txn, ctx, place).await?;
    let after = levels::change(txn, ctx, place.key(), quantity, 0, Floor::Zero)
        .await?
        .ok_or_else(|| InventoryError::Conflict("the stock level changed; retry".into()))?;
    let movement = levels::record(
        txn,
        ctx,
        place,
        &after,
        Moved::new(kind, quantity, quantity),
        note,
    )
    .await?;
    events::level_changed(txn, ctx, event, &movement, &place.level_view(&after)).await?;
    let after = levels::check_alert(txn, ctx, place, &after).await?;
    Ok(StockChange {
        movements: vec![movement],
        levels: vec![place.level_view(&after)],
    })
}

/// A correction with a reason. It may not take on-hand below zero, nor below what is
/// reserved: release the reservations first.
#[tracing::instrument(skip_all)]
pub async fn adjust(txn: &DatabaseTransaction, ctx: &Ctx, input: Adjust) -> Result<StockChange> {
    ctx.actor.require(Action::InventoryWrite)?;
    let mut errors = Vec::new();
    // A range, never `abs()`: i64::MIN has no absolute value (it wraps in release).
    if input.quantity == 0
        || !(-model::MAX_QUANTITY..=model::MAX_QUANTITY).contains(&input.quantity)
    {
        errors.push(FieldError::new(
            "quantity",
            "range",
            format!(
                "must be a non-zero change between -{0} and {0}",
                model::MAX_QUANTITY
            ),
        ));
    }
    let reason = input.reason.check(&mut errors, "reason");
    let reference = Text::check(input.reference, &mut errors, "reference");
    let place = levels::resolve_one(txn, &input.sku, &input.warehouse_code, errors).await?;
    levels::ensure(txn, ctx, &place).await?;
    let Some(after) =
        levels::change(txn, ctx, place.key(), input.quantity, 0, Floor::Reserved).await?
    else {
        let now = levels::current(txn, place.key()).await?;
        let available = now.as_ref().map_or(0, level::Model::available);
        return Err(
            InventoryError::Insufficient(vec![place.short(-input.quantity, available)]).into(),
        );
    };
    let movement = levels::record(
        txn,
        ctx,
        &place,
        &after,
        Moved::new(
            MovementKind::Adjustment,
            input.quantity.abs(),
            input.quantity,
        ),
        Note {
            reason: Some(reason),
            reference,
            ..Default::default()
        },
    )
    .await?;
    let level = place.level_view(&after);
    events::level_changed(txn, ctx, &events::STOCK_LEVEL_ADJUSTED, &movement, &level).await?;
    let after = levels::check_alert(txn, ctx, &place, &after).await?;
    let change = StockChange {
        movements: vec![movement],
        levels: vec![place.level_view(&after)],
    };
    audit_change(txn, ctx, "inventory.adjust", &change).await?;
    Ok(change)
}

/// Move available stock between warehouses: both legs in this transaction, the
/// two levels changed in a fixed order so opposite transfers cannot deadlock.
#[tracing::instrument(skip_all)]
pub async fn transfer(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    input: Transfer,
) -> Result<StockChange> {
    ctx.actor.require(Action::InventoryWrite)?;
    let mut errors = Vec::new();
    model::check_positive(&mut errors, "quantity", input.quantity);
    let reference = Text::check(input.reference, &mut errors, "reference");
    if model::normalize_code(&input.from_warehouse_code)
        == model::normalize_code(&input.to_warehouse_code)
    {
        errors.push(FieldError::new(
            "to_warehouse_code",
            "same_warehouse",
            "must differ from from_warehouse_code",
        ));
    }
    let from = levels::resolve_into(
        txn,
        &input.sku,
        &input.from_warehouse_code,
        "from_warehouse_code",
        &mut errors,
    )
    .await?;
    let to = levels::resolve_into(
        txn,
        &input.sku,
        &input.to_warehouse_code,
        "to_warehouse_code",
        &mut errors,
    )
    .await?;
    let (Some(from), Some(to)) = (from, to) else {
        return Err(invalid(errors));
    };
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    let q = input.quantity;
    let transfer_id = new_id();
    levels::ensure(txn, ctx, &from).await?;
    levels::ensure(txn, ctx, &to).await?;
    let mut legs = [(&from, -q), (&to, q)];
    legs.sort_by_key(|(place, _)| place.key());
    let mut movements = Vec::new();
    let mut after_levels = Vec::new();
    for (place, delta) in legs {
        let floor = if delta < 0 {
            Floor::Reserved
        } else {
            Floor::Zero
        };
        let Some(after) = levels::change(txn, ctx, place.key(), delta, 0, floor).await? else {
            let now = levels::current(txn, place.key()).await?;
            return Err(InventoryError::Insufficient(vec![
                place.short(q, now.as_ref().map_or(0, level::Model::available)),
            ])
            .into());
        };
        let kind = if delta < 0 {
            MovementKind::TransferOut
        } else {
            MovementKind::TransferIn
        };
        let note = Note {
            reference: reference.clone(),
            transfer_id: Some(transfer_id),
            ..Default::default()
        };
        let movement =
            levels::record(txn, ctx, place, &after, Moved::new(kind, q, delta), note).await?;
        let level = place.level_view(&after);
        events::level_changed(
            txn,
            ctx,
            &events::STOCK_LEVEL_TRANSFERRED,
            &movement,
            &level,
        )
        .await?;
        let after = levels::check_alert(txn, ctx, place, &after).await?;
        let level = place.level_view(&after);
        movements.push(movement);
        after_levels.push(level);
    }
    // Out leg first in the answer, whatever order the rows were locked in.
    movements.sort_by_key(|m| m.quantity);
    after_levels.sort_by_key(|l| l.warehouse_id != from.warehouse.id);
    let change = StockChange {
        movements,
        levels: after_levels,
    };
    audit_change(txn, ctx, "inventory.transfer", &change).await?;
    Ok(change)
}

/// Goods back from a customer: restocked (on-hand rises) or scrapped (recorded,
/// on-hand unchanged).
#[tracing::instrument(skip_all)]
pub async fn return_goods(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    input: Return,
) -> Result<StockChange> {
    ctx.actor.require(Action::InventoryWrite)?;
    let mut errors = Vec::new();
    model::check_positive(&mut errors, "quantity", input.quantity);
    let reason = Text::check(input.reason, &mut errors, "reason");
    let reference = Text::check(input.reference, &mut errors, "reference");
    let place = levels::resolve_one(txn, &input.sku, &input.warehouse_code, errors).await?;
    let note = Note {
        reason,
        reference,
        ..Default::default()
    };
    let change = match input.disposition {
        Disposition::Restock => {
            receive_at(
                txn,
                ctx,
                &place,
                input.quantity,
                (MovementKind::ReturnRestock, &events::STOCK_LEVEL_RETURNED),
                note,
            )
            .await?
        }
        Disposition::Scrap => {
            levels::ensure(txn, ctx, &place).await?;
            // A no-op change still locks the row and returns it, so the ledger line
            // carries an on-hand that no concurrent writer can make stale.
            let after = levels::change(txn, ctx, place.key(), 0, 0, Floor::Zero)
                .await?
                .ok_or_else(|| InventoryError::Conflict("the stock level changed; retry".into()))?;
            let movement = levels::record(
                txn,
                ctx,
                &place,
                &after,
                Moved::new(MovementKind::ReturnScrap, input.quantity, 0),
                note,
            )
            .await?;
            let level = place.level_view(&after);
            events::level_changed(txn, ctx, &events::STOCK_LEVEL_RETURNED, &movement, &level)
                .await?;
            StockChange {
                movements: vec![movement],
                levels: vec![level],
            }
        }
    };
    audit_change(txn, ctx, "inventory.return", &change).await?;
    Ok(change)
}

/// Apply a WMS count: the newest count wins, older or repeated ones change nothing.
/// The difference to the books becomes a `count` movement.
#[tracing::instrument(skip_all)]
pub async fn count(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    sku: &str,
    warehouse_code: &str,
    input: WmsCount,
) -> Result<CountResult> {
    ctx.actor.require(Action::InventoryWrite)?;
    let mut errors = Vec::new();
    model::check_non_negative(&mut errors, "quantity", input.quantity);
    let reference = Text::check(input.reference, &mut errors, "reference");
    if input.counted_at > ctx.now + chrono::Duration::minutes(5) {
        errors.push(FieldError::new(
            "counted_at",
            "in_future",
            "must not be in the future",
        ));
    }
    let place = levels::resolve_path(txn, sku, warehouse_code, errors).await?;
    levels::ensure(txn, ctx, &place).await?;
    let c = level::COLUMN;
    // Claim the count first: only a count newer than the last applied one passes,
    // and the row stays locked until commit, so the on-hand read next is current.
    let claimed = level::Entity::update_many()
        .col_expr(
            level::Column::CountedAt,
            Expr::value(Some(input.counted_at)),
        )
        .filter(c.product_id.eq(place.product.id))
        .filter(c.warehouse_id.eq(place.warehouse.id))
        .filter(
            c.counted_at
                .is_null()
                .or(Expr::col(level::Column::CountedAt).lt(input.counted_at)),
        )
        .exec_with_returning(txn)
        .await?
        .pop();
    let Some(claimed) = claimed else {
        let now = levels::current(txn, place.key())
            .await?
            .ok_or_else(|| InventoryError::not_found("stock level", place.label()))?;
        return Ok(CountResult {
            applied: false,
            level: place.level_view(&now),
            movement: None,
        });
    };
    let delta = input.quantity - claimed.on_hand;
    let after = levels::change(txn, ctx, place.key(), delta, 0, Floor::Zero)
        .await?
        .ok_or_else(|| InventoryError::Conflict("the stock level changed; retry".into()))?;
    let movement = if delta != 0 {
        Some(
            levels::record(
                txn,
                ctx,
                &place,
                &after,
                Moved::new(MovementKind::Count, delta.abs(), delta),
                Note {
                    reason: Some(format!("WMS count at {}", input.counted_at.to_rfc3339())),
                    reference,
                    ..Default::default()
                },
            )
            .await?,
        )
    } else {
        None
    };
    let data = events::StockLevelCounted {
        level: place.level_view(&after),
        movement: movement.clone(),
    };
    events::stock_level(txn, ctx, &events::STOCK_LEVEL_COUNTED, &data.level, &data).await?;
    // After the count's event: the alert it may open or close is its consequence.
    let after = levels::check_alert(txn, ctx, &place, &after).await?;
    let level = place.level_view(&after);
    audit::record(
        txn,
        ctx,
        Entry::new("inventory.count", "stock_level", place.label()).changes(json!({
            "counted": input.quantity, "counted_at": input.counted_at, "delta": delta,
        })),
    )
    .await?;
    Ok(CountResult {
        applied: true,
        level,
        movement,
    })
}

/// Reorder point, reorder quantity and safety stock of one level.
#[tracing::instrument(skip_all)]
pub async fn update_level(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    sku: &str,
    warehouse_code: &str,
    if_match: Option<i64>,
    input: UpdateLevel,
) -> Result<LevelView> {
    ctx.actor.require(Action::InventoryWrite)?;
    let mut errors = Vec::new();
    for (field, v) in [
        ("reorder_point", input.reorder_point),
        ("reorder_quantity", input.reorder_quantity),
        ("safety_stock", input.safety_stock),
    ] {
        if let Some(v) = v {
            model::check_non_negative(&mut errors, field, v);
        }
    }
    let place = levels::resolve_path(txn, sku, warehouse_code, errors).await?;
    levels::ensure(txn, ctx, &place).await?;
    let c = level::COLUMN;
    let changed = unless_unchanged(txn, async |txn| {
        let before = ordercrm_kernel::version::claim(
            txn,
            level::Entity::update_many()
                .col_expr(level::Column::UpdatedAt, Expr::value(ctx.now))
                .filter(c.product_id.eq(place.product.id))
                .filter(c.warehouse_id.eq(place.warehouse.id)),
            level::Entity::find()
                .filter(c.product_id.eq(place.product.id))
                .filter(c.warehouse_id.eq(place.warehouse.id)),
            level::Column::Version,
            if_match,
            |_| InventoryError::not_found("stock level", place.label()).into(),
        )
        .await?;
        let mut update = level::Entity::update_many()
            .filter(c.product_id.eq(place.product.id))
            .filter(c.warehouse_id.eq(place.warehouse.id));
        if let Some(v) = input.reorder_point {
            update = update.col_expr(level::Column::ReorderPoint, Expr::value(v));
        }
        if let Some(v) = input.reorder_quantity {
            update = update.col_expr(level::Column::ReorderQuantity, Expr::value(v));
        }
        if let Some(v) = input.safety_stock {
            update = update.col_expr(level::Column::SafetyStock, Expr::value(v));
        }
        let after = update
            .col_expr(level::Column::UpdatedAt, Expr::value(ctx.now))
            .exec_with_returning(txn)
            .await?
            .pop()
            .ok_or_else(|| InventoryError::not_found("stock level", place.label()))?;
        Ok((place.level_view(&before), place.level_view(&after)))
    })
    .await?;
    let Some((before, after)) = changed else {
        let now = levels::current(txn, place.key())
            .await?
            .ok_or_else(|| InventoryError::not_found("stock level", place.label()))?;
        return Ok(place.level_view(&now));
    };
    audit::record(
        txn,
        ctx,
        Entry::new("inventory.level_update", "stock_level", place.label()).changes(
            audit::diff(
                &json!({"reorder_point": before.reorder_point, "reorder_quantity": before.reorder_quantity, "safety_stock": before.safety_stock}),
                &json!({"reorder_point": after.reorder_point, "reorder_quantity": after.reorder_quantity, "safety_stock": after.safety_stock}),
            ),
        ),
    )
    .await?;
    events::stock_level(txn, ctx, &events::STOCK_LEVEL_UPDATED, &after, &after).await?;
    // A new reorder point may open or close the alert: after the update's event.
    let now = levels::current(txn, place.key())
        .await?
        .ok_or_else(|| InventoryError::not_found("stock level", place.label()))?;
    let now = levels::check_alert(txn, ctx, &place, &now).await?;
    Ok(place.level_view(&now))
}
