//! `/v1/webhook-endpoints`

use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post};
use ordercrm_kernel::{Page, Problem};
use ordercrm_webhook::commands;
use ordercrm_webhook::dto::{
    CreateWebhookEndpoint, ListWebhookEndpoints, RecoverWebhookEndpoint, RotateWebhookSecret,
    UpdateWebhookEndpoint, WebhookEndpointView, WebhookEndpointWithSecret, WebhookRecovery,
    WebhookTestResult,
};
use ordercrm_webhook::queries;
use uuid::Uuid;

use crate::error::ApiResult;
use crate::extract::{IfMatch, Json, Query, RequestCtx, json_with_etag, read_with_etag};
use crate::middleware::idempotency::carries_secret;
use crate::state::AppState;
use crate::tx::Writer;

/// Every event type the server writes: what `event_types` may name.
pub(crate) static KNOWN: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    crate::webhooks_doc::all_event_types()
        .iter()
        .map(|t| t.name)
        .collect()
});

const REFUSED_URL: &str = "A field is invalid (`/problems/validation`): among them a `url` that is not https \
    (`insecure_url`), carries a user name or password (`credentials_in_url`), or is, or resolves to, a loopback, \
    private, link-local, shared, unique-local, multicast, documentation or reserved address in any spelling \
    (`blocked_address`); an `event_types` entry that names no event type (`no_such_event_type`) or, for a key, \
    one its scopes do not let it read (`event_type_not_permitted`)";

/// List webhook endpoints: every one for admins, a key's own for a key.
#[utoipa::path(
    operation_id = "listWebhookEndpoints",
    tag = "webhook-endpoints",
    security(("userToken" = []), ("apiKey" = [])),
    params(ListWebhookEndpoints),
    responses(
        (status = 200, description = "One page of endpoints, newest first (never their secrets)", body = Page<WebhookEndpointView>),
        (status = 400, description = "An unknown or invalid query parameter, or a bad cursor",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/webhook-endpoints")]
pub async fn list(
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    Query(query): Query<ListWebhookEndpoints>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(queries::list(state.db.reader(), &ctx.actor, query).await?))
}

/// Register an endpoint. Its signing secret is in this response only.
///
/// The URL is checked now and again before every delivery: `https`, no
/// credentials in it, and no address inside our network, however it is spelled or
/// whatever its name resolves to.
#[utoipa::path(
    operation_id = "createWebhookEndpoint",
    tag = "webhook-endpoints",
    security(("userToken" = []), ("apiKey" = [])),
    request_body = CreateWebhookEndpoint,
    responses(
        (status = 201, description = "Registered; store `secret` now", body = WebhookEndpointWithSecret, headers(
            ("Location" = String, description = "URL of the endpoint"),
            ("ETag" = String, description = "Version, for If-Match"),
        )),
        (status = 400, description = REFUSED_URL, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The API key already has 20 endpoints, the most one key may have (`/problems/conflict`)",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/webhook-endpoints")]
pub async fn create(
    state: Data<AppState>,
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    Json(input): Json<CreateWebhookEndpoint>,
) -> ApiResult<HttpResponse> {
    let url = commands::judge_url(&ctx, &state.webhooks, &input.url).await?;
    let txn = writer.begin().await?;
    let created = commands::create(&txn, &ctx, &state.cipher, &KNOWN, url, input).await?;
    txn.commit().await?;
    Ok(carries_secret(json_with_etag(
        HttpResponse::Created().insert_header((
            header::LOCATION,
            format!("/v1/webhook-endpoints/{}", created.endpoint.id),
        )),
        &created,
    )))
}

/// Get an endpoint (never its secret).
#[utoipa::path(
    operation_id = "getWebhookEndpoint",
    tag = "webhook-endpoints",
    security(("userToken" = []), ("apiKey" = [])),
    params(
        ("id" = Uuid, Path, description = "Endpoint id"),
        ("If-None-Match" = Option<String>, Header, description = "An ETag you hold; 304 if still current"),
    ),
    responses(
        (status = 200, description = "The endpoint", body = WebhookEndpointView,
            headers(("ETag" = String, description = "Version, for If-Match"))),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 404, description = "No such endpoint, or not one you may see", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/webhook-endpoints/{id}")]
pub async fn get(
    req: HttpRequest,
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let view = queries::get(state.db.reader(), &ctx.actor, *id).await?;
    Ok(read_with_etag(&req, &view))
}

/// Change an endpoint's URL, event types, profile, metadata, or turn it on or off.
#[utoipa::path(
    operation_id = "updateWebhookEndpoint",
    tag = "webhook-endpoints",
    security(("userToken" = []), ("apiKey" = [])),
    params(
        ("id" = Uuid, Path, description = "Endpoint id"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read"),
    ),
    request_body = UpdateWebhookEndpoint,
    responses(
        (status = 200, description = "The endpoint as it now is", body = WebhookEndpointView,
            headers(("ETag" = String, description = "New version"))),
        (status = 404, description = "No such endpoint, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since your ETag", body = Problem, content_type = "application/problem+json"),
        (status = 400, description = REFUSED_URL, body = Problem, content_type = "application/problem+json"),
    ),
)]
#[patch("/webhook-endpoints/{id}")]
pub async fn update(
    state: Data<AppState>,
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    IfMatch(if_match): IfMatch,
    Json(patch): Json<UpdateWebhookEndpoint>,
) -> ApiResult<HttpResponse> {
    let url = match &patch.url {
        Some(url) => Some(commands::judge_url(&ctx, &state.webhooks, url).await?),
        None => None,
    };
    let txn = writer.begin().await?;
    let view = commands::update(&txn, &ctx, &KNOWN, *id, if_match, url, patch).await?;
    txn.commit().await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &view))
}

