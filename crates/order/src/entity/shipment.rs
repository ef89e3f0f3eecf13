use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "shipments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub order_id: Uuid,
    pub carrier: String,
    pub tracking_number: String,
    pub status: String,
    pub package: Option<Json>,
    pub cancel_reason: Option<String>,
    pub cancelled_at: Option<DateTimeUtc>,
    pub delivered_at: Option<DateTimeUtc>,
    pub signed_by: Option<String>,
    pub proof: Option<Json>,
    pub created_by: String,
    /// A repair's way back: the return whose goods it carries (no stock, no value).
    pub return_id: Option<Uuid>,
    pub version: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
