//! Security, part 1. The idempotency store is rebuilt: a key is claimed inside the
//! request's own transaction now (no "in flight" lease), and every row the old store
//! completed is dropped, since no column said which of them held a token, a key
//! secret or an unmasked tax id (they would have expired within 24 h anyway).
//! Failed sign-ins move from a per-account lock to a count per (account, source).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("idempotency_keys").to_owned())
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("idempotency_keys")
                    .col(string("scope"))
                    .col(string("key"))
                    .col(string("request_hash"))
                    .col(string("outcome"))
                    .col(integer_null("status_code"))
                    .col(json_binary_null("response_headers"))
                    .col(blob_null("response_body"))
                    .col(timestamp_with_time_zone("created_at"))
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
                    .table("sign_in_failures")
                    .col(string("email_normalized"))
                    .col(string("source"))
                    .col(integer("failures"))
                    .col(timestamp_with_time_zone("last_failed_at"))
                    .primary_key(Index::create().col("email_normalized").col("source"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("sign_in_failures_last_failed_at")
                    .table("sign_in_failures")
                    .col("last_failed_at")
                    .to_owned(),
            )
            .await?;

        // One column per statement: SQLite alters one thing at a time.
        for column in ["failed_logins", "locked_until"] {
            manager
                .alter_table(Table::alter().table("users").drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
