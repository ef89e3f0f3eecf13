//! Product CSV: export (`GET /v1/products` with `Accept: text/csv`) and import.

use actix_web::web::{Data, Payload};
use actix_web::{HttpRequest, HttpResponse, post};
use ordercrm_inventory::dto::ListProducts;
use ordercrm_inventory::{queries, transfer};
use ordercrm_kernel::csv_import::ImportReport;
use ordercrm_kernel::input::{CursorParam, Limit};
use ordercrm_kernel::pagination::MAX_LIMIT;
use ordercrm_kernel::{Ctx, Problem};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::ApiResult;
use crate::extract::{Query, RequestCtx};
use crate::routes::csv_transfer;
use crate::state::AppState;
use crate::tx::Writer;

/// Every product matching `query`, as CSV.
pub fn export(state: Data<AppState>, ctx: Ctx, mut query: ListProducts) -> ApiResult<HttpResponse> {
    // Refuse up front: once streaming starts, the status is sent.
    ctx.actor
        .require(ordercrm_kernel::authz::Action::CatalogRead)?;
    query.limit = Some(Limit(MAX_LIMIT));
    Ok(csv_transfer::export(
        "products.csv",
        transfer::header_row(),
        query,
        move |q| {
            let state = state.clone();
            let actor = ctx.actor.clone();
            async move { queries::products::list(state.db.reader(), &actor, q).await }
        },
        |q, cursor| ListProducts {
            cursor: Some(CursorParam(cursor)),
            ..q
        },
        transfer::row,
    ))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProductImportParams {
    /// Check every row (database checks included) and report, writing nothing.
    pub dry_run: Option<bool>,
}

/// Import products from CSV (UTF-8, with or without BOM). Columns:
/// `sku,name,description,category,unit,barcode,list_price_amount,list_price_currency,
/// cost_amount,cost_currency,tax_rate_bps,warranty_days,tracks_inventory,active,supplier_id,external_refs`
/// (any subset that includes `sku`, in any order). A row whose SKU exists (any case)
/// updates that product, else it creates one. All or nothing.
#[utoipa::path(
    operation_id = "importProducts",
    tag = "catalog",
    security(("userToken" = []), ("apiKey" = [])),
    params(ProductImportParams),
    request_body(content(
        (String = "text/csv", example = "sku,name,list_price_amount,list_price_currency,category\nTEA-LJ-250,Longjing tea 250 g,16800,CNY,tea\n"),
        (csv_transfer::ImportUpload = "multipart/form-data"),
    )),
    responses(
        (status = 200, description = "Imported (or, with `dry_run`, checked)", body = ImportReport),
        (status = 400, description = "Rows failed (`/problems/import-failed`, nothing written), the header or a \
            parameter is wrong (`/problems/validation`), or the upload cannot be read (`/problems/malformed-request`)",
            body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Records in the file changed while it was checked (`/problems/conflict`); \
            nothing was imported: send it again", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than the import limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Neither `text/csv` nor `multipart/form-data`", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/products/import")]
pub async fn import(
    req: HttpRequest,
    state: Data<AppState>,
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    Query(params): Query<ProductImportParams>,
    body: Payload,
) -> ApiResult<HttpResponse> {
    ctx.actor
        .require(ordercrm_kernel::authz::Action::CatalogWrite)?;
    let limits = csv_transfer::limits(&ctx, &state);
    let file = csv_transfer::spool(&req, body, limits.max_bytes).await?;
    let staged = transfer::stage(
        &state.db,
        &ctx,
        file,
        params.dry_run.unwrap_or(false),
        limits,
    )
    .await?;
    csv_transfer::apply(&state, &writer, staged, move |txn, staged| {
        Box::pin(async move { transfer::apply(txn, &ctx, staged).await })
    })
    .await
}
