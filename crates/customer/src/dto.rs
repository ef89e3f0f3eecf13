//! What goes over the wire.

use chrono::{DateTime, NaiveDate, Utc};
use ordercrm_kernel::Money;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use ordercrm_kernel::input::{
    Attributes, Choice, Country, CursorParam, Day, Email, Limit, NonBlank, Phone, Text,
};
pub use ordercrm_kernel::validation::ExternalRef;
use ordercrm_kernel::{Currency, NonNegativeMoney};

use crate::model::{
    AddressKind, CustomerKind, FollowUpStatus, FollowUpStatusFilter, NoteKind, PaymentTermsDays,
    SizeBand, Tags,
};

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
    #[schema(value_type = CustomerKind)]
    pub kind: Choice<CustomerKind>,
    pub name: NonBlank<200>,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    pub legal_name: Option<Text<200>>,
    pub industry: Option<Text<100>>,
    #[schema(value_type = Option<SizeBand>)]
    pub size_band: Option<Choice<SizeBand>>,
    /// Stored encrypted; shown in full to admin and finance, masked to others.
    pub tax_id: Option<Text<50>>,
    /// People only.
    pub birthday: Option<Day>,
    /// A language tag such as `zh-CN`.
    pub preferred_language: Option<Text<35>>,
    #[schema(value_type = Option<Currency>)]
    pub preferred_currency: Option<Choice<Currency>>,
    #[serde(default)]
    pub tags: Tags,
    /// Where the customer came from: `tmall`, `trade_show`, ...
    pub source_channel: Option<Text<50>>,
    /// The responsible sales user; defaults to you when you are in sales.
    pub owner_id: Option<Uuid>,
    pub credit_limit: Option<NonNegativeMoney>,
    /// Days to pay an invoice, 0 to 365.
    pub payment_terms_days: Option<PaymentTermsDays>,
    #[serde(default)]
    pub marketing_consent: bool,
    pub attributes: Option<Attributes>,
    #[serde(default)]
    pub external_refs: Vec<ExternalRef>,
}

/// An order's customer, for integrations that do not know our ids: found by
/// `external_ref` (the customer's id in your system), then by `email`; created from
/// these fields (with `name`) when the caller may write customers.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"external_ref": {"channel": "tmall", "external_id": "buyer-8848"},
    "email": "li.lei@example.cn", "name": "李雷"}))]
pub struct IntakeCustomer {
    pub external_ref: Option<ExternalRef>,
    pub email: Option<Email>,
    /// Required when no customer matches.
    pub name: Option<NonBlank<200>>,
    pub phone: Option<Phone>,
    /// Default `person`.
    #[schema(value_type = Option<CustomerKind>)]
    pub kind: Option<Choice<CustomerKind>>,
}

/// Change a customer: absent fields stay, `null` clears an optional field.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"phone": "+86 21 6555 0100", "tags": ["vip"], "owner_id": null}))]
pub struct UpdateCustomer {
    pub name: Option<NonBlank<200>>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<Email>)]
    pub email: Option<Option<Email>>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<Phone>)]
    pub phone: Option<Option<Phone>>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<Text<200>>)]
    pub legal_name: Option<Option<Text<200>>>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<Text<100>>)]
    pub industry: Option<Option<Text<100>>>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<SizeBand>)]
    pub size_band: Option<Option<Choice<SizeBand>>>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<Text<50>>)]
    pub tax_id: Option<Option<Text<50>>>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<Day>)]
    pub birthday: Option<Option<Day>>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<Text<35>>)]
    pub preferred_language: Option<Option<Text<35>>>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<Currency>)]
    pub preferred_currency: Option<Option<Choice<Currency>>>,
    pub tags: Option<Tags>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub owner_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<NonNegativeMoney>)]
    pub credit_limit: Option<Option<NonNegativeMoney>>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<PaymentTermsDays>)]
    pub payment_terms_days: Option<Option<PaymentTermsDays>>,
    pub marketing_consent: Option<bool>,
    pub attributes: Option<Attributes>,
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
    /// The customer this one was merged into, if any.
    pub merged_into_id: Option<Uuid>,
    /// When personal data was erased, if it was.
    pub erased_at: Option<DateTime<Utc>>,
    /// By recent spend and order count (the `customer_tiers` setting); `standard`
    /// when no rule fits. Moves with orders and, once a day, as orders age out.
    pub tier: String,
    /// When the customer reached its tier (`null`: always `standard`).
    pub tier_since: Option<DateTime<Utc>>,
    /// `null` until the customer's first approved order is counted.
    pub statistics: Option<CustomerStatistics>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a customer's orders add up to, in the base currency: approved orders (also
