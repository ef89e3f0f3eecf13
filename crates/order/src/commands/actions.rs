//! The transitions. Each one takes the order (its version bumps, so two concurrent
//! actions on one order run one after the other and the second sees the first's
//! state), checks the table in `model`, does its work, and writes one event.

use ordercrm_inventory::commands::reservations::release_for_order;
use ordercrm_kernel::audit::{self, Entry};
use ordercrm_kernel::input::Text;
use ordercrm_kernel::{Ctx, Error, Result};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter};
use serde_json::json;
use uuid::Uuid;

use super::review;
use crate::dto::{ActionReason, OrderView, RequiredReason};
use crate::entity::{order, order_line};
use crate::error::OrderError;
use crate::events;
use crate::fulfillment::dispatch;
use crate::model::{self, OrderAction, OrderStatus};
use crate::queries;
use crate::settlement::{self, Moment};

/// Take the order for `action`: visible to the caller, allowed by its permission and
/// by the table, at `if_match` when given. The version bumps here.
async fn claim(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    if_match: Option<i64>,
    action: OrderAction,
) -> Result<order::Model> {
    ctx.actor.require(action.needs())?;
    queries::find_visible(txn, &ctx.actor, id).await?;
    let from: Vec<&str> = model::starts_from(action)
        .iter()
        .map(|s| s.as_str())
        .collect();
    let claimed = ordercrm_kernel::version::claim(
        txn,
        order::Entity::update_many()
            .col_expr(order::Column::UpdatedAt, Expr::value(ctx.now))
            .filter(order::COLUMN.id.eq(id))
            .filter(order::COLUMN.status.is_in(from)),
        order::Entity::find_by_id(id),
        order::Column::Version,
        if_match,
        |found| match found {
            None => OrderError::NotFound(id.to_string()).into(),
            Some(row) => OrderError::InvalidTransition {
                status: OrderStatus::parse(&row.status).unwrap_or(OrderStatus::Draft),
                action,
                from: model::starts_from(action),
            }
            .into(),
        },
    )
    .await?;
    let status = OrderStatus::parse(&claimed.status).unwrap_or(OrderStatus::Draft);
    if model::check(status, action, queries::overridable(&claimed)).is_err() {
        return Err(OrderError::NotOverridable.into());
    }
    if model::ends(action) && queries::shipped_out(&queries::lines_of(txn, id).await?) {
        return Err(OrderError::ShippedOut(action, status).into());
    }
    Ok(claimed)
}

fn reason(input: ActionReason) -> Result<Option<String>> {
    let mut errors = Vec::new();
    let reason = Text::check(input.reason, &mut errors, "reason");
    if errors.is_empty() {
        Ok(reason)
    } else {
        Err(Error::validation(errors))
    }
}

fn required_reason(input: RequiredReason) -> Result<Option<String>> {
    let mut errors = Vec::new();
    let reason = input.reason.check(&mut errors, "reason");
    if errors.is_empty() {
        Ok(Some(reason))
    } else {
        Err(Error::validation(errors))
    }
}

/// Write the order's new state, its event and its audit entry; the view back.
async fn finish(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    row: order::ActiveModel,
    event: &ordercrm_kernel::events::EventType<crate::dto::OrderData>,
    audit_action: &str,
    changes: serde_json::Value,
) -> Result<OrderView> {
    let row = row.update(txn).await?;
    let parts = queries::parts_of(txn, row.id).await?;
    let data = queries::data(&row, &parts);
    events::record(txn, ctx, event, &data).await?;
    audit::record(
        txn,
        ctx,
        Entry::new(audit_action, "order", row.id).changes(changes),
    )
    .await?;
    Ok(queries::view(
        &ctx.actor,
        &row,
        &parts,
        ctx.now.date_naive(),
    ))
}

/// Review a draft: approved, held or rejected, synchronously.
#[tracing::instrument(skip(txn, ctx))]
pub async fn submit(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    if_match: Option<i64>,
) -> Result<OrderView> {
    let claimed = claim(txn, ctx, id, if_match, OrderAction::Submit).await?;
    let lines = queries::lines_of(txn, id).await?;
    apply_review(txn, ctx, claimed, &lines, OrderAction::Submit).await
}

