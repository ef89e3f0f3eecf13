//! Customer statistics and tiers. Each order that counts (approved once, not
//! cancelled or rejected) is one fact: its customer, its value in the base currency
//! and when it was placed. A customer's statistics are recomputed from its facts by
//! a consumer of the outbox (its cursor in `event_consumers`), never in the order's
//! transaction, so a customer with thousands of orders is not a row every intake
//! waits on. The tier lives on the customer; `task_runs` lets one server of several
//! run a daily task once per day.

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
                    .table("customer_order_facts")
                    .col(uuid("order_id").primary_key())
                    .col(uuid("customer_id"))
                    .col(big_integer("value_amount"))
                    .col(string("currency"))
                    .col(timestamp_with_time_zone("ordered_at"))
                    .check(Expr::cust("value_amount >= 0"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("customer_order_facts_order")
                            .from("customer_order_facts", "order_id")
                            .to("orders", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("customer_order_facts_customer")
                            .from("customer_order_facts", "customer_id")
                            .to("customers", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "customer_order_facts",
            "customer_order_facts_customer",
            &["customer_id", "ordered_at"],
            false,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table("customer_statistics")
                    .col(uuid("customer_id").primary_key())
                    .col(string("currency"))
                    .col(big_integer("lifetime_value_amount"))
                    .col(big_integer("order_count"))
                    .col(timestamp_with_time_zone_null("first_order_at"))
                    .col(timestamp_with_time_zone_null("last_order_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .check(Expr::cust(
                        "lifetime_value_amount >= 0 AND order_count >= 0",
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("customer_statistics_customer")
                            .from("customer_statistics", "customer_id")
                            .to("customers", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        // The import mirror keeps the target's columns (an import writes through it).
        for table in ["customers", "import_staged_customers"] {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(string("tier").default("standard"))
                        .to_owned(),
                )
                .await?;
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(timestamp_with_time_zone_null("tier_since"))
                        .to_owned(),
                )
                .await?;
        }
        index(manager, "customers", "customers_tier", &["tier"], false).await?;
        manager
            .create_table(
                Table::create()
                    .table("event_consumers")
                    .col(string("name").primary_key())
                    .col(big_integer("position"))
                    .to_owned(),
            )
            .await?;
        // The orders placed so far, whatever the outbox still holds of them (the
        // daily recomputation fills in their customers' figures); the consumer
        // then reads the outbox from its start, which changes nothing it already has.
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO customer_order_facts (order_id, customer_id, value_amount, currency, ordered_at) \
                 SELECT id, customer_id, COALESCE(grand_total_base_amount, grand_total_amount), \
                 COALESCE(base_currency, currency), COALESCE(submitted_at, created_at) FROM orders \
                 WHERE approved_at IS NOT NULL AND status NOT IN ('cancelled', 'rejected')",
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO event_consumers (name, position) VALUES ('customer_statistics', 0)",
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("task_runs")
                    .col(string("name").primary_key())
                    .col(date("ran_on"))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
