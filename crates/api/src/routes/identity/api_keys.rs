//! `/v1/api-keys`

use actix_web::http::header;
use actix_web::web::{Data, Path};
use actix_web::{HttpResponse, delete, get, post};
use ordercrm_identity::commands::api_keys;
use ordercrm_identity::dto::{ApiKeyCreated, ApiKeyView, CreateApiKey, ListApiKeys};
use ordercrm_identity::queries;
use ordercrm_kernel::{Page, Problem};
use uuid::Uuid;

use crate::error::ApiResult;
use crate::extract::{Json, Query, RequestCtx};
use crate::middleware::idempotency::carries_secret;
use crate::state::AppState;
use crate::tx::Writer;

/// List API keys (never their secrets).
#[utoipa::path(
    operation_id = "listApiKeys",
    tag = "api-keys",
    security(("userToken" = [])),
    params(ListApiKeys),
    responses((status = 200, description = "One page of keys", body = Page<ApiKeyView>)),
)]
#[get("/api-keys")]
pub async fn list(
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    Query(q): Query<ListApiKeys>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(queries::list_api_keys(state.db.reader(), &ctx.actor, q).await?))
}

/// Create an API key for an integration. The secret is in this response only.
#[utoipa::path(
    operation_id = "createApiKey",
    tag = "api-keys",
    security(("userToken" = [])),
    request_body = CreateApiKey,
    responses((status = 201, description = "Created; store `secret` now", body = ApiKeyCreated,
        headers(("Location" = String, description = "URL of the key")))),
)]
#[post("/api-keys")]
pub async fn create(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    Json(input): Json<CreateApiKey>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let created = api_keys::create(&txn, &ctx, input).await?;
    txn.commit().await?;
    Ok(carries_secret(
        HttpResponse::Created()
            .insert_header((header::LOCATION, format!("/v1/api-keys/{}", created.key.id)))
            .json(created),
    ))
}

/// Revoke an API key; requests with it are refused from now on.
#[utoipa::path(
    operation_id = "revokeApiKey",
    tag = "api-keys",
    security(("userToken" = [])),
    params(("id" = Uuid, Path, description = "Key id")),
    responses(
        (status = 204, description = "Revoked (also when it already was)"),
        (status = 404, description = "No such key", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[delete("/api-keys/{id}")]
pub async fn revoke(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    api_keys::revoke(&txn, &ctx, *id).await?;
    txn.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}