/// `submit` for an order this transaction just created (`"submit": true`).
pub(crate) async fn submit_claimed(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    mut row: order::Model,
    lines: Vec<order_line::Model>,
) -> Result<OrderView> {
    // Its own version, as a claim would have given it: one version per event.
    row.version += 1;
    apply_review(txn, ctx, row, &lines, OrderAction::Submit).await
}

async fn apply_review(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    claimed: order::Model,
    lines: &[order_line::Model],
    action: OrderAction,
) -> Result<OrderView> {
    let reviewed = review::run(txn, ctx, &claimed, lines).await?;
    let outcome = reviewed.review.outcome;
    let mut reservation_id = reviewed.reservation_id;
    // Rejected: let go of what is held. An order that shipped some keeps naming its
    // reservation, so a shipment cancelled later puts its goods back through it.
    let shipped_some = lines.iter().any(|l| l.shipped_quantity > 0);
    if outcome == OrderStatus::Rejected
        && let Some(held) = reservation_id
    {
        release_for_order(txn, ctx, claimed.id, held).await?;
        if !shipped_some {
            reservation_id = None;
        }
    }
    let version = claimed.version;
    let submitted_at = claimed.submitted_at.unwrap_or(ctx.now);
    let approved_at = match outcome {
        OrderStatus::Approved => claimed.approved_at.or(Some(ctx.now)),
        _ => claimed.approved_at,
    };
    let mut row = claimed.into_active_model();
    row.status = Set(outcome.as_str().to_owned());
    row.review = Set(Some(json!(reviewed.review)));
    row.reservation_id = Set(reservation_id);
    row.status_reason = Set(None);
    row.submitted_at = Set(Some(submitted_at));
    row.approved_at = Set(approved_at);
    row.version = Set(version);
    row.updated_at = Set(ctx.now);
    if let Some((currency, rate, amount)) = reviewed.base {
        row.base_currency = Set(Some(currency.code().to_owned()));
        row.base_rate = Set(Some(rate.to_string()));
        row.grand_total_base_amount = Set(Some(amount));
    }
    let event = match (action, outcome) {
        (OrderAction::Release, _) => &events::RELEASED,
        (_, OrderStatus::Approved) => &events::APPROVED,
        (_, OrderStatus::Rejected) => &events::REJECTED,
        _ => &events::HELD,
    };
    let audit_action = if action == OrderAction::Release {
        "order.release"
    } else {
        "order.submit"
    };
    let changes = json!({"status": outcome, "review": reviewed.review});
    let view = finish(txn, ctx, row, event, audit_action, changes).await?;
    if outcome == OrderStatus::Rejected {
        // What has not shipped is not going to: its dispatch notes are voided.
        dispatch::refresh(txn, ctx, lines, &view.order).await?;
    }
    if outcome == OrderStatus::Approved {
        dispatch::open_for(txn, ctx, &view.order).await?;
        settlement::moved(txn, ctx, view.order.id, Moment::Approved).await?;
        // Delivered while on hold: released, it may be done.
        let lines = queries::lines_of(txn, view.order.id).await?;
        let row = queries::order_row(txn, view.order.id).await?;
        let completed = crate::fulfillment::model::delivered_in_full(&lines)
            && crate::completion::complete_if_done(txn, ctx, &row, &lines).await?;
        // Invoicing at approval or the completion moved it on: the order as it stands.
        if completed || row.version != view.order.version {
            return queries::get(txn, &ctx.actor, row.id, ctx.now.date_naive()).await;
        }
    }
    Ok(view)
}

/// Stop an approved order: its stock stays reserved; `release` reviews it again.
#[tracing::instrument(skip(txn, ctx, input))]
pub async fn hold(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    if_match: Option<i64>,
    input: RequiredReason,
) -> Result<OrderView> {
    let reason = required_reason(input)?;
    let claimed = claim(txn, ctx, id, if_match, OrderAction::Hold).await?;
    let mut row = claimed.into_active_model();
    row.status = Set(OrderStatus::OnHold.as_str().to_owned());
    row.status_reason = Set(reason.clone());
    let changes = json!({"status": OrderStatus::OnHold, "reason": reason});
    finish(txn, ctx, row, &events::HELD, "order.hold", changes).await
}

