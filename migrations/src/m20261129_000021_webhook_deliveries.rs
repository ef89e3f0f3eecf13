//! Webhook deliveries: one row per (event, endpoint) the dispatcher owes, claimed
//! with a lease so several servers share the work and a dead one's work comes back;
//! every attempt's outcome (never its headers: they carry signatures); and the
//! fan-out's cursor over the outbox.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("webhook_deliveries")
                    .col(uuid("id").primary_key())
                    .col(uuid("endpoint_id"))
                    .col(uuid("event_id"))
                    .col(big_integer("event_position"))
                    .col(string("status"))
                    .col(integer("attempts"))
                    .col(timestamp_with_time_zone("next_attempt_at"))
                    .col(timestamp_with_time_zone_null("lease_until"))
                    .col(string_null("leased_by"))
                    .col(integer_null("last_status_code"))
                    .col(string_null("error_kind"))
                    .col(text_null("last_error"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(timestamp_with_time_zone_null("finished_at"))
                    .check(Expr::cust(
                        "status IN ('pending', 'paused', 'succeeded', 'failed')",
                    ))
                    .check(Expr::cust("attempts >= 0 AND attempts <= 100"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("webhook_deliveries_endpoint")
                            .from("webhook_deliveries", "endpoint_id")
                            .to("webhook_endpoints", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("webhook_deliveries_event")
                            .from("webhook_deliveries", "event_id")
                            .to("events", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "webhook_deliveries",
            "webhook_deliveries_once",
            &["endpoint_id", "event_id"],
            true,
        )
        .await?;
        index(
            manager,
            "webhook_deliveries",
            "webhook_deliveries_event",
            &["event_id"],
            false,
        )
        .await?;
        // What the claim looks for (due, pending deliveries, soonest first) and what
        // the purge does (succeeded ones past their keeping).
        for sql in [
            "CREATE INDEX webhook_deliveries_due ON webhook_deliveries \
             (next_attempt_at) WHERE status = 'pending'",
            "CREATE INDEX webhook_deliveries_succeeded ON webhook_deliveries \
             (finished_at) WHERE status = 'succeeded'",
        ] {
            manager.get_connection().execute_unprepared(sql).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table("webhook_attempts")
                    .col(uuid("id").primary_key())
                    .col(uuid("delivery_id"))
                    .col(integer("attempt"))
                    .col(string("instance"))
                    .col(timestamp_with_time_zone("started_at"))
                    .col(big_integer("duration_ms"))
                    .col(integer_null("status_code"))
                    .col(string_null("error_kind"))
                    .col(text_null("error"))
                    .col(text_null("response_excerpt"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("webhook_attempts_delivery")
                            .from("webhook_attempts", "delivery_id")
                            .to("webhook_deliveries", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "webhook_attempts",
            "webhook_attempts_delivery",
            &["delivery_id", "attempt"],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table("webhook_cursors")
                    .col(string("name").primary_key())
                    .col(big_integer("position"))
                    .to_owned(),
            )
            .await?;
        // Events written before webhooks existed were never promised to anyone.
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO webhook_cursors (name, position) \
                 SELECT 'fanout', COALESCE(MAX(position), 0) FROM events",
            )
            .await?;
        Ok(())
    }
}
