//! `/v1/inventory`: levels, movements, WMS counts, alerts.

use actix_web::web::{Data, Path};
use actix_web::{HttpResponse, get, patch, post, put};
use ordercrm_inventory::dto::{
    Adjust, AlertView, CountResult, LevelView, ListAlerts, ListLevels, ListMovements, MovementView,
    Receive, Return, StockChange, Transfer, UpdateLevel, WmsCount,
};
use ordercrm_inventory::{commands, queries};
use ordercrm_kernel::{Page, Problem};

use crate::error::ApiResult;
use crate::extract::{IfMatch, Json, Query, RequestCtx, json_with_etag};
use crate::state::AppState;
use crate::tx::Writer;

/// Stock levels: on hand, reserved, available, reorder settings.
#[utoipa::path(
    operation_id = "listStockLevels",
    tag = "inventory",
    security(("userToken" = []), ("apiKey" = [])),
    params(ListLevels),
    responses((status = 200, description = "One page of levels", body = Page<LevelView>)),
)]
#[get("/inventory")]
pub async fn list_levels(
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    Query(q): Query<ListLevels>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(queries::levels::list(state.db.reader(), &ctx.actor, q).await?))
}

/// One level (zeros when the SKU was never stocked in that warehouse).
#[utoipa::path(
    operation_id = "getStockLevel",
    tag = "inventory",
    security(("userToken" = []), ("apiKey" = [])),
    params(
        ("sku" = ordercrm_inventory::model::Sku, Path, description = "SKU, any case"),
        ("warehouse_code" = ordercrm_inventory::model::WarehouseCode, Path, description = "Warehouse code, any case"),
    ),
    responses(
        (status = 200, description = "The level", body = LevelView),
        (status = 404, description = "No such SKU or warehouse", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/inventory/levels/{sku}/{warehouse_code}")]
pub async fn get_level(
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    path: Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (sku, code) = path.into_inner();
    let view = queries::levels::get(state.db.reader(), &ctx.actor, &sku, &code).await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &view))
}

/// WMS sync: set the counted quantity. A count older than (or as old as) the last
/// applied one changes nothing (`applied: false`), so retries and out-of-order
/// deliveries are safe; a difference to the books becomes a `count` movement.
#[utoipa::path(
    operation_id = "putStockCount",
    tag = "inventory",
    security(("userToken" = []), ("apiKey" = [])),
    request_body = WmsCount,
    params(
        ("sku" = ordercrm_inventory::model::Sku, Path, description = "SKU, any case"),
        ("warehouse_code" = ordercrm_inventory::model::WarehouseCode, Path, description = "Warehouse code, any case"),
    ),
    responses(
        (status = 200, description = "Applied, or ignored as stale", body = CountResult),
    ),
)]
#[put("/inventory/levels/{sku}/{warehouse_code}")]
pub async fn put_count(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    path: Path<(String, String)>,
    Json(input): Json<WmsCount>,
) -> ApiResult<HttpResponse> {
    let (sku, code) = path.into_inner();
    let txn = writer.begin().await?;
    let result = commands::stock::count(&txn, &ctx, &sku, &code, input).await?;
    txn.commit().await?;
    Ok(HttpResponse::Ok().json(result))
}

