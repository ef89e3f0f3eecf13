//! An endpoint catching up: since when it sends what it owes one delivery at a
//! time, oldest first (after a recovery, or turned on again with deliveries kept
//! while it was off); NULL when it is not. The rest of the line waits `paused`,
//! so the claim never looks at it. The partial index finds the next in line.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("webhook_endpoints")
                    .add_column(timestamp_with_time_zone_null("catching_up_since"))
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX webhook_deliveries_endpoint_open ON webhook_deliveries \
                 (endpoint_id, event_position) WHERE status IN ('pending', 'paused')",
            )
            .await?;
        Ok(())
    }
}
