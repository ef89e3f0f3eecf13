//! CSV export (`GET /v1/customers` with `Accept: text/csv`) and import.

use actix_web::web::{Data, Payload};
use actix_web::{HttpRequest, HttpResponse, post};
use ordercrm_customer::dto::ListCustomers;
use ordercrm_customer::queries;
use ordercrm_customer::transfer::{self, ImportReport};
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

/// Every customer matching `query`, page by page, as CSV.
pub fn export(state: Data<AppState>, ctx: Ctx, mut query: ListCustomers) -> HttpResponse {
    query.limit = Some(Limit(MAX_LIMIT));
    csv_transfer::export(
        "customers.csv",
        transfer::header_row(),
        query,
        move |q| {
            let state = state.clone();
            let actor = ctx.actor.clone();
            async move { queries::list(state.db.reader(), &actor, &state.cipher, q).await }
        },
        |q, cursor| ListCustomers {
            cursor: Some(CursorParam(cursor)),
            ..q
        },
        transfer::row,
    )
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// Check every row (database checks included) and report, writing nothing.
    pub dry_run: Option<bool>,
    /// Create rows whose email or phone matches an existing customer.
    pub allow_duplicate: Option<bool>,
}

/// Import customers from CSV (UTF-8, with or without BOM). Columns:
/// `number,kind,name,email,phone,legal_name,industry,size_band,tax_id,birthday,
/// preferred_language,preferred_currency,tags,source_channel,owner_id,
/// credit_limit_amount,credit_limit_currency,payment_terms_days,marketing_consent,external_refs`
/// (any subset, in any order; `tags` and `external_refs` are `;`-separated, refs as
/// `channel:id`). A row with a `number` updates that customer; else a row whose
/// external reference is known updates its customer; else it creates one.
/// All or nothing: one bad row and nothing is written.
#[utoipa::path(
    operation_id = "importCustomers",
    tag = "customers",
    security(("userToken" = []), ("apiKey" = [])),
    params(ImportParams),
    request_body(content(
        (String = "text/csv", example = "kind,name,email,tags,external_refs\ncompany,Acme Trading,buy@acme.example,vip;east,shopify:1001\nperson,张伟,zhang.wei@example.com,,\n"),
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
#[post("/customers/import")]
pub async fn import(
    req: HttpRequest,
    state: Data<AppState>,
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    Query(params): Query<ImportParams>,
    body: Payload,
) -> ApiResult<HttpResponse> {
    // Refuse before reading a byte when the caller may not import at all.
    ctx.actor
        .require(ordercrm_kernel::authz::Action::CustomersWrite)?;
    let limits = csv_transfer::limits(&ctx, &state);
    let file = csv_transfer::spool(&req, body, limits.max_bytes).await?;
    let allow_duplicates = params.allow_duplicate.unwrap_or(false);
    let staged = transfer::stage(
        &state.db,
        &ctx,
        &state.cipher,
        file,
        params.dry_run.unwrap_or(false),
        allow_duplicates,
        limits,
    )
    .await?;
    let cipher = state.cipher.clone();
    csv_transfer::apply(&state, &writer, staged, move |txn, staged| {
        Box::pin(async move { transfer::apply(txn, &ctx, &cipher, staged, allow_duplicates).await })
    })
    .await
}
