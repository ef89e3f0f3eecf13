use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_edits")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub order_id: Uuid,
    pub order_version: i64,
    pub actor: String,
    pub reason: Option<String>,
    pub change: Json,
    pub currency: String,
    pub grand_total_before: i64,
    pub grand_total_after: i64,
    pub status_after: String,
    /// The highest line number the order had after this edit.
    pub highest_line_no: i32,
    pub created_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
