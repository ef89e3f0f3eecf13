//! An endpoint's health, kept in the database so restarts and other servers see
//! it: every real attempt moves its failure clock (`commands::clock_health`); this
//! sweep announces an endpoint failing for [`FAILING_AFTER`] once per run of
//! failures and turns it off after [`DISABLE_AFTER`]. Both are conditional
//! updates, so servers sweeping at once announce and disable once.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Condition;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QuerySelect,
    TransactionTrait,
};
use uuid::Uuid;

use crate::commands::{FAILED_FOR_DAYS, announce_failing, disable};
use crate::entity::{self as endpoint, COLUMN};

/// Failing this long: `webhook_endpoint.failing`.
pub const FAILING_AFTER: chrono::Duration = chrono::Duration::hours(24);
/// Failing this long: turned off (`webhook_endpoint.disabled`).
pub const DISABLE_AFTER: chrono::Duration = chrono::Duration::days(5);

/// Announce and turn off what is due at `now`. Returns how many endpoints changed.
pub async fn sweep(
    conn: &DatabaseConnection,
    reader: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<usize, DbErr> {
    let announce_before = now - FAILING_AFTER;
    let disable_before = now - DISABLE_AFTER;
    let due: Vec<Uuid> = endpoint::Entity::find()
        .select_only()
        .column(endpoint::Column::Id)
        .filter(COLUMN.enabled.eq(true))
        .filter(COLUMN.failing_since.lte(announce_before))
        .filter(
            Condition::any()
                .add(COLUMN.failing_announced_at.is_null())
                .add(COLUMN.failing_since.lte(disable_before)),
        )
        .into_tuple()
        .all(reader)
        .await?;
    let mut changed = 0;
    for id in due {
        let txn = conn.begin().await?;
        let announced = announce_failing(&txn, id, announce_before, now).await?;
        let disabled = disable(&txn, id, FAILED_FOR_DAYS, Some(disable_before), now).await?;
        txn.commit().await?;
        if announced || disabled {
            changed += 1;
        }
        if announced {
            tracing::warn!(endpoint = %id, "webhook endpoint failing for 24 hours");
        }
        if disabled {
            tracing::warn!(endpoint = %id, "webhook endpoint turned off after 5 days of failures");
        }
    }
    Ok(changed)
}
