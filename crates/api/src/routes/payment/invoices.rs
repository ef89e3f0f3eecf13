//! `/v1/orders/{id}/invoices`, `/v1/invoices`

use actix_web::http::header;
use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, HttpResponse, get, patch, post};
use ordercrm_kernel::authz::Action;
use ordercrm_kernel::input::{CursorParam, Limit};
use ordercrm_kernel::{Ctx, Page, Problem};
use ordercrm_payment::dto::{CreateInvoice, InvoiceReason, InvoiceView, UpdateInvoice};
use ordercrm_payment::invoices as commands;
use ordercrm_payment::queries::{self, ListInvoices};
use ordercrm_payment::transfer;
use uuid::Uuid;

use crate::error::ApiResult;
use crate::extract::{
    IfMatch, Json, OptionalJson, Query, RequestCtx, json_with_etag, read_with_etag,
};
use crate::routes::csv_transfer;
use crate::state::AppState;
use crate::tx::Writer;

/// Invoice an order: all it has not invoiced yet, or chosen lines and units (per
/// shipment, say), with an optional instalment schedule.
///
/// A line is never invoiced beyond what was ordered minus what other invoices
/// (not void) took, also under concurrent requests; the first invoice carries the
/// shipping fee unless told otherwise. A draft unless `issue` is true: issuing
/// gives it its gap-free number, due dates and base-currency rate, and applies
/// money held for the order. Finance (`payments.write`).
#[utoipa::path(
    operation_id = "createInvoice",
    tag = "invoices",
    security(("userToken" = []), ("apiKey" = [])),
    request_body = CreateInvoice,
    params(("id" = Uuid, Path, description = "Order id")),
    responses(
        (status = 201, description = "Made (and issued, with `issue`)", body = InvoiceView, headers(
            ("Location" = String, description = "URL of the new invoice"),
            ("ETag" = String, description = "Version, for If-Match"),
        )),
        (status = 404, description = "No such order, or not one you may see, or the order has no line with a `line_no` named \
            (`/problems/not-found`, with `errors`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A line would invoice more than is left (`/problems/over-invoice`); the order was never \
            approved or has ended (`order_ended`), everything is invoiced, the shipping fee is on another invoice, or (with `issue`) no exchange rate to the \
            base currency is published (`/problems/conflict`: `not_approved`, `nothing_to_invoice`, `shipping_invoiced`, \
            `exchange_rate_missing`); or the idempotency key is in use", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/orders/{id}/invoices")]
pub async fn create(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    Json(input): Json<CreateInvoice>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = commands::create_for_order(&txn, &ctx, *id, input).await?;
    txn.commit().await?;
    let mut response = HttpResponse::Created();
    response.insert_header((header::LOCATION, format!("/v1/invoices/{}", view.data.id)));
    Ok(json_with_etag(&mut response, &view))
}

/// An order's invoices, newest first.
#[utoipa::path(
    operation_id = "listOrderInvoices",
    tag = "invoices",
    security(("userToken" = []), ("apiKey" = [])),
    params(("id" = Uuid, Path, description = "Order id"), ListInvoices),
    responses(
        (status = 200, description = "One page of invoices", body = Page<InvoiceView>),
        (status = 400, description = "An unknown or invalid query parameter, or a bad cursor",
            body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order, or not one you may see", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/orders/{id}/invoices")]
pub async fn list_for_order(
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    Query(query): Query<ListInvoices>,
) -> ApiResult<HttpResponse> {
    let today = ctx.now.date_naive();
    let page =
        queries::list_invoices(state.db.reader(), &ctx.actor, Some(*id), query, today).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Invoices of the customers you see, newest first: `?overdue=true` is what to
/// chase, `?payment_status=partially_paid` what is half settled. With
/// `Accept: text/csv`, every matching invoice, one row each.
#[utoipa::path(
    operation_id = "listInvoices",
    tag = "invoices",
    security(("userToken" = []), ("apiKey" = [])),
    params(ListInvoices),
    responses(
        (status = 200, description = "One page of invoices; with `Accept: text/csv`, every matching invoice as CSV \
            (amounts in major units), streamed",
            content((Page<InvoiceView> = "application/json"), (String = "text/csv"))),
        (status = 400, description = "An unknown or invalid query parameter, or a bad cursor",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/invoices")]
pub async fn list(
    req: HttpRequest,
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    Query(query): Query<ListInvoices>,
) -> ApiResult<HttpResponse> {
    if csv_transfer::wants_csv(&req) {
        // Refuse up front: once streaming starts, the status is sent.
        ctx.actor.require(Action::PaymentsRead)?;
        queries::check_invoices(&query)?;
        return Ok(export(state, ctx, query));
    }
    let today = ctx.now.date_naive();
    let page = queries::list_invoices(state.db.reader(), &ctx.actor, None, query, today).await?;
    Ok(HttpResponse::Ok().json(page))
}

fn export(state: Data<AppState>, ctx: Ctx, mut query: ListInvoices) -> HttpResponse {
    query.limit = Some(Limit(200));
    csv_transfer::export(
        "invoices.csv",
        transfer::invoice_header(),
        query,
        move |q| {
            let state = state.clone();
            let actor = ctx.actor.clone();
            let today = ctx.now.date_naive();
            async move { queries::list_invoices(state.db.reader(), &actor, None, q, today).await }
        },
        |q, cursor| ListInvoices {
            cursor: Some(CursorParam(cursor)),
            ..q
        },
        transfer::invoice_row,
    )
}

/// Get an invoice: its lines, instalments, and what is paid and outstanding now.
#[utoipa::path(
    operation_id = "getInvoice",
    tag = "invoices",
    security(("userToken" = []), ("apiKey" = [])),
    params(
        ("id" = Uuid, Path, description = "Invoice id"),
        ("If-None-Match" = Option<String>, Header, description = "An ETag you hold; 304 if still current"),
    ),
    responses(
        (status = 200, description = "The invoice", body = InvoiceView,
            headers(("ETag" = String, description = "Version, for If-Match"))),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 404, description = "No such invoice, or not one you may see", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/invoices/{id}")]
pub async fn get(
    req: HttpRequest,
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let view =
        queries::get_invoice(state.db.reader(), &ctx.actor, *id, ctx.now.date_naive()).await?;
    Ok(read_with_etag(&req, &view))
}

/// Change a draft's notes or instalment schedule. Send the `ETag` you read as
/// `If-Match`; an issued invoice no longer changes (409).
#[utoipa::path(
    operation_id = "updateInvoice",
    tag = "invoices",
    security(("userToken" = []), ("apiKey" = [])),
    request_body = UpdateInvoice,
    params(
        ("id" = Uuid, Path, description = "Invoice id"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read"),
    ),
    responses(
        (status = 200, description = "The invoice as it now stands", body = InvoiceView,
            headers(("ETag" = String, description = "The new version"))),
        (status = 404, description = "No such invoice, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not a draft (`/problems/conflict`, with `current_status` and `allowed_from`)",
            body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not match the current version", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[patch("/invoices/{id}")]
pub async fn update(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    IfMatch(if_match): IfMatch,
    Json(input): Json<UpdateInvoice>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = commands::update(&txn, &ctx, *id, if_match, input).await?;
    txn.commit().await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &view))
}

/// Issue a draft invoice: its gap-free number, due dates, base-currency rate; money
/// held for its order is applied to it.
#[utoipa::path(
    operation_id = "issueInvoice",
    tag = "invoices",
    security(("userToken" = []), ("apiKey" = [])),
    params(
        ("id" = Uuid, Path, description = "Invoice id"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read"),
    ),
    responses(
        (status = 200, description = "Issued", body = InvoiceView,
            headers(("ETag" = String, description = "The new version"))),
        (status = 404, description = "No such invoice, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not a draft (`/problems/conflict`, with `current_status` and `allowed_from`), or no \
            exchange rate to the base currency is published (`exchange_rate_missing`)",
            body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not match the current version", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/invoices/{id}/issue")]
pub async fn issue(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    IfMatch(if_match): IfMatch,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = commands::issue(&txn, &ctx, *id, if_match).await?;
    txn.commit().await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &view))
}

/// Void a draft, or an open invoice nothing was paid on: what it took of its order
/// may be invoiced again.
#[utoipa::path(
    operation_id = "voidInvoice",
    tag = "invoices",
    security(("userToken" = []), ("apiKey" = [])),
    request_body(content = InvoiceReason, description = "Optional: why"),
    params(
        ("id" = Uuid, Path, description = "Invoice id"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read"),
    ),
    responses(
        (status = 200, description = "Voided", body = InvoiceView,
            headers(("ETag" = String, description = "The new version"))),
        (status = 404, description = "No such invoice, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not `draft` or `open` (`/problems/conflict`, with `current_status` and `allowed_from`), \
            or money was applied to it (`has_payments`)", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not match the current version", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/invoices/{id}/void")]
pub async fn void(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    IfMatch(if_match): IfMatch,
    OptionalJson(input): OptionalJson<InvoiceReason>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = commands::void(&txn, &ctx, *id, if_match, input.unwrap_or_default()).await?;
    txn.commit().await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &view))
}

/// Write off what is still owed on an open invoice.
#[utoipa::path(
    operation_id = "markInvoiceUncollectible",
    tag = "invoices",
    security(("userToken" = []), ("apiKey" = [])),
    request_body(content = InvoiceReason, description = "Optional: why"),
    params(
        ("id" = Uuid, Path, description = "Invoice id"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read"),
    ),
    responses(
        (status = 200, description = "Written off", body = InvoiceView,
            headers(("ETag" = String, description = "The new version"))),
        (status = 404, description = "No such invoice, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not `open`, or paid in full (`/problems/conflict`, with `current_status` and `allowed_from`)",
            body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not match the current version", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/invoices/{id}/mark-uncollectible")]
pub async fn mark_uncollectible(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    IfMatch(if_match): IfMatch,
    OptionalJson(input): OptionalJson<InvoiceReason>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view =
        commands::mark_uncollectible(&txn, &ctx, *id, if_match, input.unwrap_or_default()).await?;
    txn.commit().await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &view))
}
