//! CSV over HTTP, shared by every resource that exports and imports: streamed
//! exports page by page (memory stays flat however many rows match), imports
//! spooled to a temporary file and answered with the all-or-nothing report.

use std::future::Future;
use std::io::{Seek, Write};

use actix_web::http::header;
use actix_web::web::{Bytes, Payload};
use actix_web::{HttpRequest, HttpResponse};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;
use ordercrm_kernel::csv_import::{ImportLimits, ImportReport};
use ordercrm_kernel::error::problems;
use ordercrm_kernel::staging::Staged;
use ordercrm_kernel::{Error, FieldError, Page, ProblemType};

use crate::error::{ApiError, ApiResult};

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
    // No cell may run as a formula in the spreadsheet that opens this file.
    let _ = w.write_record(
        fields
            .iter()
            .map(|f| ordercrm_kernel::csv_import::neutralize(f).into_owned()),
    );
    Bytes::from(w.into_inner().unwrap_or_default())
}

/// Stream every page `fetch` returns, starting from `first`, as CSV. `next` turns a
/// page's cursor into the following query.
pub fn export<Q, T, F, Fut>(
    filename: &str,
    header_row: Vec<String>,
    first: Q,
    fetch: F,
    next: fn(Q, String) -> Q,
    row: fn(&T) -> Vec<String>,
) -> HttpResponse
where
    Q: Clone + 'static,
    T: 'static,
    F: Fn(Q) -> Fut + Clone + 'static,
    Fut: Future<Output = ordercrm_kernel::Result<Page<T>>> + 'static,
{
    let head =
        futures_util::stream::once(async move { Ok::<_, actix_web::Error>(csv_line(&header_row)) });
    let rows = futures_util::stream::unfold(Some(first), move |query| {
        let fetch = fetch.clone();
        async move {
            let query = query?;
            match fetch(query.clone()).await {
                Ok(page) => {
                    let mut chunk = Vec::new();
                    for item in &page.data {
                        chunk.extend_from_slice(&csv_line(&row(item)));
                    }
                    let following = page.next_cursor.map(|cursor| next(query, cursor));
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
            format!("attachment; filename=\"{filename}\""),
        ))
        .streaming(head.chain(rows))
}

/// A report that is built whole (not page by page) as one CSV file.
pub fn file(filename: &str, header_row: &[&str], rows: Vec<Vec<String>>) -> HttpResponse {
    let mut body = csv_line(
        &header_row
            .iter()
            .map(|h| (*h).to_owned())
            .collect::<Vec<_>>(),
    )
    .to_vec();
    for r in &rows {
        body.extend_from_slice(&csv_line(r));
    }
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .body(body)
}

/// The file of an import: a `text/csv` body, or the `file` part of a
/// `multipart/form-data` body (what a browser's file input sends).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documents the multipart shape; the bytes are streamed, never parsed into it
pub struct ImportUpload {
    /// The CSV file.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// The uploaded CSV, at most `limit` bytes, in a temporary file: a large import never
/// sits in memory.
pub async fn spool(req: &HttpRequest, body: Payload, limit: u64) -> ApiResult<std::fs::File> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type.starts_with("multipart/form-data") {
        let mut form = actix_multipart::Multipart::new(req.headers(), body);
        while let Some(part) = form.next().await {
            let part = part.map_err(|e| malformed(&e))?;
            if part.name() == Some("file") {
                return write_to_file(part.map(|c| c.map_err(|e| malformed(&e))), limit).await;
            }
            // Other parts (a form's extra fields) are read past, not kept.
            let mut part = part;
            while let Some(chunk) = part.next().await {
                chunk.map_err(|e| malformed(&e))?;
            }
        }
        return Err(ApiError(Error::invalid_field(
            "file",
            "required",
            "the form has no `file` part",
        )));
    }
    if !content_type.starts_with("text/csv") {
        return Err(ApiError(Error::new(
            problems::UNSUPPORTED_MEDIA_TYPE,
            "send the file as Content-Type: text/csv, or as multipart/form-data with a `file` part",
        )));
    }
    write_to_file(body.map(|c| c.map_err(|e| malformed(&e))), limit).await
}

fn malformed(e: &impl std::fmt::Display) -> Error {
    Error::new(
        problems::MALFORMED_REQUEST,
        format!("could not read body: {e}"),
    )
}

async fn write_to_file(
    chunks: impl futures_util::Stream<Item = Result<Bytes, Error>>,
    limit: u64,
) -> ApiResult<std::fs::File> {
    let mut chunks = std::pin::pin!(chunks);
    let mut file = tempfile::tempfile().map_err(Error::internal)?;
    let mut size = 0u64;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk?;
        if chunk.contains(&0) {
            return Err(ApiError(crate::extract::nul_refused()));
        }
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
    Ok(file)
}

/// What this caller may import at once: their role's limits, within the server's.
pub fn limits(ctx: &ordercrm_kernel::Ctx, state: &crate::state::AppState) -> ImportLimits {
    let mut limits = ImportLimits::for_actor(&ctx.actor);
    limits.max_bytes = limits.max_bytes.min(state.limits.max_import_bytes);
    limits
}

/// Apply a checked import in the request's one write transaction and answer with its
/// report; a refusal (or a dry run) answers without writing. Batches of an import
/// that fails to apply are dropped.
pub async fn apply<F>(
    state: &crate::state::AppState,
    writer: &crate::tx::Writer,
    staged: Staged,
    write: F,
) -> ApiResult<HttpResponse>
where
    F: for<'t> FnOnce(
        &'t crate::tx::Tx,
        Staged,
    ) -> LocalBoxFuture<'t, ordercrm_kernel::Result<ImportReport>>,
{
    if !staged.ready() {
        return respond(staged.report);
    }
    let import_id = staged.import_id;
    let applied = apply_in_one_transaction(writer, staged, write).await;
    // Applied or refused, what it kept goes, a batch at a time, once the apply's
    // transaction has committed. Not in this request: with an `Idempotency-Key` that
    // transaction commits only after the handler answers (with the recorded answer),
    // so waiting here for the writer it holds would stall every writer (SQLite's one
    // connection) until the pool gave up.
    let db = state.db.clone();
    let forgetting = async move { forget(&db, import_id).await };
    actix_web::rt::spawn(tracing::Instrument::instrument(
        forgetting,
        tracing::Span::current(),
    ));
    respond(applied?)
}

async fn apply_in_one_transaction<F>(
    writer: &crate::tx::Writer,
    staged: Staged,
    write: F,
) -> ApiResult<ImportReport>
where
    F: for<'t> FnOnce(
        &'t crate::tx::Tx,
        Staged,
    ) -> LocalBoxFuture<'t, ordercrm_kernel::Result<ImportReport>>,
{
    let began = std::time::Instant::now();
    let txn = writer.begin().await?;
    let report = write(&txn, staged).await?;
    let written = began.elapsed();
    txn.commit().await?;
    // How long the apply held the writer: what other writers waited at most.
    tracing::info!(
        rows = report.rows,
        elapsed_ms = began.elapsed().as_secs_f64() * 1e3,
        commit_ms = (began.elapsed() - written).as_secs_f64() * 1e3,
        "import applied"
    );
    Ok(report)
}

/// Forget what an import kept once it is applied or refused. Left behind (the
/// database failed meanwhile), it goes with the hourly purge of abandoned imports.
async fn forget(db: &ordercrm_kernel::db::Db, import_id: uuid::Uuid) {
    if let Err(e) = ordercrm_kernel::staging::discard_in_batches(db, import_id).await {
        tracing::warn!(%import_id, error = %e, "an import's kept rows stay until the purge");
    }
}

/// 200 with the report, or 400 `import-failed` when rows failed (and it was no dry run).
pub fn respond(report: ImportReport) -> ApiResult<HttpResponse> {
    if !report.dry_run && report.failed > 0 {
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
