use ordercrm_kernel::authz::{Action, Actor};
use ordercrm_kernel::pagination::{PageRequest, Seek};
use ordercrm_kernel::{Page, Result};
use sea_orm::{ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::dto::{ListReservations, ReservationLineView, ReservationView};
use crate::entity::{reservation, reservation_line};
use crate::error::InventoryError;
use crate::model::ReservationStatus;

pub async fn get(conn: &impl ConnectionTrait, actor: &Actor, id: Uuid) -> Result<ReservationView> {
    actor.require(Action::InventoryRead)?;
    get_in(conn, id).await
}

pub(crate) async fn get_in(conn: &impl ConnectionTrait, id: Uuid) -> Result<ReservationView> {
    let row = reservation::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(|| InventoryError::not_found("reservation", id))?;
    views(conn, vec![row])
        .await?
        .pop()
        .ok_or_else(|| InventoryError::not_found("reservation", id).into())
}

pub async fn list(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    query: ListReservations,
) -> Result<Page<ReservationView>> {
    actor.require(Action::InventoryRead)?;
    let page = PageRequest::new(query.limit, query.cursor.as_deref(), "-created_at")?;
    let mut select = reservation::Entity::find();
    if let Some(status) = query.status {
        select = select.filter(reservation::COLUMN.status.eq(status.as_str()));
    }
    if let Some(reference) = query.reference {
        select = select.filter(reservation::COLUMN.reference.eq(reference));
    }
    let seek = Seek::newest_first(reservation::Column::CreatedAt, reservation::Column::Id);
    let rows = seek.select(select, &page)?.all(conn).await?;
    let views = views(conn, rows.clone()).await?;
    Ok(seek.page_of(&rows, &page, views))
}

async fn views(
    conn: &impl ConnectionTrait,
    rows: Vec<reservation::Model>,
) -> Result<Vec<ReservationView>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let lines = if ids.is_empty() {
        Vec::new()
    } else {
        reservation_line::Entity::find()
            .filter(reservation_line::COLUMN.reservation_id.is_in(ids))
            .order_by_asc(reservation_line::Column::LineNo)
            .all(conn)
            .await?
    };
    let places = super::places(conn, lines.iter().map(|l| (l.product_id, l.warehouse_id))).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let mine = lines
                .iter()
                .filter(|l| l.reservation_id == r.id)
                .filter_map(|l| {
                    places
                        .get(&(l.product_id, l.warehouse_id))
                        .map(|p| (l.clone(), p.clone()))
                })
                .collect();
            view(r, mine)
        })
        .collect())
}

/// A reservation with its lines (in line order) and where each line is.
pub(crate) fn view(
    r: reservation::Model,
    lines: Vec<(reservation_line::Model, crate::commands::levels::Place)>,
) -> ReservationView {
    ReservationView {
        id: r.id,
        reference: r.reference,
        status: ReservationStatus::parse(&r.status).unwrap_or(ReservationStatus::Active),
        expires_at: r.expires_at,
        order_id: r.order_id,
        lines: lines
            .into_iter()
            .map(|(l, place)| ReservationLineView {
                line_no: l.line_no,
                sku: place.product.sku,
                product_id: l.product_id,
                warehouse_code: place.warehouse.code,
                warehouse_id: l.warehouse_id,
                quantity: l.quantity,
                consumed: l.consumed,
                released: l.released,
                open: l.open(),
            })
            .collect(),
        version: r.version,
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}
