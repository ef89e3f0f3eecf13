//! `/v1/events`: the pull feed.

use actix_web::web::Data;
use actix_web::{HttpResponse, get};
use ordercrm_kernel::Problem;
use ordercrm_webhook::dto::{EventFeedPage, ReadEventFeed};

use super::endpoints::KNOWN;
use crate::error::ApiResult;
use crate::extract::{Query, RequestCtx};
use crate::state::AppState;

/// Read the event feed: every event committed after `after` that you may read, in
/// the order webhooks deliver them, with no gaps. Each entry is the envelope a
/// webhook body has, with its `position`; page on with `next_after`.
///
/// For integrators who poll rather than receive, or reconcile after an outage.
/// Admins and auditors read every event; a key with `events:read` what its other
/// scopes let it read (only its channel's orders, only its carriers' shipments),
/// as its webhook endpoints would receive.
#[utoipa::path(
    operation_id = "readEventFeed",
    tag = "events",
    security(("userToken" = []), ("apiKey" = [])),
    params(ReadEventFeed),
    responses(
        (status = 200, description = "One page of the feed", body = EventFeedPage),
        (status = 400, description = "An unknown or invalid query parameter: a `type` entry that names no event type, \
            a `limit` outside 1..500, a negative `after`",
            body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "Events after `after` were pruned by the operator's event retention \
            (`/problems/feed-expired`); `horizon` and `oldest_position` say where the feed now begins",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/events")]
pub async fn read(
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    Query(query): Query<ReadEventFeed>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok()
        .json(ordercrm_webhook::feed::read(state.db.reader(), &ctx.actor, query, &KNOWN).await?))
}
