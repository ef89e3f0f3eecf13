//! `/v1/purchase-orders` and `/v1/replenishment`

use actix_web::http::header;
use actix_web::web::{Data, Path};
use actix_web::{HttpResponse, get, post};
use ordercrm_inventory::dto::{
    CreateFromSuggestions, CreatePurchaseOrder, CreatedPurchaseOrders, ListPurchaseOrders,
    PurchaseOrderView, ReceivePurchaseOrder, SuggestionQuery, Suggestions,
};
use ordercrm_inventory::{commands, queries};
use ordercrm_kernel::{Page, Problem};
use uuid::Uuid;

use crate::error::ApiResult;
use crate::extract::{IfMatch, Json, Query, RequestCtx, json_with_etag};
use crate::state::AppState;
use crate::tx::Writer;

#[utoipa::path(
    operation_id = "listPurchaseOrders",
    tag = "purchasing",
    security(("userToken" = []), ("apiKey" = [])),
    params(ListPurchaseOrders),
    responses((status = 200, description = "One page of purchase orders, newest first", body = Page<PurchaseOrderView>)),
)]
#[get("/purchase-orders")]
pub async fn list(
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    Query(q): Query<ListPurchaseOrders>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok()
        .json(queries::purchase_orders::list(state.db.reader(), &ctx.actor, q).await?))
}

/// A draft purchase order, in the supplier's currency. Unit costs default to the
/// product's cost when that is in the same currency.
#[utoipa::path(
    operation_id = "createPurchaseOrder",
    tag = "purchasing",
    security(("userToken" = []), ("apiKey" = [])),
    request_body = CreatePurchaseOrder,
    responses(
        (status = 201, description = "Created as a draft", body = PurchaseOrderView,
            headers(("Location" = String, description = "URL of the order"))),
    ),
)]
#[post("/purchase-orders")]
pub async fn create(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    Json(input): Json<CreatePurchaseOrder>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = commands::purchase_orders::create(&txn, &ctx, input).await?;
    txn.commit().await?;
    Ok(json_with_etag(
        HttpResponse::Created()
            .insert_header((header::LOCATION, format!("/v1/purchase-orders/{}", view.id))),
        &view,
    ))
}

#[utoipa::path(
    operation_id = "getPurchaseOrder",
    tag = "purchasing",
    security(("userToken" = []), ("apiKey" = [])),
    params(("id" = Uuid, Path, description = "Purchase order id")),
    responses(
        (status = 200, description = "The order", body = PurchaseOrderView),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/purchase-orders/{id}")]
pub async fn get(
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let view = queries::purchase_orders::get(state.db.reader(), &ctx.actor, *id).await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &view))
}

/// Draft → ordered.
#[utoipa::path(
    operation_id = "placePurchaseOrder",
    tag = "purchasing",
    security(("userToken" = []), ("apiKey" = [])),
    params(
        ("id" = Uuid, Path, description = "Purchase order id"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read"),
    ),
    responses(
        (status = 200, description = "Ordered", body = PurchaseOrderView),
        (status = 409, description = "Not a draft (`/problems/invalid-state`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/purchase-orders/{id}/order")]
pub async fn place(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    IfMatch(if_match): IfMatch,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = commands::purchase_orders::place_order(&txn, &ctx, *id, if_match).await?;
    txn.commit().await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &view))
}

/// Cancel a draft or ordered purchase order (nothing received yet).
#[utoipa::path(
    operation_id = "cancelPurchaseOrder",
    tag = "purchasing",
    security(("userToken" = []), ("apiKey" = [])),
    params(
        ("id" = Uuid, Path, description = "Purchase order id"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read"),
    ),
    responses(
        (status = 200, description = "Cancelled", body = PurchaseOrderView),
        (status = 409, description = "Already (partly) received or cancelled (`/problems/invalid-state`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/purchase-orders/{id}/cancel")]
pub async fn cancel(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    IfMatch(if_match): IfMatch,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = commands::purchase_orders::cancel(&txn, &ctx, *id, if_match).await?;
    txn.commit().await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &view))
}

/// Record goods that arrived: receipt movements and received quantities in one
/// transaction. Partial receipts are fine; more than ordered is 400 `over_receipt`.
#[utoipa::path(
    operation_id = "receivePurchaseOrder",
    tag = "purchasing",
    security(("userToken" = []), ("apiKey" = [])),
    request_body = ReceivePurchaseOrder,
    params(
        ("id" = Uuid, Path, description = "Purchase order id"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read"),
    ),
    responses(
        (status = 200, description = "Received", body = PurchaseOrderView),
        (status = 409, description = "Not ordered yet, cancelled or fully received (`/problems/invalid-state`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/purchase-orders/{id}/receipts")]
pub async fn receive(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    IfMatch(if_match): IfMatch,
    Json(input): Json<ReceivePurchaseOrder>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = commands::purchase_orders::receive(&txn, &ctx, *id, if_match, input).await?;
    txn.commit().await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &view))
}

/// What to reorder, per product and warehouse, with every input of the arithmetic:
/// average daily demand from shipments in the window, supplier lead time, safety
/// stock, reorder point and quantity, and what is already on order.
#[utoipa::path(
    operation_id = "listReplenishmentSuggestions",
    tag = "purchasing",
    security(("userToken" = []), ("apiKey" = [])),
    params(SuggestionQuery),
    responses((status = 200, description = "Suggestions, by SKU and warehouse", body = Suggestions)),
)]
#[get("/replenishment/suggestions")]
pub async fn suggestions(
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    Query(q): Query<SuggestionQuery>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(
        queries::replenishment::suggestions(state.db.reader(), &ctx.actor, ctx.now, q).await?,
    ))
}

/// Turn chosen suggestions into draft purchase orders, one per supplier and warehouse.
#[utoipa::path(
    operation_id = "createPurchaseOrdersFromSuggestions",
    tag = "purchasing",
    security(("userToken" = []), ("apiKey" = [])),
    request_body = CreateFromSuggestions,
    responses((status = 201, description = "The drafts", body = CreatedPurchaseOrders)),
)]
#[post("/replenishment/purchase-orders")]
pub async fn from_suggestions(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    Json(input): Json<CreateFromSuggestions>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let created = commands::replenishment::create_purchase_orders(&txn, &ctx, input).await?;
    txn.commit().await?;
    Ok(HttpResponse::Created().json(created))
}
