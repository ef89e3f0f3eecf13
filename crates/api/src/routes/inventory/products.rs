//! `/v1/products`

use actix_web::http::header;
use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post};
use ordercrm_inventory::dto::{CreateProduct, ListProducts, ProductView, UpdateProduct};
use ordercrm_inventory::{commands, queries};
use ordercrm_kernel::{Page, Problem};
use uuid::Uuid;

use crate::error::ApiResult;
use crate::extract::{IfMatch, Json, Query, RequestCtx, json_with_etag, read_with_etag};
use crate::state::AppState;
use crate::tx::Writer;

/// List products. `q` searches SKU, name and barcode.
#[utoipa::path(
    operation_id = "listProducts",
    tag = "catalog",
    security(("userToken" = []), ("apiKey" = [])),
    params(ListProducts),
    responses(
        (status = 200, description = "One page of products; with `Accept: text/csv`, every matching product as CSV \
            (the import's columns), streamed",
            content((Page<ProductView> = "application/json"), (String = "text/csv"))),
        (status = 400, description = "An unknown or invalid parameter, or a bad cursor",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/products")]
pub async fn list(
    req: HttpRequest,
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    Query(q): Query<ListProducts>,
) -> ApiResult<HttpResponse> {
    if crate::routes::csv_transfer::wants_csv(&req) {
        return super::product_transfer::export(state, ctx, q);
    }
    Ok(HttpResponse::Ok().json(queries::products::list(state.db.reader(), &ctx.actor, q).await?))
}

/// Create a product. SKUs are unique without regard to case.
#[utoipa::path(
    operation_id = "createProduct",
    tag = "catalog",
    security(("userToken" = []), ("apiKey" = [])),
    request_body = CreateProduct,
    responses(
        (status = 201, description = "Created", body = ProductView, headers(
            ("Location" = String, description = "URL of the new product"),
            ("ETag" = String, description = "Version, for If-Match"))),
        (status = 409, description = "The SKU (any case) or an external reference is taken (`/problems/already-exists`)",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/products")]
pub async fn create(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    Json(input): Json<CreateProduct>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = commands::products::create(&txn, &ctx, input).await?;
    txn.commit().await?;
    Ok(json_with_etag(
        HttpResponse::Created()
            .insert_header((header::LOCATION, format!("/v1/products/{}", view.id))),
        &view,
    ))
}

/// A product.
#[utoipa::path(
    operation_id = "getProduct",
    tag = "catalog",
    security(("userToken" = []), ("apiKey" = [])),
    params(
        ("id" = Uuid, Path, description = "Product id"),
        ("If-None-Match" = Option<String>, Header, description = "An ETag you hold; 304 if still current"),
    ),
    responses(
        (status = 200, description = "The product", body = ProductView, headers(("ETag" = String, description = "Version"))),
        (status = 304, description = "Not modified"),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/products/{id}")]
pub async fn get(
    req: HttpRequest,
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let view = queries::products::get(state.db.reader(), &ctx.actor, *id).await?;
    Ok(read_with_etag(&req, &view))
}

/// Change a product. Send the ETag you read as `If-Match`: 412 if it changed since.
#[utoipa::path(
    operation_id = "updateProduct",
    tag = "catalog",
    security(("userToken" = []), ("apiKey" = [])),
    request_body = UpdateProduct,
    params(
        ("id" = Uuid, Path, description = "Product id"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read"),
    ),
    responses(
        (status = 200, description = "The changed product", body = ProductView, headers(("ETag" = String, description = "New version"))),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The new SKU or an external reference is taken (`/problems/already-exists`)", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since your ETag", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[patch("/products/{id}")]
pub async fn update(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    IfMatch(if_match): IfMatch,
    Json(input): Json<UpdateProduct>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = commands::products::update(&txn, &ctx, *id, if_match, input).await?;
    txn.commit().await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &view))
}

/// Delete a product that was never stocked, reserved or ordered; otherwise 409:
/// deactivate it (`active: false`) so its history stays readable.
#[utoipa::path(
    operation_id = "deleteProduct",
    tag = "catalog",
    security(("userToken" = []), ("apiKey" = [])),
    params(
        ("id" = Uuid, Path, description = "Product id"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The product has stock history or purchase orders", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since your ETag", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[delete("/products/{id}")]
pub async fn delete(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    IfMatch(if_match): IfMatch,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    commands::products::delete(&txn, &ctx, *id, if_match).await?;
    txn.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}
