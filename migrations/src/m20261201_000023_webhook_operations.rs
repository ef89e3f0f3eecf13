//! Webhooks in operation: an endpoint's failure clock (kept here, so restarts and
//! other servers see it), per-order ordering and thin payloads as endpoint choices,
//! each delivery's order (what ordering follows), the indexes the delivery log,
//! recovery and retention read by, and the feed's horizon (how far events were
//! pruned; 0: never).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        // Since when every attempt failed (NULL: the last one succeeded, or none yet),
        // and when that run was announced as failing.
        for column in ["failing_since", "failing_announced_at"] {
            manager
                .alter_table(
                    Table::alter()
                        .table("webhook_endpoints")
                        .add_column(timestamp_with_time_zone_null(column))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table("webhook_deliveries")
                    .add_column(uuid_null("order_id"))
                    .to_owned(),
            )
            .await?;
        for sql in [
            "ALTER TABLE webhook_endpoints ADD COLUMN ordered BOOLEAN NOT NULL DEFAULT FALSE"
                .to_owned(),
            "ALTER TABLE webhook_endpoints ADD COLUMN payload VARCHAR(8) NOT NULL DEFAULT 'full' \
             CHECK (payload IN ('full', 'thin'))"
                .to_owned(),
            "UPDATE webhook_deliveries SET order_id = \
             (SELECT e.order_id FROM events e WHERE e.id = webhook_deliveries.event_id)"
                .to_owned(),
            // What an ordered endpoint's next delivery of an order waits for.
            "CREATE INDEX webhook_deliveries_order_open ON webhook_deliveries \
             (endpoint_id, order_id, event_position) \
             WHERE order_id IS NOT NULL AND status IN ('pending', 'paused')"
                .to_owned(),
            "INSERT INTO webhook_cursors (name, position) VALUES ('feed_horizon', 0)".to_owned(),
        ] {
            conn.execute_unprepared(&sql).await?;
        }
        // The delivery log (an endpoint's, newest first) and recovery (since a time).
        index(
            manager,
            "webhook_deliveries",
            "webhook_deliveries_endpoint_created",
            &["endpoint_id", "created_at"],
            false,
        )
        .await?;
        // Retention of attempts, oldest first.
        index(
            manager,
            "webhook_attempts",
            "webhook_attempts_started",
            &["started_at"],
            false,
        )
        .await?;
        // Event retention, oldest first; the feed by type.
        index(
            manager,
            "events",
            "events_created_at",
            &["created_at"],
            false,
        )
        .await?;
        index(
            manager,
            "events",
            "events_type_position",
            &["event_type", "position"],
            false,
        )
        .await?;
        Ok(())
    }
}
