//! `/v1/refunds`, `/v1/payments/{id}/refunds`

use actix_web::http::header;
use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, HttpResponse, get, post};
use ordercrm_kernel::{Page, Problem};
use ordercrm_payment::dto::{CreateRefund, RefundReason, RefundView, SucceedRefund};
use ordercrm_payment::queries::{self, ListRefunds};
use ordercrm_payment::refunds as commands;
use uuid::Uuid;

use crate::error::ApiResult;
use crate::extract::{
    IfMatch, Json, OptionalJson, Query, RequestCtx, json_with_etag, read_with_etag,
};
use crate::state::AppState;
use crate::tx::Writer;

/// Pay back part of a payment's unallocated credit: `pending`, or
/// `pending_approval` at or above the `refund_approval_threshold` (in the base
/// currency). The money is taken off the payment at once, so it is never
/// allocated or refunded twice. Finance (`payments.write`).
#[utoipa::path(
    operation_id = "createRefund",
    tag = "refunds",
    security(("userToken" = []), ("apiKey" = [])),
    request_body = CreateRefund,
    params(("id" = Uuid, Path, description = "Payment id")),
    responses(
        (status = 201, description = "Requested", body = RefundView, headers(
            ("Location" = String, description = "URL of the new refund"),
            ("ETag" = String, description = "Version, for If-Match"),
        )),
        (status = 404, description = "No such payment, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "More than the payment has unallocated (`/problems/over-allocation`), the payment \
            was reversed (`/problems/conflict`: `payment_reversed`), or the idempotency key is in use", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/payments/{id}/refunds")]
pub async fn create(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    Json(input): Json<CreateRefund>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = commands::create(&txn, &ctx, *id, input).await?;
    txn.commit().await?;
    let mut response = HttpResponse::Created();
    response.insert_header((header::LOCATION, format!("/v1/refunds/{}", view.data.id)));
    Ok(json_with_etag(&mut response, &view))
}

/// Refunds of the customers you see, newest first: `?status=pending_approval` is
/// what waits for a manager, `?status=pending` what waits to be paid out.
#[utoipa::path(
    operation_id = "listRefunds",
    tag = "refunds",
    security(("userToken" = []), ("apiKey" = [])),
    params(ListRefunds),
    responses(
        (status = 200, description = "One page of refunds", body = Page<RefundView>),
        (status = 400, description = "An unknown or invalid query parameter, or a bad cursor",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/refunds")]
pub async fn list(
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    Query(query): Query<ListRefunds>,
) -> ApiResult<HttpResponse> {
    let page = queries::list_refunds(state.db.reader(), &ctx.actor, query).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Get a refund, with what you may do to it.
#[utoipa::path(
    operation_id = "getRefund",
    tag = "refunds",
    security(("userToken" = []), ("apiKey" = [])),
    params(
        ("id" = Uuid, Path, description = "Refund id"),
        ("If-None-Match" = Option<String>, Header, description = "An ETag you hold; 304 if still current"),
    ),
    responses(
        (status = 200, description = "The refund", body = RefundView,
            headers(("ETag" = String, description = "Version, for If-Match"))),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 404, description = "No such refund, or not one you may see", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/refunds/{id}")]
pub async fn get(
    req: HttpRequest,
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let view = queries::get_refund(state.db.reader(), &ctx.actor, *id).await?;
    Ok(read_with_etag(&req, &view))
}

/// Approve a refund waiting for approval: a manager (`refunds.approve`) who did
/// not ask for it. It is then `pending`, for whoever pays it out.
#[utoipa::path(
    operation_id = "approveRefund",
    tag = "refunds",
    security(("userToken" = []), ("apiKey" = [])),
    request_body(content = RefundReason, description = "Optional: a note"),
    params(
        ("id" = Uuid, Path, description = "Refund id"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read"),
    ),
    responses(
        (status = 200, description = "Approved: `pending`", body = RefundView,
            headers(("ETag" = String, description = "The new version"))),
        (status = 403, description = "Not a manager, or the refund is your own request", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such refund, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not `pending_approval` (`/problems/conflict`, with `current_status` and `allowed_from`)",
            body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not match the current version", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/refunds/{id}/approve")]
pub async fn approve(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    IfMatch(if_match): IfMatch,
    OptionalJson(input): OptionalJson<RefundReason>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = commands::approve(&txn, &ctx, *id, if_match, input.unwrap_or_default()).await?;
    txn.commit().await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &view))
}

/// The money left: a `pending` refund succeeded, with the provider's reference.
#[utoipa::path(
    operation_id = "succeedRefund",
    tag = "refunds",
    security(("userToken" = []), ("apiKey" = [])),
    request_body(content = SucceedRefund, description = "Optional: who paid it out, and their reference"),
    params(
        ("id" = Uuid, Path, description = "Refund id"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read"),
    ),
    responses(
        (status = 200, description = "Succeeded", body = RefundView,
            headers(("ETag" = String, description = "The new version"))),
        (status = 404, description = "No such refund, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not `pending` (`/problems/conflict`, with `current_status` and `allowed_from`): \
            one waiting for approval is approved first", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not match the current version", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/refunds/{id}/succeed")]
pub async fn succeed(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    IfMatch(if_match): IfMatch,
    OptionalJson(input): OptionalJson<SucceedRefund>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = commands::succeed(&txn, &ctx, *id, if_match, input.unwrap_or_default()).await?;
    txn.commit().await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &view))
}

/// The refund did not happen (refused, bounced back): the money is the payment's
/// unallocated credit again.
#[utoipa::path(
    operation_id = "failRefund",
    tag = "refunds",
    security(("userToken" = []), ("apiKey" = [])),
    request_body(content = RefundReason, description = "Optional: why"),
    params(
        ("id" = Uuid, Path, description = "Refund id"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read"),
    ),
    responses(
        (status = 200, description = "Failed", body = RefundView,
            headers(("ETag" = String, description = "The new version"))),
        (status = 404, description = "No such refund, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Succeeded or failed already (`/problems/conflict`, with `current_status` and `allowed_from`)",
            body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not match the current version", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/refunds/{id}/fail")]
pub async fn fail(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    IfMatch(if_match): IfMatch,
    OptionalJson(input): OptionalJson<RefundReason>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = commands::fail(&txn, &ctx, *id, if_match, input.unwrap_or_default()).await?;
    txn.commit().await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &view))
}
