//! What goes over the wire.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use ordercrm_customer::dto::IntakeCustomer;
use ordercrm_customer::model::Tags;
use ordercrm_kernel::input::{At, Choice, Country, Day, Int, NonBlank, Phone, Text};
use ordercrm_kernel::money::{MoneyIn, MoneyUpTo};
use ordercrm_kernel::{Currency, FieldError, Money, NonNegativeMoney};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::model::{
    self, Channel, FulfillmentStatus, OrderAction, OrderStatus, PaymentMethod, PaymentStatus,
    PaymentTerms, VerdictKind,
};

/// Quantity of one line: 1 to 10⁹.
pub type Quantity = Int<1, { model::MAX_QUANTITY }>;

/// A price, discount, fee or payment of an order: 0 to 10¹² minor units.
pub type Amount = MoneyUpTo<{ model::MAX_AMOUNT }>;

/// An amount of an order's that is more than nothing (a prepayment).
pub type PositiveAmount = MoneyIn<1, { model::MAX_AMOUNT }>;

/// A new order: a draft, or reviewed at once with `"submit": true`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "customer_id": "01937c4e-0000-7000-8000-000000000001",
    "channel": "web", "channel_name": "shop", "external_id": "WEB-10001",
    "currency": "CNY",
    "lines": [{"sku": "TEA-LJ-250", "quantity": 2}],
    "shipping_fee": {"amount": 1000, "currency": "CNY"},
    "shipping_address": {"recipient": "Li Lei", "line1": "1 Nanjing Road", "city": "Shanghai", "country": "CN"},
    "submit": true
}))]
pub struct CreateOrder {
    /// Whose order; or `customer`, for integrations that do not know our ids.
    pub customer_id: Option<Uuid>,
    /// Found by reference or email, or created (see `IntakeCustomer`): one of this
    /// and `customer_id`.
    pub customer: Option<IntakeCustomer>,
    /// Default `manual`.
    #[schema(value_type = Option<Channel>)]
    pub channel: Option<Choice<Channel>>,
    /// The shop or marketplace within the channel (`tmall`); default empty.
    pub channel_name: Option<Text<50>>,
    /// The order's id in the channel. A resend with the same channel, channel name
    /// and external id returns the order it made (200) when the body is the same.
    pub external_id: Option<Text<100>>,
    pub currency: Currency,
    /// 1 to 200 lines.
    #[schema(min_items = 1, max_items = 200)]
    pub lines: Vec<CreateOrderLine>,
    /// Off the whole order, shared over the lines in proportion to their nets.
    pub order_discount: Option<Amount>,
    pub shipping_fee: Option<Amount>,
    pub shipping_address: Option<AddressInput>,
    pub billing_address: Option<AddressInput>,
    pub requested_delivery_on: Option<Day>,
    /// Default: the customer's terms (`net` with their days when they have them,
    /// else `prepaid`).
    #[schema(value_type = Option<PaymentTerms>)]
    pub payment_terms: Option<Choice<PaymentTerms>>,
    /// Days for `net` and `eom` (required with them, refused with the others).
    pub payment_terms_days: Option<Int<0, 365>>,
    pub notes: Option<Text<2000>>,
    pub tags: Option<Tags>,
    pub metadata: Option<Metadata>,
    /// Already paid (marketplaces, web shops): recorded on the order as a
    /// prepayment, once per provider and reference.
    pub payment: Option<PrepaymentInput>,
    /// Refuse the order (409) unless the server's grand total is this.
    pub expected_grand_total: Option<NonNegativeMoney>,
    /// Review now: the answer is the approved, held or rejected order.
    #[serde(default)]
    pub submit: bool,
}

/// A product by `product_id` or `sku` (one of them), how many, and optionally the
/// price (default: the list price, when its currency is the order's) and warehouse
/// (default: chosen by the server).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrderLine {
    pub product_id: Option<Uuid>,
    pub sku: Option<NonBlank<64>>,
    pub quantity: Quantity,
    pub unit_price: Option<Amount>,
    pub discount: Option<Amount>,
    pub warehouse_code: Option<NonBlank<32>>,
}

/// An address as the order keeps it (a copy: later edits of the customer's
/// addresses do not change orders).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressInput {
    pub recipient: Option<Text<200>>,
    pub line1: NonBlank<200>,
    pub line2: Option<Text<200>>,
    pub city: NonBlank<100>,
    pub region: Option<Text<100>>,
    pub postal_code: Option<Text<20>>,
    /// ISO 3166-1 alpha-2, e.g. `CN`.
    pub country: Country,
    pub phone: Option<Phone>,
}

