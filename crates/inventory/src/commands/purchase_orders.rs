//! Purchase orders: draft → ordered → partially_received → received, or cancelled.
//! Receiving writes receipt movements and the order's received quantities in one
//! transaction; more than ordered is refused.

use std::collections::HashMap;

use chrono::NaiveDate;
use ordercrm_kernel::audit::{self, Entry};
use ordercrm_kernel::authz::Action;
use ordercrm_kernel::input::Text;
use ordercrm_kernel::{Ctx, FieldError, Result, id::new_id, numbers};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder};
use serde_json::json;
use uuid::Uuid;

use super::levels::{self, Note, Place};
use super::stock::receive_at;
use crate::dto::{CreatePurchaseOrder, PurchaseOrderView, ReceivePurchaseOrder};
use crate::entity::{product, purchase_order, purchase_order_line, supplier, warehouse};
use crate::error::InventoryError;
use crate::model::{self, MovementKind, PurchaseOrderStatus};
use crate::{events, queries};

/// Unless the `purchase_order_number_prefix` setting says otherwise.
pub const DEFAULT_PREFIX: &str = "PO-";

/// One line of a new order, resolved.
pub(crate) struct NewLine {
    pub product: product::Model,
    pub quantity: i64,
    pub unit_cost: i64,
}

/// Purchase-order numbers may have gaps.
const NUMBERS: numbers::Kind = numbers::Kind::sequence("purchase_order");

/// Write a draft order. Callers have checked access and resolved the lines.
pub(crate) async fn insert_draft(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    supplier: &supplier::Model,
    warehouse: &warehouse::Model,
    lines: Vec<NewLine>,
    expected_on: Option<NaiveDate>,
    notes: Option<String>,
) -> Result<PurchaseOrderView> {
    let id = new_id();
    let prefix = ordercrm_settings::queries::number_prefix(
        txn,
        "purchase_order_number_prefix",
        DEFAULT_PREFIX,
    )
    .await?;
    let number = numbers::format(&prefix, numbers::next(txn, NUMBERS).await?);
    purchase_order::ActiveModel {
        id: Set(id),
        number: Set(number),
        supplier_id: Set(supplier.id),
        warehouse_id: Set(warehouse.id),
        status: Set(PurchaseOrderStatus::Draft.as_str().to_owned()),
        currency: Set(supplier.currency.clone()),
        expected_on: Set(expected_on),
        notes: Set(notes),
        ordered_at: Set(None),
        received_at: Set(None),
        cancelled_at: Set(None),
        created_by: Set(ctx.actor.principal()),
        version: Set(1),
        created_at: Set(ctx.now),
        updated_at: Set(ctx.now),
    }
    .insert(txn)
    .await?;
    purchase_order_line::Entity::insert_many((1..).zip(lines).map(|(line_no, l)| {
        purchase_order_line::ActiveModel {
            id: Set(new_id()),
            purchase_order_id: Set(id),
            line_no: Set(line_no),
            product_id: Set(l.product.id),
            quantity: Set(l.quantity),
            received_quantity: Set(0),
            unit_cost_amount: Set(l.unit_cost),
        }
    }))
    .exec_without_returning(txn)
    .await?;
    let view = queries::purchase_orders::get_in(txn, id).await?;
    events::purchase_order(txn, ctx, &events::PURCHASE_ORDER_CREATED, &view).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("purchase_order.create", "purchase_order", id).changes(audit::diff(
            &serde_json::Value::Null,
            &serde_json::to_value(&view).unwrap_or_default(),
        )),
    )
    .await?;
    Ok(view)
}

/// The unit cost to use: given, or the product's cost when it is in the order's currency.
pub(crate) fn unit_cost(
    errors: &mut Vec<FieldError>,
    field: &str,
    product: &product::Model,
    given: Option<i64>,
    currency: &str,
) -> i64 {
    match given {
        Some(c) if c >= 0 => c,
        Some(_) => {
            errors.push(FieldError::new(field, "range", "must not be negative"));
            0
        }
        None => match (product.cost_amount, product.cost_currency.as_deref()) {
            (Some(a), Some(c)) if c == currency => a,
            _ => {
                errors.push(FieldError::new(
                    field,
                    "required",
                    format!(
                        "'{}' has no cost in {currency}; give unit_cost",
                        product.sku
                    ),
                ));
                0
            }
        },
    }
}

