//! What goes over the wire.

use chrono::{DateTime, Utc};
use ordercrm_kernel::input::{CursorParam, Limit};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::model::SettingKey;

/// Create a setting.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"key": "order_number_prefix", "value": "SO-", "description": "Prefix of sales order numbers"}))]
pub struct CreateSetting {
    /// Well-known keys: `company_name`, `default_currency` and the `*_number_prefix`
    /// keys (`order_`, `invoice_`, `customer_`, `contract_`, `purchase_order_`, `ticket_`).
    pub key: SettingKey,
    /// Any JSON value up to 8 KiB; well-known keys require their own shape.
    pub value: Value,
    #[validate(length(max = 500))]
    pub description: Option<String>,
}

/// Change a setting. Absent fields stay as they are; `"description": null` clears it.
#[derive(Debug, Clone, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"value": "SO2026-"}))]
pub struct UpdateSetting {
    pub value: Option<Value>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[validate(length(max = 500))]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
}

/// A setting as the API returns it. `version` is also the `ETag`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(example = json!({
    "key": "order_number_prefix", "value": "SO-", "description": "Prefix of sales order numbers",
    "version": 1, "created_at": "2026-11-23T08:00:00Z", "updated_at": "2026-11-23T08:00:00Z"
}))]
pub struct SettingView {
    pub key: String,
    pub value: Value,
    pub description: Option<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

ordercrm_kernel::string_enum! {
    /// How a settings list is ordered.
    #[derive(Default)]
    pub SettingSort {
        #[default]
        Key = "key",
        KeyDesc = "-key",
        UpdatedAt = "updated_at",
        UpdatedAtDesc = "-updated_at",
    }
}

/// Query parameters of `GET /v1/settings`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListSettings {
    /// Case-insensitive substring of the key or the description.
    pub q: Option<String>,
    /// Only keys starting with this, e.g. `ui.`.
    pub key_prefix: Option<String>,
    /// Only settings changed at or after this time (RFC 3339).
    pub updated_after: Option<DateTime<Utc>>,
    /// Only settings changed before this time (RFC 3339).
    pub updated_before: Option<DateTime<Utc>>,
    /// `key` (default), `-key`, `updated_at` or `-updated_at`.
    #[param(inline)]
    pub sort: Option<SettingSort>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<Limit>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<CursorParam>,
}

ordercrm_kernel::versioned!(SettingView);
