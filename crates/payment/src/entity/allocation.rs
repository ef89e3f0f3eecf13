use sea_orm::entity::prelude::*;

/// One row of the allocation ledger: added, never changed.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payment_allocations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub payment_id: Uuid,
    pub customer_id: Uuid,
    pub currency: String,
    /// The order the money is for: with an invoice, the invoice's order; without,
    /// money held for the order's invoices to come.
    pub order_id: Option<Uuid>,
    pub invoice_id: Option<Uuid>,
    /// Signed: a hold moved onto an invoice is one negative row and one positive.
    pub amount: i64,
    pub effective_on: Date,
    /// The credit note whose issue or void moved the money.
    pub credit_note_id: Option<Uuid>,
    /// On a row of an invoice in a currency other than its base: the amount at
    /// the payment date's rate less the same amount at the invoice's rate, in the
    /// invoice's base currency. It never touches what the invoice owes.
    pub exchange_difference: Option<i64>,
    pub created_by: String,
    pub created_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
