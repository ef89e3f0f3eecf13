use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "orders")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub number: String,
    pub status: String,
    pub fulfillment_status: String,
    pub payment_status: String,
    pub channel: String,
    /// Empty when the channel has one source: NOT NULL, so the unique key on
    /// (channel, channel_name, external_id) holds on both engines.
    pub channel_name: String,
    pub external_id: Option<String>,
    /// SHA-256 of the canonical intake body, to tell a resend from a different order.
    pub intake_hash: Option<String>,
    pub customer_id: Uuid,
    pub customer_name: String,
    pub currency: String,
    pub prices_include_tax: bool,
    pub subtotal_amount: i64,
    pub discount_amount: i64,
    pub order_discount_amount: i64,
    pub tax_amount: i64,
    pub shipping_amount: i64,
    pub grand_total_amount: i64,
    pub base_currency: Option<String>,
    pub base_rate: Option<String>,
    pub grand_total_base_amount: Option<i64>,
    pub shipping_address: Option<Json>,
    pub billing_address: Option<Json>,
    pub requested_delivery_on: Option<Date>,
    pub payment_terms: String,
    pub payment_terms_days: Option<i32>,
    pub notes: Option<String>,
    pub tags: Json,
    pub metadata: Json,
    pub review: Option<Json>,
    pub status_reason: Option<String>,
    pub reservation_id: Option<Uuid>,
    pub search_text: String,
    pub created_by: String,
    /// The creator's role (`api_key` for keys): whose discount cap applies.
    pub creator_role: Option<String>,
    /// The sum of the prepayments taken at intake.
    pub prepaid_amount: i64,
    /// What payments applied to its invoices or hold for it: `payment_status`
    /// follows from it.
    pub paid_amount: i64,
    /// What credit notes on its invoices took off what it owes: paid + credited
    /// never exceeds the grand total.
    pub credited_amount: i64,
    /// Whether an invoice (not void) took the shipping fee.
    pub shipping_invoiced: bool,
    pub submitted_at: Option<DateTimeUtc>,
    /// Milestones: first approval, first shipment, all delivered, completed.
    pub approved_at: Option<DateTimeUtc>,
    pub first_shipped_at: Option<DateTimeUtc>,
    pub delivered_at: Option<DateTimeUtc>,
    pub completed_at: Option<DateTimeUtc>,
    /// When the promise watch announced it late (`order.delayed`, once).
    pub delay_announced_at: Option<DateTimeUtc>,
    /// A replacement order: the exchange (return) it replaces goods for.
    pub replaces_return_id: Option<Uuid>,
    pub version: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
