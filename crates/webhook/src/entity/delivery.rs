use sea_orm::entity::prelude::*;

/// What the dispatcher owes one endpoint for one event.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub endpoint_id: Uuid,
    pub event_id: Uuid,
    pub event_position: i64,
    /// The order the event belongs to: an ordered endpoint gets one order's
    /// deliveries one after another.
    pub order_id: Option<Uuid>,
    /// `pending`, `succeeded` or `failed` (see `dispatch::Status`).
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    /// While set and in the future, the instance in `leased_by` is sending it.
    pub lease_until: Option<DateTimeUtc>,
    pub leased_by: Option<String>,
    pub last_status_code: Option<i32>,
    pub error_kind: Option<String>,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
}

impl ActiveModelBehavior for ActiveModel {}
