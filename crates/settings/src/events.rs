//! Events this domain writes to the outbox.

use ordercrm_kernel::Ctx;
use ordercrm_kernel::events::{self, Catalogued, EventType, NewEvent};
use sea_orm::{DatabaseTransaction, DbErr};

use crate::dto::SettingView;

pub const CREATED: EventType<SettingView> =
    EventType::new("setting.created", "A setting was created.");
pub const UPDATED: EventType<SettingView> = EventType::new(
    "setting.updated",
    "A setting's value or description changed.",
);
pub const DELETED: EventType<SettingView> = EventType::new(
    "setting.deleted",
    "A setting was deleted; `data` is the setting as it was.",
);

/// Every event type this domain writes.
pub fn catalogue() -> Vec<Catalogued> {
    vec![CREATED.entry(), UPDATED.entry(), DELETED.entry()]
}

pub(crate) async fn record(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    event_type: &EventType<SettingView>,
    setting: &SettingView,
) -> Result<(), DbErr> {
    let key = (&setting.key, setting.version);
    events::record(
        txn,
        ctx,
        NewEvent::about(event_type, "setting", key, setting),
    )
    .await
    .map(drop)
}
