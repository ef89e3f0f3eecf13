//! `/v1/orders`

use actix_web::http::header;
use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, HttpResponse, get, post};
use ordercrm_kernel::Ctx;
use ordercrm_kernel::authz::Action;
use ordercrm_kernel::input::{CursorParam, Limit};
use ordercrm_kernel::{Page, Problem};
use ordercrm_order::commands::{actions, create::Intake, create::create as create_order, edit};
use ordercrm_order::dto::{
    ActionReason, CreateOrder, EditApplied, EditPreview, OrderEdit, OrderEditView, OrderView,
    RequiredReason,
};
use ordercrm_order::queries::{self, ListOrders};
use ordercrm_order::timeline::Timeline;
use ordercrm_order::transfer;
use uuid::Uuid;

use crate::error::ApiResult;
use crate::extract::{IfMatch, Json, Query, RequestCtx, json_with_etag, read_with_etag};
use crate::routes::csv_transfer;
use crate::state::AppState;
use crate::tx::Writer;

/// List orders, newest first unless `sort` says otherwise.
///
/// A sales rep sees the orders of the customers they own now, a manager their
/// team's, the warehouse approved orders only, a key bound to a channel that
/// channel's. With `Accept: text/csv`, every matching order, one row each.
#[utoipa::path(
    operation_id = "listOrders",
    tag = "orders",
    security(("userToken" = []), ("apiKey" = [])),
    params(ListOrders),
    responses(
        (status = 200, description = "One page of orders; with `Accept: text/csv`, every matching order as CSV \
            (amounts in major units), streamed",
            content((Page<OrderView> = "application/json"), (String = "text/csv"))),
        (status = 400, description = "An unknown or invalid query parameter, or a bad cursor",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/orders")]
pub async fn list(
    req: HttpRequest,
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    Query(query): Query<ListOrders>,
) -> ApiResult<HttpResponse> {
    if csv_transfer::wants_csv(&req) {
        // Refuse up front: once streaming starts, the status is sent.
        ctx.actor.require(Action::OrdersRead)?;
        queries::check_list(&query)?;
        return Ok(export(state, ctx, query));
    }
    let page = queries::list(state.db.reader(), &ctx.actor, query, ctx.now.date_naive()).await?;
    Ok(HttpResponse::Ok().json(page))
}

fn export(state: Data<AppState>, ctx: Ctx, mut query: ListOrders) -> HttpResponse {
    query.limit = Some(Limit(200));
    csv_transfer::export(
        "orders.csv",
        transfer::header_row(),
        query,
        move |q| {
            let state = state.clone();
            let actor = ctx.actor.clone();
            let today = ctx.now.date_naive();
            async move { queries::list(state.db.reader(), &actor, q, today).await }
        },
        |q, cursor| ListOrders {
            cursor: Some(CursorParam(cursor)),
            ..q
        },
        transfer::row,
    )
}

/// Take an order: a draft, or reviewed at once with `"submit": true`.
///
/// The server prices every line (the list price when it is in the order's currency),
/// picks a warehouse for lines without one and computes the totals. A resend with the
/// same channel, channel name and `external_id` and the same body answers 200 with
/// the order it made; another body under that id is 409 `/problems/external-id-conflict`.
#[utoipa::path(
    operation_id = "createOrder",
    tag = "orders",
    security(("userToken" = []), ("apiKey" = [])),
    request_body = CreateOrder,
    responses(
        (status = 201, description = "Created (and reviewed, with `submit`)", body = OrderView, headers(
            ("Location" = String, description = "URL of the new order"),
            ("ETag" = String, description = "Version, for If-Match"),
        )),
        (status = 200, description = "A resend: the order this channel's external id made", body = OrderView, headers(
            ("Location" = String, description = "URL of the order"),
            ("ETag" = String, description = "Version, for If-Match"),
        )),
        (status = 409, description = "The external id was used with another body (`/problems/external-id-conflict`), \
            the grand total is not `expected_grand_total` (`/problems/grand-total-mismatch`), \
            a product or warehouse is inactive or none is active (`/problems/conflict`), \
            a new customer named at intake matches an existing one by email or phone (`/problems/duplicate-customer`), \
            an order with this external id was made by someone whose orders you do not see (`/problems/already-exists`), \
            or the idempotency key is in use",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/orders")]
pub async fn create(
    state: Data<AppState>,
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    Json(input): Json<CreateOrder>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let intake = create_order(&txn, &ctx, &state.cipher, input).await?;
    txn.commit().await?;
    let (mut response, view) = match intake {
        Intake::Created(view) => (HttpResponse::Created(), view),
        Intake::Existing(view) => (HttpResponse::Ok(), view),
    };
    response.insert_header((header::LOCATION, format!("/v1/orders/{}", view.order.id)));
    Ok(json_with_etag(&mut response, &view))
}

/// Get an order.
#[utoipa::path(
    operation_id = "getOrder",
    tag = "orders",
    security(("userToken" = []), ("apiKey" = [])),
    params(
        ("id" = Uuid, Path, description = "Order id"),
        ("If-None-Match" = Option<String>, Header, description = "An ETag you hold; 304 if still current"),
    ),
    responses(
        (status = 200, description = "The order", body = OrderView,
            headers(("ETag" = String, description = "Version, for If-Match"))),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 404, description = "No such order, or not one you may see", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/orders/{id}")]
pub async fn get(
    req: HttpRequest,
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let view = queries::get(state.db.reader(), &ctx.actor, *id, ctx.now.date_naive()).await?;
    Ok(read_with_etag(&req, &view))
}

/// Review a draft: stock is reserved and the order approved, or it is held
/// (`review` says why and with what inputs), or rejected.
#[utoipa::path(
    operation_id = "submitOrder",
    tag = "orders",
    security(("userToken" = []), ("apiKey" = [])),
    params(
        ("id" = Uuid, Path, description = "Order id"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read"),
    ),
    responses(
        (status = 200, description = "Reviewed: approved, on_hold or rejected", body = OrderView,
            headers(("ETag" = String, description = "The new version"))),
        (status = 404, description = "No such order, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not a draft (`/problems/invalid-transition`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/orders/{id}/submit")]
pub async fn submit(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    IfMatch(if_match): IfMatch,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = actions::submit(&txn, &ctx, *id, if_match).await?;
    txn.commit().await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &view))
}

/// Put an approved order on hold, with a reason; its stock stays reserved.
#[utoipa::path(
    operation_id = "holdOrder",
    tag = "orders",
    security(("userToken" = []), ("apiKey" = [])),
    request_body = RequiredReason,
    params(
        ("id" = Uuid, Path, description = "Order id"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read"),
    ),
    responses(
        (status = 200, description = "On hold", body = OrderView,
            headers(("ETag" = String, description = "The new version"))),
        (status = 404, description = "No such order, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not approved (`/problems/invalid-transition`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/orders/{id}/hold")]
pub async fn hold(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    IfMatch(if_match): IfMatch,
    Json(input): Json<RequiredReason>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = actions::hold(&txn, &ctx, *id, if_match, input).await?;
    txn.commit().await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &view))
}

/// Review a held order again, reserving what it does not hold yet.
#[utoipa::path(
    operation_id = "releaseOrder",
    tag = "orders",
    security(("userToken" = []), ("apiKey" = [])),
    params(
        ("id" = Uuid, Path, description = "Order id"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read"),
    ),
    responses(
        (status = 200, description = "Reviewed again: approved, on_hold or rejected", body = OrderView,
            headers(("ETag" = String, description = "The new version"))),
        (status = 404, description = "No such order, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not on hold (`/problems/invalid-transition`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/orders/{id}/release")]
pub async fn release(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    IfMatch(if_match): IfMatch,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = actions::release(&txn, &ctx, *id, if_match).await?;
    txn.commit().await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &view))
}

/// Approve over a credit, price or amount hold (managers), with a reason. A stock
/// hold is never overridden: release the order when stock is there.
#[utoipa::path(
    operation_id = "approveOrder",
    tag = "orders",
    security(("userToken" = []), ("apiKey" = [])),
    request_body = RequiredReason,
    params(
        ("id" = Uuid, Path, description = "Order id"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read"),
    ),
    responses(
        (status = 200, description = "Approved", body = OrderView,
            headers(("ETag" = String, description = "The new version"))),
        (status = 404, description = "No such order, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not on hold for a reason a manager may override (`/problems/invalid-transition`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/orders/{id}/approve")]
pub async fn approve(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    IfMatch(if_match): IfMatch,
    Json(input): Json<RequiredReason>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = actions::approve(&txn, &ctx, *id, if_match, input).await?;
    txn.commit().await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &view))
}

/// Reject a held order; its stock is let go.
#[utoipa::path(
    operation_id = "rejectOrder",
    tag = "orders",
    security(("userToken" = []), ("apiKey" = [])),
    request_body = ActionReason,
    params(
        ("id" = Uuid, Path, description = "Order id"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read"),
    ),
    responses(
        (status = 200, description = "Rejected", body = OrderView,
            headers(("ETag" = String, description = "The new version"))),
        (status = 404, description = "No such order, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not on hold (`/problems/invalid-transition`), or an invoice of the order was \
            written off (`/problems/conflict`: `written_off`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/orders/{id}/reject")]
pub async fn reject(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    IfMatch(if_match): IfMatch,
    Json(input): Json<ActionReason>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = actions::reject(&txn, &ctx, *id, if_match, input).await?;
    txn.commit().await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &view))
}

