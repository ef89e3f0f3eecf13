use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "dispatch_notes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub number: String,
    pub order_id: Uuid,
    pub warehouse_id: Uuid,
    pub warehouse_code: String,
    pub status: String,
    pub ship_to: Option<Json>,
    pub requested_delivery_on: Option<Date>,
    /// The queue's key: the requested day, else the approval day.
    pub promised_on: Date,
    pub version: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
