use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "customer_order_facts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub order_id: Uuid,
    pub customer_id: Uuid,
    pub value_amount: i64,
    pub currency: String,
    pub ordered_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
