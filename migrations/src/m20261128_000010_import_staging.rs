//! Where a CSV import keeps the rows it has checked until it applies them all at
//! once: checking happens in short batches that let other writers in, and applying
//! is one short transaction. Rows here live for one import (minutes at most).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("import_staging")
                    .col(uuid("import_id"))
                    .col(big_integer("batch"))
                    .col(json_binary("payload"))
                    .col(timestamp_with_time_zone("created_at"))
                    .primary_key(Index::create().col("import_id").col("batch"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("import_staging_created_at")
                    .table("import_staging")
                    .col("created_at")
                    .to_owned(),
            )
            .await
    }
}
