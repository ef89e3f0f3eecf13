//! Events this domain writes to the outbox.

use ordercrm_kernel::Ctx;
use ordercrm_kernel::events::{self, NewEvent};
use sea_orm::{DatabaseTransaction, DbErr};

use crate::dto::CustomerView;

pub const CREATED: &str = "customer.created";
pub const UPDATED: &str = "customer.updated";
pub const ARCHIVED: &str = "customer.archived";
pub const MERGED: &str = "customer.merged";

/// Payloads never carry the tax id, whoever reads the feed.
pub(crate) async fn record(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    event_type: &'static str,
    customer: &CustomerView,
) -> Result<(), DbErr> {
    let mut data = customer.clone();
    data.tax_id = data.tax_id.map(|_| "redacted".to_owned());
    events::record(
        txn,
        ctx,
        NewEvent {
            event_type,
            resource_type: "customer",
            resource_id: customer.id.to_string(),
            resource_version: customer.version,
            data: &data,
            order_id: None,
            customer_id: Some(customer.id),
        },
    )
    .await
    .map(drop)
}
