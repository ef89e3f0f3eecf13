use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refunds")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// `RF-000001`.
    pub number: String,
    pub status: String,
    pub customer_id: Uuid,
    /// The payment the money goes back from.
    pub payment_id: Uuid,
    pub credit_note_id: Option<Uuid>,
    pub order_id: Option<Uuid>,
    pub currency: String,
    pub amount: i64,
    pub method: String,
    /// Settled outside OrderCRM: recorded as done.
    pub outside: bool,
    pub provider: Option<String>,
    pub reference: Option<String>,
    pub reason: Option<String>,
    pub failure_reason: Option<String>,
    pub requested_by: String,
    pub approved_by: Option<String>,
    pub approved_at: Option<DateTimeUtc>,
    /// The day the money left (succeeded) or came back (failed).
    pub settled_on: Option<Date>,
    pub completed_at: Option<DateTimeUtc>,
    pub version: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
