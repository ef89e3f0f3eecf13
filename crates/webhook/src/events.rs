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
    "The server turned a webhook endpoint off because its receiver answered 410 Gone; `disabled_reason` says so. Nothing is sent to it until it is enabled again.",
);

pub fn catalogue() -> Vec<Catalogued> {
    vec![
        CREATED.entry(),
        UPDATED.entry(),
        DELETED.entry(),
        SECRET_ROTATED.entry(),
        DISABLED.entry(),
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