#[tracing::instrument(skip_all)]
pub async fn create(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    input: CreatePurchaseOrder,
) -> Result<PurchaseOrderView> {
    ctx.actor.require(Action::PurchasingWrite)?;
    let mut errors = Vec::new();
    let notes = Text::check(input.notes, &mut errors, "notes");
    let supplier = supplier::Entity::find_by_id(input.supplier_id)
        .one(txn)
        .await?;
    match &supplier {
        None => errors.push(FieldError::new(
            "supplier_id",
            "unknown_supplier",
            format!("no supplier {}", input.supplier_id),
        )),
        Some(s) if !s.active => errors.push(FieldError::state(
            "supplier_id",
            "inactive",
            "the supplier is inactive",
        )),
        _ => {}
    }
    model::check_lines(&mut errors, input.lines.len());
    let pairs: Vec<(String, &str, &str)> = input
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            (
                format!("lines[{i}]."),
                l.sku.as_str(),
                input.warehouse_code.as_str(),
            )
        })
        .collect();
    let mut place_errors = Vec::new();
    let places = levels::resolve(txn, &pairs, &mut place_errors).await?;
    // The warehouse is one field, not one per line.
    let mut warehouse_reported = false;
    for e in place_errors {
        if e.field.ends_with("warehouse_code") {
            if !warehouse_reported {
                errors.push(FieldError::new("warehouse_code", e.code, e.message));
                warehouse_reported = true;
            }
        } else {
            errors.push(e);
        }
    }
    let currency = supplier
        .as_ref()
        .map(|s| s.currency.clone())
        .unwrap_or_default();
    let mut lines = Vec::new();
    for (i, (line, place)) in input.lines.iter().zip(places.iter()).enumerate() {
        model::check_positive(&mut errors, &format!("lines[{i}].quantity"), line.quantity);
        if let Some(place) = place {
            let cost = unit_cost(
                &mut errors,
                &format!("lines[{i}].unit_cost"),
                &place.product,
                line.unit_cost,
                &currency,
            );
            lines.push(NewLine {
                product: place.product.clone(),
                quantity: line.quantity,
                unit_cost: cost,
            });
        }
    }
    let (Some(supplier), Some(Some(first))) = (supplier, places.first()) else {
        return Err(ordercrm_kernel::Error::validation(errors));
    };
    if !errors.is_empty() {
        return Err(ordercrm_kernel::Error::validation(errors));
    }
    let warehouse = first.warehouse.clone();
    insert_draft(
        txn,
        ctx,
        &supplier,
        &warehouse,
        lines,
        input.expected_on.map(Into::into),
        notes,
    )
    .await
}

/// Move the order from one status to another, checking it is in one of `from`.
async fn transition(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    if_match: Option<i64>,
    from: &[PurchaseOrderStatus],
    allowed: &'static str,
) -> Result<purchase_order::Model> {
    ordercrm_kernel::version::claim(
        txn,
        purchase_order::Entity::update_many()
            .col_expr(purchase_order::Column::UpdatedAt, Expr::value(ctx.now))
            .filter(purchase_order::COLUMN.id.eq(id))
            .filter(
                purchase_order::COLUMN
                    .status
                    .is_in(from.iter().map(|s| s.as_str())),
            ),
        purchase_order::Entity::find_by_id(id),
        purchase_order::Column::Version,
        if_match,
        |found| match found {
            None => InventoryError::not_found("purchase order", id).into(),
            Some(row) => InventoryError::InvalidState {
                what: "the purchase order",
                status: row.status,
                allowed,
            }
            .into(),
        },
    )
    .await
}

async fn set_status(
    txn: &DatabaseTransaction,
    id: Uuid,
    status: PurchaseOrderStatus,
    stamp: Option<(purchase_order::Column, chrono::DateTime<chrono::Utc>)>,
) -> Result<()> {
    let mut update = purchase_order::Entity::update_many()
        .col_expr(purchase_order::Column::Status, Expr::value(status.as_str()))
        .filter(purchase_order::COLUMN.id.eq(id));
    if let Some((col, at)) = stamp {
        update = update.col_expr(col, Expr::value(Some(at)));
    }
    update.exec(txn).await?;
    Ok(())
}

/// Draft → ordered: sent to the supplier.
#[tracing::instrument(skip_all)]
pub async fn place_order(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    if_match: Option<i64>,
) -> Result<PurchaseOrderView> {
    ctx.actor.require(Action::PurchasingWrite)?;
    transition(
        txn,
        ctx,
        id,
        if_match,
        &[PurchaseOrderStatus::Draft],
        "draft",
    )
    .await?;
    set_status(
        txn,
        id,
        PurchaseOrderStatus::Ordered,
        Some((purchase_order::Column::OrderedAt, ctx.now)),
    )
    .await?;
    let view = queries::purchase_orders::get_in(txn, id).await?;
    events::purchase_order(txn, ctx, &events::PURCHASE_ORDER_PLACED, &view).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("purchase_order.order", "purchase_order", id)
            .changes(json!({"status": "ordered"})),
    )
    .await?;
    Ok(view)
}

