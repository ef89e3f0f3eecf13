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

use crate::model::Profile;

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
    pub metadata: Option<Attributes>,
    pub secret: Option<SuppliedSecret>,
}

/// Change an endpoint: absent fields stay, `null` clears the nullable ones.
/// A new `profile` without `event_types` makes the profile's patterns its types.
/// Enabling an endpoint the server disabled clears `disabled_reason`.
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
    /// Why the server turned it off (`gone`: the receiver answered 410).
    pub disabled_reason: Option<String>,
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
