use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stock_alerts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub product_id: Uuid,
    pub warehouse_id: Uuid,
    pub available_at_open: i64,
    pub reorder_point: i64,
    pub opened_at: DateTimeUtc,
    pub closed_at: Option<DateTimeUtc>,
}

impl ActiveModelBehavior for ActiveModel {}
