//! Reads. A dispatch note or shipment is seen by whoever sees its order for
//! fulfillment: as orders are seen, except that the warehouse sees every order
//! approved at least once (one put on hold after approval, or cancelled after a
//! partial shipment, still has notes and shipments to look at).

use std::collections::HashMap;

use ordercrm_kernel::authz::{Action, Actor};
use ordercrm_kernel::input::{Choice, CursorParam, Limit, Text};
use ordercrm_kernel::pagination::{PageRequest, Seek};
use ordercrm_kernel::{Error, Page, Result};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::dispatch;
use super::dto::{
    DispatchNoteView, Package, Proof, ShipmentLineView, ShipmentView, TrackingEventView,
};
use super::error::FulfillmentError;
use super::model::{DispatchStatus, ShipmentStatus, TrackingStatus};
use crate::entity::{dispatch_note, order, shipment, shipment_line, tracking_event};
use crate::error::OrderError;

pub(crate) async fn find_order(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
) -> Result<order::Model> {
    crate::queries::visible_for_fulfillment(actor)
        .filter(order::COLUMN.id.eq(id))
        .one(conn)
        .await?
        .ok_or_else(|| OrderError::NotFound(id.to_string()).into())
}

pub(crate) async fn lines_of_shipment(
    conn: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Vec<shipment_line::Model>> {
    Ok(shipment_line::Entity::find()
        .filter(shipment_line::COLUMN.shipment_id.eq(id))
        .order_by_asc(shipment_line::Column::LineNo)
        .all(conn)
        .await?)
}

pub(crate) fn shipment_view(
    row: &shipment::Model,
    lines: &[shipment_line::Model],
    order_number: &str,
) -> ShipmentView {
    ShipmentView {
        id: row.id,
        order_id: row.order_id,
        order_number: order_number.to_owned(),
        status: ShipmentStatus::parse(&row.status).unwrap_or(ShipmentStatus::Pending),
        carrier: row.carrier.clone(),
        tracking_number: row.tracking_number.clone(),
        package: row
            .package
            .clone()
            .and_then(|p| serde_json::from_value::<Package>(p).ok()),
        lines: lines
            .iter()
            .map(|l| ShipmentLineView {
                line_no: l.line_no,
                order_line_no: l.order_line_no,
                product_id: l.product_id,
                sku: l.sku.clone(),
                name: l.name.clone(),
                warehouse_id: l.warehouse_id,
                warehouse_code: l.warehouse_code.clone(),
                quantity: l.quantity,
            })
            .collect(),
        cancel_reason: row.cancel_reason.clone(),
        cancelled_at: row.cancelled_at,
        delivered_at: row.delivered_at,
        signed_by: row.signed_by.clone(),
        proof: row
            .proof
            .clone()
            .and_then(|p| serde_json::from_value::<Proof>(p).ok()),
        created_by: row.created_by.clone(),
        return_id: row.return_id,
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

/// Shipment `id` and its order, if `actor` may see them (its carrier, when it is a
/// key bound to carriers; its order for fulfillment): 404 otherwise, either way.
pub(crate) async fn find_shipment(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
) -> Result<(shipment::Model, order::Model)> {
    let not_found = || -> Error { FulfillmentError::ShipmentNotFound(id.to_string()).into() };
    let row = shipment::Entity::find_by_id(id)
        .one(conn)
        .await?
        .filter(|s| actor.serves_carrier(&s.carrier))
        .ok_or_else(not_found)?;
    let order = find_order(conn, actor, row.order_id)
        .await
        .map_err(|_| not_found())?;
    Ok((row, order))
}

pub async fn get_shipment(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
) -> Result<ShipmentView> {
    actor.require(Action::FulfillmentRead)?;
    let (row, order) = find_shipment(conn, actor, id).await?;
    let lines = lines_of_shipment(conn, id).await?;
    Ok(shipment_view(&row, &lines, &order.number))
}

/// Query parameters of `GET /v1/orders/{id}/shipments`: oldest first.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListShipments {
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<Limit>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<CursorParam>,
}

pub async fn list_order_shipments(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    order_id: Uuid,
    query: ListShipments,
) -> Result<Page<ShipmentView>> {
    actor.require(Action::FulfillmentRead)?;
    let order = find_order(conn, actor, order_id).await?;
    let seek = Seek::by(
        sea_orm::Order::Asc,
        [shipment::Column::CreatedAt, shipment::Column::Id],
    );
    let page = PageRequest::new(query.limit, query.cursor.as_deref(), "created_at")?;
    let mut select = shipment::Entity::find().filter(shipment::COLUMN.order_id.eq(order_id));
    if let Some(carriers) = actor.carriers() {
        select = select.filter(shipment::COLUMN.carrier.is_in(carriers.iter().cloned()));
    }
    let rows = seek.select(select, &page)?.all(conn).await?;
    let mut lines: HashMap<Uuid, Vec<shipment_line::Model>> = HashMap::new();
    for l in shipment_line::Entity::find()
        .filter(
            shipment_line::COLUMN
                .shipment_id
                .is_in(rows.iter().map(|r| r.id)),
        )
        .order_by_asc(shipment_line::Column::LineNo)
        .all(conn)
        .await?
    {
        lines.entry(l.shipment_id).or_default().push(l);
    }
    Ok(seek.page(rows, &page, |row| {
        let own = lines.remove(&row.id).unwrap_or_default();
        shipment_view(&row, &own, &order.number)
    }))
}

pub async fn get_note(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
) -> Result<DispatchNoteView> {
    actor.require(Action::FulfillmentRead)?;
    let not_found = || -> Error { FulfillmentError::NoteNotFound(id.to_string()).into() };
    // A logistics key bound to carriers ships; picking is the warehouse's.
    if actor.carriers().is_some() {
        return Err(not_found());
    }
    let note = dispatch_note::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(not_found)?;
    let order = find_order(conn, actor, note.order_id)
        .await
        .map_err(|_| not_found())?;
    let parts = crate::queries::parts_of(conn, order.id).await?;
    let data = crate::queries::data(&order, &parts);
    Ok(dispatch::view(&note, &data))
}

/// Query parameters of `GET /v1/dispatch-notes`: the warehouse's queue, earliest
/// promise first (then oldest).
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListDispatchNotes {
    /// A warehouse's code (any case).
    pub warehouse: Option<Text<50>>,
    #[param(value_type = Option<DispatchStatus>)]
    pub status: Option<Choice<DispatchStatus>>,
    pub order_id: Option<Uuid>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<Limit>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<CursorParam>,
}

const QUEUE: &str = "promised_on";

/// The checks [`list_notes`] makes of its parameters, for the CSV export, which must
/// answer 400 before it starts streaming.
pub fn check_notes(query: &ListDispatchNotes) -> Result<()> {
    let mut errors = Vec::new();
    Choice::check_opt(query.status.as_ref(), &mut errors, "status");
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    Text::param(query.warehouse.as_ref(), "warehouse")?;
    PageRequest::new(query.limit, query.cursor.as_deref(), QUEUE)?;
    Ok(())
}

pub async fn list_notes(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    query: ListDispatchNotes,
) -> Result<Page<DispatchNoteView>> {
    actor.require(Action::FulfillmentRead)?;
    let mut errors = Vec::new();
    let status = Choice::check_opt(query.status.as_ref(), &mut errors, "status");
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    let page = PageRequest::new(query.limit, query.cursor.as_deref(), QUEUE)?;
    let visible = crate::queries::visible_for_fulfillment(actor)
        .select_only()
        .column(order::Column::Id)
        .into_query();
    let mut select = dispatch_note::Entity::find()
        .filter(Expr::col(dispatch_note::Column::OrderId).in_subquery(visible));
    if actor.carriers().is_some() {
        select = select.filter(Expr::value(false));
    }
    if let Some(code) = Text::param(query.warehouse.as_ref(), "warehouse")? {
        // By id, so the queue's index serves it: codes compare without case.
        let mut warehouse = sea_orm::sea_query::Query::select();
        warehouse
            .column(sea_orm::sea_query::Alias::new("id"))
            .from(sea_orm::sea_query::Alias::new("warehouses"))
            .and_where(
                Expr::col(sea_orm::sea_query::Alias::new("code_normalized")).eq(
                    ordercrm_inventory::queries::for_orders::normalize_code(code),
                ),
            );
        select = select.filter(
            Expr::col(dispatch_note::Column::WarehouseId).in_subquery(warehouse.to_owned()),
        );
    }
    if let Some(s) = status {
        select = select.filter(dispatch_note::COLUMN.status.eq(s.as_str()));
    }
    if let Some(o) = query.order_id {
        select = select.filter(dispatch_note::COLUMN.order_id.eq(o));
    }
    let seek = Seek::by(
        sea_orm::Order::Asc,
        [
            dispatch_note::Column::PromisedOn,
            dispatch_note::Column::CreatedAt,
            dispatch_note::Column::Id,
        ],
    );
    let rows = seek.select(select, &page)?.all(conn).await?;
    let orders = crate::queries::orders_with_parts(conn, rows.iter().map(|r| r.order_id)).await?;
    let views = rows
        .iter()
        .map(|note| {
            orders
                .get(&note.order_id)
                .map(|data| dispatch::view(note, data))
                .ok_or_else(|| {
                    Error::new(
                        ordercrm_kernel::error::problems::INTERNAL,
                        "a dispatch note without its order",
                    )
                })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(seek.page_of(&rows, &page, views))
}

pub(crate) fn tracking_event_view(row: &tracking_event::Model) -> TrackingEventView {
    TrackingEventView {
        id: row.id,
        shipment_id: row.shipment_id,
        carrier: row.carrier.clone(),
        tracking_number: row.tracking_number.clone(),
        event_id: row.provider_event_id.clone(),
        status: TrackingStatus::parse(&row.status).unwrap_or(TrackingStatus::InTransit),
        occurred_at: row.occurred_at,
        location: row.location.clone(),
        message: row.message.clone(),
        source: row.source.clone(),
        recorded_at: row.recorded_at,
    }
}

pub(crate) async fn order_number(conn: &impl ConnectionTrait, order_id: Uuid) -> Result<String> {
    Ok(crate::queries::order_row(conn, order_id).await?.number)
}

/// Query parameters of `GET /v1/shipments/{id}/tracking-events`: by time, oldest first.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListTrackingEvents {
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<Limit>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<CursorParam>,
}

/// A shipment's tracking history, by when each event happened.
pub async fn tracking_history(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    shipment_id: Uuid,
    query: ListTrackingEvents,
) -> Result<Page<TrackingEventView>> {
    get_shipment(conn, actor, shipment_id).await?;
    let seek = Seek::by(
        sea_orm::Order::Asc,
        [
            tracking_event::Column::OccurredAt,
            tracking_event::Column::Id,
        ],
    );
    let page = PageRequest::new(query.limit, query.cursor.as_deref(), "occurred_at")?;
    let select =
        tracking_event::Entity::find().filter(tracking_event::COLUMN.shipment_id.eq(shipment_id));
    let rows = seek.select(select, &page)?.all(conn).await?;
    Ok(seek.page(rows, &page, |row| tracking_event_view(&row)))
}
