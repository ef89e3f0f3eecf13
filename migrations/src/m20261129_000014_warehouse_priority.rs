//! Warehouses gain `priority` (0..=1000, lowest serves first; existing ones get the
//! default, 100): where the server picks the warehouse for an order line, it ranks
//! the warehouses that can serve every line by it, then by code.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Same statement on both engines: SQLite takes a CHECK on an added column
        // when the default satisfies it.
        manager
            .get_connection()
            .execute_unprepared(
                "ALTER TABLE warehouses ADD COLUMN priority INTEGER NOT NULL DEFAULT 100 \
                 CHECK (priority BETWEEN 0 AND 1000)",
            )
            .await?;
        Ok(())
    }
}
