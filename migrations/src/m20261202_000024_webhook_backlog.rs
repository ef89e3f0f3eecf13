//! An endpoint catching up: the newest event position of the line it sends one
//! delivery at a time, oldest first (what it owed after a recovery, or when turned
//! on again with deliveries kept while it was off); NULL when it is not. The line
//! waits `paused`, so the claim never looks at it. Two partial indexes (one per
//! status: SQLite uses a partial index only when the query names its condition)
//! find the front of the line and what is under way.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        for sql in [
            "ALTER TABLE webhook_endpoints ADD COLUMN catching_up_until BIGINT NULL",
            "CREATE INDEX webhook_deliveries_endpoint_paused ON webhook_deliveries \
             (endpoint_id, event_position) WHERE status = 'paused'",
            "CREATE INDEX webhook_deliveries_endpoint_pending ON webhook_deliveries \
             (endpoint_id, event_position) WHERE status = 'pending'",
        ] {
            conn.execute_unprepared(sql).await?;
        }
        Ok(())
    }
}
