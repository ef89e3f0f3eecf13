//! `/v1/invoices/{id}/credit-notes`, `/v1/credit-notes`

use actix_web::http::header;
use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, HttpResponse, get, post};
use ordercrm_kernel::{Page, Problem};
use ordercrm_payment::credit_notes as commands;
use ordercrm_payment::dto::{CreateCreditNote, CreditNoteView, VoidCreditNote};
use ordercrm_payment::queries::{self, ListCreditNotes};
use uuid::Uuid;

use crate::error::ApiResult;
use crate::extract::{
    IfMatch, Json, OptionalJson, Query, RequestCtx, json_with_etag, read_with_etag,
};
use crate::state::AppState;
use crate::tx::Writer;

/// Issue a credit note against an open invoice (paid or not): ad hoc with a
/// reason, or for a closed return's refund due.
///
/// It first lowers what the invoice still owes (`applied`). What it credits
/// beyond that was paid: that money is released from the invoice's payments (the
/// one applied last first) and must be split exactly into `refund` (one refund
/// per payment, waiting for approval at or above `refund_approval_threshold`),
/// `credit` (the payments' unallocated money) and `outside` (settled by other
/// means). The invoice's and its order's `credited` and `outstanding` follow.
/// Numbered `CN-…` without gaps. Finance (`payments.write`).
#[utoipa::path(
    operation_id = "createCreditNote",
    tag = "credit-notes",
    security(("userToken" = []), ("apiKey" = [])),
    request_body = CreateCreditNote,
    params(("id" = Uuid, Path, description = "Invoice id")),
    responses(
        (status = 201, description = "Issued", body = CreditNoteView, headers(
            ("Location" = String, description = "URL of the new credit note"),
            ("ETag" = String, description = "Version, for If-Match"),
        )),
        (status = 404, description = "No such invoice, or not one you may see, or no return `return_id` of the invoice's \
            order (`/problems/not-found`, with `errors`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "More than the invoice is still worth, or than the return has left to credit \
            (`/problems/over-credit`, with `requested` and `available`); the part beyond what is owed is not split \
            exactly (`/problems/credit-note-split`, with `applied`, `to_split` and `split`); the invoice is not open or \
            the return not closed (`/problems/conflict`: `invoice_not_open`, `return_not_closed`); or the idempotency key \
            is in use",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/invoices/{id}/credit-notes")]
pub async fn create(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    Json(input): Json<CreateCreditNote>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = commands::issue(&txn, &ctx, *id, input).await?;
    txn.commit().await?;
    let mut response = HttpResponse::Created();
    response.insert_header((
        header::LOCATION,
        format!("/v1/credit-notes/{}", view.data.id),
    ));
    Ok(json_with_etag(&mut response, &view))
}

/// Credit notes of the customers you see, newest first.
#[utoipa::path(
    operation_id = "listCreditNotes",
    tag = "credit-notes",
    security(("userToken" = []), ("apiKey" = [])),
    params(ListCreditNotes),
    responses(
        (status = 200, description = "One page of credit notes", body = Page<CreditNoteView>),
        (status = 400, description = "An unknown or invalid query parameter, or a bad cursor",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/credit-notes")]
pub async fn list(
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    Query(query): Query<ListCreditNotes>,
) -> ApiResult<HttpResponse> {
    let page = queries::list_credit_notes(state.db.reader(), &ctx.actor, query).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Get a credit note: its split and the refunds it made.
#[utoipa::path(
    operation_id = "getCreditNote",
    tag = "credit-notes",
    security(("userToken" = []), ("apiKey" = [])),
    params(
        ("id" = Uuid, Path, description = "Credit note id"),
        ("If-None-Match" = Option<String>, Header, description = "An ETag you hold; 304 if still current"),
    ),
    responses(
        (status = 200, description = "The credit note", body = CreditNoteView,
            headers(("ETag" = String, description = "Version, for If-Match"))),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 404, description = "No such credit note, or not one you may see", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/credit-notes/{id}")]
pub async fn get(
    req: HttpRequest,
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let view = queries::get_credit_note(state.db.reader(), &ctx.actor, *id).await?;
    Ok(read_with_etag(&req, &view))
}

/// Void a credit note: the invoice owes what it owed before it, the money it
/// released is applied to the invoice again, and its refunds not paid out fail
/// (`refund.failed`). A credit note whose refund was paid out stands.
#[utoipa::path(
    operation_id = "voidCreditNote",
    tag = "credit-notes",
    security(("userToken" = []), ("apiKey" = [])),
    request_body(content = VoidCreditNote, description = "Optional: why"),
    params(
        ("id" = Uuid, Path, description = "Credit note id"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read"),
    ),
    responses(
        (status = 200, description = "Voided", body = CreditNoteView,
            headers(("ETag" = String, description = "The new version"))),
        (status = 404, description = "No such credit note, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Void already, a refund of it was paid out, or the credit it released was used \
            since (`/problems/conflict`: `already_void`, `refunded`, `credit_used`)", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not match the current version", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/credit-notes/{id}/void")]
pub async fn void(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    IfMatch(if_match): IfMatch,
    OptionalJson(input): OptionalJson<VoidCreditNote>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = commands::void(&txn, &ctx, *id, if_match, input.unwrap_or_default()).await?;
    txn.commit().await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &view))
}
