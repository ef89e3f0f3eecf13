//! Payments with automatic allocation for a customer with many open invoices: the
//! customer's 1,000 invoices are written straight into the database (invoices of
//! no order, as contract milestones will make), then `POST /v1/payments` with no
//! allocations (oldest due first) runs at 1 and 8 clients. Every payment is 1.00
//! and every invoice 10,000.00, so each payment finds the customer's open invoices
//! and pays the oldest, which stays open.

use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use sea_orm::{ConnectionTrait, Database, DatabaseBackend, Statement, Value};
use uuid::Uuid;

/// Open invoices of the one customer.
pub const INVOICES: usize = 1_000;

async fn seed(url: &str, customer: Uuid) -> anyhow::Result<Duration> {
    let db = Database::connect(url)
        .await
        .context("bench: connect to seed invoices")?;
    let backend = db.get_database_backend();
    let started = std::time::Instant::now();
    let now = Utc::now();
    let today = now.date_naive();
    let mark = |n: usize| match backend {
        DatabaseBackend::Postgres => format!("${n}"),
        _ => format!("?{n}"),
    };
    for i in 0..INVOICES {
        let id = Uuid::now_v7();
        let due = today + chrono::Days::new(u64::try_from(i % 90)?);
        let values: Vec<Value> = vec![
            id.into(),
            format!("BENCH-{:06}", i + 1).into(),
            customer.into(),
            1_000_000i64.into(),
            today.into(),
            due.into(),
            now.into(),
        ];
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "INSERT INTO invoices (id, number, status, customer_id, customer_name, order_id, \
                 currency, subtotal_amount, tax_amount, shipping_amount, total_amount, paid_amount, \
                 payment_terms, payment_terms_days, issued_on, due_on, created_by, issued_by, \
                 issued_at, version, created_at, updated_at) VALUES ({}, {}, 'open', {}, 'Bench buyer', \
                 NULL, 'CNY', {}, 0, 0, {}, 0, 'net', 30, {}, {}, 'bench', 'bench', {}, 1, {}, {})",
                mark(1),
                mark(2),
                mark(3),
                mark(4),
                mark(4),
                mark(5),
                mark(6),
                mark(7),
                mark(7),
                mark(7),
            ),
            values,
        ))
        .await?;
        let values: Vec<Value> = vec![
            Uuid::now_v7().into(),
            id.into(),
            1_000_000i64.into(),
            due.into(),
        ];
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "INSERT INTO invoice_instalments (id, invoice_id, row_no, share_bps, due_days, amount, \
                 due_on) VALUES ({}, {}, 1, 10000, 0, {}, {})",
                mark(1),
                mark(2),
                mark(3),
                mark(4),
            ),
            values,
        ))
        .await?;
    }
    Ok(started.elapsed())
}

pub async fn run(
    engine: &str,
    base: &str,
    token: &str,
    url: &str,
    seconds: u64,
) -> anyhow::Result<()> {
    let res: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/v1/customers"))
        .bearer_auth(token)
        .json(&serde_json::json!({"kind": "company", "name": "Bench buyer"}))
        .send()
        .await?
        .json()
        .await?;
    let customer: Uuid = res
        .get("id")
        .and_then(serde_json::Value::as_str)
        .context("no customer id")?
        .parse()?;
    let took = seed(url, customer).await?;
    println!(
        "{engine}: seeded {INVOICES} open invoices of one customer in {:.1} s",
        took.as_secs_f64()
    );
    for concurrency in [1, 8] {
        let runs = {
            let mut runs = Vec::new();
            for _ in 0..crate::RUNS {
                runs.push(
                    crate::post_load(
                        format!("{base}/v1/payments"),
                        token,
                        concurrency,
                        seconds,
                        move |_| {
                            serde_json::json!({"customer_id": customer, "method": "bank_transfer",
                                "amount": {"amount": 100, "currency": "CNY"}})
                        },
                        // Allocated to an invoice, not left as credit.
                        |body| {
                            std::str::from_utf8(body).is_ok_and(|b| {
                                b.contains("\"invoice_id\":\"")
                                    && b.contains("\"unallocated\":{\"amount\":0")
                            })
                        },
                    )
                    .await,
                );
            }
            runs
        };
        crate::row(
            engine,
            "POST /v1/payments (auto)",
            concurrency,
            &crate::median(runs),
        );
    }
    Ok(())
}
