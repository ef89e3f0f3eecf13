//! Orders and their lines. Money is minor units of the order's currency; the
//! CHECKs hold what must never break (positive quantities, totals not below zero).
//! (channel, channel_name, external_id) is unique: `channel_name` is NOT NULL
//! (empty by default) so the key holds on both engines, and rows without an
//! external id never collide (NULLs are distinct).

use sea_orm_migration::prelude::*;

use crate::index;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("orders")
                    .col(uuid("id").primary_key())
                    .col(string_uniq("number"))
                    .col(string("status"))
                    .col(string("fulfillment_status"))
                    .col(string("payment_status"))
                    .col(string("channel"))
                    .col(string("channel_name").default(""))
                    .col(string_null("external_id"))
                    .col(string_null("intake_hash"))
                    .col(uuid("customer_id"))
                    .col(string("customer_name"))
                    .col(string_len("currency", 3))
                    .col(boolean("prices_include_tax"))
                    .col(big_integer("subtotal_amount"))
                    .col(big_integer("discount_amount"))
                    .col(big_integer("order_discount_amount"))
                    .col(big_integer("tax_amount"))
                    .col(big_integer("shipping_amount"))
                    .col(big_integer("grand_total_amount"))
                    .col(string_len_null("base_currency", 3))
                    .col(string_len_null("base_rate", 20))
                    .col(big_integer_null("grand_total_base_amount"))
                    .col(json_binary_null("shipping_address"))
                    .col(json_binary_null("billing_address"))
                    .col(date_null("requested_delivery_on"))
                    .col(string("payment_terms"))
                    .col(integer_null("payment_terms_days"))
                    .col(text_null("notes"))
                    .col(json_binary("tags"))
                    .col(json_binary("metadata"))
                    .col(json_binary_null("review"))
                    .col(text_null("status_reason"))
                    .col(uuid_null("reservation_id"))
                    .col(text("search_text"))
                    .col(string("created_by"))
                    .col(timestamp_with_time_zone_null("submitted_at"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .check(Expr::cust(
                        "subtotal_amount >= 0 AND discount_amount >= 0 AND order_discount_amount >= 0 \
                         AND tax_amount >= 0 AND shipping_amount >= 0 AND grand_total_amount >= 0",
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("orders_customer")
                            .from("orders", "customer_id")
                            .to("customers", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("orders_reservation")
                            .from("orders", "reservation_id")
                            .to("reservations", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "orders",
            "orders_external",
            &["channel", "channel_name", "external_id"],
            true,
        )
        .await?;
        index(
            manager,
            "orders",
            "orders_created",
            &["created_at", "id"],
            false,
        )
        .await?;
        index(
            manager,
            "orders",
            "orders_customer",
            &["customer_id", "created_at"],
            false,
        )
        .await?;
        index(
            manager,
            "orders",
            "orders_status",
            &["status", "created_at"],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table("order_lines")
                    .col(uuid("id").primary_key())
                    .col(uuid("order_id"))
                    .col(integer("line_no"))
                    .col(uuid("product_id"))
                    .col(string("sku"))
                    .col(string("name"))
                    .col(string("unit"))
                    .col(integer("tax_rate_bps"))
                    .col(boolean("tracks_inventory"))
                    .col(big_integer("quantity"))
                    .col(big_integer("unit_price_amount"))
                    .col(big_integer("discount_amount"))
                    .col(big_integer("order_discount_share"))
                    .col(big_integer("tax_amount"))
                    .col(big_integer("total_amount"))
                    .col(uuid_null("warehouse_id"))
                    .col(string_null("warehouse_code"))
                    .check(Expr::cust("quantity > 0"))
                    .check(Expr::cust(
                        "unit_price_amount >= 0 AND discount_amount >= 0 \
                         AND order_discount_share >= 0 AND tax_amount >= 0 AND total_amount >= 0",
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("order_lines_order")
                            .from("order_lines", "order_id")
                            .to("orders", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("order_lines_product")
                            .from("order_lines", "product_id")
                            .to("products", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "order_lines",
            "order_lines_order",
            &["order_id", "line_no"],
            true,
        )
        .await?;
        index(
            manager,
            "order_lines",
            "order_lines_product",
            &["product_id"],
            false,
        )
        .await?;

        // Order numbers may have gaps: a sequence on PostgreSQL, so concurrent
        // intakes never wait for each other's commit for a number.
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("CREATE SEQUENCE numbers_order")
                .await?;
        }
        Ok(())
    }
}
