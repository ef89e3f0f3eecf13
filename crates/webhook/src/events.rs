//! Events endpoints write to the outbox: `data` is the endpoint without its secret.

use ordercrm_kernel::Ctx;
use ordercrm_kernel::events::{self, Catalogued, EventType, NewEvent};
use sea_orm::{DatabaseTransaction, DbErr};

use crate::dto::WebhookEndpointView;

pub const CREATED: EventType<WebhookEndpointView> = EventType::new(
    "webhook_endpoint.created",
    "A webhook endpoint was registered.",
);
pub const UPDATED: EventType<WebhookEndpointView> = EventType::new(
    "webhook_endpoint.updated",
    "A webhook endpoint's URL, event types, profile, state or metadata changed.",
);
pub const DELETED: EventType<WebhookEndpointView> = EventType::new(
    "webhook_endpoint.deleted",
    "A webhook endpoint was removed; `data` is the endpoint as it was.",
);
pub const SECRET_ROTATED: EventType<WebhookEndpointView> = EventType::new(
    "webhook_endpoint.secret_rotated",
    "A webhook endpoint's signing secret was rotated; the previous one signs beside the new one until `previous_secret_expires_at`.",
);

pub const DISABLED: EventType<WebhookEndpointView> = EventType::new(
    "webhook_endpoint.disabled",
    "The server turned a webhook endpoint off: its receiver answered 410 Gone, or every attempt failed for 5 days; `disabled_reason` says which. Its deliveries wait (paused, never dropped) until it is enabled again; `recover` re-sends those that failed meanwhile.",
);

pub const FAILING: EventType<WebhookEndpointView> = EventType::new(
    "webhook_endpoint.failing",
    "Every attempt to a webhook endpoint has failed for 24 hours (`failing_since`); once per run of failures. After 5 days it is turned off. One success ends the run.",
);

/// Sent by `POST /v1/webhook-endpoints/{id}/test` to that endpoint only, whatever it
/// subscribes to; never written to the outbox, so never in the feed.
pub const TESTED: EventType<WebhookEndpointView> = EventType::new(
    "webhook_endpoint.tested",
    "A test delivery asked for with `POST /v1/webhook-endpoints/{id}/test`, sent to that endpoint only (whatever it subscribes to) and never in the feed.",
);

pub fn catalogue() -> Vec<Catalogued> {
    vec![
        CREATED.entry(),
        UPDATED.entry(),
        DELETED.entry(),
        SECRET_ROTATED.entry(),
        DISABLED.entry(),
        FAILING.entry(),
        TESTED.entry(),
    ]
}

pub(crate) async fn record(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    event_type: &EventType<WebhookEndpointView>,
    endpoint: &WebhookEndpointView,
    version: i64,
) -> Result<(), DbErr> {
    events::record(
        txn,
        ctx,
        NewEvent::about(
            event_type,
            "webhook_endpoint",
            (endpoint.id, version),
            endpoint,
        ),
    )
    .await
    .map(drop)
}
