//! Edits of orders, each kept: who, when, the change as sent, and what it did to the
//! grand total.

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
                    .table("order_edits")
                    .col(uuid("id").primary_key())
                    .col(uuid("order_id"))
                    .col(big_integer("order_version"))
                    .col(string("actor"))
                    .col(text_null("reason"))
                    .col(json_binary("change"))
                    .col(string("currency"))
                    .col(big_integer("grand_total_before"))
                    .col(big_integer("grand_total_after"))
                    .col(string("status_after"))
                    .col(integer("highest_line_no"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("order_edits_order")
                            .from("order_edits", "order_id")
                            .to("orders", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "order_edits",
            "order_edits_order",
            &["order_id", "order_version"],
            true,
        )
        .await
    }
}