/// Cancel an order nothing was received on yet.
#[tracing::instrument(skip_all)]
pub async fn cancel(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    if_match: Option<i64>,
) -> Result<PurchaseOrderView> {
    ctx.actor.require(Action::PurchasingWrite)?;
    transition(
        txn,
        ctx,
        id,
        if_match,
        &[PurchaseOrderStatus::Draft, PurchaseOrderStatus::Ordered],
        "draft or ordered",
    )
    .await?;
    set_status(
        txn,
        id,
        PurchaseOrderStatus::Cancelled,
        Some((purchase_order::Column::CancelledAt, ctx.now)),
    )
    .await?;
    let view = queries::purchase_orders::get_in(txn, id).await?;
    events::purchase_order(txn, ctx, &events::PURCHASE_ORDER_CANCELLED, &view).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("purchase_order.cancel", "purchase_order", id)
            .changes(json!({"status": "cancelled"})),
    )
    .await?;
    Ok(view)
}

/// Goods arrived against the order.
#[tracing::instrument(skip_all)]
pub async fn receive(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    if_match: Option<i64>,
    input: ReceivePurchaseOrder,
) -> Result<PurchaseOrderView> {
    ctx.actor.require(Action::PurchasingWrite)?;
    ctx.actor.require(Action::InventoryWrite)?;
    let mut errors = Vec::new();
    let reference = Text::check(input.reference, &mut errors, "reference");
    let order = transition(
        txn,
        ctx,
        id,
        if_match,
        &[
            PurchaseOrderStatus::Ordered,
            PurchaseOrderStatus::PartiallyReceived,
        ],
        "ordered or partially_received",
    )
    .await?;
    let lines = purchase_order_line::Entity::find()
        .filter(purchase_order_line::COLUMN.purchase_order_id.eq(id))
        .order_by_asc(purchase_order_line::Column::LineNo)
        .all(txn)
        .await?;
    model::check_lines(&mut errors, input.lines.len());
    let mut take = model::Takes::default();
    for (i, r) in input.lines.iter().enumerate() {
        match lines.iter().find(|l| l.line_no == r.line_no) {
            None => errors.push(FieldError::new(
                format!("lines[{i}].line_no"),
                "unknown_line",
                format!("the order has no line {}", r.line_no),
            )),
            Some(l) => {
                let field = format!("lines[{i}].quantity");
                let open = l.quantity.saturating_sub(l.received_quantity);
                take.add(&mut errors, &field, r.line_no, r.quantity, open, || {
                    FieldError::new(
                        &field,
                        "over_receipt",
                        format!("only {open} of line {} are still expected", r.line_no),
                    )
                });
            }
        }
    }
    if !errors.is_empty() {
        return Err(ordercrm_kernel::Error::validation(errors));
    }
    let warehouse = warehouse::Entity::find_by_id(order.warehouse_id)
        .one(txn)
        .await?
        .ok_or_else(|| InventoryError::not_found("warehouse", order.warehouse_id))?;
    let products: HashMap<Uuid, product::Model> = product::Entity::find()
        .filter(product::COLUMN.id.is_in(lines.iter().map(|l| l.product_id)))
        .all(txn)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    let mut ordered: Vec<&purchase_order_line::Model> = lines.iter().collect();
    ordered.sort_by_key(|l| (l.product_id, l.line_no));
    for line in ordered {
        let q = take.get(line.line_no);
        if q == 0 {
            continue;
        }
        let place = Place {
            product: products
                .get(&line.product_id)
                .cloned()
                .ok_or_else(|| InventoryError::not_found("product", line.product_id))?,
            warehouse: warehouse.clone(),
        };
        receive_at(
            txn,
            ctx,
            &place,
            q,
            (MovementKind::Receipt, &events::STOCK_LEVEL_RECEIVED),
            Note {
                reference: reference.clone().or_else(|| Some(order.number.clone())),
                purchase_order_id: Some(id),
                ..Default::default()
            },
        )
        .await?;
        // The CHECK (received_quantity <= quantity) backs the check above.
        purchase_order_line::Entity::update_many()
            .col_expr(
                purchase_order_line::Column::ReceivedQuantity,
                Expr::col(purchase_order_line::Column::ReceivedQuantity).add(q),
            )
            .filter(purchase_order_line::COLUMN.id.eq(line.id))
            .exec(txn)
            .await?;
    }
    let complete = lines
        .iter()
        .all(|l| l.received_quantity.saturating_add(take.get(l.line_no)) >= l.quantity);
    if complete {
        set_status(
            txn,
            id,
            PurchaseOrderStatus::Received,
            Some((purchase_order::Column::ReceivedAt, ctx.now)),
        )
        .await?;
    } else {
        set_status(txn, id, PurchaseOrderStatus::PartiallyReceived, None).await?;
    }
    let view = queries::purchase_orders::get_in(txn, id).await?;
    events::purchase_order(txn, ctx, &events::PURCHASE_ORDER_RECEIVED, &view).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("purchase_order.receive", "purchase_order", id)
            .changes(json!({"received": take, "status": view.status})),
    )
    .await?;
    Ok(view)
}
