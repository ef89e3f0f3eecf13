use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "invoice_lines")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub invoice_id: Uuid,
    pub line_no: i32,
    pub order_line_id: Option<Uuid>,
    pub order_line_no: Option<i32>,
    pub product_id: Option<Uuid>,
    pub sku: Option<String>,
    pub name: String,
    pub quantity: i64,
    pub unit_price_amount: i64,
    /// Both discounts (the line's and its share of the order's) for these units.
    pub discount_amount: i64,
    pub tax_rate_bps: i32,
    pub net_amount: i64,
    pub tax_amount: i64,
    pub total_amount: i64,
}

impl ActiveModelBehavior for ActiveModel {}
