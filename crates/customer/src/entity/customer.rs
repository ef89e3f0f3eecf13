use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "customers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub number: String,
    pub kind: String,
    pub name: String,
    pub email: Option<String>,
    pub email_normalized: Option<String>,
    pub phone: Option<String>,
    pub phone_normalized: Option<String>,
    pub legal_name: Option<String>,
    pub industry: Option<String>,
    pub size_band: Option<String>,
    /// AES-256-GCM ciphertext (`v1:…`); never the plain value.
    pub tax_id_encrypted: Option<String>,
    pub birthday: Option<Date>,
    pub preferred_language: Option<String>,
    pub preferred_currency: Option<String>,
    pub tags: Json,
    pub source_channel: Option<String>,
    pub owner_id: Option<Uuid>,
    pub credit_limit_amount: Option<i64>,
    pub credit_limit_currency: Option<String>,
    pub payment_terms_days: Option<i32>,
    pub marketing_consent: bool,
    pub marketing_consent_at: Option<DateTimeUtc>,
    pub attributes: Json,
    pub archived: bool,
    pub archived_at: Option<DateTimeUtc>,
    pub search_text: String,
    /// Set when this customer was folded into another by a merge.
    pub merged_into_id: Option<Uuid>,
    /// Set when personal data was erased; the row stays for accounting.
    pub erased_at: Option<DateTimeUtc>,
    /// By spend and order count (`customer_tiers`); `standard` when no rule fits.
    pub tier: String,
    pub tier_since: Option<DateTimeUtc>,
    pub version: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
