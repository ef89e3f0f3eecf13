use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stock_movements")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub product_id: Uuid,
    pub warehouse_id: Uuid,
    pub kind: String,
    pub units: i64,
    pub quantity: i64,
    pub on_hand_after: i64,
    pub reason: Option<String>,
    pub reference: Option<String>,
    pub transfer_id: Option<Uuid>,
    pub reservation_id: Option<Uuid>,
    pub purchase_order_id: Option<Uuid>,
    pub actor: String,
    pub request_id: Option<String>,
    pub created_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
