//! `/v1/customers`

use actix_web::http::header;
use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, HttpResponse, get, patch, post};
use ordercrm_customer::dto::{
    CreateCustomer, CreateCustomerParams, CustomerView, ListCustomers, MergeCustomers,
    UpdateCustomer,
};
use ordercrm_customer::{commands, queries};
use ordercrm_kernel::{Actor, Page, Problem};
use uuid::Uuid;

use crate::error::ApiResult;
use crate::extract::{IfMatch, Json, Query, RequestCtx, json_with_etag, read_with_etag};
use crate::middleware::idempotency::{self, carries_secret};
use crate::state::AppState;
use crate::tx::Writer;

/// The answer showing one customer: an unmasked tax id makes it one no store keeps.
fn shown(res: HttpResponse, actor: &Actor, view: &CustomerView) -> HttpResponse {
    if view.reveals_sensitive(actor) {
        carries_secret(res)
    } else {
        res
    }
}

/// List customers you can see: sales reps their own, managers their team's, other roles all.
#[utoipa::path(
    operation_id = "listCustomers",
    tag = "customers",
    security(("userToken" = []), ("apiKey" = [])),
    params(ListCustomers),
    responses(
        (status = 200, description = "One page of customers; with `Accept: text/csv`, every matching customer as CSV \
            (the import's columns), streamed",
            content((Page<CustomerView> = "application/json"), (String = "text/csv"))),
        (status = 400, description = "An unknown or invalid parameter, or a bad cursor",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/customers")]
pub async fn list(
    req: HttpRequest,
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    Query(q): Query<ListCustomers>,
) -> ApiResult<HttpResponse> {
    if crate::routes::csv_transfer::wants_csv(&req) {
        // Refuse up front: once streaming starts, the status is sent.
        ctx.actor
            .require(ordercrm_kernel::authz::Action::CustomersRead)?;
        return Ok(super::transfer::export(state, ctx, q));
    }
    // One snapshot, as for one customer: each row with its own statistics.
    let read = ordercrm_kernel::db::snapshot(state.db.reader()).await?;
    let page = queries::list(&read, &ctx.actor, &state.cipher, q).await?;
    read.commit().await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Create a customer. A matching email or phone is 409 `/problems/duplicate-customer`
/// unless `allow_duplicate=true`.
#[utoipa::path(
    operation_id = "createCustomer",
    tag = "customers",
    security(("userToken" = []), ("apiKey" = [])),
    params(CreateCustomerParams),
    request_body = CreateCustomer,
    responses(
        (status = 201, description = "Created", body = CustomerView, headers(
            ("Location" = String, description = "URL of the new customer"),
            ("ETag" = String, description = "Version, for If-Match"))),
        (status = 409, description = "A possible duplicate (`/problems/duplicate-customer`, `existing.id` names it), or an external reference in use (`/problems/already-exists`)",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/customers")]
pub async fn create(
    state: Data<AppState>,
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    Query(params): Query<CreateCustomerParams>,
    Json(input): Json<CreateCustomer>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = commands::create(
        &txn,
        &ctx,
        &state.cipher,
        input,
        params.allow_duplicate.unwrap_or(false),
    )
    .await?;
    txn.commit().await?;
    Ok(shown(
        json_with_etag(
            HttpResponse::Created()
                .insert_header((header::LOCATION, format!("/v1/customers/{}", view.id))),
            &view,
        ),
        &ctx.actor,
        &view,
    ))
}

/// A customer you can see.
#[utoipa::path(
    operation_id = "getCustomer",
    tag = "customers",
    security(("userToken" = []), ("apiKey" = [])),
    params(
        ("id" = Uuid, Path, description = "Customer id"),
        ("If-None-Match" = Option<String>, Header, description = "An ETag you hold; 304 if still current"),
    ),
    responses(
        (status = 200, description = "The customer", body = CustomerView, headers(("ETag" = String, description = "Version"))),
        (status = 304, description = "Not modified"),
        (status = 404, description = "No such customer, or not one you can see", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/customers/{id}")]
pub async fn get(
    req: HttpRequest,
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    // One snapshot: the row and its statistics (their consumer commits both, and
    // the version) are never read half before and half after a commit.
    let read = ordercrm_kernel::db::snapshot(state.db.reader()).await?;
    let view = queries::get(&read, &ctx.actor, &state.cipher, *id).await?;
    read.commit().await?;
    Ok(shown(read_with_etag(&req, &view), &ctx.actor, &view))
}

/// Change a customer. Send the ETag you read as `If-Match`: 412 if it changed since.
#[utoipa::path(
    operation_id = "updateCustomer",
    tag = "customers",
    security(("userToken" = []), ("apiKey" = [])),
    request_body = UpdateCustomer,
    params(
        ("id" = Uuid, Path, description = "Customer id"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read"),
    ),
    responses(
        (status = 200, description = "The changed customer", body = CustomerView, headers(("ETag" = String, description = "New version"))),
        (status = 404, description = "No such customer, or not one you can see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The new email or phone belongs to another customer (`/problems/duplicate-customer`), or the customer was erased (`/problems/erased`)", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since your ETag", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[patch("/customers/{id}")]
pub async fn update(
    state: Data<AppState>,
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    IfMatch(if_match): IfMatch,
    Json(patch): Json<UpdateCustomer>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = commands::update(&txn, &ctx, &state.cipher, *id, if_match, patch).await?;
    txn.commit().await?;
    Ok(shown(
        json_with_etag(&mut HttpResponse::Ok(), &view),
        &ctx.actor,
        &view,
    ))
}

/// Archive a customer: it leaves lists and duplicate checks; its history stays.
#[utoipa::path(
    operation_id = "archiveCustomer",
    tag = "customers",
    security(("userToken" = []), ("apiKey" = [])),
    params(
        ("id" = Uuid, Path, description = "Customer id"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read"),
    ),
    responses(
        (status = 200, description = "The archived customer", body = CustomerView),
        (status = 404, description = "No such customer, or not one you can see", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since your ETag", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/customers/{id}/archive")]
pub async fn archive(
    state: Data<AppState>,
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    IfMatch(if_match): IfMatch,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = commands::archive(&txn, &ctx, &state.cipher, *id, if_match).await?;
    txn.commit().await?;
    Ok(shown(
        json_with_etag(&mut HttpResponse::Ok(), &view),
        &ctx.actor,
        &view,
    ))
}

/// Customers you can see that share this one's email or phone.
#[utoipa::path(
    operation_id = "listPossibleDuplicates",
    tag = "customers",
    security(("userToken" = []), ("apiKey" = [])),
    params(("id" = Uuid, Path, description = "Customer id")),
    responses(
        (status = 200, description = "Possible duplicates, oldest first (at most 50, one page)", body = Page<CustomerView>),
        (status = 404, description = "No such customer, or not one you can see", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/customers/{id}/possible-duplicates")]
pub async fn possible_duplicates(
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let found =
        queries::possible_duplicates(state.db.reader(), &ctx.actor, &state.cipher, *id).await?;
    Ok(HttpResponse::Ok().json(Page {
        data: found,
        next_cursor: None,
        has_more: false,
    }))
}

/// Fold a duplicate into this customer: its contacts, addresses, notes, follow-ups,
/// external references and orders move here in one transaction (orders in one
/// statement, each a new version); the duplicate is archived with `merged_into_id`
/// pointing here. Both customers' statistics and tiers are recomputed from their orders
/// shortly after.
#[utoipa::path(
    operation_id = "mergeCustomers",
    tag = "customers",
    security(("userToken" = []), ("apiKey" = [])),
    params(
        ("id" = Uuid, Path, description = "The customer that stays"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read of the one that stays"),
    ),
    request_body = MergeCustomers,
    responses(
        (status = 200, description = "The customer that stayed", body = CustomerView),
        (status = 404, description = "No such customer, or not one you can see", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since your ETag", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Either customer was erased (`/problems/erased`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/customers/{id}/merge")]
pub async fn merge(
    state: Data<AppState>,
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    IfMatch(if_match): IfMatch,
    Json(input): Json<MergeCustomers>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    // Orders being taken for the duplicate finish first (and move with it); orders
    // after this read it archived.
    ordercrm_kernel::db::lock_for_check(&txn, &format!("customer:{}", input.source_id)).await?;
    let view = commands::merge(&txn, &ctx, &state.cipher, *id, input.source_id, if_match).await?;
    ordercrm_order::commands::customers::carry(&txn, &ctx, input.source_id, *id).await?;
    ordercrm_payment::customers::carry(&txn, &ctx, input.source_id, *id).await?;
    txn.commit().await?;
    Ok(shown(
        json_with_etag(&mut HttpResponse::Ok(), &view),
        &ctx.actor,
        &view,
    ))
}

/// Erase a customer's personal data, irreversibly (admins). The row, its id and
/// number stay for accounting; earlier audit entries and events about it are redacted.
#[utoipa::path(
    operation_id = "eraseCustomer",
    tag = "customers",
    security(("userToken" = [])),
    params(("id" = Uuid, Path, description = "Customer id")),
    responses(
        (status = 200, description = "What remains", body = CustomerView),
        (status = 404, description = "No such customer", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/customers/{id}/erase")]
pub async fn erase(
    state: Data<AppState>,
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let erasure = commands::erase(&txn, &ctx, &state.cipher, *id).await?;
    // Answers kept for Idempotency-Key replays may hold what was just erased.
    idempotency::forget_mentions(&txn, &erasure.erased_ids).await?;
    // And the orders, which copied the name and addresses at intake.
    ordercrm_order::commands::erasure::forget_customers(&txn, &erasure.erased_ids).await?;
    // And invoices, issued to the name.
    ordercrm_payment::customers::forget(&txn, &erasure.erased_ids).await?;
    // So may the batches of an import still being checked.
    for id in &erasure.erased_ids {
        ordercrm_kernel::staging::forget_mentions(&txn, *id).await?;
    }
    txn.commit().await?;
    let view = erasure.customer;
    Ok(shown(
        json_with_etag(&mut HttpResponse::Ok(), &view),
        &ctx.actor,
        &view,
    ))
}
