//! Staged imports keep their checked rows in typed mirrors of the tables they
//! write, so that applying an import is one `INSERT … SELECT` per table inside the
//! database, not a round trip of every row through the server (a 100k-row import
//! held SQLite's writer for ~28 s that way). A mirror has the target's columns, in
//! the target's types, after `import_id` and `ord` (the order rows were kept in).
//! Its rows live for one import.
//!
//! A migration that adds a column to a mirrored table adds it to the mirror too
//! (`import_staged_<table>`); the import tests fail until it does.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

/// The tables an import writes (the kernel's `staging::MIRRORED` lists the same).
const MIRRORED: &[&str] = &[
    "customers",
    "customer_external_refs",
    "products",
    "product_external_refs",
    "events",
    "audit_events",
];

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Its payloads were JSON copies of the rows: what the mirrors replace. Rows
        // in it belonged to imports that cannot finish across an upgrade.
        manager
            .drop_table(Table::drop().table("import_staging").to_owned())
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("import_batches")
                    .col(uuid("import_id"))
                    .col(big_integer("batch"))
                    // Rows the batch kept in all mirrors: an apply that copies fewer
                    // (a concurrent erase forgot some) is refused.
                    .col(big_integer("kept"))
                    .col(timestamp_with_time_zone("created_at"))
                    .primary_key(Index::create().col("import_id").col("batch"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("import_batches_created_at")
                    .table("import_batches")
                    .col("created_at")
                    .to_owned(),
            )
            .await?;
        let conn = manager.get_connection();
        for table in MIRRORED {
            let mirror = format!("import_staged_{table}");
            let create = match conn.get_database_backend() {
                // LIKE copies every column's type and NOT NULL, and nothing else: no
                // keys, defaults, identities or checks (the target enforces those when
                // the rows reach it).
                DatabaseBackend::Postgres => format!(
                    "CREATE TABLE \"{mirror}\" (import_id uuid NOT NULL, ord bigint NOT NULL, \
                     LIKE \"{table}\")"
                ),
                // Each column keeps its target's affinity, so a value reads back stored
                // exactly as the target stores it.
                _ => format!(
                    "CREATE TABLE \"{mirror}\" AS SELECT CAST(NULL AS BLOB) AS import_id, \
                     CAST(NULL AS INTEGER) AS ord, * FROM \"{table}\" WHERE 0"
                ),
            };
            conn.execute_unprepared(&create).await?;
            conn.execute_unprepared(&format!(
                "CREATE INDEX \"{mirror}_import\" ON \"{mirror}\" (import_id, ord)"
            ))
            .await?;
        }
        Ok(())
    }
}
