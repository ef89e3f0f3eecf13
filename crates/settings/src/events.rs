//! Events this domain writes to the outbox.

use ordercrm_kernel::Ctx;
use ordercrm_kernel::events::{self, NewEvent};
use sea_orm::{DatabaseTransaction, DbErr};

use crate::dto::SettingView;

pub const CREATED: &str = "setting.created";
pub const UPDATED: &str = "setting.updated";
pub const DELETED: &str = "setting.deleted";

pub(crate) async fn record(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    event_type: &'static str,
    setting: &SettingView,
) -> Result<(), DbErr> {
    events::record(
        txn,
        ctx,
        NewEvent {
            event_type,
            resource_type: "setting",
            resource_id: setting.key.clone(),
            resource_version: setting.version,
            data: setting,
            order_id: None,
            customer_id: None,
        },
    )
    .await
    .map(drop)
}
