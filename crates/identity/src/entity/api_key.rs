use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    pub kind: String,
    pub scopes: Json,
    /// The first characters of the secret, to recognise a key in a list.
    pub prefix: String,
    #[sea_orm(unique)]
    pub secret_hash: String,
    pub expires_at: Option<DateTimeUtc>,
    pub last_used_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
    pub created_by: Option<Uuid>,
    pub default_owner_id: Option<Uuid>,
    /// The sales channel an e-commerce key is bound to, and the shop within it.
    pub channel: Option<String>,
    pub channel_name: Option<String>,
    /// A logistics key's carrier codes (a JSON list); null: not bound.
    pub carriers: Option<Json>,
    pub created_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
