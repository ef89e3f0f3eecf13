//! Reads. A return is seen by whoever sees its order for fulfillment (the
//! warehouse: orders approved at least once), with `returns.read`.

use std::collections::HashMap;

use ordercrm_kernel::authz::{Action, Actor};
use ordercrm_kernel::input::{Choice, CursorParam, Limit};
use ordercrm_kernel::pagination::{PageRequest, Seek};
use ordercrm_kernel::{Error, Money, Page, Result};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::dto::{ReturnData, ReturnLineView, ReturnView};
use super::error::ReturnError;
use super::model::{Resolution, ReturnStatus, allowed_actions};
use crate::dto::OrderCustomer;
use crate::entity::{order, return_line, return_row};

pub(crate) async fn lines_of(
    conn: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Vec<return_line::Model>> {
    Ok(return_line::Entity::find()
        .filter(return_line::COLUMN.return_id.eq(id))
        .order_by_asc(return_line::Column::LineNo)
        .all(conn)
        .await?)
}

pub(crate) fn data(
    row: &return_row::Model,
    lines: &[return_line::Model],
    order: &order::Model,
) -> ReturnData {
    let currency = crate::queries::currency(&row.currency);
    let m = |amount: i64| Money::new(amount, currency);
    ReturnData {
        id: row.id,
        number: row.number.clone(),
        order_id: row.order_id,
        order_number: order.number.clone(),
        customer: OrderCustomer {
            id: order.customer_id,
            name: order.customer_name.clone(),
        },
        status: ReturnStatus::parse(&row.status).unwrap_or(ReturnStatus::Requested),
        resolution: Resolution::parse(&row.resolution).unwrap_or(Resolution::Refund),
        reason: row.reason.clone(),
        decision_note: row.decision_note.clone(),
        lines: lines
            .iter()
            .map(|l| ReturnLineView {
                line_no: l.line_no,
                order_line_no: l.order_line_no,
                product_id: l.product_id,
                sku: l.sku.clone(),
                name: l.name.clone(),
                quantity: l.quantity,
                received_quantity: l.received_quantity,
                restocked_quantity: l.restocked_quantity,
                scrapped_quantity: l.scrapped_quantity,
                refund: m(l.refund_amount),
                replacement_product_id: l.replacement_product_id,
                replacement_unit_price: l.replacement_unit_price.map(m),
            })
            .collect(),
        refund_due: m(row.refund_due_amount),
        shipping_refund: m(row.shipping_refund_amount),
        replacement_order_id: row.replacement_order_id,
        requested_by: row.requested_by.clone(),
        decided_by: row.decided_by.clone(),
        decided_at: row.decided_at,
        received_at: row.received_at,
        closed_at: row.closed_at,
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

pub(crate) fn view(actor: &Actor, data: ReturnData) -> ReturnView {
    let allowed_actions = allowed_actions(actor, data.status, data.resolution);
    ReturnView {
        data,
        allowed_actions,
    }
}

/// Return `id` and its order, if `actor` may see them: 404 otherwise, either way.
pub(crate) async fn find(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
) -> Result<(return_row::Model, order::Model)> {
    let not_found = || -> Error { ReturnError::NotFound(id.to_string()).into() };
    // A logistics key bound to carriers carries parcels; returns are not its own.
    if actor.carriers().is_some() {
        return Err(not_found());
    }
    let row = return_row::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(not_found)?;
    let order = crate::queries::visible_for_fulfillment(actor)
        .filter(order::COLUMN.id.eq(row.order_id))
        .one(conn)
        .await?
        .ok_or_else(not_found)?;
    Ok((row, order))
}

pub async fn get(conn: &impl ConnectionTrait, actor: &Actor, id: Uuid) -> Result<ReturnView> {
    actor.require(Action::ReturnsRead)?;
    let (row, order) = find(conn, actor, id).await?;
    let lines = lines_of(conn, id).await?;
    Ok(view(actor, data(&row, &lines, &order)))
}

/// Query parameters of `GET /v1/returns` and `GET /v1/orders/{id}/returns`:
/// oldest first (the queue's order).
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListReturns {
    #[param(value_type = Option<ReturnStatus>)]
    pub status: Option<Choice<ReturnStatus>>,
    #[param(value_type = Option<Resolution>)]
    pub resolution: Option<Choice<Resolution>>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<Limit>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<CursorParam>,
}

/// Returns `actor` may see, of one order when `order_id` is given (404 when the
/// order is not one it sees).
pub async fn list(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    order_id: Option<Uuid>,
    query: ListReturns,
) -> Result<Page<ReturnView>> {
    actor.require(Action::ReturnsRead)?;
    let mut errors = Vec::new();
    let status = Choice::check_opt(query.status.as_ref(), &mut errors, "status");
    let resolution = Choice::check_opt(query.resolution.as_ref(), &mut errors, "resolution");
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    let page = PageRequest::new(query.limit, query.cursor.as_deref(), "created_at")?;
    let mut select = return_row::Entity::find();
    if actor.carriers().is_some() {
        select = select.filter(Expr::value(false));
    }
    if let Some(order_id) = order_id {
        crate::fulfillment::queries::find_order(conn, actor, order_id).await?;
        select = select.filter(return_row::COLUMN.order_id.eq(order_id));
    } else if let Some(visible) = crate::queries::fulfillment_restriction(actor) {
        select = select.filter(Expr::col(return_row::Column::OrderId).in_subquery(visible));
    }
    if let Some(s) = status {
        select = select.filter(return_row::COLUMN.status.eq(s.as_str()));
    }
    if let Some(r) = resolution {
        select = select.filter(return_row::COLUMN.resolution.eq(r.as_str()));
    }
    let seek = Seek::by(
        sea_orm::Order::Asc,
        [return_row::Column::CreatedAt, return_row::Column::Id],
    );
    let rows = seek.select(select, &page)?.all(conn).await?;
    let mut lines: HashMap<Uuid, Vec<return_line::Model>> = HashMap::new();
    for l in return_line::Entity::find()
        .filter(
            return_line::COLUMN
                .return_id
                .is_in(rows.iter().map(|r| r.id)),
        )
        .order_by_asc(return_line::Column::LineNo)
        .all(conn)
        .await?
    {
        lines.entry(l.return_id).or_default().push(l);
    }
    let orders: HashMap<Uuid, order::Model> = order::Entity::find()
        .filter(order::COLUMN.id.is_in(rows.iter().map(|r| r.order_id)))
        .all(conn)
        .await?
        .into_iter()
        .map(|o| (o.id, o))
        .collect();
    let views = rows
        .iter()
        .map(|row| {
            let order = orders.get(&row.order_id).ok_or_else(|| {
                Error::new(
                    ordercrm_kernel::error::problems::INTERNAL,
                    "a return without its order",
                )
            })?;
            let own = lines.get(&row.id).map(Vec::as_slice).unwrap_or_default();
            Ok(view(actor, data(row, own, order)))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(seek.page_of(&rows, &page, views))
}
