//! What goes over the wire.

use chrono::{DateTime, NaiveDate, Utc};
use ordercrm_kernel::Money;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// An order's or a customer's identity in another system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExternalRef {
    /// The system, e.g. `shopify`, `tmall`, `erp`.
    #[schema(example = "tmall")]
    pub channel: String,
    #[schema(example = "TM-99812")]
    pub external_id: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "kind": "company", "name": "上海星辰贸易有限公司", "email": "purchasing@xingchen.example.cn",
    "phone": "+86 21 6555 0199", "legal_name": "上海星辰贸易有限公司", "industry": "wholesale",
    "size_band": "50-249", "tax_id": "91310000MA1FL1234X", "preferred_language": "zh-CN",
    "preferred_currency": "CNY", "tags": ["vip", "east"], "source_channel": "tmall",
    "credit_limit": {"amount": 5000000, "currency": "CNY"}, "payment_terms_days": 30,
    "marketing_consent": true, "attributes": {"crm_color": "gold"},
    "external_refs": [{"channel": "tmall", "external_id": "TM-99812"}]
}))]
pub struct CreateCustomer {
    /// `person` or `company`.
    pub kind: String,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub legal_name: Option<String>,
    pub industry: Option<String>,
    /// `1-9`, `10-49`, `50-249`, `250-999` or `1000+`.
    pub size_band: Option<String>,
    /// Stored encrypted; shown in full to admin and finance, masked to others.
    pub tax_id: Option<String>,
    /// People only.
    pub birthday: Option<NaiveDate>,
    pub preferred_language: Option<String>,
    pub preferred_currency: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub source_channel: Option<String>,
    /// The responsible sales user; defaults to you when you are in sales.
    pub owner_id: Option<Uuid>,
    pub credit_limit: Option<Money>,
    pub payment_terms_days: Option<i32>,
    #[serde(default)]
    pub marketing_consent: bool,
    /// A small JSON object (4 KiB) for your own fields.
    pub attributes: Option<serde_json::Value>,
    #[serde(default)]
    pub external_refs: Vec<ExternalRef>,
}

/// Change a customer: absent fields stay, `null` clears an optional field.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"phone": "+86 21 6555 0100", "tags": ["vip"], "owner_id": null}))]
pub struct UpdateCustomer {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<String>)]
    pub legal_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<String>)]
    pub industry: Option<Option<String>>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<String>)]
    pub size_band: Option<Option<String>>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<String>)]
    pub tax_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<NaiveDate>)]
    pub birthday: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<String>)]
    pub preferred_language: Option<Option<String>>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<String>)]
    pub preferred_currency: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub owner_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<Money>)]
    pub credit_limit: Option<Option<Money>>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<i32>)]
    pub payment_terms_days: Option<Option<i32>>,
    pub marketing_consent: Option<bool>,
    pub attributes: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CustomerView {
    pub id: Uuid,
    /// Human number, e.g. `C-000123`; searchable with `q`.
    pub number: String,
    pub kind: String,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub legal_name: Option<String>,
    pub industry: Option<String>,
    pub size_band: Option<String>,
    /// In full for admin and finance; masked (`••••••••••••••234X`) for others.
    pub tax_id: Option<String>,
    pub birthday: Option<NaiveDate>,
    pub preferred_language: Option<String>,
    pub preferred_currency: Option<String>,
    pub tags: Vec<String>,
    pub source_channel: Option<String>,
    pub owner_id: Option<Uuid>,
    pub credit_limit: Option<Money>,
    pub payment_terms_days: Option<i32>,
    pub marketing_consent: bool,
    pub marketing_consent_at: Option<DateTime<Utc>>,
    pub attributes: serde_json::Value,
    pub external_refs: Vec<ExternalRef>,
    pub archived: bool,
    pub archived_at: Option<DateTime<Utc>>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CreateCustomerParams {
    /// Create even when the email or phone matches an existing customer.
    pub allow_duplicate: Option<bool>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
pub enum CustomerSort {
    #[default]
    #[serde(rename = "-created_at")]
    CreatedAtDesc,
    #[serde(rename = "created_at")]
    CreatedAt,
    #[serde(rename = "name")]
    Name,
    #[serde(rename = "-name")]
    NameDesc,
}

impl CustomerSort {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CreatedAtDesc => "-created_at",
            Self::CreatedAt => "created_at",
            Self::Name => "name",
            Self::NameDesc => "-name",
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListCustomers {
    /// Case-insensitive substring of the name, number, email, phone, company or tags.
    pub q: Option<String>,
    /// Customers carrying this tag.
    pub tag: Option<String>,
    pub owner_id: Option<Uuid>,
    /// `person` or `company`.
    pub kind: Option<String>,
    pub industry: Option<String>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    /// `false` (default): active customers; `true`: archived ones.
    pub archived: Option<bool>,
    /// `-created_at` (default), `created_at`, `name` or `-name`.
    #[param(inline)]
    pub sort: Option<CustomerSort>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}
