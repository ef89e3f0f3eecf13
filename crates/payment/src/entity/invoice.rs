use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "invoices")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Assigned at issue, gap-free.
    pub number: Option<String>,
    pub status: String,
    pub customer_id: Uuid,
    pub customer_name: String,
    pub order_id: Option<Uuid>,
    pub currency: String,
    /// The lines' net (after discounts, before tax).
    pub subtotal_amount: i64,
    pub tax_amount: i64,
    pub shipping_amount: i64,
    pub total_amount: i64,
    /// What allocations applied to it: never above the total.
    pub paid_amount: i64,
    /// What credit notes (not void) took off it: paid + credited never exceeds the
    /// total, and what is left is outstanding.
    pub credited_amount: i64,
    pub payment_terms: String,
    pub payment_terms_days: Option<i32>,
    pub issued_on: Option<Date>,
    pub due_on: Option<Date>,
    /// The due date of the first instalment not paid in full; null when nothing
    /// is owed (or a draft).
    pub next_due_on: Option<Date>,
    /// The instalments were asked for (each due its own days after issue); else
    /// the one row is due by the payment terms.
    pub scheduled: bool,
    pub base_currency: Option<String>,
    pub base_rate: Option<String>,
    pub total_base_amount: Option<i64>,
    pub notes: Option<String>,
    pub status_reason: Option<String>,
    pub created_by: String,
    pub issued_by: Option<String>,
    pub issued_at: Option<DateTimeUtc>,
    /// When it was voided or marked uncollectible.
    pub closed_at: Option<DateTimeUtc>,
    /// A draft an order's transition asked for, waiting for the issuer.
    pub issue_requested_at: Option<DateTimeUtc>,
    /// The day the overdue sweep last looked at it.
    pub dunned_on: Option<Date>,
    /// What was still owed when it was marked uncollectible.
    pub written_off_amount: Option<i64>,
    pub version: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// What payments and credit notes settled of it.
    pub fn settled(&self) -> i64 {
        self.paid_amount.saturating_add(self.credited_amount)
    }

    /// What is still owed on it: the total less what was paid and credited.
    pub fn owed(&self) -> i64 {
        self.total_amount.saturating_sub(self.settled()).max(0)
    }
}
