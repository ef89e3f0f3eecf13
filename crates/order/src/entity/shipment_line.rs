use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "shipment_lines")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub shipment_id: Uuid,
    pub line_no: i32,
    pub order_line_id: Uuid,
    pub order_line_no: i32,
    pub product_id: Uuid,
    pub sku: String,
    pub name: String,
    pub warehouse_id: Uuid,
    pub warehouse_code: String,
    pub quantity: i64,
}

impl ActiveModelBehavior for ActiveModel {}
