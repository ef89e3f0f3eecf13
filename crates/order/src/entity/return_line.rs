use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "return_lines")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub return_id: Uuid,
    pub line_no: i32,
    pub order_line_id: Uuid,
    pub order_line_no: i32,
    pub product_id: Uuid,
    pub sku: String,
    pub name: String,
    /// Units the customer sends back.
    pub quantity: i64,
    pub received_quantity: i64,
    pub restocked_quantity: i64,
    pub scrapped_quantity: i64,
    /// What the units received are refunded (refund resolution only).
    pub refund_amount: i64,
    /// An exchange's replacement product when not the same one, and its unit price.
    pub replacement_product_id: Option<Uuid>,
    pub replacement_unit_price: Option<i64>,
    /// A repair's units in shipments back to the customer (not cancelled).
    pub sent_back_quantity: i64,
}

impl ActiveModelBehavior for ActiveModel {}
