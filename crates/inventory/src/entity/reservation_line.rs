use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reservation_lines")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub reservation_id: Uuid,
    pub line_no: i32,
    pub product_id: Uuid,
    pub warehouse_id: Uuid,
    pub quantity: i64,
    pub consumed: i64,
    pub released: i64,
}

impl Model {
    /// Still held: neither shipped nor let go.
    pub fn open(&self) -> i64 {
        self.quantity - self.consumed - self.released
    }
}

impl ActiveModelBehavior for ActiveModel {}
