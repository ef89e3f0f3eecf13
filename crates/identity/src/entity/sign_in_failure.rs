use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sign_in_failures")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub email_normalized: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub source: String,
    pub failures: i32,
    pub last_failed_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
