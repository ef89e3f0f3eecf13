use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "invoice_instalments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub invoice_id: Uuid,
    pub row_no: i32,
    pub share_bps: i32,
    /// Days after the issue date.
    pub due_days: i32,
    pub amount: i64,
    /// Set at issue.
    pub due_on: Option<Date>,
}

impl ActiveModelBehavior for ActiveModel {}
