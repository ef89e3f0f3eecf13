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
    /// shape (see `CreateSetting`). `null` is refused, not ignored: delete the setting.
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(schema_with = updated_value)]
    pub value: Option<Option<Value>>,
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
/// the server accepts. Built from [`WellKnown`], which the server checks with. The last
/// branch's key is "the pattern, `not` one of the well-known keys", so exactly one
/// branch fits any body: `oneOf`. utoipa has no builder for `not`; it is written
/// through the schema's extension map, which serializes its entries as they are.
impl utoipa::PartialSchema for CreateSetting {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AdditionalProperties, OneOfBuilder, Type};
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
        let mut one_of = OneOfBuilder::new();
        for (key, known) in WellKnown::KEYS {
            let key = ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some([key]))
                .into();
            one_of = one_of.item(branch(key, known.value_schema()));
        }
        let any_value = any_value_but_null()
            .description(Some("Any JSON value but `null`, up to 8 KiB as JSON."))
            .into();
        let other_key = ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(SettingKey::PATTERN))
            .description(Some("Any other key; not one of the well-known keys above."))
            .examples([serde_json::json!("ui.theme")])
            .extensions(Some(utoipa::openapi::extensions::Extensions::from_iter([
                (
                    "not",
                    serde_json::json!({"enum": WellKnown::KEYS.map(|(key, _)| key)}),
                ),
            ])))
            .into();
        one_of
            .item(branch(other_key, any_value))
            .description(Some(format!(
                "A well-known key ({}) with the value it requires, or any other key with any \
                 value but `null`.",
                WellKnown::KEYS.map(|(key, _)| format!("`{key}`")).join(", ")
            )))
            .examples([serde_json::json!(
                {"key": "order_number_prefix", "value": "SO-", "description": "Prefix of sales order numbers"}
            )])
            .into()
    }
}

impl ToSchema for CreateSetting {}

fn updated_value() -> utoipa::openapi::ObjectBuilder {
    any_value_but_null().description(Some(
        "Any JSON value but `null` up to 8 KiB; well-known keys require their own shape \
         (see `CreateSetting`). `null` is refused, not ignored: delete the setting.",
    ))
}

/// Typeless rather than a list of types (client generators then take any value), and
/// `not: {type: null}`, written through the extension map as `not` is above.
fn any_value_but_null() -> utoipa::openapi::ObjectBuilder {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::AnyValue)
        .extensions(Some(utoipa::openapi::extensions::Extensions::from_iter([
            ("not", serde_json::json!({"type": "null"})),
        ])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::PartialSchema;

    /// Exactly one branch of `CreateSetting` takes any key: its own for a well-known key,
    /// the last for any other, so `oneOf` is true of every body.
    #[test]
    fn every_key_fits_one_branch() {
        let schema = serde_json::to_value(CreateSetting::schema()).unwrap_or_default();
        let branches = schema["oneOf"].as_array().cloned().unwrap_or_default();
        assert_eq!(branches.len(), WellKnown::KEYS.len() + 1);
        let fits = |branch: &serde_json::Value, key: &str| {
            let rule = &branch["properties"]["key"];
            let listed = |list: &serde_json::Value| {
                list.as_array().is_some_and(|l| l.iter().any(|v| v == key))
            };
            if rule.get("enum").is_some() {
                return listed(&rule["enum"]);
            }
            let pattern = rule["pattern"].as_str().unwrap_or_default();
            let re = regex::Regex::new(pattern).unwrap_or_else(|e| panic!("{e}"));
            re.is_match(key) && !listed(&rule["not"]["enum"])
        };
        let keys = WellKnown::KEYS.map(|(key, _)| key);
        for key in keys.iter().copied().chain(["ui.theme", "company_names"]) {
            let fitting = branches.iter().filter(|b| fits(b, key)).count();
            assert_eq!(fitting, 1, "{key} fits {fitting} branches");
        }
    }
}
