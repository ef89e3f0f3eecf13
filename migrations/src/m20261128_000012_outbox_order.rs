//! The outbox without a global lock, events that know their order and customer, and
//! document numbers from sequences.
//!
//! * `events.txid` (PostgreSQL): the writing transaction's id, set by a default so
//!   every insert has it. `events.position` is the delivery order: on PostgreSQL a
//!   sequencer stamps it on rows whose transactions are all settled (below the
//!   snapshot horizon), so a reader following `position` never skips a row that
//!   commits late; on SQLite (one writer, commit order is insert order) it is `seq`.
//! * `events.order_id` / `events.customer_id`: what the event belongs to, for an
//!   order's timeline, per-order delivery ordering and erasure.
//! * `numbers_<kind>` sequences (PostgreSQL) replace the counter row for kinds that
//!   may have gaps, started after the counter's last value so no number repeats.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

/// Number kinds that come from a sequence on PostgreSQL (the kernel's `numbers`
/// names them the same). A migration that adds a kind creates its sequence.
const SEQUENCED_KINDS: &[&str] = &["customer", "purchase_order"];

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        let statements: Vec<String> = match conn.get_database_backend() {
            DatabaseBackend::Postgres => {
                let mut s = vec![
                    // pg_current_xact_id (xid8, with epoch) needs PostgreSQL 13.
                    "ALTER TABLE events ADD COLUMN txid bigint \
                     DEFAULT (pg_current_xact_id()::text::bigint)"
                        .to_owned(),
                    "ALTER TABLE events ADD COLUMN position bigint".to_owned(),
                    "ALTER TABLE events ADD COLUMN order_id uuid".to_owned(),
                    "ALTER TABLE events ADD COLUMN customer_id uuid".to_owned(),
                    // Every event so far has committed: they keep their order.
                    "UPDATE events SET position = seq".to_owned(),
                    "UPDATE events SET customer_id = resource_id::uuid \
                     WHERE resource_type = 'customer'"
                        .to_owned(),
                    "CREATE UNIQUE INDEX events_position ON events (position)".to_owned(),
                    "CREATE INDEX events_unsequenced ON events (txid, seq) \
                     WHERE position IS NULL"
                        .to_owned(),
                    "CREATE INDEX events_order ON events (order_id, seq) \
                     WHERE order_id IS NOT NULL"
                        .to_owned(),
                    "CREATE INDEX events_customer ON events (customer_id, seq) \
                     WHERE customer_id IS NOT NULL"
                        .to_owned(),
                ];
                for kind in SEQUENCED_KINDS {
                    s.push(format!("CREATE SEQUENCE numbers_{kind}"));
                    s.push(format!(
                        "SELECT setval('numbers_{kind}', \
                         COALESCE((SELECT value FROM counters WHERE name = '{kind}'), 0) + 1, \
                         false)"
                    ));
                    s.push(format!("DELETE FROM counters WHERE name = '{kind}'"));
                }
                s
            }
            _ => vec![
                "ALTER TABLE events ADD COLUMN txid INTEGER".to_owned(),
                "ALTER TABLE events ADD COLUMN position INTEGER \
                 GENERATED ALWAYS AS (seq) VIRTUAL"
                    .to_owned(),
                "ALTER TABLE events ADD COLUMN order_id BLOB".to_owned(),
                "ALTER TABLE events ADD COLUMN customer_id BLOB".to_owned(),
                // Uuids are 16-byte blobs here, resource ids their hyphenated text.
                "UPDATE events SET customer_id = unhex(replace(resource_id, '-', '')) \
                 WHERE resource_type = 'customer'"
                    .to_owned(),
                "CREATE UNIQUE INDEX events_position ON events (position)".to_owned(),
                "CREATE INDEX events_order ON events (order_id, seq) \
                 WHERE order_id IS NOT NULL"
                    .to_owned(),
                "CREATE INDEX events_customer ON events (customer_id, seq) \
                 WHERE customer_id IS NOT NULL"
                    .to_owned(),
            ],
        };
        for sql in statements {
            conn.execute_unprepared(&sql).await?;
        }
        // The import mirror of `events` gets the same columns, plain: kept rows carry
        // no transaction id or position (the apply's insert gives them theirs).
        let (bigint, id) = match conn.get_database_backend() {
            DatabaseBackend::Postgres => ("bigint", "uuid"),
            _ => ("INTEGER", "BLOB"),
        };
        for (column, kind) in [
            ("txid", bigint),
            ("position", bigint),
            ("order_id", id),
            ("customer_id", id),
        ] {
            conn.execute_unprepared(&format!(
                "ALTER TABLE import_staged_events ADD COLUMN {column} {kind}"
            ))
            .await?;
        }
        Ok(())
    }
}