/// Remove an endpoint.
#[utoipa::path(
    operation_id = "deleteWebhookEndpoint",
    tag = "webhook-endpoints",
    security(("userToken" = []), ("apiKey" = [])),
    params(
        ("id" = Uuid, Path, description = "Endpoint id"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such endpoint, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since your ETag", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[delete("/webhook-endpoints/{id}")]
pub async fn delete(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    IfMatch(if_match): IfMatch,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    commands::delete(&txn, &ctx, *id, if_match).await?;
    txn.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Rotate the signing secret. The new one is in this response only; the previous
/// one keeps signing beside it (two signatures per delivery) for 24 hours.
#[utoipa::path(
    operation_id = "rotateWebhookEndpointSecret",
    tag = "webhook-endpoints",
    security(("userToken" = []), ("apiKey" = [])),
    params(
        ("id" = Uuid, Path, description = "Endpoint id"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read"),
    ),
    request_body = RotateWebhookSecret,
    responses(
        (status = 200, description = "Rotated; store `secret` now", body = WebhookEndpointWithSecret,
            headers(("ETag" = String, description = "New version"))),
        (status = 404, description = "No such endpoint, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since your ETag", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/webhook-endpoints/{id}/rotate-secret")]
pub async fn rotate_secret(
    state: Data<AppState>,
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    IfMatch(if_match): IfMatch,
    Json(input): Json<RotateWebhookSecret>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let rotated = commands::rotate_secret(&txn, &ctx, &state.cipher, *id, if_match, input).await?;
    txn.commit().await?;
    Ok(carries_secret(json_with_etag(
        &mut HttpResponse::Ok(),
        &rotated,
    )))
}

/// Send again every delivery of the endpoint made since `since` that did not
/// succeed: failed ones, ones still waiting for a retry, and those kept while the
/// endpoint was off, each with its own `webhook-id`, so receivers that deduplicate
/// by it act once. The endpoint then catches up (`catching_up: true`): everything it
/// owes is sent one at a time, in the order it happened, and events that happen
/// meanwhile join the end of the line (`paused` until their turn); one the receiver
/// refuses steps out and retries on its schedule, so it cannot hold the rest for
/// days. Once through, deliveries go side by side again. On an
/// endpoint that is off they wait and go when it is turned on (turning on alone
/// also catches up on what was kept while it was off). Writes no event.
#[utoipa::path(
    operation_id = "recoverWebhookEndpoint",
    tag = "webhook-endpoints",
    security(("userToken" = []), ("apiKey" = [])),
    params(("id" = Uuid, Path, description = "Endpoint id")),
    request_body = RecoverWebhookEndpoint,
    responses(
        (status = 202, description = "That many deliveries are due now", body = WebhookRecovery),
        (status = 400, description = "`since` is in the future, before year 1, or not a date-time (`/problems/validation`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such endpoint, or not one you may see", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/webhook-endpoints/{id}/recover")]
pub async fn recover(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    Json(input): Json<RecoverWebhookEndpoint>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let recovery = ordercrm_webhook::deliveries::commands::recover(&txn, &ctx, *id, input).await?;
    txn.commit().await?;
    Ok(HttpResponse::Accepted().json(recovery))
}

/// Send a test delivery (`webhook_endpoint.tested`, its `data` the endpoint) to
/// the endpoint now, signed as every delivery is, on or off and whatever it
/// subscribes to, and say what came back. Nothing is stored; no event is written.
#[utoipa::path(
    operation_id = "testWebhookEndpoint",
    tag = "webhook-endpoints",
    security(("userToken" = []), ("apiKey" = [])),
    params(("id" = Uuid, Path, description = "Endpoint id")),
    responses(
        (status = 200, description = "What the receiver answered (`delivered` false when it did not answer 2xx, or could not be reached)",
            body = WebhookTestResult),
        (status = 404, description = "No such endpoint, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The endpoint's secret does not open with this server's data key (`/problems/conflict`)",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/webhook-endpoints/{id}/test")]
pub async fn test(
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    // Each holds a request open for up to the timeout: a few at a time, the rest wait.
    let _permit = state
        .webhook_tests
        .acquire()
        .await
        .map_err(ordercrm_kernel::Error::internal)?;
    let sender = ordercrm_webhook::dispatch::send::Sender::new(
        state.webhooks.clone(),
        state.webhook_timeouts,
    )
    .map_err(|e| ordercrm_kernel::Error::internal(std::io::Error::other(e)))?;
    let result = ordercrm_webhook::deliveries::commands::test(
        state.db.reader(),
        &ctx,
        &state.cipher,
        &sender,
        *id,
    )
    .await?;
    Ok(HttpResponse::Ok().json(result))
}
