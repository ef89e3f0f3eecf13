//! Payments, part 2: credit notes, refunds, reversals, exchange differences and
//! the notices of what is overdue.
//!
//! A credit note lowers what an invoice is worth: `credited_amount` on the invoice
//! (and on its order), so that total = paid + credited + outstanding always. What
//! it credits beyond what was still owed is released from the invoice's
//! allocations (ledger rows naming the credit note) and split, exactly, into money
//! refunded, kept as the customer's credit, and settled outside. Money that leaves
//! a payment (a refund, a settlement outside) is its `refunded_amount`; what a
//! bank or card scheme took back (a bounced transfer, a charge-back) its
//! `reversed_amount`, so a payment's amount = allocated + refunded + reversed +
//! unallocated. A reversed payment keeps `status` = 'received' (the money did
//! arrive); `reversed_at` says it was taken back, and the API shows `reversed`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        for statement in [
            "ALTER TABLE invoices ADD COLUMN credited_amount BIGINT NOT NULL DEFAULT 0 \
             CHECK (credited_amount >= 0 AND paid_amount + credited_amount <= total_amount)",
            "ALTER TABLE orders ADD COLUMN credited_amount BIGINT NOT NULL DEFAULT 0 \
             CHECK (credited_amount >= 0 AND paid_amount + credited_amount <= grand_total_amount)",
            "ALTER TABLE payments ADD COLUMN refunded_amount BIGINT NOT NULL DEFAULT 0 \
             CHECK (refunded_amount >= 0 AND allocated_amount + refunded_amount <= amount)",
            "ALTER TABLE payments ADD COLUMN reversed_amount BIGINT NOT NULL DEFAULT 0 \
             CHECK (reversed_amount >= 0 \
             AND allocated_amount + refunded_amount + reversed_amount <= amount)",
            // The credit note whose issue (or void) added the row.
            "ALTER TABLE payment_allocations ADD COLUMN credit_note_id UUID NULL",
            // Realised on a row of an invoice in another currency than the base: the
            // amount at the payment date's rate less the same at the invoice's, in
            // minor units of the invoice's base currency.
            "ALTER TABLE payment_allocations ADD COLUMN exchange_difference BIGINT NULL",
        ] {
            conn.execute_unprepared(statement).await?;
        }
        // SQLite adds one column per statement.
        for (table, column) in [
            ("payments", date_null("reversed_on")),
            ("payments", timestamp_with_time_zone_null("reversed_at")),
            ("payments", text_null("reversal_reason")),
            // The day the overdue sweep last looked at the invoice: once a day each.
            ("invoices", date_null("dunned_on")),
            // What was still owed when it was written off: statements show that,
            // whatever a reversal moves later.
            ("invoices", big_integer_null("written_off_amount")),
        ] {
            manager
                .alter_table(Table::alter().table(table).add_column(column).to_owned())
                .await?;
        }
        // One row per notice sent about an invoice's instalment row: `overdue`
        // (level 0) and each `reminder` level (days past due), each once.
        manager
            .create_table(
                Table::create()
                    .table("invoice_notices")
                    .col(uuid("id").primary_key())
                    .col(uuid("invoice_id"))
                    .col(integer("row_no"))
                    .col(string("kind"))
                    .col(integer("level_days"))
                    .col(timestamp_with_time_zone("created_at"))
                    .check(Expr::cust("kind IN ('overdue', 'reminder')"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("invoice_notices_invoice")
                            .from("invoice_notices", "invoice_id")
                            .to("invoices", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "invoice_notices",
            "invoice_notices_once",
            &["invoice_id", "row_no", "kind", "level_days"],
            true,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table("credit_notes")
                    .col(uuid("id").primary_key())
                    .col(string_uniq("number"))
                    .col(string("status"))
                    .col(uuid("customer_id"))
                    .col(uuid("invoice_id"))
                    .col(uuid_null("order_id"))
                    .col(uuid_null("return_id"))
                    .col(string("currency"))
                    .col(big_integer("amount"))
                    // What it took off the invoice's outstanding.
                    .col(big_integer("applied_amount"))
                    // The rest, released from the invoice's payments: paid back,
                    // kept as credit, or settled outside.
                    .col(big_integer("refund_amount"))
                    .col(big_integer("credit_amount"))
                    .col(big_integer("outside_amount"))
                    .col(text("reason"))
                    .col(date("effective_on"))
                    .col(string("created_by"))
                    .col(text_null("void_reason"))
                    .col(string_null("voided_by"))
                    .col(date_null("voided_on"))
                    .col(timestamp_with_time_zone_null("voided_at"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .check(Expr::cust("status IN ('issued', 'void')"))
                    .check(Expr::cust(
                        "amount > 0 AND applied_amount >= 0 AND refund_amount >= 0 \
                         AND credit_amount >= 0 AND outside_amount >= 0 \
                         AND applied_amount + refund_amount + credit_amount + outside_amount = amount",
                    ))
                    .check(Expr::cust("(status = 'void') = (voided_at IS NOT NULL)"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("credit_notes_customer")
                            .from("credit_notes", "customer_id")
                            .to("customers", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("credit_notes_invoice")
                            .from("credit_notes", "invoice_id")
                            .to("invoices", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("credit_notes_return")
                            .from("credit_notes", "return_id")
                            .to("returns", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            ("credit_notes_invoice", &["invoice_id"][..]),
            ("credit_notes_return", &["return_id"][..]),
            (
                "credit_notes_customer",
                &["customer_id", "effective_on"][..],
            ),
            ("credit_notes_created", &["created_at", "id"][..]),
        ] {
            index(manager, "credit_notes", name, cols, false).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table("refunds")
                    .col(uuid("id").primary_key())
                    .col(string_uniq("number"))
                    .col(string("status"))
                    .col(uuid("customer_id"))
                    .col(uuid("payment_id"))
                    .col(uuid_null("credit_note_id"))
                    .col(uuid_null("order_id"))
                    .col(string("currency"))
                    .col(big_integer("amount"))
                    .col(string("method"))
                    // Recorded as done by other means: no approval, no provider.
                    .col(boolean("outside").default(false))
                    .col(string_null("provider"))
                    .col(string_null("reference"))
                    .col(text_null("reason"))
                    .col(text_null("failure_reason"))
                    .col(string("requested_by"))
                    .col(string_null("approved_by"))
                    .col(timestamp_with_time_zone_null("approved_at"))
                    .col(date_null("settled_on"))
                    .col(timestamp_with_time_zone_null("completed_at"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .check(Expr::cust(
                        "status IN ('pending_approval', 'pending', 'succeeded', 'failed')",
                    ))
                    .check(Expr::cust("amount > 0"))
                    .check(Expr::cust(
                        "(status IN ('succeeded', 'failed')) = (completed_at IS NOT NULL)",
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("refunds_customer")
                            .from("refunds", "customer_id")
                            .to("customers", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("refunds_payment")
                            .from("refunds", "payment_id")
                            .to("payments", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("refunds_credit_note")
                            .from("refunds", "credit_note_id")
                            .to("credit_notes", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            ("refunds_payment", &["payment_id"][..]),
            ("refunds_credit_note", &["credit_note_id"][..]),
            ("refunds_customer", &["customer_id", "created_at"][..]),
            ("refunds_created", &["created_at", "id"][..]),
            ("refunds_status", &["status", "created_at"][..]),
        ] {
            index(manager, "refunds", name, cols, false).await?;
        }
        index(
            manager,
            "payment_allocations",
            "payment_allocations_credit_note",
            &["credit_note_id"],
            false,
        )
        .await?;
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            conn.execute_unprepared("CREATE SEQUENCE numbers_refund")
                .await?;
        }
        Ok(())
    }
}
