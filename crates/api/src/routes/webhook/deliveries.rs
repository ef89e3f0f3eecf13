//! `/v1/webhook-deliveries`: the delivery log, and sending one again.

use actix_web::web::{Data, Path};
use actix_web::{HttpResponse, get, post};
use ordercrm_kernel::{Page, Problem};
use ordercrm_webhook::deliveries::{commands, queries};
use ordercrm_webhook::dto::{ListWebhookDeliveries, WebhookAttemptList, WebhookDeliveryView};
use uuid::Uuid;

use crate::error::ApiResult;
use crate::extract::{Query, RequestCtx};
use crate::state::AppState;
use crate::tx::Writer;

/// List deliveries, newest first: every one for admins, a key's endpoints' for a key.
#[utoipa::path(
    operation_id = "listWebhookDeliveries",
    tag = "webhook-deliveries",
    security(("userToken" = []), ("apiKey" = [])),
    params(ListWebhookDeliveries),
    responses(
        (status = 200, description = "One page of deliveries, newest first", body = Page<WebhookDeliveryView>),
        (status = 400, description = "An unknown or invalid query parameter (a `status` or `event_id` that is not one), or a bad cursor",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/webhook-deliveries")]
pub async fn list(
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    Query(query): Query<ListWebhookDeliveries>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(queries::list(state.db.reader(), &ctx.actor, query).await?))
}

/// Get a delivery.
#[utoipa::path(
    operation_id = "getWebhookDelivery",
    tag = "webhook-deliveries",
    security(("userToken" = []), ("apiKey" = [])),
    params(("id" = Uuid, Path, description = "Delivery id")),
    responses(
        (status = 200, description = "The delivery", body = WebhookDeliveryView),
        (status = 404, description = "No such delivery, or not one you may see", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/webhook-deliveries/{id}")]
pub async fn get(
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(queries::get(state.db.reader(), &ctx.actor, *id).await?))
}

/// A delivery's attempts, oldest first: when, how long, the status code, the
/// first 4 KiB of the answer and why it failed.
#[utoipa::path(
    operation_id = "listWebhookDeliveryAttempts",
    tag = "webhook-deliveries",
    security(("userToken" = []), ("apiKey" = [])),
    params(("id" = Uuid, Path, description = "Delivery id")),
    responses(
        (status = 200, description = "Its attempts (the newest 100), oldest first", body = WebhookAttemptList),
        (status = 404, description = "No such delivery, or not one you may see", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/webhook-deliveries/{id}/attempts")]
pub async fn attempts(
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(queries::attempts(state.db.reader(), &ctx.actor, *id).await?))
}

/// Send a delivery again now, whatever it came to, with its own `webhook-id`.
/// Its attempts go on counting; one being sent at this moment is left to that
/// attempt. Writes no event.
#[utoipa::path(
    operation_id = "redeliverWebhookDelivery",
    tag = "webhook-deliveries",
    security(("userToken" = []), ("apiKey" = [])),
    params(("id" = Uuid, Path, description = "Delivery id")),
    responses(
        (status = 202, description = "Due now; the dispatcher sends it", body = WebhookDeliveryView),
        (status = 404, description = "No such delivery, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The endpoint is turned off (turn it on first), or the delivery has had 100 attempts (`/problems/conflict`)",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/webhook-deliveries/{id}/redeliver")]
pub async fn redeliver(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = commands::redeliver(&txn, &ctx, *id).await?;
    txn.commit().await?;
    Ok(HttpResponse::Accepted().json(view))
}
