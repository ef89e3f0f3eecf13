use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stock_levels")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub product_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub warehouse_id: Uuid,
    pub on_hand: i64,
    pub reserved: i64,
    pub reorder_point: i64,
    pub reorder_quantity: i64,
    pub safety_stock: i64,
    pub low_stock: bool,
    pub counted_at: Option<DateTimeUtc>,
    pub version: i64,
    pub updated_at: DateTimeUtc,
}

impl Model {
    pub fn available(&self) -> i64 {
        self.on_hand - self.reserved
    }
}

impl ActiveModelBehavior for ActiveModel {}