/// those later completed or held), less cancelled and rejected ones. Kept from the
/// order events by a background consumer, so it follows an order within about a
/// second (`updated_at` says when it last moved).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(example = json!({"lifetime_value": {"amount": 1250000, "currency": "CNY"}, "order_count": 5,
    "average_order_value": {"amount": 250000, "currency": "CNY"}, "first_order_at": "2026-01-05T08:00:00Z",
    "last_order_at": "2026-11-20T10:30:00Z", "updated_at": "2026-11-20T10:30:01Z"}))]
pub struct CustomerStatistics {
    pub lifetime_value: Money,
    pub order_count: i64,
    /// `lifetime_value / order_count`, rounded down to the minor unit.
    pub average_order_value: Money,
    /// When the first and the latest counted order were placed.
    pub first_order_at: Option<DateTime<Utc>>,
    pub last_order_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// Fold `source_id` into this customer.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"source_id": "0193a6f2-7c1e-7d2a-9b8e-2f0c7b1d4e5f"}))]
pub struct MergeCustomers {
    /// The duplicate to fold in; it is archived and points here afterwards.
    pub source_id: Uuid,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CreateCustomerParams {
    /// Create even when the email or phone matches an existing customer.
    pub allow_duplicate: Option<bool>,
}

ordercrm_kernel::string_enum! {
    /// How a customer list is ordered.
    #[derive(Default)]
    pub CustomerSort {
        #[default]
        CreatedAtDesc = "-created_at",
        CreatedAt = "created_at",
        Name = "name",
        NameDesc = "-name",
    }
}

impl CustomerView {
    /// Whether this view, as `actor` gets it, shows a sensitive field unmasked (a tax
    /// id, for roles that may see it): such an answer must not be kept anywhere.
    pub fn reveals_sensitive(&self, actor: &ordercrm_kernel::Actor) -> bool {
        self.tax_id.is_some() && actor.may(ordercrm_kernel::authz::Action::CustomersReadSensitive)
    }
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListCustomers {
    /// Case-insensitive substring of the name, number, email, phone, company or tags.
    pub q: Option<Text<200>>,
    /// Customers carrying this tag.
    pub tag: Option<Text<50>>,
    pub owner_id: Option<Uuid>,
    #[param(inline)]
    pub kind: Option<CustomerKind>,
    pub industry: Option<Text<100>>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    /// `false` (default): active customers; `true`: archived ones.
    pub archived: Option<bool>,
    /// Customers in this tier (`standard`, or a tier of `customer_tiers`).
    pub tier: Option<Text<50>>,
    /// `-created_at` (default), `created_at`, `name` or `-name`.
    #[param(inline)]
    pub sort: Option<CustomerSort>,
    pub limit: Option<Limit>,
    pub cursor: Option<CursorParam>,
}

/// A person at a company customer.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "王芳", "title": "采购经理", "email": "wang.fang@xingchen.example.cn",
    "phone": "+86 139 1234 5678", "is_primary": true}))]
pub struct CreateContact {
    pub name: NonBlank<200>,
    pub title: Option<Text<100>>,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    /// One contact per customer is primary; setting this moves the flag here.
    #[serde(default)]
    pub is_primary: bool,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"title": "采购总监", "is_primary": true}))]
pub struct UpdateContact {
    pub name: Option<NonBlank<200>>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<Text<100>>)]
    pub title: Option<Option<Text<100>>>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<Email>)]
    pub email: Option<Option<Email>>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<Phone>)]
    pub phone: Option<Option<Phone>>,
    pub is_primary: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ContactView {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub name: String,
    pub title: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub is_primary: bool,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "shipping", "recipient": "王芳", "line1": "浦东新区世纪大道100号", "line2": "15楼",
    "city": "上海", "region": "上海市", "postal_code": "200120", "country": "CN", "phone": "+86 21 6555 0199",
    "is_default": true}))]
