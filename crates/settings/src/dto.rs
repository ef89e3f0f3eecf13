//! What goes over the wire.

use crate::model::{SettingKey, WellKnown};
use chrono::{DateTime, Utc};
use ordercrm_kernel::input::{CursorParam, Limit, Text};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// Create a setting. Its schema (in `crate::schema`) is one branch per well-known key,
/// with the value shape that key requires, and one for any other key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateSetting {
    pub key: SettingKey,
    pub value: Value,
    pub description: Option<Text<500>>,
}

/// Change a setting. Absent fields stay as they are; `"description": null` clears it.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"value": "SO2026-"}))]
pub struct UpdateSetting {
    /// Any JSON value but `null` up to 8 KiB; well-known keys require their own
    /// shape (see `CreateSetting`).
    pub value: Option<Value>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<Text<500>>)]
    pub description: Option<Option<Text<500>>>,
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

/// One branch per well-known key, with the value shape that key requires, and one for
/// any other key (any value but `null`), so a client generator and a fuzzer know what
/// the server accepts. Built from [`WellKnown`], which the server checks with. `anyOf`,
/// not `oneOf`: the last branch's pattern also matches the well-known keys (the schema
/// types this crate uses cannot say "but not these"), so a well-known key matches two
/// branches; the description says that its own shape is the one that holds.
impl utoipa::PartialSchema for CreateSetting {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{
            AdditionalProperties, AnyOfBuilder, OneOfBuilder, SchemaType, Type,
        };
        use utoipa::openapi::{ObjectBuilder, RefOr, Schema};
        let branch = |key: RefOr<Schema>, value: RefOr<Schema>| {
            ObjectBuilder::new()
                .property("key", key)
                .property("value", value)
                .property(
                    "description",
                    OneOfBuilder::new()
                        .item(Text::<500>::schema())
                        .item(ObjectBuilder::new().schema_type(Type::Null)),
                )
                .required("key")
                .required("value")
                .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        };
        let mut any_of = AnyOfBuilder::new();
        for (key, known) in WellKnown::KEYS {
            let key = ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some([key]))
                .into();
            any_of = any_of.item(branch(key, known.value_schema()));
        }
        // Typeless rather than a list of types: client generators take any value.
        let any_value = ObjectBuilder::new()
            .schema_type(SchemaType::AnyValue)
            .description(Some("Any JSON value but `null`, up to 8 KiB as JSON."))
            .into();
        let other_key = ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(SettingKey::PATTERN))
            .description(Some("Any other key; not one of the well-known keys above."))
            .examples([serde_json::json!("ui.theme")])
            .into();
        any_of
            .item(branch(other_key, any_value))
            .description(Some(
                "A well-known key (`company_name`, `default_currency`, the `*_number_prefix` \
                 keys) with the value it requires (its own branch; the last branch does not \
                 apply to these keys), or any other key with any value but `null`.",
            ))
            .examples([serde_json::json!(
                {"key": "order_number_prefix", "value": "SO-", "description": "Prefix of sales order numbers"}
            )])
            .into()
    }
}

impl ToSchema for CreateSetting {}
