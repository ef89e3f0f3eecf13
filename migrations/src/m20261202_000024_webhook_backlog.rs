//! An endpoint catching up: the newest event position of the backlog it sends one
//! at a time, oldest first (after a recovery, or turned on again with deliveries
//! kept while it was off); NULL when it is not catching up. The partial index is
//! what each claim asks while it is: is an earlier delivery of this endpoint
//! still owed?

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        for sql in [
            "ALTER TABLE webhook_endpoints ADD COLUMN backlog_until BIGINT NULL",
            "CREATE INDEX webhook_deliveries_endpoint_open ON webhook_deliveries \
             (endpoint_id, event_position) WHERE status IN ('pending', 'paused')",
        ] {
            conn.execute_unprepared(sql).await?;
        }
        Ok(())
    }
}
