//! What goes over the wire. A signing secret is in a response twice only: when the
//! endpoint is made and when its secret is rotated.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Utc};
use ordercrm_kernel::input::{Attributes, Choice, CursorParam, Limit, NonBlank, Text};
use serde::{Deserialize, Serialize};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{IntoParams, PartialSchema, ToSchema};
use uuid::Uuid;

use crate::model::{DeliveryStatus, PayloadStyle, Profile};

/// A signing secret you supply instead of having one made: `whsec_` and the
/// standard base64 of 24 to 64 random bytes. Never shown in logs.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct SuppliedSecret(pub String);

impl fmt::Debug for SuppliedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SuppliedSecret(…)")
    }
}

impl PartialSchema for SuppliedSecret {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(
                r"^whsec_(?:(?:[A-Za-z0-9+/]{4}){8,21}(?:[A-Za-z0-9+/]{2}==)?|(?:[A-Za-z0-9+/]{4}){8,20}[A-Za-z0-9+/]{3}=)$",
            ))
            .max_length(Some(96))
            .description(Some(
                "`whsec_` and the standard base64 of 24 to 64 random bytes; omit it to have \
                 one made (32 bytes).",
            ))
            .into()
    }
}

impl ToSchema for SuppliedSecret {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("WebhookSecret")
    }
}

/// Register an endpoint. Give `event_types`, or a `profile` whose patterns are then
/// its event types, or both (the profile is then a label).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "url": "https://shop.example.com/hooks/ordercrm",
    "description": "Storefront order updates",
    "event_types": ["order.*"],
    "metadata": {"team": "storefront"}
}))]
pub struct CreateWebhookEndpoint {
    /// `https` (plain `http` only where the operator allows it); no user name or
    /// password; not an address inside our network.
    pub url: NonBlank<2048>,
    pub description: Option<Text<500>>,
    /// Event types (`order.approved`), patterns of a resource's types (`order.*`,
    /// matching types added later too) or `*` for every type. At most 50.
    #[schema(max_items = 50, min_items = 1)]
    pub event_types: Option<Vec<NonBlank<100>>>,
    #[schema(value_type = Option<Profile>)]
    pub profile: Option<Choice<Profile>>,
    /// Deliver to it (default true).
    pub enabled: Option<bool>,
    /// Deliver one order's events one after another (default false): the next waits
    /// until the one before succeeded or failed for good. Other orders, and other
    /// endpoints, do not wait.
    pub ordered: Option<bool>,
    /// `full` (default): `data` is the resource's event view; `thin`: only its
    /// `resource`, `id` and `version`, for receivers with body limits.
    #[schema(value_type = Option<PayloadStyle>)]
    pub payload: Option<Choice<PayloadStyle>>,
    pub metadata: Option<Attributes>,
    pub secret: Option<SuppliedSecret>,
}

/// Change an endpoint: absent fields stay, `null` clears the nullable ones.
/// A new `profile` without `event_types` makes the profile's patterns its types.
/// Enabling an endpoint the server disabled clears `disabled_reason` and
/// resumes its paused deliveries; `recover` re-sends the ones that failed meanwhile.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"event_types": ["order.*", "shipment.*"], "enabled": true}))]
pub struct UpdateWebhookEndpoint {
    pub url: Option<NonBlank<2048>>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<Text<500>>)]
    pub description: Option<Option<Text<500>>>,
    #[schema(max_items = 50, min_items = 1)]
    pub event_types: Option<Vec<NonBlank<100>>>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<Profile>)]
    pub profile: Option<Option<Choice<Profile>>>,
    pub enabled: Option<bool>,
    pub ordered: Option<bool>,
    #[schema(value_type = Option<PayloadStyle>)]
    pub payload: Option<Choice<PayloadStyle>>,
    pub metadata: Option<Attributes>,
}

/// Rotate the signing secret: the new one signs from now; the current one keeps
/// signing beside it for 24 hours, so receivers can switch without losing a delivery.
/// `{}` has one made.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({}))]
pub struct RotateWebhookSecret {
    pub secret: Option<SuppliedSecret>,
}

