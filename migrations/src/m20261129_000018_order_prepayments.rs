//! Orders learn who took them (the role, for discount caps) and what was paid at
//! intake: prepayments from marketplaces and web shops, unique per provider and
//! reference so a gateway's resend is recorded once.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        for statement in [
            "ALTER TABLE orders ADD COLUMN creator_role VARCHAR(20)",
            "ALTER TABLE orders ADD COLUMN prepaid_amount BIGINT NOT NULL DEFAULT 0 \
             CHECK (prepaid_amount >= 0)",
        ] {
            manager
                .get_connection()
                .execute_unprepared(statement)
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table("order_prepayments")
                    .col(uuid("id").primary_key())
                    .col(uuid("order_id"))
                    .col(big_integer("amount"))
                    .col(string_len("currency", 3))
                    .col(string("method"))
                    .col(string("provider"))
                    .col(string("reference"))
                    .col(timestamp_with_time_zone("paid_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .check(Expr::cust("amount > 0"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("order_prepayments_order")
                            .from("order_prepayments", "order_id")
                            .to("orders", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("order_prepayments_reference")
                    .table("order_prepayments")
                    .col("provider")
                    .col("reference")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("order_prepayments_order")
                    .table("order_prepayments")
                    .col("order_id")
                    .to_owned(),
            )
            .await
    }
}
