//! Webhook endpoints: where events are pushed, which types, and the signing secret
//! sealed with the data key (with the previous one during a rotation's grace).

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
                    .table("webhook_endpoints")
                    .col(uuid("id").primary_key())
                    .col(text("url"))
                    .col(text_null("description"))
                    .col(json_binary("event_types"))
                    .col(string_null("profile"))
                    .col(boolean("enabled"))
                    .col(string_null("disabled_reason"))
                    .col(json_binary("metadata"))
                    .col(text("secret"))
                    .col(text_null("previous_secret"))
                    .col(timestamp_with_time_zone_null("previous_secret_expires_at"))
                    .col(uuid_null("owner_key_id"))
                    .col(uuid_null("created_by"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            ("webhook_endpoints_created", &["created_at", "id"][..]),
            (
                "webhook_endpoints_owner_key",
                &["owner_key_id", "created_at"][..],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table("webhook_endpoints");
            for col in cols {
                index.col(*col);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }
}
