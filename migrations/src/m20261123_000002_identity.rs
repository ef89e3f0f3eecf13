//! Users, refresh tokens, API keys and the audit log.

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
                    .table("users")
                    .col(uuid("id").primary_key())
                    .col(string("email"))
                    .col(string_uniq("email_normalized"))
                    .col(string("display_name"))
                    .col(string("role"))
                    .col(boolean("active"))
                    .col(uuid_null("manager_id"))
                    .col(string("password_hash"))
                    .col(timestamp_with_time_zone("password_changed_at"))
                    .col(integer("failed_logins"))
                    .col(timestamp_with_time_zone_null("locked_until"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("users_manager")
                            .from("users", "manager_id")
                            .to("users", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("users_manager_id")
                    .table("users")
                    .col("manager_id")
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("refresh_tokens")
                    .col(uuid("id").primary_key())
                    .col(uuid("family_id"))
                    .col(uuid("user_id"))
                    .col(string_uniq("token_hash"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("used_at"))
                    .col(timestamp_with_time_zone_null("revoked_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("refresh_tokens_user")
                            .from("refresh_tokens", "user_id")
                            .to("users", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("refresh_tokens_family")
                    .table("refresh_tokens")
                    .col("family_id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("refresh_tokens_user")
                    .table("refresh_tokens")
                    .col("user_id")
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("api_keys")
                    .col(uuid("id").primary_key())
                    .col(string("name"))
                    .col(string("kind"))
                    .col(json_binary("scopes"))
                    .col(string("prefix"))
                    .col(string_uniq("secret_hash"))
                    .col(timestamp_with_time_zone_null("expires_at"))
                    .col(timestamp_with_time_zone_null("last_used_at"))
                    .col(timestamp_with_time_zone_null("revoked_at"))
                    .col(uuid_null("created_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("audit_events")
                    .col(big_pk_auto("seq"))
                    .col(uuid_uniq("id"))
                    .col(timestamp_with_time_zone("occurred_at"))
                    .col(string("actor_type"))
                    .col(string_null("actor_id"))
                    .col(string("action"))
                    .col(string("entity_type"))
                    .col(string_null("entity_id"))
                    .col(json_binary_null("changes"))
                    .col(string("outcome"))
                    .col(string_null("ip"))
                    .col(string_null("user_agent"))
                    .col(string_null("request_id"))
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            (
                "audit_events_entity",
                vec!["entity_type", "entity_id", "seq"],
            ),
            ("audit_events_actor", vec!["actor_id", "seq"]),
            ("audit_events_action", vec!["action", "seq"]),
        ] {
            let mut index = Index::create();
            index.name(name).table("audit_events");
            for c in cols {
                index.col(c);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["audit_events", "api_keys", "refresh_tokens", "users"] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
