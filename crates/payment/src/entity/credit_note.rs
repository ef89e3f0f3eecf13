use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "credit_notes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// `CN-000001`, gap-free, given at issue.
    pub number: String,
    pub status: String,
    pub customer_id: Uuid,
    pub invoice_id: Uuid,
    pub order_id: Option<Uuid>,
    /// The return whose refund due it credits.
    pub return_id: Option<Uuid>,
    pub currency: String,
    pub amount: i64,
    /// What it took off the invoice's outstanding.
    pub applied_amount: i64,
    /// Released from the invoice's payments and paid back.
    pub refund_amount: i64,
    /// Released and kept as the customer's credit.
    pub credit_amount: i64,
    /// Released and settled outside OrderCRM.
    pub outside_amount: i64,
    pub reason: String,
    pub effective_on: Date,
    pub created_by: String,
    pub void_reason: Option<String>,
    pub voided_by: Option<String>,
    pub voided_on: Option<Date>,
    pub voided_at: Option<DateTimeUtc>,
    pub version: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