pub struct CreateAddress {
    #[schema(value_type = AddressKind)]
    pub kind: Choice<AddressKind>,
    pub recipient: Option<Text<200>>,
    pub line1: NonBlank<200>,
    pub line2: Option<Text<200>>,
    pub city: NonBlank<100>,
    pub region: Option<Text<100>>,
    pub postal_code: Option<Text<20>>,
    /// ISO 3166-1 alpha-2, e.g. `CN`.
    pub country: Country,
    pub phone: Option<Phone>,
    /// One default per kind; setting this moves the flag here.
    #[serde(default)]
    pub is_default: bool,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"line2": "16楼", "is_default": true}))]
pub struct UpdateAddress {
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<Text<200>>)]
    pub recipient: Option<Option<Text<200>>>,
    pub line1: Option<NonBlank<200>>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<Text<200>>)]
    pub line2: Option<Option<Text<200>>>,
    pub city: Option<NonBlank<100>>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<Text<100>>)]
    pub region: Option<Option<Text<100>>>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<Text<20>>)]
    pub postal_code: Option<Option<Text<20>>>,
    pub country: Option<Country>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<Phone>)]
    pub phone: Option<Option<Phone>>,
    pub is_default: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AddressView {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub kind: String,
    pub recipient: Option<String>,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub country: String,
    pub phone: Option<String>,
    pub is_default: bool,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A past interaction, for the activity timeline.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "call", "body": "谈了春季订单，下周报价。", "occurred_at": "2026-11-23T09:30:00Z"}))]
pub struct CreateNote {
    #[schema(value_type = NoteKind)]
    pub kind: Choice<NoteKind>,
    pub body: NonBlank<10000>,
    /// When it happened; defaults to now.
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct NoteView {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub kind: String,
    pub body: String,
    pub occurred_at: DateTime<Utc>,
    /// Who wrote it: `user:<id>` or `key:<id>`.
    pub author: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListNotes {
    /// Only this kind.
    #[param(inline)]
    pub kind: Option<NoteKind>,
    pub limit: Option<Limit>,
    pub cursor: Option<CursorParam>,
}

/// A planned contact with a customer.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"title": "发送春季报价", "details": "含批量折扣", "due_at": "2026-11-30T02:00:00Z"}))]
pub struct CreateFollowUp {
    pub title: NonBlank<200>,
    pub details: Option<Text<5000>>,
    pub due_at: DateTime<Utc>,
    /// Defaults to you. Reps assign themselves, managers their team.
    pub assignee_id: Option<Uuid>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"status": "done"}))]
pub struct UpdateFollowUp {
    pub title: Option<NonBlank<200>>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<Text<5000>>)]
    pub details: Option<Option<Text<5000>>>,
    pub due_at: Option<DateTime<Utc>>,
    pub assignee_id: Option<Uuid>,
    #[schema(value_type = Option<FollowUpStatus>)]
    pub status: Option<Choice<FollowUpStatus>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FollowUpView {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub title: String,
    pub details: Option<String>,
    pub due_at: DateTime<Utc>,
    pub assignee_id: Uuid,
    pub status: String,
    /// Open and past due, as of this response (computed, never stored).
    pub overdue: bool,
    pub closed_at: Option<DateTime<Utc>>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListFollowUps {
    /// `me`, or a user id.
    #[param(
        pattern = "^(me|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-fA-F]{32})$"
    )]
    pub assignee: Option<String>,
    /// `open` (default), `done`, `cancelled` or `all`.
    #[param(inline)]
    pub status: Option<FollowUpStatusFilter>,
    pub customer_id: Option<Uuid>,
    pub due_before: Option<DateTime<Utc>>,
    pub due_after: Option<DateTime<Utc>>,
    pub limit: Option<Limit>,
    pub cursor: Option<CursorParam>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListBirthdays {
    /// Birthdays from today through this many days ahead (0..=366, default 7).
    #[param(minimum = 0, maximum = 366)]
    pub within_days: Option<u32>,
    pub limit: Option<Limit>,
    pub cursor: Option<CursorParam>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct BirthdayView {
    pub customer_id: Uuid,
    pub name: String,
    pub birthday: NaiveDate,
    /// The coming date of the birthday.
    pub next_birthday: NaiveDate,
    pub days_until: u32,
    pub owner_id: Option<Uuid>,
}

ordercrm_kernel::versioned!(CustomerView, ContactView, AddressView, FollowUpView);