/// The stored copy of an address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Address {
    pub recipient: Option<String>,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub country: String,
    pub phone: Option<String>,
}

impl AddressInput {
    pub fn check(self, errors: &mut Vec<FieldError>, field: &str) -> Address {
        let f = |name: &str| format!("{field}.{name}");
        Address {
            recipient: Text::check(self.recipient, errors, &f("recipient")),
            line1: self.line1.check(errors, &f("line1")),
            line2: Text::check(self.line2, errors, &f("line2")),
            city: self.city.check(errors, &f("city")),
            region: Text::check(self.region, errors, &f("region")),
            postal_code: Text::check(self.postal_code, errors, &f("postal_code")),
            country: self.country.check(errors, &f("country")),
            phone: Phone::check(self.phone, errors, &f("phone")),
        }
    }
}

/// A small string map for integrators: up to 50 keys of 1 to 40 characters, values
/// up to 500.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Metadata(pub BTreeMap<String, String>);

impl Metadata {
    pub const MAX_KEYS: usize = 50;

    pub fn check(self, errors: &mut Vec<FieldError>, field: &str) -> BTreeMap<String, String> {
        if self.0.len() > Self::MAX_KEYS {
            errors.push(FieldError::new(
                field,
                "length",
                format!("at most {} keys", Self::MAX_KEYS),
            ));
        }
        for (k, v) in &self.0 {
            let key_ok = (1..=40).contains(&k.chars().count()) && !k.contains('\0');
            if !key_ok {
                errors.push(FieldError::new(
                    format!("{field}.{k}"),
                    "invalid_key",
                    "keys are 1 to 40 characters",
                ));
            }
            if v.chars().count() > 500 || v.contains('\0') {
                errors.push(FieldError::new(
                    format!("{field}.{k}"),
                    "length",
                    "values are at most 500 characters",
                ));
            }
        }
        self.0
    }
}

impl utoipa::PartialSchema for Metadata {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property_names(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .max_length(Some(40))
                    .pattern(Some(ordercrm_kernel::input::TEXT_PATTERN)),
            ))
            .additional_properties(Some(AdditionalProperties::RefOr(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .max_length(Some(500))
                    .pattern(Some(ordercrm_kernel::input::TEXT_PATTERN))
                    .into(),
            )))
            .max_properties(Some(Self::MAX_KEYS))
            .description(Some(
                "Integrators' own keys: up to 50, each 1 to 40 characters, values up to 500.",
            ))
            .into()
    }
}

impl ToSchema for Metadata {}

/// A payment made before the order reached us.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"amount": {"amount": 5518, "currency": "CNY"}, "method": "online",
    "provider": "alipay", "reference": "2026112922001", "paid_at": "2026-11-23T07:55:00Z"}))]
pub struct PrepaymentInput {
    /// More than 0, at most the grand total, in the order's currency.
    pub amount: PositiveAmount,
    #[schema(value_type = PaymentMethod)]
    pub method: Choice<PaymentMethod>,
    /// Who took the money: `alipay`, `wechat_pay`, `stripe`, the marketplace.
    pub provider: NonBlank<50>,
    /// The provider's id of the payment: unique per provider.
    pub reference: NonBlank<100>,
    /// When it was paid; not in the future.
    pub paid_at: At,
}

/// A payment made for the order: at intake, or against the order since
/// (`/v1/payments/{id}` has its allocations).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PrepaymentView {
    pub id: Uuid,
    pub number: String,
    pub amount: Money,
    /// What of it is on this order: held for it or applied to its invoices. The
    /// rest is the customer's credit or paid their other invoices (0 once an
    /// ended order gave its money back).
    pub applied: Money,
    pub method: PaymentMethod,
    pub provider: Option<String>,
    pub reference: Option<String>,
    pub received_on: NaiveDate,
}

/// Why, for reject: optional.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "Customer unreachable"}))]
pub struct ActionReason {
    pub reason: Option<Text<500>>,
}

/// Why, for hold, approve (an override) and cancel: required.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "Customer asked to wait"}))]
pub struct RequiredReason {
    pub reason: NonBlank<500>,
}

/// One line as the order keeps it: what was ordered, at what price, from where.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct OrderLineView {
    pub line_no: i32,
    pub product_id: Uuid,
    pub sku: String,
    pub name: String,
    pub unit: String,
    pub quantity: i64,
    pub unit_price: Money,
    pub discount: Money,
    /// This line's part of the order discount.
    pub order_discount_share: Money,
    /// 1300 = 13 %.
    pub tax_rate_bps: i32,
    pub tax: Money,
    /// Net of both discounts, tax included.
    pub total: Money,
    /// Where it ships from; null for products that track no inventory (those
    /// lines are not shipped and do not count towards `fulfillment_status`).
    pub warehouse_code: Option<String>,
    pub warehouse_id: Option<Uuid>,
    /// Units in shipments not cancelled.
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    pub shipped_quantity: i64,
    /// Units in shipments delivered.
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    pub delivered_quantity: i64,
    /// Units received back in returns (a repair's goods, which go back to the
    /// customer, are not counted).
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    pub returned_quantity: i64,
}

