//! Events this domain writes to the outbox.

use ordercrm_kernel::Ctx;
use ordercrm_kernel::crypto::mask;
use ordercrm_kernel::events::{self, Catalogued, EventType, NewEvent};
use sea_orm::{DatabaseTransaction, DbErr};

use crate::dto::CustomerView;

pub const CREATED: EventType<CustomerView> = EventType::new(
    "customer.created",
    "A customer was created (one request or an import).",
);
pub const UPDATED: EventType<CustomerView> =
    EventType::new("customer.updated", "A customer's profile changed.");
pub const ARCHIVED: EventType<CustomerView> =
    EventType::new("customer.archived", "A customer was archived.");
pub const MERGED: EventType<CustomerView> = EventType::new(
    "customer.merged",
    "A duplicate was merged into this customer (`data`); the duplicate is archived and \
     points here.",
);
pub const ERASED: EventType<CustomerView> = EventType::new(
    "customer.erased",
    "A customer's personal data was erased; `data` is what remains. Earlier events about \
     the customer were redacted.",
);

/// Every event type this domain writes.
pub fn catalogue() -> Vec<Catalogued> {
    vec![
        CREATED.entry(),
        UPDATED.entry(),
        ARCHIVED.entry(),
        MERGED.entry(),
        ERASED.entry(),
    ]
}

/// The event view of a customer: as a full-access reader sees it, the tax id masked
/// whoever made the change.
pub fn view(customer: &CustomerView) -> CustomerView {
    let mut data = customer.clone();
    data.tax_id = data.tax_id.as_deref().map(mask);
    data
}

pub(crate) async fn record(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    event_type: &EventType<CustomerView>,
    customer: &CustomerView,
) -> Result<(), DbErr> {
    let data = view(customer);
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