/// An endpoint (never its secret).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "01937c4e-0000-7000-8000-0000000000e1",
    "url": "https://shop.example.com/hooks/ordercrm",
    "description": "Storefront order updates",
    "event_types": ["order.*"], "profile": null, "enabled": true, "disabled_reason": null,
    "ordered": false, "payload": "full", "failing_since": null, "catching_up": false,
    "metadata": {"team": "storefront"}, "previous_secret_expires_at": null,
    "owner_key_id": null, "created_by": "01937c4e-0000-7000-8000-000000000001",
    "version": 1, "created_at": "2026-11-29T08:00:00Z", "updated_at": "2026-11-29T08:00:00Z"
}))]
pub struct WebhookEndpointView {
    pub id: Uuid,
    pub url: String,
    pub description: Option<String>,
    pub event_types: Vec<String>,
    pub profile: Option<Profile>,
    pub enabled: bool,
    /// Why the server turned it off: its receiver answered 410 Gone, or every
    /// attempt failed for 5 days.
    pub disabled_reason: Option<String>,
    /// One order's events one after another.
    pub ordered: bool,
    pub payload: PayloadStyle,
    /// Since when every attempt failed (`null`: the last one succeeded, or none was
    /// made yet). After 24 hours `webhook_endpoint.failing` is sent; after 5 days the
    /// endpoint is turned off (`webhook_endpoint.disabled`). The server's
    /// bookkeeping: it changes without a new `version` (ETag), so an `If-Match`
    /// never fails because a delivery did.
    pub failing_since: Option<DateTime<Utc>>,
    /// Sending a backlog one delivery at a time, oldest first: after a recovery,
    /// or when turned on again with deliveries kept while it was off. Events that
    /// happen meanwhile join the end of the line; one the receiver refuses steps
    /// out and retries on its schedule. Once through, deliveries go side by side
    /// again. Bookkeeping like `failing_since` (no new `version`).
    pub catching_up: bool,
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    /// During a rotation, until when the previous secret signs beside the new one.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    /// The API key that registered it (it receives only what that key may read);
    /// `null` for an admin's, which receives everything it subscribes to.
    pub owner_key_id: Option<Uuid>,
    pub created_by: Option<Uuid>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

ordercrm_kernel::versioned!(WebhookEndpointView);

/// The endpoint and, this once, its signing secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookEndpointWithSecret {
    #[serde(flatten)]
    pub endpoint: WebhookEndpointView,
    /// Shown only in this response; store it now. Verify deliveries with it using
    /// any Standard Webhooks library.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
}

impl ordercrm_kernel::version::Versioned for WebhookEndpointWithSecret {
    fn version(&self) -> i64 {
        self.endpoint.version
    }
}

/// Query parameters of `GET /v1/webhook-endpoints`: newest first.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListWebhookEndpoints {
    /// Only enabled (`true`) or disabled (`false`) endpoints.
    pub enabled: Option<bool>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<Limit>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<CursorParam>,
}

/// An event's public id, `evt_` and 32 hex digits, as deliveries and the feed name it.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct EventId(pub String);

impl EventId {
    /// The id, or `None` when the text is not one.
    pub fn parse(&self) -> Option<Uuid> {
        let hex = self.0.strip_prefix("evt_")?;
        (hex.len() == 32
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then(|| Uuid::try_parse(hex).ok())
        .flatten()
    }
}

impl PartialSchema for EventId {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^evt_[0-9a-f]{32}$"))
            .description(Some("An event's id (`webhook-id` of its deliveries)."))
            .examples([serde_json::json!("evt_01937c4e00007000800000000000e001")])
            .into()
    }
}

impl ToSchema for EventId {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("EventId")
    }
}

/// Query parameters of `GET /v1/webhook-deliveries`: newest first.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListWebhookDeliveries {
    /// Only this endpoint's.
    pub endpoint_id: Option<Uuid>,
    /// Only this event's (`evt_` and 32 hex digits).
    #[param(value_type = Option<String>, pattern = "^evt_[0-9a-f]{32}$")]
    pub event_id: Option<EventId>,
    #[param(value_type = Option<DeliveryStatus>)]
    pub status: Option<Choice<DeliveryStatus>>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<Limit>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<CursorParam>,
}