/// When an order reached each step: received (taken), first approved, first
/// shipped, fully delivered, completed. Null until it gets there.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Milestones {
    pub received_at: DateTime<Utc>,
    pub approved_at: Option<DateTime<Utc>>,
    pub first_shipped_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// One rule's finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Verdict {
    /// `stock`, `credit`, `price`, `amount`, `customer`.
    pub rule: String,
    pub verdict: VerdictKind,
    /// `ok`, or why: `insufficient_stock`, `credit_limit_exceeded`, `price_review`,
    /// `manual_approval`, `customer_archived`, `customer_erased`.
    pub code: String,
    pub message: String,
    /// What the rule looked at (per line for stock: requested and available).
    pub inputs: Value,
}

/// The review that ran at submit or release: each rule's verdict, and the outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Review {
    pub outcome: OrderStatus,
    pub ran_at: DateTime<Utc>,
    pub verdicts: Vec<Verdict>,
}

/// Whose order: the customer as it was named at intake.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct OrderCustomer {
    pub id: Uuid,
    pub name: String,
}

/// An order as every reader sees it; events carry this.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct OrderData {
    pub id: Uuid,
    /// `SO-000123`, from the `order_number_prefix` setting.
    pub number: String,
    pub status: OrderStatus,
    pub fulfillment_status: FulfillmentStatus,
    pub payment_status: PaymentStatus,
    pub channel: Channel,
    pub channel_name: String,
    pub external_id: Option<String>,
    pub customer: OrderCustomer,
    pub currency: Currency,
    pub lines: Vec<OrderLineView>,
    /// Σ quantity × unit price.
    pub subtotal: Money,
    /// Line discounts and the order discount.
    pub discount_total: Money,
    pub order_discount: Money,
    pub tax_total: Money,
    pub shipping_fee: Money,
    pub grand_total: Money,
    /// What the order arrived with as paid (its intake prepayment).
    pub prepaid: Money,
    /// What payments applied to its invoices or hold for it: `payment_status`
    /// follows from it (`paid` once it covers the grand total).
    pub paid: Money,
    /// What credit notes on its invoices took off what it owes (a return's
    /// refund, a price adjusted after the fact): with `paid`, it settles the grand
    /// total.
    pub credited: Money,
    /// The payments made for the order (`order_id`) or that paid its invoices,
    /// oldest first: shown to those who read payments and to the order's channel;
    /// empty for others and in events (payments have their own).
    pub prepayments: Vec<PrepaymentView>,
    /// Whether unit prices contain tax (the `prices_include_tax` setting at intake).
    pub prices_include_tax: bool,
    /// The grand total in the base currency at the rate in force at submission.
    pub grand_total_base: Option<Money>,
    /// The rate used for `grand_total_base`, exact decimal text.
    pub base_rate: Option<String>,
    pub shipping_address: Option<Address>,
    pub billing_address: Option<Address>,
    pub requested_delivery_on: Option<NaiveDate>,
    pub payment_terms: PaymentTerms,
    pub payment_terms_days: Option<i32>,
    pub notes: Option<String>,
    pub tags: Vec<String>,
    pub metadata: BTreeMap<String, String>,
    /// The last review; null for a draft.
    pub review: Option<Review>,
    /// Why it was held, approved over a hold, rejected or cancelled by a person.
    pub status_reason: Option<String>,
    /// The stock held for it (`/v1/inventory/reservations/{id}`).
    pub reservation_id: Option<Uuid>,
    /// A replacement order: the exchange (`/v1/returns/{id}`) it replaces goods
    /// for. The price rule does not apply to it.
    pub replaces_return_id: Option<Uuid>,
    pub submitted_at: Option<DateTime<Utc>>,
    /// When things happened to it, for cycle times.
    pub milestones: Milestones,
    /// Also the `ETag`.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An order, with what this caller may do to it next.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct OrderView {
    #[serde(flatten)]
    pub order: OrderData,
    /// Late: the requested day has passed (UTC) while it is approved or on hold and
    /// something that ships has not left. As of this answer (not part of the ETag
    /// or the events; `order.delayed` announces it once).
    pub delayed: bool,
    /// The actions this caller may take now: exactly those the server accepts.
    pub allowed_actions: Vec<OrderAction>,
}

