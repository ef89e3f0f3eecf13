//! Payments, part 1: invoices (drafts, then issued with a gap-free number), their
//! lines and instalment rows; payments and the ledger of their allocations. Each
//! order line counts what invoices took of it, so nothing is invoiced twice, and
//! each order what was paid towards it. The CHECKs keep the sums in order: an
//! invoice never paid above its total, a payment never allocated above its amount.
//! The order prepayments taken at intake become payments, held for their orders.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::{DatabaseBackend, Statement, Value};

use crate::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        for statement in [
            "ALTER TABLE order_lines ADD COLUMN invoiced_quantity BIGINT NOT NULL DEFAULT 0 \
             CHECK (invoiced_quantity >= 0 AND invoiced_quantity <= quantity)",
            "ALTER TABLE order_lines ADD COLUMN invoiced_amount BIGINT NOT NULL DEFAULT 0 \
             CHECK (invoiced_amount >= 0)",
            "ALTER TABLE order_lines ADD COLUMN invoiced_tax_amount BIGINT NOT NULL DEFAULT 0 \
             CHECK (invoiced_tax_amount >= 0)",
            "ALTER TABLE orders ADD COLUMN shipping_invoiced BOOLEAN NOT NULL DEFAULT FALSE",
            "ALTER TABLE orders ADD COLUMN paid_amount BIGINT NOT NULL DEFAULT 0 \
             CHECK (paid_amount >= 0 AND paid_amount <= grand_total_amount)",
        ] {
            conn.execute_unprepared(statement).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table("invoices")
                    .col(uuid("id").primary_key())
                    .col(string_null("number").unique_key())
                    .col(string("status"))
                    .col(uuid("customer_id"))
                    .col(string("customer_name"))
                    .col(uuid_null("order_id"))
                    .col(string("currency"))
                    .col(big_integer("subtotal_amount"))
                    .col(big_integer("tax_amount"))
                    .col(big_integer("shipping_amount"))
                    .col(big_integer("total_amount"))
                    .col(big_integer("paid_amount").default(0))
                    .col(string("payment_terms"))
                    .col(integer_null("payment_terms_days"))
                    .col(date_null("issued_on"))
                    .col(date_null("due_on"))
                    // The due date of the first instalment not paid in full (null when
                    // nothing is owed): what "oldest due first" and "overdue" read.
                    .col(date_null("next_due_on"))
                    // Whether the instalments were asked for (their own days), or the one
                    // row follows the payment terms.
                    .col(boolean("scheduled").default(false))
                    .col(string_null("base_currency"))
                    .col(string_null("base_rate"))
                    .col(big_integer_null("total_base_amount"))
                    .col(text_null("notes"))
                    .col(text_null("status_reason"))
                    .col(string("created_by"))
                    .col(string_null("issued_by"))
                    .col(timestamp_with_time_zone_null("issued_at"))
                    .col(timestamp_with_time_zone_null("closed_at"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .check(Expr::cust(
                        "status IN ('draft', 'open', 'void', 'uncollectible')",
                    ))
                    .check(Expr::cust(
                        "subtotal_amount >= 0 AND tax_amount >= 0 AND shipping_amount >= 0 \
                         AND total_amount >= 0 AND paid_amount >= 0 AND paid_amount <= total_amount",
                    ))
                    .check(Expr::cust(
                        "(number IS NULL) = (issued_on IS NULL) AND (status <> 'draft' OR number IS NULL) \
                         AND (status NOT IN ('open', 'uncollectible') OR number IS NOT NULL)",
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("invoices_customer")
                            .from("invoices", "customer_id")
                            .to("customers", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("invoices_order")
                            .from("invoices", "order_id")
                            .to("orders", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        // Automatic allocation: a customer's open invoices in a currency, oldest due first.
        index(
            manager,
            "invoices",
            "invoices_customer_due",
            &["customer_id", "currency", "status", "next_due_on", "id"],
            false,
        )
        .await?;
        index(manager, "invoices", "invoices_order", &["order_id"], false).await?;
        index(
            manager,
            "invoices",
            "invoices_created",
            &["created_at", "id"],
            false,
        )
        .await?;
        index(
            manager,
            "invoices",
            "invoices_status_due",
            &["status", "next_due_on"],
            false,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table("invoice_lines")
                    .col(uuid("id").primary_key())
                    .col(uuid("invoice_id"))
                    .col(integer("line_no"))
                    .col(uuid_null("order_line_id"))
                    .col(integer_null("order_line_no"))
                    .col(uuid_null("product_id"))
                    .col(string_null("sku"))
                    .col(string("name"))
                    .col(big_integer("quantity"))
                    .col(big_integer("unit_price_amount"))
                    .col(big_integer("discount_amount"))
                    .col(integer("tax_rate_bps"))
                    .col(big_integer("net_amount"))
                    .col(big_integer("tax_amount"))
                    .col(big_integer("total_amount"))
                    .check(Expr::cust(
                        "quantity > 0 AND tax_amount >= 0 AND total_amount >= 0 \
                         AND net_amount = total_amount - tax_amount",
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("invoice_lines_invoice")
                            .from("invoice_lines", "invoice_id")
                            .to("invoices", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "invoice_lines",
            "invoice_lines_invoice",
            &["invoice_id", "line_no"],
            true,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table("invoice_instalments")
                    .col(uuid("id").primary_key())
                    .col(uuid("invoice_id"))
                    .col(integer("row_no"))
                    .col(integer("share_bps"))
                    .col(integer("due_days"))
                    .col(big_integer("amount"))
                    .col(date_null("due_on"))
                    .check(Expr::cust(
                        "share_bps > 0 AND share_bps <= 10000 AND due_days >= 0 AND amount >= 0",
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("invoice_instalments_invoice")
                            .from("invoice_instalments", "invoice_id")
                            .to("invoices", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "invoice_instalments",
            "invoice_instalments_invoice",
            &["invoice_id", "row_no"],
            true,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table("payments")
                    .col(uuid("id").primary_key())
                    .col(string_uniq("number"))
                    .col(string("status"))
                    .col(uuid("customer_id"))
                    .col(uuid_null("order_id"))
                    .col(string("currency"))
                    .col(big_integer("amount"))
                    .col(big_integer("allocated_amount").default(0))
                    .col(string("method"))
                    .col(string_null("provider"))
                    .col(string_null("reference"))
                    .col(date("received_on"))
                    .col(text_null("notes"))
                    .col(string("created_by"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .check(Expr::cust("status IN ('received')"))
                    .check(Expr::cust(
                        "amount > 0 AND allocated_amount >= 0 AND allocated_amount <= amount",
                    ))
                    .check(Expr::cust("(provider IS NULL) = (reference IS NULL)"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("payments_customer")
                            .from("payments", "customer_id")
                            .to("customers", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("payments_order")
                            .from("payments", "order_id")
                            .to("orders", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        // A gateway's notification, sent again, is the same payment.
        index(
            manager,
            "payments",
            "payments_reference",
            &["provider", "reference"],
            true,
        )
        .await?;
        index(
            manager,
            "payments",
            "payments_customer",
            &["customer_id", "currency", "created_at"],
            false,
        )
        .await?;
        index(manager, "payments", "payments_order", &["order_id"], false).await?;
        index(
            manager,
            "payments",
            "payments_created",
            &["created_at", "id"],
            false,
        )
        .await?;
        // The ledger: rows are added, never changed. A row with an invoice applies
        // money to it (and to its order, if any); a row with an order only holds
        // money for the order's invoices to come. Moving held money onto an
        // invoice is two rows, one taking it off the hold.
        manager
            .create_table(
                Table::create()
                    .table("payment_allocations")
                    .col(uuid("id").primary_key())
                    .col(uuid("payment_id"))
                    .col(uuid("customer_id"))
                    .col(string("currency"))
                    .col(uuid_null("order_id"))
                    .col(uuid_null("invoice_id"))
                    .col(big_integer("amount"))
                    .col(date("effective_on"))
                    .col(string("created_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .check(Expr::cust("amount <> 0"))
                    .check(Expr::cust("order_id IS NOT NULL OR invoice_id IS NOT NULL"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("payment_allocations_payment")
                            .from("payment_allocations", "payment_id")
                            .to("payments", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("payment_allocations_invoice")
                            .from("payment_allocations", "invoice_id")
                            .to("invoices", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            (
                "payment_allocations_payment",
                &["payment_id", "created_at"][..],
            ),
            ("payment_allocations_invoice", &["invoice_id"][..]),
            ("payment_allocations_order", &["order_id"][..]),
        ] {
            index(manager, "payment_allocations", name, cols, false).await?;
        }
        let backend = manager.get_database_backend();
        if backend == DatabaseBackend::Postgres {
            conn.execute_unprepared("CREATE SEQUENCE numbers_payment")
                .await?;
        }
        prepayments_become_payments(manager).await?;
        manager
            .drop_table(Table::drop().table("order_prepayments").to_owned())
            .await
    }
}

/// Each prepayment taken at intake becomes a payment (numbered in the order they
/// were taken, the counter or sequence moved past them) held for its order, with
/// the prepayment's id for both rows; the order's paid amount is what was prepaid.
async fn prepayments_become_payments(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let conn = manager.get_connection();
    let backend = manager.get_database_backend();
    let rows = conn
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT p.id, p.order_id, p.amount, p.currency, p.method, p.provider, p.reference, \
             p.paid_at, p.created_at, o.customer_id, o.created_by \
             FROM order_prepayments p JOIN orders o ON o.id = p.order_id \
             ORDER BY p.created_at, p.id",
        ))
        .await?;
    let mark = |n: usize| -> String {
        match backend {
            DatabaseBackend::Postgres => format!("${n}"),
            _ => format!("?{n}"),
        }
    };
    let mut taken: i64 = 0;
    for row in &rows {
        use sea_orm_migration::sea_orm::prelude::{DateTimeUtc, Uuid};
        let id: Uuid = row.try_get("", "id")?;
        let order_id: Uuid = row.try_get("", "order_id")?;
        let customer_id: Uuid = row.try_get("", "customer_id")?;
        let amount: i64 = row.try_get("", "amount")?;
        let currency: String = row.try_get("", "currency")?;
        let method: String = row.try_get("", "method")?;
        let provider: String = row.try_get("", "provider")?;
        let reference: String = row.try_get("", "reference")?;
        let paid_at: DateTimeUtc = row.try_get("", "paid_at")?;
        let created_at: DateTimeUtc = row.try_get("", "created_at")?;
        let created_by: String = row.try_get("", "created_by")?;
        taken += 1;
        let values: Vec<Value> = vec![
            id.into(),
            format!("PAY-{taken:06}").into(),
            customer_id.into(),
            order_id.into(),
            currency.clone().into(),
            amount.into(),
            method.into(),
            provider.into(),
            reference.into(),
            paid_at.date_naive().into(),
            created_by.clone().into(),
            created_at.into(),
        ];
        conn.execute_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "INSERT INTO payments (id, number, status, customer_id, order_id, currency, \
                 amount, allocated_amount, method, provider, reference, received_on, notes, \
                 created_by, version, created_at, updated_at) VALUES ({}, {}, 'received', {}, {}, \
                 {}, {}, {}, {}, {}, {}, {}, NULL, {}, 1, {}, {})",
                mark(1),
                mark(2),
                mark(3),
                mark(4),
                mark(5),
                mark(6),
                mark(6),
                mark(7),
                mark(8),
                mark(9),
                mark(10),
                mark(11),
                mark(12),
                mark(12),
            ),
            values,
        ))
        .await?;
        let values: Vec<Value> = vec![
            id.into(),
            customer_id.into(),
            currency.into(),
            order_id.into(),
            amount.into(),
            paid_at.date_naive().into(),
            created_by.into(),
            created_at.into(),
        ];
        conn.execute_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "INSERT INTO payment_allocations (id, payment_id, customer_id, currency, \
                 order_id, invoice_id, amount, effective_on, created_by, created_at) \
                 VALUES ({0}, {0}, {1}, {2}, {3}, NULL, {4}, {5}, {6}, {7})",
                mark(1),
                mark(2),
                mark(3),
                mark(4),
                mark(5),
                mark(6),
                mark(7),
                mark(8),
            ),
            values,
        ))
        .await?;
    }
    conn.execute_unprepared("UPDATE orders SET paid_amount = prepaid_amount")
        .await?;
    if taken > 0 {
        match backend {
            DatabaseBackend::Postgres => {
                conn.execute_unprepared(&format!("SELECT setval('numbers_payment', {taken})"))
                    .await?;
            }
            _ => {
                conn.execute_raw(Statement::from_sql_and_values(
                    backend,
                    "INSERT INTO counters (name, value) VALUES (?, ?)",
                    [Value::from("payment"), Value::from(taken)],
                ))
                .await?;
            }
        }
    }
    Ok(())
}