/// What the dispatcher owes one endpoint for one event, and how it went.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "01937c4e-0000-7000-8000-0000000000d1",
    "endpoint_id": "01937c4e-0000-7000-8000-0000000000e1",
    "event_id": "evt_01937c4e00007000800000000000e001", "event_type": "order.approved",
    "event_position": 1042, "order_id": "01937c4e-0000-7000-8000-0000000000a1",
    "status": "pending", "attempts": 2, "next_attempt_at": "2026-11-29T08:05:00Z",
    "last_status_code": 503, "error_kind": "http_status",
    "last_error": "the receiver answered 503 Service Unavailable",
    "created_at": "2026-11-29T08:00:00Z", "updated_at": "2026-11-29T08:00:05Z", "finished_at": null
}))]
pub struct WebhookDeliveryView {
    pub id: Uuid,
    pub endpoint_id: Uuid,
    /// The `webhook-id` every attempt of it carries.
    pub event_id: String,
    pub event_type: String,
    /// The event's place in the feed.
    pub event_position: i64,
    pub order_id: Option<Uuid>,
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: i32,
    /// When it is tried next (pending only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<i32>,
    /// Why the last attempt failed: `http_status`, `timeout`, `connect`, `dns`, `tls`,
    /// `blocked_ip`, `request`; or, with no attempt used up, `not_permitted` (the
    /// registering key is revoked) or `secret_unavailable`.
    pub error_kind: Option<String>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When it succeeded or failed for good.
    pub finished_at: Option<DateTime<Utc>>,
}

/// One attempt at a delivery: never the request's headers (they carry signatures).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(example = json!({
    "attempt": 1, "started_at": "2026-11-29T08:00:00Z", "duration_ms": 84,
    "status_code": 503, "error_kind": "http_status",
    "error": "the receiver answered 503 Service Unavailable",
    "response_excerpt": "upstream unavailable"
}))]
pub struct WebhookAttemptView {
    /// 1 for the first.
    pub attempt: i32,
    pub started_at: DateTime<Utc>,
    pub duration_ms: i64,
    pub status_code: Option<i32>,
    /// As on the delivery; `null` when it succeeded.
    pub error_kind: Option<String>,
    pub error: Option<String>,
    /// The first 4 KiB of the receiver's answer.
    pub response_excerpt: Option<String>,
}

/// A delivery's attempts, oldest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookAttemptList {
    pub data: Vec<WebhookAttemptView>,
}

/// Re-send an endpoint's deliveries that did not succeed, created at or after `since`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"since": "2026-11-23T07:00:00Z"}))]
pub struct RecoverWebhookEndpoint {
    /// Not in the future.
    pub since: DateTime<Utc>,
}

/// What a recovery set going.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"endpoint_id": "01937c4e-0000-7000-8000-0000000000e1",
    "since": "2026-11-29T07:00:00Z", "deliveries": 42}))]
pub struct WebhookRecovery {
    pub endpoint_id: Uuid,
    pub since: DateTime<Utc>,
    /// Deliveries due again now, oldest first, each with its own `webhook-id`.
    pub deliveries: u64,
}

/// What came of a test delivery.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"event_id": "evt_01937c4e00007000800000000000f001", "delivered": true,
    "status_code": 200, "duration_ms": 43, "error_kind": null, "error": null,
    "response_excerpt": "ok"}))]
pub struct WebhookTestResult {
    /// Its `webhook-id`; the body's `type` is `webhook_endpoint.tested`.
    pub event_id: String,
    /// The receiver answered 2xx.
    pub delivered: bool,
    pub status_code: Option<i32>,
    pub duration_ms: i64,
    pub error_kind: Option<String>,
    pub error: Option<String>,
    pub response_excerpt: Option<String>,
}

/// Query parameters of `GET /v1/events`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReadEventFeed {
    /// The last position you read (`next_after` of the previous page); absent: from
    /// the oldest event still kept.
    #[param(minimum = 0, maximum = 9_007_199_254_740_991_i64)]
    pub after: Option<i64>,
    /// Event types or patterns, comma-separated (`order.*,shipment.delivered`), at
    /// most 20; absent: every type.
    #[param(value_type = Option<String>, max_length = 1000)]
    #[serde(rename = "type")]
    pub types: Option<Text<1000>>,
    /// Events a page looks at, 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// An event in the feed: the envelope every webhook body has, and its position.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"position": 1042, "id": "evt_01937c4e00007000800000000000e001",
    "type": "order.approved", "created_at": "2026-11-29T08:00:00Z",
    "data": {"id": "01937c4e-0000-7000-8000-0000000000a1", "number": "SO-000123", "status": "approved"}}))]
pub struct FeedEvent {
    pub position: i64,
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub created_at: DateTime<Utc>,
    /// The resource's event view, as the `webhooks` map documents it for `type`.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// One page of the feed, in position order with no gaps: every event committed after
/// `after` that you may read, up to `limit` looked at.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"data": [], "next_after": 1042, "has_more": false}))]
pub struct EventFeedPage {
    pub data: Vec<FeedEvent>,
    /// Send as `after` for the next page (the last position looked at, which may be
    /// past the last event shown when you may not read some).
    pub next_after: i64,
    /// More events were there past this page when it was read.
    pub has_more: bool,
}