impl ordercrm_kernel::version::Versioned for OrderView {
    fn version(&self) -> i64 {
        self.order.version
    }
}

/// A line's number on its order: 1 to 10,000.
pub type LineNo = Int<1, 10_000>;

/// A change to an order that has not shipped in full: lines added, removed,
/// re-quantified or re-priced; addresses, the requested day, payment terms, the
/// order discount and the shipping fee. What is not named stays.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "change_lines": [{"line_no": 1, "quantity": 3}],
    "requested_delivery_on": "2026-12-20",
    "reason": "the customer called"
}))]
pub struct OrderEdit {
    /// New lines, numbered after the last one (a product by `product_id` or `sku`).
    #[serde(default)]
    #[schema(max_items = 200)]
    pub add_lines: Vec<CreateOrderLine>,
    /// Lines to re-quantify or re-price, by number. A line that shipped some keeps
    /// its price and cannot go below what shipped.
    #[serde(default)]
    #[schema(max_items = 200)]
    pub change_lines: Vec<LineChange>,
    /// Lines to remove, by number: only lines no shipment ever took.
    #[serde(default)]
    #[schema(max_items = 200)]
    pub remove_lines: Vec<LineNo>,
    /// `null` removes it.
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<AddressInput>)]
    pub shipping_address: Option<Option<AddressInput>>,
    /// `null` removes it.
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<AddressInput>)]
    pub billing_address: Option<Option<AddressInput>>,
    /// `null` removes it. A new day is a new promise: the promise watch may announce
    /// the order late again.
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<Day>)]
    pub requested_delivery_on: Option<Option<Day>>,
    #[schema(value_type = Option<PaymentTerms>)]
    pub payment_terms: Option<Choice<PaymentTerms>>,
    /// Days for `net` and `eom` (required when switching to them).
    pub payment_terms_days: Option<Int<0, 365>>,
    pub order_discount: Option<Amount>,
    pub shipping_fee: Option<Amount>,
    /// Why, for the edit's record.
    pub reason: Option<Text<500>>,
}

/// A line re-quantified and/or re-priced.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineChange {
    pub line_no: LineNo,
    pub quantity: Option<Quantity>,
    pub unit_price: Option<Amount>,
    pub discount: Option<Amount>,
}

/// What an edit does to the stock of one product in one warehouse.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct StockImpact {
    pub product_id: Uuid,
    pub sku: String,
    pub warehouse_id: Uuid,
    pub warehouse_code: String,
    /// Units the order needs held here before and after the edit (ordered, not
    /// yet shipped).
    pub needed_before: i64,
    pub needed_after: i64,
    /// What the order's reservation gains (positive) or lets go of (negative) here:
    /// 0 when the order holds no stock (a draft, or held for want of it; the review
    /// reserves when it is submitted or released).
    pub reserve_change: i64,
    /// Available here now (on hand less reserved).
    pub available: i64,
    /// Whether the change can be held now.
    pub sufficient: bool,
}

/// What an edit would do, changing nothing: the order as it would be, the money,
/// the stock and the review.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EditPreview {
    /// The order as it would be (its version as the edit would leave it).
    pub order: OrderView,
    pub grand_total_before: Money,
    pub grand_total_after: Money,
    /// After less before: negative when the order gets cheaper.
    pub grand_total_change: Money,
    pub stock: Vec<StockImpact>,
    /// Whether the edit can be applied now: `false` when some stock is short (an
    /// apply would be 409 `/problems/insufficient-stock`).
    pub applicable: bool,
    /// The review an approved order would get: its `outcome` `on_hold` means the
    /// edit puts it on hold (the credit verdict says what it does to the customer's
    /// credit). `null` for drafts and held orders, reviewed when submitted or released.
    pub review: Option<Review>,
}

/// An edit as it was applied: who, when, what and what it did to the money.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct OrderEditView {
    pub id: Uuid,
    pub order_id: Uuid,
    /// The order's version the edit made.
    pub order_version: i64,
    pub actor: String,
    pub reason: Option<String>,
    /// The change as sent.
    #[schema(value_type = Object)]
    pub change: Value,
    pub grand_total_before: Money,
    pub grand_total_after: Money,
    pub grand_total_change: Money,
    /// The order's status after the edit (`on_hold` when it failed the review again).
    pub status_after: OrderStatus,
    pub created_at: DateTime<Utc>,
}

/// The edited order and the record of the edit.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EditApplied {
    pub order: OrderView,
    pub edit: OrderEditView,
}

impl ordercrm_kernel::version::Versioned for EditApplied {
    fn version(&self) -> i64 {
        self.order.order.version
    }
}
