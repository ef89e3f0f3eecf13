//! The outbox's feed order without transaction ids: positions go to committed
//! events in insert order (see the kernel's `events::sequence`), so events about one
//! resource keep the order their transactions committed in, and a long transaction
//! elsewhere no longer holds the feed back. `events.txid` goes; the index the
//! sequencer reads is on `seq`. Positions copied from `seq` by the previous
//! migration are renumbered without gaps (rolled-back inserts had left some): safe
//! because nothing reads positions yet (no dispatcher, no pull feed); once something
//! does, positions are never renumbered.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        let statements: &[&str] = match conn.get_database_backend() {
            DatabaseBackend::Postgres => &[
                "DROP INDEX events_unsequenced",
                "ALTER TABLE events DROP COLUMN txid",
                "ALTER TABLE import_staged_events DROP COLUMN txid",
                "CREATE INDEX events_unsequenced ON events (seq) WHERE position IS NULL",
                // Unique positions are renumbered in one statement: checked at its end.
                "ALTER TABLE events DROP CONSTRAINT IF EXISTS events_position",
                "DROP INDEX IF EXISTS events_position",
                "UPDATE events SET position = renumbered.n \
                 FROM (SELECT seq, row_number() OVER (ORDER BY position) AS n \
                       FROM events WHERE position IS NOT NULL) AS renumbered \
                 WHERE events.seq = renumbered.seq",
                "CREATE UNIQUE INDEX events_position ON events (position)",
            ],
            // SQLite's position is seq, which has no gaps there (a rolled-back insert
            // gives its number back).
            _ => &[
                "ALTER TABLE events DROP COLUMN txid",
                "ALTER TABLE import_staged_events DROP COLUMN txid",
            ],
        };
        for sql in statements {
            conn.execute_unprepared(sql).await?;
        }
        Ok(())
    }
}
