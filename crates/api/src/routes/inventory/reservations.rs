//! `/v1/inventory/reservations`

use actix_web::http::header;
use actix_web::web::{Data, Path};
use actix_web::{HttpResponse, get, post};
use ordercrm_inventory::dto::{Consume, CreateReservation, ListReservations, ReservationView};
use ordercrm_inventory::{commands, queries};
use ordercrm_kernel::{Page, Problem};
use uuid::Uuid;

use crate::error::ApiResult;
use crate::extract::{IfMatch, Json, OptionalJson, Query, RequestCtx, json_with_etag};
use crate::state::AppState;
use crate::tx::Writer;

/// Hold stock: every line or none. Lines for the same SKU and warehouse are summed
/// before the check. 409 `insufficient-stock` lists each short line with what is available.
#[utoipa::path(
    operation_id = "createReservation",
    tag = "reservations",
    security(("userToken" = []), ("apiKey" = [])),
    request_body = CreateReservation,
    responses(
        (status = 201, description = "Held", body = ReservationView, headers(("Location" = String, description = "URL of the reservation"))),
        (status = 409, description = "Not enough available for some lines; nothing held (`/problems/insufficient-stock`)",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/inventory/reservations")]
pub async fn create(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    Json(input): Json<CreateReservation>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = commands::reservations::reserve(&txn, &ctx, input).await?;
    txn.commit().await?;
    Ok(json_with_etag(
        HttpResponse::Created().insert_header((
            header::LOCATION,
            format!("/v1/inventory/reservations/{}", view.id),
        )),
        &view,
    ))
}

#[utoipa::path(
    operation_id = "listReservations",
    tag = "reservations",
    security(("userToken" = []), ("apiKey" = [])),
    params(ListReservations),
    responses((status = 200, description = "One page of reservations, newest first", body = Page<ReservationView>)),
)]
#[get("/inventory/reservations")]
pub async fn list(
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    Query(q): Query<ListReservations>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok()
        .json(queries::reservations::list(state.db.reader(), &ctx.actor, q).await?))
}

#[utoipa::path(
    operation_id = "getReservation",
    tag = "reservations",
    security(("userToken" = []), ("apiKey" = [])),
    params(("id" = Uuid, Path, description = "Reservation id")),
    responses(
        (status = 200, description = "The reservation", body = ReservationView),
        (status = 404, description = "No such reservation", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/inventory/reservations/{id}")]
pub async fn get(
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let view = queries::reservations::get(state.db.reader(), &ctx.actor, *id).await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &view))
}

/// Let go of everything still held.
#[utoipa::path(
    operation_id = "releaseReservation",
    tag = "reservations",
    security(("userToken" = []), ("apiKey" = [])),
    params(
        ("id" = Uuid, Path, description = "Reservation id"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read"),
    ),
    responses(
        (status = 200, description = "Released", body = ReservationView),
        (status = 404, description = "No such reservation", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already released, expired or consumed (`/problems/invalid-state`)",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/inventory/reservations/{id}/release")]
pub async fn release(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    IfMatch(if_match): IfMatch,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = commands::reservations::release(&txn, &ctx, *id, if_match).await?;
    txn.commit().await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &view))
}

/// Ship held stock (all of it, or the given lines and quantities): on-hand and
/// reserved fall together and `shipment` movements are written.
#[utoipa::path(
    operation_id = "consumeReservation",
    tag = "reservations",
    security(("userToken" = []), ("apiKey" = [])),
    request_body(content = Consume, description = "Optional; empty ships everything held"),
    params(
        ("id" = Uuid, Path, description = "Reservation id"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read"),
    ),
    responses(
        (status = 200, description = "Shipped", body = ReservationView),
        (status = 404, description = "No such reservation", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Released, expired or consumed already (`/problems/invalid-state`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/inventory/reservations/{id}/consume")]
pub async fn consume(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    IfMatch(if_match): IfMatch,
    OptionalJson(input): OptionalJson<Consume>,
) -> ApiResult<HttpResponse> {
    let input = input.unwrap_or_default();
    let txn = writer.begin().await?;
    let view = commands::reservations::consume(&txn, &ctx, *id, if_match, input).await?;
    txn.commit().await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &view))
}