/// Cancel a draft, approved or held order, with a reason; its stock is let go.
#[utoipa::path(
    operation_id = "cancelOrder",
    tag = "orders",
    security(("userToken" = []), ("apiKey" = [])),
    request_body = RequiredReason,
    params(
        ("id" = Uuid, Path, description = "Order id"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read"),
    ),
    responses(
        (status = 200, description = "Cancelled", body = OrderView,
            headers(("ETag" = String, description = "The new version"))),
        (status = 404, description = "No such order, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already rejected, cancelled or completed (`/problems/invalid-transition`), or an \
            invoice of the order was written off (`/problems/conflict`: `written_off`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/orders/{id}/cancel")]
pub async fn cancel(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    IfMatch(if_match): IfMatch,
    Json(input): Json<RequiredReason>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = actions::cancel(&txn, &ctx, *id, if_match, input).await?;
    txn.commit().await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &view))
}

/// Everything that happened to an order, oldest first: its events (what
/// integrations received, the reservation's included) and audit entries (who did
/// it, from which request).
#[utoipa::path(
    operation_id = "getOrderTimeline",
    tag = "orders",
    security(("userToken" = []), ("apiKey" = [])),
    params(("id" = Uuid, Path, description = "Order id")),
    responses(
        (status = 200, description = "The order's history", body = Timeline),
        (status = 404, description = "No such order, or not one you may see", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/orders/{id}/timeline")]
pub async fn timeline(
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let timeline = ordercrm_order::timeline::timeline(state.db.reader(), &ctx.actor, *id).await?;
    Ok(HttpResponse::Ok().json(timeline))
}

/// What an edit would do, changing nothing: the order as it would be, the change to
/// its grand total, the stock each product needs per warehouse (what the
/// reservation would gain or let go of, and whether it is there), and for an
/// approved order the review it would get (an outcome `on_hold` means the edit would
/// put it on hold; the credit verdict shows the customer's exposure).
#[utoipa::path(
    operation_id = "previewOrderEdit",
    tag = "orders",
    security(("userToken" = []), ("apiKey" = [])),
    request_body = OrderEdit,
    params(("id" = Uuid, Path, description = "Order id")),
    responses(
        (status = 200, description = "What the edit would do; nothing was changed", body = EditPreview),
        (status = 400, description = "The change is invalid or changes nothing", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The order cannot be edited (`/problems/invalid-transition`: rejected, cancelled, completed or shipped in full), or the change conflicts with what shipped or was paid (`/problems/conflict`: `line_shipped`, `below_shipped`, `shipped_value`, `below_paid`; and `written_off` when an invoice of what the edit changes was written off)", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/orders/{id}/edits/preview")]
pub async fn preview_edit(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    Json(input): Json<OrderEdit>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let preview = edit::preview(&txn, &ctx, *id, input).await?;
    // A preview writes nothing; the transaction only gave it a consistent view.
    txn.rollback().await?;
    Ok(HttpResponse::Ok().json(preview))
}

/// Edit what has not shipped, atomically, at the version you read (`If-Match` is
/// required): the lines and totals change, the reservation grows or shrinks by the
/// difference only, an approved order is reviewed again and goes on hold if it now
/// fails a rule (`order.held` after `order.updated`), the dispatch notes follow,
/// and the edit is kept (`GET …/edits`). An edit that cannot be satisfied (stock
/// short) changes nothing. Channel keys may edit their channel's orders.
#[utoipa::path(
    operation_id = "editOrder",
    tag = "orders",
    security(("userToken" = []), ("apiKey" = [])),
    request_body = OrderEdit,
    params(
        ("id" = Uuid, Path, description = "Order id"),
        ("If-Match" = String, Header, description = "The ETag you read (required)"),
    ),
    responses(
        (status = 200, description = "Edited", body = EditApplied,
            headers(("ETag" = String, description = "The order's new version"))),
        (status = 400, description = "The change is invalid or changes nothing", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Stock is short (`/problems/insufficient-stock`, nothing changed), the order cannot be edited (`/problems/invalid-transition`), or the change conflicts with what shipped or was paid (`/problems/conflict`: `line_shipped`, `below_shipped`, `shipped_value`, `below_paid`; and `written_off` when an invoice of what the edit changes was written off)", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since your ETag", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "No If-Match (`/problems/precondition-required`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/orders/{id}/edits")]
pub async fn edit_order(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    IfMatch(if_match): IfMatch,
    Json(input): Json<OrderEdit>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let applied = edit::apply(&txn, &ctx, *id, if_match, input).await?;
    txn.commit().await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &applied))
}

/// The edits made to an order, oldest first: who, when, the change as sent, and
/// what it did to the grand total.
#[utoipa::path(
    operation_id = "listOrderEdits",
    tag = "orders",
    security(("userToken" = []), ("apiKey" = [])),
    params(("id" = Uuid, Path, description = "Order id")),
    responses(
        (status = 200, description = "The order's edits", body = Vec<OrderEditView>),
        (status = 404, description = "No such order, or not one you may see", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/orders/{id}/edits")]
pub async fn list_edits(
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let edits = edit::list(state.db.reader(), &ctx.actor, *id).await?;
    Ok(HttpResponse::Ok().json(edits))
}
