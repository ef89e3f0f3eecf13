//! `/v1/warehouses` and `/v1/suppliers`

use actix_web::http::header;
use actix_web::web::{Data, Path};
use actix_web::{HttpResponse, get, patch, post};
use ordercrm_inventory::dto::{
    CreateSupplier, CreateWarehouse, ListSimple, SupplierView, UpdateSupplier, UpdateWarehouse,
    WarehouseView,
};
use ordercrm_inventory::{commands, queries};
use ordercrm_kernel::{Page, Problem};
use uuid::Uuid;

use crate::error::ApiResult;
use crate::extract::{IfMatch, Json, Query, RequestCtx, json_with_etag};
use crate::state::AppState;
use crate::tx::Writer;

/// Warehouses, by code.
#[utoipa::path(
    operation_id = "listWarehouses",
    tag = "catalog",
    security(("userToken" = []), ("apiKey" = [])),
    params(ListSimple),
    responses((status = 200, description = "One page of warehouses", body = Page<WarehouseView>)),
)]
#[get("/warehouses")]
pub async fn list_warehouses(
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    Query(q): Query<ListSimple>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(queries::warehouses::list(state.db.reader(), &ctx.actor, q).await?))
}

/// Create a warehouse. Codes are unique without regard to case.
#[utoipa::path(
    operation_id = "createWarehouse",
    tag = "catalog",
    security(("userToken" = []), ("apiKey" = [])),
    request_body = CreateWarehouse,
    responses(
        (status = 201, description = "Created", body = WarehouseView, headers(("Location" = String, description = "URL of the new warehouse"))),
        (status = 409, description = "The code is taken (`/problems/already-exists`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/warehouses")]
pub async fn create_warehouse(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    Json(input): Json<CreateWarehouse>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = commands::warehouses::create(&txn, &ctx, input).await?;
    txn.commit().await?;
    Ok(json_with_etag(
        HttpResponse::Created()
            .insert_header((header::LOCATION, format!("/v1/warehouses/{}", view.id))),
        &view,
    ))
}

#[utoipa::path(
    operation_id = "getWarehouse",
    tag = "catalog",
    security(("userToken" = []), ("apiKey" = [])),
    params(("id" = Uuid, Path, description = "Warehouse id")),
    responses(
        (status = 200, description = "The warehouse", body = WarehouseView),
        (status = 404, description = "No such warehouse", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/warehouses/{id}")]
pub async fn get_warehouse(
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let view = queries::warehouses::get(state.db.reader(), &ctx.actor, *id).await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &view))
}

/// Rename, re-address, or (de)activate a warehouse. Its code never changes: integrations key on it.
#[utoipa::path(
    operation_id = "updateWarehouse",
    tag = "catalog",
    security(("userToken" = []), ("apiKey" = [])),
    request_body = UpdateWarehouse,
    params(
        ("id" = Uuid, Path, description = "Warehouse id"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read"),
    ),
    responses(
        (status = 200, description = "The changed warehouse", body = WarehouseView),
        (status = 404, description = "No such warehouse", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since your ETag", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[patch("/warehouses/{id}")]
pub async fn update_warehouse(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    IfMatch(if_match): IfMatch,
    Json(input): Json<UpdateWarehouse>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = commands::warehouses::update(&txn, &ctx, *id, if_match, input).await?;
    txn.commit().await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &view))
}

/// Suppliers, by name.
#[utoipa::path(
    operation_id = "listSuppliers",
    tag = "purchasing",
    security(("userToken" = []), ("apiKey" = [])),
    params(ListSimple),
    responses((status = 200, description = "One page of suppliers", body = Page<SupplierView>)),
)]
#[get("/suppliers")]
pub async fn list_suppliers(
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    Query(q): Query<ListSimple>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(queries::suppliers::list(state.db.reader(), &ctx.actor, q).await?))
}

#[utoipa::path(
    operation_id = "createSupplier",
    tag = "purchasing",
    security(("userToken" = []), ("apiKey" = [])),
    request_body = CreateSupplier,
    responses(
        (status = 201, description = "Created", body = SupplierView, headers(("Location" = String, description = "URL of the new supplier"))),
    ),
)]
#[post("/suppliers")]
pub async fn create_supplier(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    Json(input): Json<CreateSupplier>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = commands::suppliers::create(&txn, &ctx, input).await?;
    txn.commit().await?;
    Ok(json_with_etag(
        HttpResponse::Created()
            .insert_header((header::LOCATION, format!("/v1/suppliers/{}", view.id))),
        &view,
    ))
}

#[utoipa::path(
    operation_id = "getSupplier",
    tag = "purchasing",
    security(("userToken" = []), ("apiKey" = [])),
    params(("id" = Uuid, Path, description = "Supplier id")),
    responses(
        (status = 200, description = "The supplier", body = SupplierView),
        (status = 404, description = "No such supplier", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/suppliers/{id}")]
pub async fn get_supplier(
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let view = queries::suppliers::get(state.db.reader(), &ctx.actor, *id).await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &view))
}

#[utoipa::path(
    operation_id = "updateSupplier",
    tag = "purchasing",
    security(("userToken" = []), ("apiKey" = [])),
    request_body = UpdateSupplier,
    params(
        ("id" = Uuid, Path, description = "Supplier id"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read"),
    ),
    responses(
        (status = 200, description = "The changed supplier", body = SupplierView),
        (status = 404, description = "No such supplier", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since your ETag", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[patch("/suppliers/{id}")]
pub async fn update_supplier(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    IfMatch(if_match): IfMatch,
    Json(input): Json<UpdateSupplier>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = commands::suppliers::update(&txn, &ctx, *id, if_match, input).await?;
    txn.commit().await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &view))
}
