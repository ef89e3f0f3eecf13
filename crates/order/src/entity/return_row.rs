use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "returns")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub number: String,
    pub order_id: Uuid,
    pub status: String,
    pub resolution: String,
    pub reason: String,
    /// Why it was approved or rejected, when the decider said.
    pub decision_note: Option<String>,
    pub currency: String,
    /// What is owed back for the units received (shipping included when it is).
    pub refund_due_amount: i64,
    pub shipping_refund_amount: i64,
    pub replacement_order_id: Option<Uuid>,
    pub requested_by: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTimeUtc>,
    pub received_at: Option<DateTimeUtc>,
    pub closed_at: Option<DateTimeUtc>,
    pub version: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
