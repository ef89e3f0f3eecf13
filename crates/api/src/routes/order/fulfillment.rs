//! `/v1/dispatch-notes`, `/v1/orders/{id}/shipments`, `/v1/shipments`

use actix_web::http::header;
use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, HttpResponse, get, post};
use ordercrm_kernel::Ctx;
use ordercrm_kernel::authz::Action;
use ordercrm_kernel::input::{CursorParam, Limit};
use ordercrm_kernel::{Page, Problem};
use ordercrm_order::fulfillment::dto::{
    CancelShipment, CreateShipment, DeliverShipment, DispatchNoteView, RecordTracking,
    ShipmentView, TrackingEventView, TrackingResults,
};
use ordercrm_order::fulfillment::queries::{
    self, ListDispatchNotes, ListShipments, ListTrackingEvents,
};
use ordercrm_order::fulfillment::{commands, tracking};
use uuid::Uuid;

use crate::error::ApiResult;
use crate::extract::{
    IfMatch, Json, OptionalJson, Query, RequestCtx, json_with_etag, read_with_etag,
};
use crate::routes::csv_transfer;
use crate::state::AppState;
use crate::tx::Writer;

/// The dispatch queue: notes earliest promise first (the requested delivery day, or
/// the approval day when none was asked), then oldest.
///
/// `?warehouse=SH-01&status=open` is one warehouse's work. A note's `order.status`
/// says whether it may ship now (`on_hold` may not). With `Accept: text/csv`, every
/// matching note, one row each.
#[utoipa::path(
    operation_id = "listDispatchNotes",
    tag = "fulfillment",
    security(("userToken" = []), ("apiKey" = [])),
    params(ListDispatchNotes),
    responses(
        (status = 200, description = "One page of dispatch notes; with `Accept: text/csv`, every matching note as CSV, streamed",
            content((Page<DispatchNoteView> = "application/json"), (String = "text/csv"))),
        (status = 400, description = "An unknown or invalid query parameter, or a bad cursor",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/dispatch-notes")]
pub async fn list_dispatch_notes(
    req: HttpRequest,
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    Query(query): Query<ListDispatchNotes>,
) -> ApiResult<HttpResponse> {
    if csv_transfer::wants_csv(&req) {
        ctx.actor.require(Action::FulfillmentRead)?;
        queries::check_notes(&query)?;
        return Ok(export_notes(state, ctx, query));
    }
    let page = queries::list_notes(state.db.reader(), &ctx.actor, query).await?;
    Ok(HttpResponse::Ok().json(page))
}

fn export_notes(state: Data<AppState>, ctx: Ctx, mut query: ListDispatchNotes) -> HttpResponse {
    query.limit = Some(Limit(200));
    csv_transfer::export(
        "dispatch-notes.csv",
        ordercrm_order::fulfillment::transfer::note_header_row(),
        query,
        move |q| {
            let state = state.clone();
            let actor = ctx.actor.clone();
            async move { queries::list_notes(state.db.reader(), &actor, q).await }
        },
        |q, cursor| ListDispatchNotes {
            cursor: Some(CursorParam(cursor)),
            ..q
        },
        ordercrm_order::fulfillment::transfer::note_row,
    )
}

/// Get a dispatch note.
#[utoipa::path(
    operation_id = "getDispatchNote",
    tag = "fulfillment",
    security(("userToken" = []), ("apiKey" = [])),
    params(
        ("id" = Uuid, Path, description = "Dispatch note id"),
        ("If-None-Match" = Option<String>, Header, description = "An ETag you hold; 304 if still current"),
    ),
    responses(
        (status = 200, description = "The dispatch note", body = DispatchNoteView,
            headers(("ETag" = String, description = "Version"))),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 404, description = "No such note, or not one you may see", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/dispatch-notes/{id}")]
pub async fn get_dispatch_note(
    req: HttpRequest,
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let view = queries::get_note(state.db.reader(), &ctx.actor, *id).await?;
    Ok(read_with_etag(&req, &view))
}

/// Ship lines of an approved order (partial and from several warehouses allowed).
///
/// The goods leave the order's reservation in the same transaction (a `shipment`
/// movement per stock level); a line never ships more than ordered minus shipped,
/// also under concurrent requests. `fulfillment_status` follows:
/// unfulfilled → partially_shipped → shipped.
#[utoipa::path(
    operation_id = "createShipment",
    tag = "fulfillment",
    security(("userToken" = []), ("apiKey" = [])),
    request_body = CreateShipment,
    params(("id" = Uuid, Path, description = "Order id")),
    responses(
        (status = 201, description = "Shipped", body = ShipmentView, headers(
            ("Location" = String, description = "URL of the new shipment"),
            ("ETag" = String, description = "Version, for If-Match"),
        )),
        (status = 404, description = "No such order, or not one you may see, or the order has no line with a `line_no` named \
            (`/problems/not-found`, with `errors`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The order is not approved (on hold, say: `/problems/invalid-transition`), \
            a line would ship more than is left (`/problems/over-shipment`), the tracking number is a repair's parcel \
            (`/problems/conflict`, code `in_use`), or the idempotency key is in use",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/orders/{id}/shipments")]
pub async fn create_shipment(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    Json(input): Json<CreateShipment>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = commands::create_shipment(&txn, &ctx, *id, input).await?;
    txn.commit().await?;
    let mut response = HttpResponse::Created();
    response.insert_header((header::LOCATION, format!("/v1/shipments/{}", view.id)));
    Ok(json_with_etag(&mut response, &view))
}

/// An order's shipments, oldest first (cancelled ones included).
#[utoipa::path(
    operation_id = "listOrderShipments",
    tag = "fulfillment",
    security(("userToken" = []), ("apiKey" = [])),
    params(("id" = Uuid, Path, description = "Order id"), ListShipments),
    responses(
        (status = 200, description = "One page of shipments", body = Page<ShipmentView>),
        (status = 400, description = "An unknown or invalid query parameter, or a bad cursor",
            body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order, or not one you may see", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/orders/{id}/shipments")]
pub async fn list_order_shipments(
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    Query(query): Query<ListShipments>,
) -> ApiResult<HttpResponse> {
    let page = queries::list_order_shipments(state.db.reader(), &ctx.actor, *id, query).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Get a shipment.
#[utoipa::path(
    operation_id = "getShipment",
    tag = "fulfillment",
    security(("userToken" = []), ("apiKey" = [])),
    params(
        ("id" = Uuid, Path, description = "Shipment id"),
        ("If-None-Match" = Option<String>, Header, description = "An ETag you hold; 304 if still current"),
    ),
    responses(
        (status = 200, description = "The shipment", body = ShipmentView,
            headers(("ETag" = String, description = "Version, for If-Match"))),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 404, description = "No such shipment, or not one you may see", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/shipments/{id}")]
pub async fn get_shipment(
    req: HttpRequest,
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let view = queries::get_shipment(state.db.reader(), &ctx.actor, *id).await?;
    Ok(read_with_etag(&req, &view))
}

/// Cancel a shipment before pickup (`pending` or `label_printed`): its goods are
/// back on-hand (a `shipment_reversal` movement), held again for the order while
/// it still wants them; `fulfillment_status` moves back.
#[utoipa::path(
    operation_id = "cancelShipment",
    tag = "fulfillment",
    security(("userToken" = []), ("apiKey" = [])),
    request_body(content = CancelShipment, description = "Optional: a reason"),
    params(
        ("id" = Uuid, Path, description = "Shipment id"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read"),
    ),
    responses(
        (status = 200, description = "Cancelled", body = ShipmentView,
            headers(("ETag" = String, description = "The new version"))),
        (status = 404, description = "No such shipment, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Picked up already, or cancelled, or a repair's parcel whose repair is closed (`/problems/conflict`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/shipments/{id}/cancel")]
pub async fn cancel_shipment(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    IfMatch(if_match): IfMatch,
    OptionalJson(input): OptionalJson<CancelShipment>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view =
        commands::cancel_shipment(&txn, &ctx, *id, if_match, input.unwrap_or_default()).await?;
    txn.commit().await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &view))
}

/// Report carrier tracking: 1 to 500 events, any shipments, any order, repeats welcome.
///
/// Each event gets a result: `applied`, `duplicate` (seen before: the same provider
/// `event_id`, or the same carrier, number, time, status and place), `stale` (older
/// than what the shipment knows: kept in the history) or `not_found` (no shipment you
/// may see has this carrier and number; the most recent one not cancelled matches).
/// A shipment's status is what its whole history says, by time (ties by a fixed
/// precedence); `delivered` is final except for `returned_to_sender`. One invalid
/// event refuses the request (400) and records nothing.
#[utoipa::path(
    operation_id = "recordTrackingEvents",
    tag = "fulfillment",
    security(("userToken" = []), ("apiKey" = [])),
    request_body = RecordTracking,
    responses(
        (status = 200, description = "One result per event, in request order", body = TrackingResults),
        (status = 409, description = "The idempotency key is in use", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/tracking-events")]
pub async fn record_tracking(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    Json(input): Json<RecordTracking>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let results = tracking::record(&txn, &ctx, input).await?;
    txn.commit().await?;
    Ok(HttpResponse::Ok().json(results))
}

/// A shipment's tracking history, by when each event happened.
#[utoipa::path(
    operation_id = "listShipmentTrackingEvents",
    tag = "fulfillment",
    security(("userToken" = []), ("apiKey" = [])),
    params(("id" = Uuid, Path, description = "Shipment id"), ListTrackingEvents),
    responses(
        (status = 200, description = "One page of tracking events", body = Page<TrackingEventView>),
        (status = 400, description = "An unknown or invalid query parameter, or a bad cursor",
            body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such shipment, or not one you may see", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/shipments/{id}/tracking-events")]
pub async fn list_tracking_events(
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    Query(query): Query<ListTrackingEvents>,
) -> ApiResult<HttpResponse> {
    let page = queries::tracking_history(state.db.reader(), &ctx.actor, *id, query).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Sign for a delivery: who signed, when (default now), and the proof (a signature,
/// a photo, a pickup code).
///
/// Recorded as the shipment's `delivered` tracking event. The order's
/// `fulfillment_status` follows (`partially_delivered`, `delivered`), and an order
/// delivered in full and paid completes.
#[utoipa::path(
    operation_id = "deliverShipment",
    tag = "fulfillment",
    security(("userToken" = []), ("apiKey" = [])),
    request_body = DeliverShipment,
    params(
        ("id" = Uuid, Path, description = "Shipment id"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read"),
    ),
    responses(
        (status = 200, description = "Delivered", body = ShipmentView,
            headers(("ETag" = String, description = "The new version"))),
        (status = 404, description = "No such shipment, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Cancelled, or delivered already (`/problems/conflict`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/shipments/{id}/deliver")]
pub async fn deliver_shipment(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    IfMatch(if_match): IfMatch,
    Json(input): Json<DeliverShipment>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = tracking::deliver(&txn, &ctx, *id, if_match, input).await?;
    txn.commit().await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &view))
}
