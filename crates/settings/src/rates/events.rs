//! Events exchange rates write to the outbox.

use ordercrm_kernel::Ctx;
use ordercrm_kernel::events::{self, Catalogued, EventType, NewEvent};
use sea_orm::{DatabaseTransaction, DbErr};

use super::dto::ExchangeRateView;

pub const CREATED: EventType<ExchangeRateView> = EventType::new(
    "exchange_rate.created",
    "A rate was published for a currency pair and effective date.",
);
pub const DELETED: EventType<ExchangeRateView> = EventType::new(
    "exchange_rate.deleted",
    "A rate was withdrawn; `data` is the rate as it was. What already converted with it keeps its own copy.",
);

pub fn catalogue() -> Vec<Catalogued> {
    vec![CREATED.entry(), DELETED.entry()]
}

/// A rate is never edited: version 1 is its publication, 2 its withdrawal.
pub(crate) async fn record(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    event_type: &EventType<ExchangeRateView>,
    rate: &ExchangeRateView,
) -> Result<(), DbErr> {
    let version = if event_type.name == DELETED.name {
        2
    } else {
        1
    };
    events::record(
        txn,
        ctx,
        NewEvent::about(event_type, "exchange_rate", (rate.id, version), rate),
    )
    .await
    .map(drop)
}