/// Reorder point, reorder quantity and safety stock of one level.
#[utoipa::path(
    operation_id = "updateStockLevel",
    tag = "inventory",
    security(("userToken" = []), ("apiKey" = [])),
    request_body = UpdateLevel,
    params(
        ("sku" = ordercrm_inventory::model::Sku, Path, description = "SKU, any case"),
        ("warehouse_code" = ordercrm_inventory::model::WarehouseCode, Path, description = "Warehouse code, any case"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read"),
    ),
    responses(
        (status = 200, description = "The level", body = LevelView),
        (status = 412, description = "Changed since your ETag", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[patch("/inventory/levels/{sku}/{warehouse_code}")]
pub async fn update_level(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    path: Path<(String, String)>,
    IfMatch(if_match): IfMatch,
    Json(input): Json<UpdateLevel>,
) -> ApiResult<HttpResponse> {
    let (sku, code) = path.into_inner();
    let txn = writer.begin().await?;
    let view = commands::stock::update_level(&txn, &ctx, &sku, &code, if_match, input).await?;
    txn.commit().await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &view))
}

/// Goods in.
#[utoipa::path(
    operation_id = "receiveStock",
    tag = "inventory",
    security(("userToken" = []), ("apiKey" = [])),
    request_body = Receive,
    responses((status = 201, description = "The receipt and the level after it", body = StockChange)),
)]
#[post("/inventory/receipts")]
pub async fn receive(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    Json(input): Json<Receive>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let change = commands::stock::receive(&txn, &ctx, input).await?;
    txn.commit().await?;
    Ok(HttpResponse::Created().json(change))
}

/// A correction with a reason. Refused (409 `insufficient-stock`) when it would take
/// on-hand below zero or below what is reserved.
#[utoipa::path(
    operation_id = "adjustStock",
    tag = "inventory",
    security(("userToken" = []), ("apiKey" = [])),
    request_body = Adjust,
    responses(
        (status = 201, description = "The adjustment and the level after it", body = StockChange),
        (status = 409, description = "Not enough unreserved stock (`/problems/insufficient-stock`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/inventory/adjustments")]
pub async fn adjust(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    Json(input): Json<Adjust>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let change = commands::stock::adjust(&txn, &ctx, input).await?;
    txn.commit().await?;
    Ok(HttpResponse::Created().json(change))
}

/// Move available stock between warehouses: two ledger lines, one transaction.
#[utoipa::path(
    operation_id = "transferStock",
    tag = "inventory",
    security(("userToken" = []), ("apiKey" = [])),
    request_body = Transfer,
    responses(
        (status = 201, description = "Both legs and both levels after them", body = StockChange),
        (status = 409, description = "Not enough available at the source (`/problems/insufficient-stock`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/inventory/transfers")]
pub async fn transfer(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    Json(input): Json<Transfer>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let change = commands::stock::transfer(&txn, &ctx, input).await?;
    txn.commit().await?;
    Ok(HttpResponse::Created().json(change))
}

/// Goods back from a customer: restock or scrap.
#[utoipa::path(
    operation_id = "returnStock",
    tag = "inventory",
    security(("userToken" = []), ("apiKey" = [])),
    request_body = Return,
    responses((status = 201, description = "The return and the level after it", body = StockChange)),
)]
#[post("/inventory/returns")]
pub async fn return_goods(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    Json(input): Json<Return>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let change = commands::stock::return_goods(&txn, &ctx, input).await?;
    txn.commit().await?;
    Ok(HttpResponse::Created().json(change))
}

/// The ledger, newest first.
#[utoipa::path(
    operation_id = "listStockMovements",
    tag = "inventory",
    security(("userToken" = []), ("apiKey" = [])),
    params(ListMovements),
    responses((status = 200, description = "One page of movements", body = Page<MovementView>)),
)]
#[get("/inventory/movements")]
pub async fn list_movements(
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    Query(q): Query<ListMovements>,
) -> ApiResult<HttpResponse> {
    Ok(
        HttpResponse::Ok()
            .json(queries::levels::movements(state.db.reader(), &ctx.actor, q).await?),
    )
}

/// Low-stock alerts: open ones (default) or closed ones, newest first.
#[utoipa::path(
    operation_id = "listStockAlerts",
    tag = "inventory",
    security(("userToken" = []), ("apiKey" = [])),
    params(ListAlerts),
    responses((status = 200, description = "One page of alerts", body = Page<AlertView>)),
)]
#[get("/inventory/alerts")]
pub async fn list_alerts(
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    Query(q): Query<ListAlerts>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(queries::alerts::list(state.db.reader(), &ctx.actor, q).await?))
}
