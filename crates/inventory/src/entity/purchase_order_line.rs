use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "purchase_order_lines")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub purchase_order_id: Uuid,
    pub line_no: i32,
    pub product_id: Uuid,
    pub quantity: i64,
    pub received_quantity: i64,
    pub unit_cost_amount: i64,
}

impl ActiveModelBehavior for ActiveModel {}
