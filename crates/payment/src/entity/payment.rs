use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub number: String,
    pub status: String,
    pub customer_id: Uuid,
    /// The order it was paid for (held for that order's invoices).
    pub order_id: Option<Uuid>,
    pub currency: String,
    pub amount: i64,
    /// The sum of its allocations: never above the amount. The rest is credit.
    pub allocated_amount: i64,
    /// What left it again: refunds (not failed) and settlements outside.
    /// Allocated + refunded never exceeds the amount; the rest is credit.
    pub refunded_amount: i64,
    /// What the bank or card scheme took back when it was reversed.
    pub reversed_amount: i64,
    pub reversed_on: Option<Date>,
    /// Set when reversed: the API's status is then `reversed`.
    pub reversed_at: Option<DateTimeUtc>,
    pub reversal_reason: Option<String>,
    pub method: String,
    pub provider: Option<String>,
    pub reference: Option<String>,
    pub received_on: Date,
    pub notes: Option<String>,
    pub created_by: String,
    pub version: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// What of it is still the customer's credit: not allocated, refunded or reversed.
    pub fn free(&self) -> i64 {
        self.amount - self.allocated_amount - self.refunded_amount - self.reversed_amount
    }
}
