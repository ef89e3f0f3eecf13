use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_lines")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub order_id: Uuid,
    pub line_no: i32,
    pub product_id: Uuid,
    pub sku: String,
    pub name: String,
    pub unit: String,
    pub tax_rate_bps: i32,
    pub tracks_inventory: bool,
    pub quantity: i64,
    pub unit_price_amount: i64,
    pub discount_amount: i64,
    /// This line's share of the order discount.
    pub order_discount_share: i64,
    pub tax_amount: i64,
    /// What the customer pays for the line: net of both discounts, tax included.
    pub total_amount: i64,
    pub warehouse_id: Option<Uuid>,
    pub warehouse_code: Option<String>,
    /// Units that left in shipments not cancelled: never above `quantity`.
    pub shipped_quantity: i64,
    /// Units in shipments delivered: never above `shipped_quantity`.
    pub delivered_quantity: i64,
    /// Units that returns not rejected claim: never above `delivered_quantity`
    /// when claimed.
    pub return_claimed_quantity: i64,
    /// Units received back from the customer (repairs aside).
    pub returned_quantity: i64,
    /// Units received back for a refund, and what they were credited: the last
    /// units of a line take what is left of its total.
    pub credited_quantity: i64,
    pub credited_amount: i64,
    /// Units invoices (not void) took, and the money and tax they took with them:
    /// the last units of a line take what is left of its total and tax.
    pub invoiced_quantity: i64,
    pub invoiced_amount: i64,
    pub invoiced_tax_amount: i64,
}

impl ActiveModelBehavior for ActiveModel {}
