use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_endpoints")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub url: String,
    pub description: Option<String>,
    /// Exact types and patterns (`order.*`), as checked by `model::check_entry`.
    pub event_types: Json,
    pub profile: Option<String>,
    pub enabled: bool,
    /// Why the server turned it off (a receiver answered 410), if it did.
    pub disabled_reason: Option<String>,
    pub metadata: Json,
    /// The signing secret, sealed with the data key.
    pub secret: String,
    /// The secret before the last rotation, sealed, and until when it still signs.
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<DateTimeUtc>,
    /// The API key that registered it: it receives only what that key may read.
    pub owner_key_id: Option<Uuid>,
    pub created_by: Option<Uuid>,
    /// One order's events one after another (see `dispatch::lease`).
    pub ordered: bool,
    /// `full` (the event's view) or `thin` (the resource's id, type and version).
    pub payload: String,
    /// Since when every attempt failed; `None` once one succeeds.
    pub failing_since: Option<DateTimeUtc>,
    /// When this run of failures was announced (`webhook_endpoint.failing`).
    pub failing_announced_at: Option<DateTimeUtc>,
    /// Catching up: the newest event position of the line it sends one at a time,
    /// oldest first (see `dispatch::backlog`); `None` when it is not.
    pub catching_up_until: Option<i64>,
    pub version: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}

pub mod attempt;
pub mod delivery;
