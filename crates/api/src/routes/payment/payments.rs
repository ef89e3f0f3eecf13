//! `/v1/payments`, `/v1/customers/{id}/balance`

use actix_web::http::header;
use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, HttpResponse, get, post};
use ordercrm_kernel::authz::Action;
use ordercrm_kernel::input::{CursorParam, Limit};
use ordercrm_kernel::{Ctx, Page, Problem};
use ordercrm_payment::dto::{
    AllocatePayment, CreatePayment, CustomerBalance, PaymentView, ReversePayment,
};
use ordercrm_payment::payments::{self as commands, Received};
use ordercrm_payment::queries::{self, ListPayments};
use ordercrm_payment::transfer;
use uuid::Uuid;

use crate::error::ApiResult;
use crate::extract::{
    IfMatch, Json, OptionalJson, Query, RequestCtx, json_with_etag, read_with_etag,
};
use crate::routes::csv_transfer;
use crate::state::AppState;
use crate::tx::Writer;

/// Record money received from a customer, and allocate it.
///
/// To the invoices named (each at most what it still owes), or automatically:
/// the customer's open invoices in the payment's currency, oldest due first; a
/// payment for an order pays that order's invoices and holds the rest for the
/// invoices still to come. What is left stays as the customer's credit.
/// A provider and reference already recorded (a gateway's notification sent
/// again) answers that payment with 200 and records nothing.
#[utoipa::path(
    operation_id = "createPayment",
    tag = "payments",
    security(("userToken" = []), ("apiKey" = [])),
    request_body = CreatePayment,
    responses(
        (status = 200, description = "Already recorded: the provider's reference names this payment", body = PaymentView,
            headers(("ETag" = String, description = "Version"))),
        (status = 201, description = "Recorded", body = PaymentView, headers(
            ("Location" = String, description = "URL of the new payment"),
            ("ETag" = String, description = "Version"),
        )),
        (status = 404, description = "No such customer (or invoice, or order), or not one you may see (`/problems/not-found`, with `errors`)",
            body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "An allocation is more than the invoice owes or the payment has (`/problems/over-allocation`); \
            the provider's reference is recorded for another customer or amount (`/problems/already-exists`); the order \
            ended (`/problems/conflict`: `order_ended`); or the idempotency key is in use",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/payments")]
pub async fn create(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    Json(input): Json<CreatePayment>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let received = commands::receive(&txn, &ctx, input).await?;
    txn.commit().await?;
    Ok(match received {
        Received::Created(view) => {
            let mut response = HttpResponse::Created();
            response.insert_header((header::LOCATION, format!("/v1/payments/{}", view.data.id)));
            json_with_etag(&mut response, &view)
        }
        Received::Existing(view) => json_with_etag(&mut HttpResponse::Ok(), &view),
    })
}

/// Payments of the customers you see, newest first. With `Accept: text/csv`,
/// every matching payment, one row each.
#[utoipa::path(
    operation_id = "listPayments",
    tag = "payments",
    security(("userToken" = []), ("apiKey" = [])),
    params(ListPayments),
    responses(
        (status = 200, description = "One page of payments; with `Accept: text/csv`, every matching payment as CSV \
            (amounts in major units), streamed",
            content((Page<PaymentView> = "application/json"), (String = "text/csv"))),
        (status = 400, description = "An unknown or invalid query parameter, or a bad cursor",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/payments")]
pub async fn list(
    req: HttpRequest,
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    Query(query): Query<ListPayments>,
) -> ApiResult<HttpResponse> {
    if csv_transfer::wants_csv(&req) {
        ctx.actor.require(Action::PaymentsRead)?;
        queries::check_payments(&query)?;
        return Ok(export(state, ctx, query));
    }
    let page = queries::list_payments(state.db.reader(), &ctx.actor, query).await?;
    Ok(HttpResponse::Ok().json(page))
}

fn export(state: Data<AppState>, ctx: Ctx, mut query: ListPayments) -> HttpResponse {
    query.limit = Some(Limit(200));
    csv_transfer::export(
        "payments.csv",
        transfer::payment_header(),
        query,
        move |q| {
            let state = state.clone();
            let actor = ctx.actor.clone();
            async move { queries::list_payments(state.db.reader(), &actor, q).await }
        },
        |q, cursor| ListPayments {
            cursor: Some(CursorParam(cursor)),
            ..q
        },
        transfer::payment_row,
    )
}

/// Get a payment, with its allocation ledger.
#[utoipa::path(
    operation_id = "getPayment",
    tag = "payments",
    security(("userToken" = []), ("apiKey" = [])),
    params(
        ("id" = Uuid, Path, description = "Payment id"),
        ("If-None-Match" = Option<String>, Header, description = "An ETag you hold; 304 if still current"),
    ),
    responses(
        (status = 200, description = "The payment", body = PaymentView,
            headers(("ETag" = String, description = "Version"))),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 404, description = "No such payment, or not one you may see", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/payments/{id}")]
pub async fn get(
    req: HttpRequest,
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let view = queries::get_payment(state.db.reader(), &ctx.actor, *id).await?;
    Ok(read_with_etag(&req, &view))
}

/// Apply a payment's unallocated credit to invoices: those named, or the
/// customer's open invoices in its currency, oldest due first.
#[utoipa::path(
    operation_id = "allocatePayment",
    tag = "payments",
    security(("userToken" = []), ("apiKey" = [])),
    request_body(content = AllocatePayment, description = "Optional: which invoices"),
    params(("id" = Uuid, Path, description = "Payment id")),
    responses(
        (status = 200, description = "Allocated", body = PaymentView,
            headers(("ETag" = String, description = "The new version"))),
        (status = 404, description = "No such payment (or invoice), or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "More than an invoice owes or the payment has left (`/problems/over-allocation`); \
            nothing left to allocate or nothing owed (`/problems/conflict`: `fully_allocated`, `nothing_owed`)",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/payments/{id}/allocate")]
pub async fn allocate(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    OptionalJson(input): OptionalJson<AllocatePayment>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = commands::allocate(&txn, &ctx, *id, input.unwrap_or_default()).await?;
    txn.commit().await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &view))
}

/// Reverse a payment the bank or card scheme took back (a bounced transfer, a
/// charge-back): what it paid on invoices is owed again, what it held for orders
/// is no longer held, its refunds not paid out fail, and what was left of it is
/// nobody's credit. Its orders' `payment_status` follows; a completed order no
/// longer paid is `approved` again (`order.reopened`) and completes once paid.
#[utoipa::path(
    operation_id = "reversePayment",
    tag = "payments",
    security(("userToken" = []), ("apiKey" = [])),
    request_body = ReversePayment,
    params(
        ("id" = Uuid, Path, description = "Payment id"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read"),
    ),
    responses(
        (status = 200, description = "Reversed", body = PaymentView,
            headers(("ETag" = String, description = "The new version"))),
        (status = 404, description = "No such payment, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Reversed already (`/problems/conflict`: `already_reversed`)",
            body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not match the current version", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/payments/{id}/reverse")]
pub async fn reverse(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    IfMatch(if_match): IfMatch,
    Json(input): Json<ReversePayment>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = ordercrm_payment::reversals::reverse(&txn, &ctx, *id, if_match, input).await?;
    txn.commit().await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &view))
}

/// What a customer owes on open invoices and holds as credit, per currency.
#[utoipa::path(
    operation_id = "getCustomerBalance",
    tag = "payments",
    security(("userToken" = []), ("apiKey" = [])),
    params(("id" = Uuid, Path, description = "Customer id")),
    responses(
        (status = 200, description = "The balance", body = CustomerBalance),
        (status = 404, description = "No such customer, or not one you may see", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/customers/{id}/balance")]
pub async fn balance(
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let view = queries::balance(state.db.reader(), &ctx.actor, *id).await?;
    Ok(HttpResponse::Ok().json(view))
}
