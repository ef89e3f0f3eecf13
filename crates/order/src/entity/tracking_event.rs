use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tracking_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub shipment_id: Uuid,
    pub carrier: String,
    pub tracking_number: String,
    pub provider_event_id: Option<String>,
    /// SHA-256 of carrier, number, time, status and place: the event's identity.
    #[sea_orm(unique)]
    pub fingerprint: String,
    pub status: String,
    pub occurred_at: DateTimeUtc,
    pub location: Option<String>,
    pub message: Option<String>,
    /// `carrier` (reported) or `sign_off` (recorded by a person or key).
    pub source: String,
    pub recorded_by: String,
    pub recorded_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
