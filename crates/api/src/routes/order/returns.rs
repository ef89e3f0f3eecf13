//! `/v1/orders/{id}/returns`, `/v1/returns`

use actix_web::http::header;
use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, HttpResponse, get, post};
use ordercrm_kernel::{Page, Problem};
use ordercrm_order::fulfillment::dto::{CreateShipment, ShipmentView};
use ordercrm_order::returns::commands;
use ordercrm_order::returns::dto::{
    CloseReturn, CreateReturn, ReceiveReturn, ReturnDecision, ReturnView,
};
use ordercrm_order::returns::queries::{self, ListReturns};
use uuid::Uuid;

use crate::error::ApiResult;
use crate::extract::{
    IfMatch, Json, OptionalJson, Query, RequestCtx, json_with_etag, read_with_etag,
};
use crate::state::AppState;
use crate::tx::Writer;

/// Ask to send delivered goods back, for a `refund`, an `exchange` or a `repair`.
///
/// A line returns at most what was delivered minus what other returns (not
/// rejected) claim, also under concurrent requests. Support and sales (their
/// customers' orders) may ask, and an e-commerce key for its channel's orders.
#[utoipa::path(
    operation_id = "createReturn",
    tag = "returns",
    security(("userToken" = []), ("apiKey" = [])),
    request_body = CreateReturn,
    params(("id" = Uuid, Path, description = "Order id")),
    responses(
        (status = 201, description = "Requested", body = ReturnView, headers(
            ("Location" = String, description = "URL of the new return"),
            ("ETag" = String, description = "Version, for If-Match"),
        )),
        (status = 404, description = "No such order, or not one you may see, or the order has no line with a `line_no` named \
            (`/problems/not-found`, with `errors`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A line would return more than is returnable (`/problems/over-return`), \
            or the idempotency key is in use", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/orders/{id}/returns")]
pub async fn create(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    Json(input): Json<CreateReturn>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = commands::request(&txn, &ctx, *id, input).await?;
    txn.commit().await?;
    let mut response = HttpResponse::Created();
    response.insert_header((header::LOCATION, format!("/v1/returns/{}", view.data.id)));
    Ok(json_with_etag(&mut response, &view))
}

/// An order's returns, oldest first.
#[utoipa::path(
    operation_id = "listOrderReturns",
    tag = "returns",
    security(("userToken" = []), ("apiKey" = [])),
    params(("id" = Uuid, Path, description = "Order id"), ListReturns),
    responses(
        (status = 200, description = "One page of returns", body = Page<ReturnView>),
        (status = 400, description = "An unknown or invalid query parameter, or a bad cursor",
            body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order, or not one you may see", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/orders/{id}/returns")]
pub async fn list_for_order(
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    Query(query): Query<ListReturns>,
) -> ApiResult<HttpResponse> {
    let page = queries::list(state.db.reader(), &ctx.actor, Some(*id), query).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Returns of the orders you see, oldest first: `?status=approved` is what the
/// warehouse expects, `?status=requested` what a manager decides.
#[utoipa::path(
    operation_id = "listReturns",
    tag = "returns",
    security(("userToken" = []), ("apiKey" = [])),
    params(ListReturns),
    responses(
        (status = 200, description = "One page of returns", body = Page<ReturnView>),
        (status = 400, description = "An unknown or invalid query parameter, or a bad cursor",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/returns")]
pub async fn list(
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    Query(query): Query<ListReturns>,
) -> ApiResult<HttpResponse> {
    let page = queries::list(state.db.reader(), &ctx.actor, None, query).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Get a return.
#[utoipa::path(
    operation_id = "getReturn",
    tag = "returns",
    security(("userToken" = []), ("apiKey" = [])),
    params(
        ("id" = Uuid, Path, description = "Return id"),
        ("If-None-Match" = Option<String>, Header, description = "An ETag you hold; 304 if still current"),
    ),
    responses(
        (status = 200, description = "The return", body = ReturnView,
            headers(("ETag" = String, description = "Version, for If-Match"))),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 404, description = "No such return, or not one you may see", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/returns/{id}")]
pub async fn get(
    req: HttpRequest,
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let view = queries::get(state.db.reader(), &ctx.actor, *id).await?;
    Ok(read_with_etag(&req, &view))
}

/// Approve a requested return (a manager): the warehouse expects the goods.
#[utoipa::path(
    operation_id = "approveReturn",
    tag = "returns",
    security(("userToken" = []), ("apiKey" = [])),
    request_body(content = ReturnDecision, description = "Optional: a note"),
    params(
        ("id" = Uuid, Path, description = "Return id"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read"),
    ),
    responses(
        (status = 200, description = "Approved", body = ReturnView,
            headers(("ETag" = String, description = "The new version"))),
        (status = 404, description = "No such return, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not `requested` (`/problems/conflict`, with `current_status` and `allowed_from`)",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/returns/{id}/approve")]
pub async fn approve(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    IfMatch(if_match): IfMatch,
    OptionalJson(input): OptionalJson<ReturnDecision>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = commands::approve(&txn, &ctx, *id, if_match, input.unwrap_or_default()).await?;
    txn.commit().await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &view))
}

/// Reject a return before anything arrived (a manager): its units may be returned again.
#[utoipa::path(
    operation_id = "rejectReturn",
    tag = "returns",
    security(("userToken" = []), ("apiKey" = [])),
    request_body(content = ReturnDecision, description = "Optional: why"),
    params(
        ("id" = Uuid, Path, description = "Return id"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read"),
    ),
    responses(
        (status = 200, description = "Rejected", body = ReturnView,
            headers(("ETag" = String, description = "The new version"))),
        (status = 404, description = "No such return, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not `requested` or `approved` (`/problems/conflict`, with `current_status` and `allowed_from`)",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/returns/{id}/reject")]
pub async fn reject(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    IfMatch(if_match): IfMatch,
    OptionalJson(input): OptionalJson<ReturnDecision>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = commands::reject(&txn, &ctx, *id, if_match, input.unwrap_or_default()).await?;
    txn.commit().await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &view))
}

/// Record goods that arrived (the warehouse), in parts if they come in parts.
///
/// Each unit is restocked (on-hand rises, a `return_restock` movement) or scrapped
/// (a `return_scrap` movement, on-hand unchanged), at the warehouse named or the
/// one the order line shipped from. For a `refund`, the units are credited what
/// the customer paid for them (discounts shared, tax as charged); the last units of
/// a line take what is left of its total. The order's `fulfillment_status` becomes
/// `partially_returned` or `returned`.
#[utoipa::path(
    operation_id = "receiveReturn",
    tag = "returns",
    security(("userToken" = []), ("apiKey" = [])),
    request_body = ReceiveReturn,
    params(
        ("id" = Uuid, Path, description = "Return id"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read"),
    ),
    responses(
        (status = 200, description = "Received", body = ReturnView,
            headers(("ETag" = String, description = "The new version"))),
        (status = 404, description = "No such return, or not one you may see; or a `line_no` or `warehouse_code` named \
            that does not exist (`/problems/not-found`, with `errors`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not `approved` or `received` (`/problems/conflict`), more than the return expects \
            (`/problems/over-receipt`), more than is still delivered to the customer (`/problems/conflict`, with `lines`), \
            or an inactive warehouse (`/problems/conflict`, with `errors`)",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/returns/{id}/receive")]
pub async fn receive(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    IfMatch(if_match): IfMatch,
    Json(input): Json<ReceiveReturn>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = commands::receive(&txn, &ctx, *id, if_match, input).await?;
    txn.commit().await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &view))
}

/// Ship a repair's goods back to the customer (the warehouse): a shipment of the
/// order marked with `return_id`, for units received for repair and not yet sent.
///
/// `lines` name the order's lines, as for any shipment. It moves no stock and
/// counts towards none of the order's quantities (a zero-value shipment); carriers
/// track it and the customer signs for it like any other. Cancelling it before
/// pickup lets its units be sent again.
#[utoipa::path(
    operation_id = "shipReturnBack",
    tag = "returns",
    security(("userToken" = []), ("apiKey" = [])),
    request_body = CreateShipment,
    params(("id" = Uuid, Path, description = "Return id")),
    responses(
        (status = 201, description = "Shipped back", body = ShipmentView, headers(
            ("Location" = String, description = "URL of the new shipment"),
            ("ETag" = String, description = "Version, for If-Match"),
        )),
        (status = 404, description = "No such return, or not one you may see, or it has no goods of a `line_no` named \
            (`/problems/not-found`, with `errors`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not a received repair (`/problems/conflict`), more than was received and not sent \
            (`/problems/over-shipment`), a tracking number another shipment uses (`/problems/conflict`, code `in_use`), \
            or the idempotency key is in use",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/returns/{id}/shipments")]
pub async fn ship_back(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    Json(input): Json<CreateShipment>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = commands::ship_back(&txn, &ctx, *id, input).await?;
    txn.commit().await?;
    let mut response = HttpResponse::Created();
    response.insert_header((header::LOCATION, format!("/v1/shipments/{}", view.id)));
    Ok(json_with_etag(&mut response, &view))
}

/// Close a received return (a manager): `refund_due` is final; units asked for
/// that never arrived may be returned again.
#[utoipa::path(
    operation_id = "closeReturn",
    tag = "returns",
    security(("userToken" = []), ("apiKey" = [])),
    request_body(content = CloseReturn, description = "Optional: a note; for an exchange, `replace`"),
    params(
        ("id" = Uuid, Path, description = "Return id"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read"),
    ),
    responses(
        (status = 200, description = "Closed", body = ReturnView,
            headers(("ETag" = String, description = "The new version"))),
        (status = 404, description = "No such return, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not `received` (`/problems/conflict`, with `current_status` and `allowed_from`); a repair \
            with units not yet shipped back; an exchange whose replacement order cannot be taken (`replacement_errors`: \
            fix that, or close with `replace: false`)",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/returns/{id}/close")]
pub async fn close(
    state: Data<AppState>,
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    IfMatch(if_match): IfMatch,
    OptionalJson(input): OptionalJson<CloseReturn>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = commands::close(
        &txn,
        &ctx,
        &state.cipher,
        *id,
        if_match,
        input.unwrap_or_default(),
    )
    .await?;
    txn.commit().await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &view))
}
