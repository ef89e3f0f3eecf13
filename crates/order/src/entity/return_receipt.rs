use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "return_receipts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub return_id: Uuid,
    pub return_line_no: i32,
    pub quantity: i64,
    pub disposition: String,
    pub warehouse_id: Option<Uuid>,
    pub warehouse_code: Option<String>,
    pub refund_amount: i64,
    pub note: Option<String>,
    pub received_by: String,
    pub created_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
