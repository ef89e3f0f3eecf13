use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "exchange_rates")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub from_currency: String,
    pub to_currency: String,
    /// The canonical decimal text of [`ordercrm_kernel::rate::Rate`].
    pub rate: String,
    pub effective_on: Date,
    pub created_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
