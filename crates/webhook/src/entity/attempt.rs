use sea_orm::entity::prelude::*;

/// One try at a delivery: when, by whom, and what came back. Never the request's
/// headers: they carry the signatures.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_attempts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub delivery_id: Uuid,
    /// 1 for the first try.
    pub attempt: i32,
    pub instance: String,
    pub started_at: DateTimeUtc,
    pub duration_ms: i64,
    pub status_code: Option<i32>,
    pub error_kind: Option<String>,
    pub error: Option<String>,
    /// The start of the receiver's answer, for whoever debugs it.
    pub response_excerpt: Option<String>,
}

impl ActiveModelBehavior for ActiveModel {}
