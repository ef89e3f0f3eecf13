//! The payments made for an order, as the order shows them: a read-only view of
//! the payment crate's table (which writes it).

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub number: String,
    pub order_id: Option<Uuid>,
    pub amount: i64,
    pub currency: String,
    pub method: String,
    pub provider: Option<String>,
    pub reference: Option<String>,
    pub received_on: Date,
    pub created_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
