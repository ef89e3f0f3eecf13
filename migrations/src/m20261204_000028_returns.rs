//! Returns (RMA): what a customer sends back, for a refund, an exchange or a
//! repair. Each order line counts the units returns claim, the units that came
//! back, and the units (and money) refunds have credited; the CHECKs keep those
//! counts in order: claimed never above the line, back never above claimed,
//! credited never above back.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::index;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        for statement in [
            "ALTER TABLE order_lines ADD COLUMN return_claimed_quantity BIGINT NOT NULL DEFAULT 0 \
             CHECK (return_claimed_quantity >= 0 AND return_claimed_quantity <= quantity)",
            "ALTER TABLE order_lines ADD COLUMN returned_quantity BIGINT NOT NULL DEFAULT 0 \
             CHECK (returned_quantity >= 0 AND returned_quantity <= return_claimed_quantity)",
            "ALTER TABLE order_lines ADD COLUMN credited_quantity BIGINT NOT NULL DEFAULT 0 \
             CHECK (credited_quantity >= 0 AND credited_quantity <= returned_quantity)",
            "ALTER TABLE order_lines ADD COLUMN credited_amount BIGINT NOT NULL DEFAULT 0 \
             CHECK (credited_amount >= 0)",
        ] {
            conn.execute_unprepared(statement).await?;
        }
        // A repair's way back is a shipment of the order, marked with its return.
        manager
            .alter_table(
                Table::alter()
                    .table("shipments")
                    .add_column(uuid_null("return_id"))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "shipments",
            "shipments_return",
            &["return_id"],
            false,
        )
        .await?;
        // A replacement order marks the return it replaces goods for.
        manager
            .alter_table(
                Table::alter()
                    .table("orders")
                    .add_column(uuid_null("replaces_return_id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("returns")
                    .col(uuid("id").primary_key())
                    .col(string_uniq("number"))
                    .col(uuid("order_id"))
                    .col(string("status"))
                    .col(string("resolution"))
                    .col(text("reason"))
                    .col(text_null("decision_note"))
                    .col(string("currency"))
                    .col(big_integer("refund_due_amount").default(0))
                    .col(big_integer("shipping_refund_amount").default(0))
                    .col(uuid_null("replacement_order_id"))
                    .col(string("requested_by"))
                    .col(string_null("decided_by"))
                    .col(timestamp_with_time_zone_null("decided_at"))
                    .col(timestamp_with_time_zone_null("received_at"))
                    .col(timestamp_with_time_zone_null("closed_at"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .check(Expr::cust(
                        "status IN ('requested', 'approved', 'received', 'closed', 'rejected')",
                    ))
                    .check(Expr::cust("resolution IN ('refund', 'exchange', 'repair')"))
                    .check(Expr::cust(
                        "refund_due_amount >= 0 AND shipping_refund_amount >= 0 \
                         AND shipping_refund_amount <= refund_due_amount",
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("returns_order")
                            .from("returns", "order_id")
                            .to("orders", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "returns",
            "returns_order",
            &["order_id", "created_at"],
            false,
        )
        .await?;
        index(
            manager,
            "returns",
            "returns_status",
            &["status", "created_at"],
            false,
        )
        .await?;
        index(
            manager,
            "returns",
            "returns_created",
            &["created_at", "id"],
            false,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table("return_lines")
                    .col(uuid("id").primary_key())
                    .col(uuid("return_id"))
                    .col(integer("line_no"))
                    .col(uuid("order_line_id"))
                    .col(integer("order_line_no"))
                    .col(uuid("product_id"))
                    .col(string("sku"))
                    .col(string("name"))
                    .col(big_integer("quantity"))
                    .col(big_integer("received_quantity").default(0))
                    .col(big_integer("restocked_quantity").default(0))
                    .col(big_integer("scrapped_quantity").default(0))
                    .col(big_integer("refund_amount").default(0))
                    // An exchange's replacement: the product (null: the same) and
                    // its unit price, fixed when the return was asked for.
                    .col(uuid_null("replacement_product_id"))
                    .col(big_integer_null("replacement_unit_price"))
                    // A repair's units on their way back to the customer.
                    .col(big_integer("sent_back_quantity").default(0))
                    .check(Expr::cust(
                        "quantity > 0 AND received_quantity >= 0 AND received_quantity <= quantity \
                         AND restocked_quantity >= 0 AND scrapped_quantity >= 0 \
                         AND restocked_quantity + scrapped_quantity <= received_quantity \
                         AND sent_back_quantity >= 0 AND sent_back_quantity <= received_quantity \
                         AND refund_amount >= 0",
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("return_lines_return")
                            .from("return_lines", "return_id")
                            .to("returns", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("return_lines_order_line")
                            .from("return_lines", "order_line_id")
                            .to("order_lines", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "return_lines",
            "return_lines_return",
            &["return_id", "line_no"],
            true,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table("return_receipts")
                    .col(uuid("id").primary_key())
                    .col(uuid("return_id"))
                    .col(integer("return_line_no"))
                    .col(big_integer("quantity"))
                    .col(string("disposition"))
                    .col(uuid_null("warehouse_id"))
                    .col(string_null("warehouse_code"))
                    .col(big_integer("refund_amount"))
                    .col(text_null("note"))
                    .col(string("received_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .check(Expr::cust(
                        "quantity > 0 AND refund_amount >= 0 \
                         AND disposition IN ('restock', 'scrap', 'repair')",
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("return_receipts_return")
                            .from("return_receipts", "return_id")
                            .to("returns", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "return_receipts",
            "return_receipts_return",
            &["return_id", "created_at"],
            false,
        )
        .await?;
        // Return numbers may have gaps, as order numbers: a sequence on PostgreSQL.
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            conn.execute_unprepared("CREATE SEQUENCE numbers_return")
                .await?;
        }
        Ok(())
    }
}
