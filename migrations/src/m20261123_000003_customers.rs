//! Document-number counters, customers and their external references.

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
                    .table("counters")
                    .col(string("name").primary_key())
                    .col(big_integer("value"))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("customers")
                    .col(uuid("id").primary_key())
                    .col(string_uniq("number"))
                    .col(string("kind"))
                    .col(string("name"))
                    .col(string_null("email"))
                    .col(string_null("email_normalized"))
                    .col(string_null("phone"))
                    .col(string_null("phone_normalized"))
                    .col(string_null("legal_name"))
                    .col(string_null("industry"))
                    .col(string_null("size_band"))
                    .col(text_null("tax_id_encrypted"))
                    .col(date_null("birthday"))
                    .col(string_null("preferred_language"))
                    .col(string_null("preferred_currency"))
                    .col(json_binary("tags"))
                    .col(string_null("source_channel"))
                    .col(uuid_null("owner_id"))
                    .col(big_integer_null("credit_limit_amount"))
                    .col(string_null("credit_limit_currency"))
                    .col(integer_null("payment_terms_days"))
                    .col(boolean("marketing_consent"))
                    .col(timestamp_with_time_zone_null("marketing_consent_at"))
                    .col(json_binary("attributes"))
                    .col(boolean("archived"))
                    .col(timestamp_with_time_zone_null("archived_at"))
                    // Lower-cased name, number, email, phone, company and tags, for `q`.
                    .col(text("search_text"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("customers_owner")
                            .from("customers", "owner_id")
                            .to("users", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            (
                "customers_owner_created",
                vec!["owner_id", "created_at", "id"],
            ),
            ("customers_created", vec!["created_at", "id"]),
            ("customers_name", vec!["name", "id"]),
            ("customers_email", vec!["email_normalized"]),
            ("customers_phone", vec!["phone_normalized"]),
        ] {
            let mut index = Index::create();
            index.name(name).table("customers");
            for c in cols {
                index.col(c);
            }
            manager.create_index(index.to_owned()).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table("customer_external_refs")
                    .col(uuid("customer_id"))
                    .col(string("channel"))
                    .col(string("external_id"))
                    .primary_key(Index::create().col("channel").col("external_id"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("customer_external_refs_customer")
                            .from("customer_external_refs", "customer_id")
                            .to("customers", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("customer_external_refs_customer")
                    .table("customer_external_refs")
                    .col("customer_id")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["customer_external_refs", "customers", "counters"] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
