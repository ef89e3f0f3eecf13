//! The platform tables: the event outbox, the idempotency store, settings.

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
                    .table("events")
                    .col(big_pk_auto("seq"))
                    .col(uuid_uniq("id"))
                    .col(string("event_type"))
                    .col(string("resource_type"))
                    .col(string("resource_id"))
                    .col(big_integer("resource_version"))
                    .col(json_binary("payload"))
                    .col(string("actor"))
                    .col(string_null("request_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("events_resource")
                    .table("events")
                    .col("resource_type")
                    .col("resource_id")
                    .col("seq")
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("idempotency_keys")
                    .col(string("scope"))
                    .col(string("key"))
                    .col(string("request_hash"))
                    .col(string("state"))
                    .col(integer_null("status_code"))
                    .col(json_binary_null("response_headers"))
                    .col(blob_null("response_body"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("locked_until"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .primary_key(Index::create().col("scope").col("key"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idempotency_keys_expires_at")
                    .table("idempotency_keys")
                    .col("expires_at")
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("settings")
                    .col(string("key").primary_key())
                    .col(json_binary("value"))
                    .col(text_null("description"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("settings_updated_at")
                    .table("settings")
                    .col("updated_at")
                    .col("key")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["settings", "idempotency_keys", "events"] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
