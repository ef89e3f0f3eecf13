//! `/v1/customers/{id}/contacts` and `/v1/customers/{id}/addresses`.

use actix_web::http::header;
use actix_web::web::{Data, Path};
use actix_web::{HttpResponse, delete, get, patch, post};
use ordercrm_customer::commands::{addresses, contacts};
use ordercrm_customer::dto::{
    AddressView, ContactView, CreateAddress, CreateContact, UpdateAddress, UpdateContact,
};
use ordercrm_customer::queries;
use ordercrm_kernel::{Page, Problem};
use uuid::Uuid;

use crate::error::ApiResult;
use crate::extract::{IfMatch, Json, RequestCtx, json_with_etag};
use crate::state::AppState;
use crate::tx::Writer;

/// A customer's contacts, primary first.
#[utoipa::path(
    operation_id = "listCustomerContacts", tag = "customers",
    security(("userToken" = []), ("apiKey" = [])),
    params(("id" = Uuid, Path, description = "Customer id")),
    responses(
        (status = 200, description = "All contacts (one page)", body = Page<ContactView>),
        (status = 404, description = "No such customer, or not one you can see", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/customers/{id}/contacts")]
pub async fn list_contacts(
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(queries::contacts(state.db.reader(), &ctx.actor, *id).await?))
}

/// Add a contact to a company customer. The first contact is primary.
#[utoipa::path(
    operation_id = "createCustomerContact", tag = "customers",
    security(("userToken" = []), ("apiKey" = [])),
    params(("id" = Uuid, Path, description = "Customer id")),
    request_body = CreateContact,
    responses(
        (status = 201, description = "Created", body = ContactView, headers(("Location" = String, description = "URL of the contact"))),
        (status = 404, description = "No such customer, or not one you can see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The customer was erased (`/problems/erased`): nothing under it can be written", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/customers/{id}/contacts")]
pub async fn create_contact(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    Json(input): Json<CreateContact>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = contacts::create(&txn, &ctx, *id, input).await?;
    txn.commit().await?;
    Ok(json_with_etag(
        HttpResponse::Created().insert_header((
            header::LOCATION,
            format!("/v1/customers/{}/contacts/{}", view.customer_id, view.id),
        )),
        &view,
    ))
}

/// Change a contact.
#[utoipa::path(
    operation_id = "updateCustomerContact", tag = "customers",
    security(("userToken" = []), ("apiKey" = [])),
    params(
        ("id" = Uuid, Path, description = "Customer id"),
        ("contact_id" = Uuid, Path, description = "Contact id"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read"),
    ),
    request_body = UpdateContact,
    responses(
        (status = 200, description = "The changed contact", body = ContactView),
        (status = 404, description = "No such contact, or not one you can see", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since your ETag", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The customer was erased (`/problems/erased`): nothing under it can be written", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[patch("/customers/{id}/contacts/{contact_id}")]
pub async fn update_contact(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    path: Path<(Uuid, Uuid)>,
    IfMatch(if_match): IfMatch,
    Json(patch): Json<UpdateContact>,
) -> ApiResult<HttpResponse> {
    let (customer_id, id) = path.into_inner();
    let txn = writer.begin().await?;
    let view = contacts::update(&txn, &ctx, customer_id, id, if_match, patch).await?;
    txn.commit().await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &view))
}

/// Remove a contact. If it was primary, the oldest remaining one becomes primary.
#[utoipa::path(
    operation_id = "deleteCustomerContact", tag = "customers",
    security(("userToken" = []), ("apiKey" = [])),
    params(("id" = Uuid, Path, description = "Customer id"), ("contact_id" = Uuid, Path, description = "Contact id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such contact, or not one you can see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The customer was erased (`/problems/erased`): nothing under it can be written", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[delete("/customers/{id}/contacts/{contact_id}")]
pub async fn delete_contact(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    path: Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (customer_id, id) = path.into_inner();
    let txn = writer.begin().await?;
    contacts::delete(&txn, &ctx, customer_id, id).await?;
    txn.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A customer's addresses, grouped by kind, defaults first.
#[utoipa::path(
    operation_id = "listCustomerAddresses", tag = "customers",
    security(("userToken" = []), ("apiKey" = [])),
    params(("id" = Uuid, Path, description = "Customer id")),
    responses(
        (status = 200, description = "All addresses (one page)", body = Page<AddressView>),
        (status = 404, description = "No such customer, or not one you can see", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/customers/{id}/addresses")]
pub async fn list_addresses(
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(queries::addresses(state.db.reader(), &ctx.actor, *id).await?))
}

/// Add an address. The first of each kind is the default.
#[utoipa::path(
    operation_id = "createCustomerAddress", tag = "customers",
    security(("userToken" = []), ("apiKey" = [])),
    params(("id" = Uuid, Path, description = "Customer id")),
    request_body = CreateAddress,
    responses(
        (status = 201, description = "Created", body = AddressView, headers(("Location" = String, description = "URL of the address"))),
        (status = 404, description = "No such customer, or not one you can see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The customer was erased (`/problems/erased`): nothing under it can be written", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/customers/{id}/addresses")]
pub async fn create_address(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    Json(input): Json<CreateAddress>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = addresses::create(&txn, &ctx, *id, input).await?;
    txn.commit().await?;
    Ok(json_with_etag(
        HttpResponse::Created().insert_header((
            header::LOCATION,
            format!("/v1/customers/{}/addresses/{}", view.customer_id, view.id),
        )),
        &view,
    ))
}

/// Change an address.
#[utoipa::path(
    operation_id = "updateCustomerAddress", tag = "customers",
    security(("userToken" = []), ("apiKey" = [])),
    params(
        ("id" = Uuid, Path, description = "Customer id"),
        ("address_id" = Uuid, Path, description = "Address id"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read"),
    ),
    request_body = UpdateAddress,
    responses(
        (status = 200, description = "The changed address", body = AddressView),
        (status = 404, description = "No such address, or not one you can see", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since your ETag", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The customer was erased (`/problems/erased`): nothing under it can be written", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[patch("/customers/{id}/addresses/{address_id}")]
pub async fn update_address(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    path: Path<(Uuid, Uuid)>,
    IfMatch(if_match): IfMatch,
    Json(patch): Json<UpdateAddress>,
) -> ApiResult<HttpResponse> {
    let (customer_id, id) = path.into_inner();
    let txn = writer.begin().await?;
    let view = addresses::update(&txn, &ctx, customer_id, id, if_match, patch).await?;
    txn.commit().await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &view))
}

/// Remove an address. If it was the default, the oldest remaining one of its kind is.
#[utoipa::path(
    operation_id = "deleteCustomerAddress", tag = "customers",
    security(("userToken" = []), ("apiKey" = [])),
    params(("id" = Uuid, Path, description = "Customer id"), ("address_id" = Uuid, Path, description = "Address id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such address, or not one you can see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The customer was erased (`/problems/erased`): nothing under it can be written", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[delete("/customers/{id}/addresses/{address_id}")]
pub async fn delete_address(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    path: Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (customer_id, id) = path.into_inner();
    let txn = writer.begin().await?;
    addresses::delete(&txn, &ctx, customer_id, id).await?;
    txn.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}
