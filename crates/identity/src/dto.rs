//! What goes over the wire. Password hashes and secrets never appear in a view.

use chrono::{DateTime, Utc};
use ordercrm_kernel::authz::Role;
use ordercrm_kernel::input::{Choice, CursorParam, Email, Limit, NonBlank, Text};

use crate::model::{ApiKeyKind, NewPassword, Password, Scope};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "admin@example.com", "password": "correct horse battery staple"}))]
pub struct TokenRequest {
    /// Any text up to 254 characters: an unknown email is answered like a wrong password.
    pub email: Text<254>,
    pub password: Password,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"refresh_token": "ocrm_rt_Q2hhbmdlIG1lIQ..."}))]
pub struct RefreshRequest {
    pub refresh_token: Text<512>,
}

/// A new access token and the refresh token that replaces the one you sent.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"access_token": "eyJhbGciOiJIUzI1NiIsImtpZCI6Ii4uLiJ9...", "token_type": "Bearer",
    "expires_in": 900, "refresh_token": "ocrm_rt_Q2hhbmdlIG1lIQ...", "refresh_expires_in": 2592000}))]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Single use: exchange it at `/v1/auth/refresh`; reusing it signs out everywhere.
    pub refresh_token: String,
    pub refresh_expires_in: i64,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "li.na@example.com", "display_name": "Li Na", "role": "sales",
    "manager_id": "0193a6f2-7c1e-7d2a-9b8e-2f0c7b1d4e5f", "password": "a long initial passphrase"}))]
pub struct CreateUser {
    pub email: Email,
    pub display_name: NonBlank<100>,
    pub role: Role,
    pub manager_id: Option<Uuid>,
    /// The user should change it at first sign-in; not the email address.
    pub password: NewPassword,
}

/// Change a user. Absent fields stay; `"manager_id": null` removes the manager.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"display_name": "Li Na (East)", "active": true}))]
pub struct UpdateUser {
    pub display_name: Option<NonBlank<100>>,
    pub role: Option<Role>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub manager_id: Option<Option<Uuid>>,
    /// `false` signs the user out everywhere and refuses new sign-ins.
    pub active: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"current_password": "the one you have now", "new_password": "a new, longer passphrase"}))]
pub struct ChangePassword {
    pub current_password: Password,
    /// Not the email address.
    pub new_password: NewPassword,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(example = json!({"id": "0193a6f2-7c1e-7d2a-9b8e-2f0c7b1d4e5f", "email": "li.na@example.com",
    "display_name": "Li Na", "role": "sales", "active": true, "manager_id": null, "version": 1,
    "created_at": "2026-11-23T08:00:00Z", "updated_at": "2026-11-23T08:00:00Z"}))]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub active: bool,
    pub manager_id: Option<Uuid>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListUsers {
    /// Case-insensitive substring of the email or display name.
    pub q: Option<String>,
    #[param(inline)]
    pub role: Option<Role>,
    pub active: Option<bool>,
    pub manager_id: Option<Uuid>,
    pub limit: Option<Limit>,
    pub cursor: Option<CursorParam>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Shop storefront", "kind": "ecommerce", "scopes": ["orders:write", "events:read"],
    "expires_at": "2027-11-23T00:00:00Z"}))]
pub struct CreateApiKey {
    pub name: NonBlank<100>,
    /// `ecommerce`, `logistics`, `erp` or `other`.
    #[schema(value_type = ApiKeyKind)]
    pub kind: Choice<ApiKeyKind>,
    #[schema(value_type = Vec<Scope>, min_items = 1)]
    pub scopes: Vec<Choice<Scope>>,
    pub expires_at: Option<DateTime<Utc>>,
    /// The user who owns what this key creates when a request names no owner
    /// (customers now, orders later), so that user's team sees it. An active user.
    pub default_owner_id: Option<Uuid>,
    /// Bind the key to a sales channel: it creates, sees and changes only that
    /// channel's orders.
    #[schema(value_type = Option<ordercrm_kernel::authz::Channel>)]
    pub channel: Option<Choice<ordercrm_kernel::authz::Channel>>,
    /// And to one shop within it (`tmall`); absent: every shop of the channel.
    pub channel_name: Option<Text<50>>,
    /// Bind a logistics key to carrier codes (1 to 20): it sees, ships and reports
    /// tracking for those carriers' shipments only, and no dispatch notes.
    #[schema(min_items = 1, max_items = 20)]
    pub carriers: Option<Vec<ordercrm_kernel::authz::CarrierCode>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ApiKeyView {
    pub id: Uuid,
    pub name: String,
    pub kind: String,
    pub scopes: Vec<String>,
    /// The start of the secret, to recognise the key.
    pub prefix: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_by: Option<Uuid>,
    /// Owns what this key creates when a request names no owner.
    pub default_owner_id: Option<Uuid>,
    /// The sales channel the key is bound to, if any.
    pub channel: Option<ordercrm_kernel::authz::Channel>,
    /// The shop within it; null: every shop of the channel.
    pub channel_name: Option<String>,
    /// The carriers a logistics key is bound to; empty: not bound.
    pub carriers: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// The key and, this once, its secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiKeyCreated {
    #[serde(flatten)]
    pub key: ApiKeyView,
    /// Shown only in this response; store it now. Send as `Authorization: Bearer <secret>`.
    #[schema(example = "ocrm_live_3q2+7w...")]
    pub secret: String,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListApiKeys {
    /// Include revoked keys (default false).
    pub include_revoked: Option<bool>,
    pub limit: Option<Limit>,
    pub cursor: Option<CursorParam>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditEventView {
    pub id: Uuid,
    pub seq: i64,
    pub occurred_at: DateTime<Utc>,
    /// `user`, `api_key`, `anonymous` or `system`.
    pub actor_type: String,
    pub actor_id: Option<String>,
    pub action: String,
    pub entity_type: String,
    pub entity_id: Option<String>,
    pub changes: Option<serde_json::Value>,
    /// `success` or `failure`.
    pub outcome: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

ordercrm_kernel::string_enum! {
    /// How the audit log is ordered: newest first (default) or oldest first.
    #[derive(Default)]
    pub AuditSort {
        #[default]
        SeqDesc = "-seq",
        Seq = "seq",
    }
}

ordercrm_kernel::string_enum! {
    /// Whether an audited action happened or was refused.
    pub AuditOutcome {
        Success = "success",
        Failure = "failure",
    }
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListAuditEvents {
    pub actor_id: Option<String>,
    /// Exact action, e.g. `auth.login_failed`.
    pub action: Option<String>,
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    #[param(inline)]
    pub outcome: Option<AuditOutcome>,
    pub occurred_after: Option<DateTime<Utc>>,
    pub occurred_before: Option<DateTime<Utc>>,
    #[param(inline)]
    pub sort: Option<AuditSort>,
    pub limit: Option<Limit>,
    pub cursor: Option<CursorParam>,
}

ordercrm_kernel::versioned!(UserView);
