//! A customer's contacts, addresses, notes and follow-ups.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn belongs_to_customer(table: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("{table}_customer"))
        .from(table.to_owned(), "customer_id")
        .to("customers", "id")
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("customer_contacts")
                    .col(uuid("id").primary_key())
                    .col(uuid("customer_id"))
                    .col(string("name"))
                    .col(string_null("title"))
                    .col(string_null("email"))
                    .col(string_null("phone"))
                    .col(boolean("is_primary"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut belongs_to_customer("customer_contacts"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("customer_addresses")
                    .col(uuid("id").primary_key())
                    .col(uuid("customer_id"))
                    .col(string("kind"))
                    .col(string_null("recipient"))
                    .col(string("line1"))
                    .col(string_null("line2"))
                    .col(string("city"))
                    .col(string_null("region"))
                    .col(string_null("postal_code"))
                    .col(string("country"))
                    .col(string_null("phone"))
                    .col(boolean("is_default"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut belongs_to_customer("customer_addresses"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("customer_notes")
                    .col(uuid("id").primary_key())
                    .col(uuid("customer_id"))
                    .col(string("kind"))
                    .col(text("body"))
                    .col(timestamp_with_time_zone("occurred_at"))
                    .col(string("author"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut belongs_to_customer("customer_notes"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("customer_follow_ups")
                    .col(uuid("id").primary_key())
                    .col(uuid("customer_id"))
                    .col(string("title"))
                    .col(text_null("details"))
                    .col(timestamp_with_time_zone("due_at"))
                    .col(uuid("assignee_id"))
                    .col(string("status"))
                    .col(timestamp_with_time_zone_null("closed_at"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut belongs_to_customer("customer_follow_ups"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("customer_follow_ups_assignee")
                            .from("customer_follow_ups", "assignee_id")
                            .to("users", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        for (table, name, cols) in [
            (
                "customer_contacts",
                "customer_contacts_customer",
                vec!["customer_id", "id"],
            ),
            (
                "customer_addresses",
                "customer_addresses_customer",
                vec!["customer_id", "id"],
            ),
            (
                "customer_notes",
                "customer_notes_customer",
                vec!["customer_id", "occurred_at", "id"],
            ),
            (
                "customer_follow_ups",
                "customer_follow_ups_customer",
                vec!["customer_id", "due_at"],
            ),
            (
                "customer_follow_ups",
                "customer_follow_ups_assignee",
                vec!["assignee_id", "status", "due_at", "id"],
            ),
            ("customers", "customers_birthday", vec!["birthday"]),
        ] {
            let mut index = Index::create();
            index.name(name).table(table);
            for c in cols {
                index.col(c);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("customers_birthday")
                    .table("customers")
                    .to_owned(),
            )
            .await?;
        for table in [
            "customer_follow_ups",
            "customer_notes",
            "customer_addresses",
            "customer_contacts",
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
