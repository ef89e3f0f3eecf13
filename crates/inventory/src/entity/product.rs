use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "products")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub sku: String,
    #[sea_orm(unique)]
    pub sku_normalized: String,
    pub name: String,
    pub description: Option<String>,
    pub category: Option<String>,
    pub unit: String,
    pub barcode: Option<String>,
    pub list_price_amount: i64,
    pub list_price_currency: String,
    pub cost_amount: Option<i64>,
    pub cost_currency: Option<String>,
    pub tax_rate_bps: i32,
    pub warranty_days: Option<i32>,
    pub tracks_inventory: bool,
    pub active: bool,
    pub attributes: Json,
    pub supplier_id: Option<Uuid>,
    pub search_text: String,
    pub version: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