/// Review a held order again, reserving what it does not hold yet.
#[tracing::instrument(skip(txn, ctx))]
pub async fn release(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    if_match: Option<i64>,
) -> Result<OrderView> {
    let claimed = claim(txn, ctx, id, if_match, OrderAction::Release).await?;
    let lines = queries::lines_of(txn, id).await?;
    apply_review(txn, ctx, claimed, &lines, OrderAction::Release).await
}

/// A manager's override of a credit, price or amount hold, with a reason.
#[tracing::instrument(skip(txn, ctx, input))]
pub async fn approve(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    if_match: Option<i64>,
    input: RequiredReason,
) -> Result<OrderView> {
    let reason = required_reason(input)?;
    let claimed = claim(txn, ctx, id, if_match, OrderAction::Approve).await?;
    let approved_at = claimed.approved_at.or(Some(ctx.now));
    let mut row = claimed.into_active_model();
    row.status = Set(OrderStatus::Approved.as_str().to_owned());
    row.status_reason = Set(reason.clone());
    row.approved_at = Set(approved_at);
    let changes = json!({"status": OrderStatus::Approved, "override": true, "reason": reason});
    let view = finish(txn, ctx, row, &events::APPROVED, "order.approve", changes).await?;
    dispatch::open_for(txn, ctx, &view.order).await?;
    settlement::moved(txn, ctx, view.order.id, Moment::Approved).await?;
    // Invoicing at approval may have applied a prepayment: the order as it stands.
    queries::get(txn, &ctx.actor, view.order.id, ctx.now.date_naive()).await
}

/// Refuse a held order; anything it holds is let go.
#[tracing::instrument(skip(txn, ctx, input))]
pub async fn reject(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    if_match: Option<i64>,
    input: ActionReason,
) -> Result<OrderView> {
    let reason = reason(input)?;
    let claimed = claim(txn, ctx, id, if_match, OrderAction::Reject).await?;
    end(txn, ctx, claimed, OrderStatus::Rejected, reason).await
}

/// Cancel a draft, an approved or a held order, with a reason; anything it holds is
/// let go.
#[tracing::instrument(skip(txn, ctx, input))]
pub async fn cancel(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    if_match: Option<i64>,
    input: RequiredReason,
) -> Result<OrderView> {
    let reason = required_reason(input)?;
    let claimed = claim(txn, ctx, id, if_match, OrderAction::Cancel).await?;
    end(txn, ctx, claimed, OrderStatus::Cancelled, reason).await
}

async fn end(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    claimed: order::Model,
    status: OrderStatus,
    reason: Option<String>,
) -> Result<OrderView> {
    if let Some(held) = claimed.reservation_id {
        release_for_order(txn, ctx, claimed.id, held).await?;
    }
    let order_id = claimed.id;
    let mut row = claimed.into_active_model();
    row.status = Set(status.as_str().to_owned());
    row.status_reason = Set(reason.clone());
    let (event, audit_action) = if status == OrderStatus::Cancelled {
        (&events::CANCELLED, "order.cancel")
    } else {
        (&events::REJECTED, "order.reject")
    };
    let changes = json!({"status": status, "reason": reason});
    let view = finish(txn, ctx, row, event, audit_action, changes).await?;
    // What has not shipped is not going to: its dispatch notes are voided.
    let lines = queries::lines_of(txn, view.order.id).await?;
    dispatch::refresh(txn, ctx, &lines, &view.order).await?;
    // Its invoices are voided; what was paid for it is the customer's credit.
    settlement::moved(txn, ctx, order_id, Moment::Ended).await?;
    if view.order.paid.amount > 0 {
        return queries::get(txn, &ctx.actor, order_id, ctx.now.date_naive()).await;
    }
    Ok(view)
}
