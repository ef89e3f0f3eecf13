//! CSV export (`GET /v1/customers` with `Accept: text/csv`) and import.

use std::io::{Seek, Write};

use actix_web::http::header;
use actix_web::web::{Bytes, Data, Payload};
use actix_web::{HttpRequest, HttpResponse, post};
use futures_util::StreamExt;
use ordercrm_customer::dto::ListCustomers;
use ordercrm_customer::queries;
use ordercrm_customer::transfer::{self, ImportReport};
use ordercrm_kernel::error::problems;
use ordercrm_kernel::{Ctx, Error, FieldError, Problem, ProblemType};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::{ApiError, ApiResult};
use crate::extract::{Query, RequestCtx};
use crate::state::AppState;

/// An import with failing rows; nothing was written.
pub const IMPORT_FAILED: ProblemType = ProblemType {
    slug: "import-failed",
    title: "Import failed",
    status: 400,
    description: "Some rows of the CSV are invalid, so no row was written. `errors[].field` is `row N: column`; \
        `report` has the counts. Fix the rows and send the whole file again, or try it first with `dry_run=true`.",
};

/// Whether the client asked for CSV.
pub fn wants_csv(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim().starts_with("text/csv")))
}

fn csv_line(fields: &[String]) -> Bytes {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(fields);
    Bytes::from(w.into_inner().unwrap_or_default())
}

/// Every customer matching `query`, page by page, as CSV: memory stays flat however
/// many rows match.
pub fn export(state: Data<AppState>, ctx: Ctx, mut query: ListCustomers) -> HttpResponse {
    query.limit = Some(200);
    let header = futures_util::stream::once(async {
        Ok::<_, actix_web::Error>(csv_line(&transfer::header_row()))
    });
    let rows = futures_util::stream::unfold(Some(query), move |next| {
        let state = state.clone();
        let ctx = ctx.clone();
        async move {
            let query = next?;
            match queries::list(state.db.reader(), &ctx.actor, &state.cipher, query.clone()).await {
                Ok(page) => {
                    let mut chunk = Vec::new();
                    for c in &page.data {
                        chunk.extend_from_slice(&csv_line(&transfer::row(c)));
                    }
                    let following = page.next_cursor.map(|cursor| ListCustomers {
                        cursor: Some(cursor),
                        ..query
                    });
                    Some((Ok(Bytes::from(chunk)), following))
                }
                Err(err) => {
                    // Headers are gone already; the truncated body and this log line tell.
                    tracing::error!(error = %err, "CSV export stopped");
                    Some((
                        Err(actix_web::error::ErrorInternalServerError("export failed")),
                        None,
                    ))
                }
            }
        }
    });
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"customers.csv\"",
        ))
        .streaming(header.chain(rows))
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
    request_body(content = String, content_type = "text/csv",
        example = "kind,name,email,tags,external_refs\ncompany,Acme Trading,buy@acme.example,vip;east,shopify:1001\nperson,张伟,zhang.wei@example.com,,\n"),
    responses(
        (status = 200, description = "Imported (or, with `dry_run`, checked)", body = ImportReport),
        (status = 400, description = "Rows failed (`/problems/import-failed`, nothing written) or the header is wrong",
            body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than the import limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not `text/csv`", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/customers/import")]
pub async fn import(
    req: HttpRequest,
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    Query(params): Query<ImportParams>,
    mut body: Payload,
) -> ApiResult<HttpResponse> {
    // Refuse before reading a byte when the caller may not import at all.
    ctx.actor
        .require(ordercrm_kernel::authz::Action::CustomersWrite)?;
    let is_csv = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/csv"));
    if !is_csv {
        return Err(ApiError(Error::new(
            problems::UNSUPPORTED_MEDIA_TYPE,
            "send the file as Content-Type: text/csv",
        )));
    }

    let limit = state.limits.max_import_bytes;
    let mut file = tempfile::tempfile().map_err(Error::internal)?;
    let mut size = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| {
            Error::new(
                problems::MALFORMED_REQUEST,
                format!("could not read body: {e}"),
            )
        })?;
        size += chunk.len() as u64;
        if size > limit {
            return Err(ApiError(Error::new(
                problems::PAYLOAD_TOO_LARGE,
                format!("imports are limited to {limit} bytes"),
            )));
        }
        file.write_all(&chunk).map_err(Error::internal)?;
    }
    file.rewind().map_err(Error::internal)?;

    let dry_run = params.dry_run.unwrap_or(false);
    let txn = state.db.begin().await?;
    let report = transfer::import(
        &txn,
        &ctx,
        &state.cipher,
        file,
        dry_run,
        params.allow_duplicate.unwrap_or(false),
    )
    .await?;
    if report.applied {
        txn.commit().await?;
    } else {
        txn.rollback().await?;
    }
    if !dry_run && report.failed > 0 {
        let errors = report
            .errors
            .iter()
            .map(|e| {
                FieldError::new(
                    format!("row {}: {}", e.row, e.field),
                    "invalid",
                    e.message.clone(),
                )
            })
            .collect();
        let detail = format!(
            "{} of {} rows failed; nothing was imported",
            report.failed, report.rows
        );
        return Err(ApiError(
            Error::new(IMPORT_FAILED, detail)
                .with_errors(errors)
                .with_extension("report", serde_json::to_value(&report).unwrap_or_default()),
        ));
    }
    Ok(HttpResponse::Ok().json(report))
}
