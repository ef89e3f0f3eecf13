//! Receivables aging over a large ledger: 100,000 issued invoices of 100
//! customers (every fifth on a 30/70 schedule, whose rows age apart), paid in part by 300,000
//! allocation rows of 1,000 payments, all written straight into the database;
//! then `GET /v1/receivables/aging` today, as of a past day, and for one customer
//! (with their rows), each at one client. The goal: p99 under 1 s.

#![allow(
    clippy::indexing_slicing,
    reason = "indices are taken modulo the lengths the constants fix"
)]

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{Days, NaiveDate, Utc};
use sea_orm::{ConnectionTrait, Database, DatabaseBackend, Statement, TransactionTrait, Value};
use uuid::Uuid;

pub const INVOICES: usize = 100_000;
/// Allocation rows per invoice.
const ROWS_EACH: usize = 3;
const CUSTOMERS: usize = 100;
const PAYMENTS: usize = 1_000;
/// Each invoice: 1,000.00, of which three rows of 200.00 are paid.
const TOTAL: i64 = 100_000;
const PART: i64 = 20_000;
const BATCH: usize = 400;

fn marks(backend: DatabaseBackend, rows: usize, cols: usize) -> String {
    let mut out = String::new();
    let mut n = 0;
    for r in 0..rows {
        if r > 0 {
            out.push(',');
        }
        out.push('(');
        for c in 0..cols {
            if c > 0 {
                out.push(',');
            }
            n += 1;
            match backend {
                DatabaseBackend::Postgres => out.push_str(&format!("${n}")),
                _ => out.push_str(&format!("?{n}")),
            }
        }
        out.push(')');
    }
    out
}

async fn insert(
    conn: &impl ConnectionTrait,
    head: &str,
    cols: usize,
    rows: Vec<Vec<Value>>,
) -> anyhow::Result<()> {
    let backend = conn.get_database_backend();
    for chunk in rows.chunks(BATCH) {
        let sql = format!("{head} VALUES {}", marks(backend, chunk.len(), cols));
        let values: Vec<Value> = chunk.iter().flatten().cloned().collect();
        conn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    Ok(())
}

fn day(today: NaiveDate, back: usize) -> NaiveDate {
    today - Days::new(u64::try_from(back).unwrap_or(0))
}

async fn seed(url: &str, customers: &[Uuid]) -> anyhow::Result<Duration> {
    let db = Database::connect(url).await.context("bench: connect")?;
    let started = Instant::now();
    let now = Utc::now();
    let today = now.date_naive();
    let txn = db.begin().await?;
    let payments: Vec<Uuid> = (0..PAYMENTS).map(|_| Uuid::now_v7()).collect();
    let mut allocated = vec![0i64; PAYMENTS];
    let (mut invoices, mut instalments, mut rows) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..INVOICES {
        let id = Uuid::now_v7();
        let customer = i % CUSTOMERS;
        let issued = day(today, i % 400);
        let due = issued + Days::new(30);
        invoices.push(vec![
            id.into(),
            format!("AGE-{:06}", i + 1).into(),
            customers[customer].into(),
            TOTAL.into(),
            (PART * 3).into(),
            issued.into(),
            due.into(),
            now.into(),
            "open".into(),
            "Aging buyer".into(),
            "CNY".into(),
            TOTAL.into(),
            0i64.into(),
            0i64.into(),
            "net".into(),
            30i32.into(),
            "bench".into(),
            "bench".into(),
            1i64.into(),
            now.into(),
            now.into(),
            due.into(),
            (i % 5 == 0).into(),
        ]);
        let schedule: &[(i32, i64, u64)] = if i % 5 == 0 {
            &[(1, 30_000, 15), (2, 70_000, 45)]
        } else {
            &[(1, TOTAL, 30)]
        };
        for (no, amount, days) in schedule {
            instalments.push(vec![
                Uuid::now_v7().into(),
                id.into(),
                (*no).into(),
                i32::try_from(*amount / 10).unwrap_or(0).into(),
                i32::try_from(*days).unwrap_or(0).into(),
                (*amount).into(),
                (issued + Days::new(*days)).into(),
            ]);
        }
        for k in 0..ROWS_EACH {
            let p = customer + CUSTOMERS * ((i / CUSTOMERS + k) % (PAYMENTS / CUSTOMERS));
            allocated[p] += PART;
            let effective = (issued + Days::new(10 * (k as u64 + 1))).min(today);
            rows.push(vec![
                Uuid::now_v7().into(),
                payments[p].into(),
                customers[customer].into(),
                id.into(),
                PART.into(),
                effective.into(),
                now.into(),
                "CNY".into(),
                "bench".into(),
            ]);
        }
    }
    let pay_rows: Vec<Vec<Value>> = payments
        .iter()
        .enumerate()
        .map(|(p, id)| {
            vec![
                (*id).into(),
                format!("AGE-PAY-{p:05}").into(),
                customers[p % CUSTOMERS].into(),
                (allocated[p] + 1).into(),
                allocated[p].into(),
                day(today, 400).into(),
                now.into(),
                "received".into(),
                "CNY".into(),
                "bank_transfer".into(),
                "bench".into(),
                1i64.into(),
                now.into(),
            ]
        })
        .collect();
    insert(
        &txn,
        "INSERT INTO payments (id, number, customer_id, amount, allocated_amount, received_on, \
         created_at, status, currency, method, created_by, version, updated_at)",
        13,
        pay_rows,
    )
    .await?;
    insert(
        &txn,
        "INSERT INTO invoices (id, number, customer_id, total_amount, paid_amount, issued_on, \
         due_on, issued_at, status, customer_name, currency, subtotal_amount, tax_amount, \
         shipping_amount, payment_terms, payment_terms_days, created_by, issued_by, version, \
         created_at, updated_at, next_due_on, scheduled)",
        23,
        invoices,
    )
    .await?;
    insert(
        &txn,
        "INSERT INTO invoice_instalments (id, invoice_id, row_no, share_bps, due_days, amount, due_on)",
        7,
        instalments,
    )
    .await?;
    insert(
        &txn,
        "INSERT INTO payment_allocations (id, payment_id, customer_id, invoice_id, amount, \
         effective_on, created_at, currency, created_by)",
        9,
        rows,
    )
    .await?;
    txn.commit().await?;
    Ok(started.elapsed())
}

pub async fn run(
    engine: &str,
    base: &str,
    token: &str,
    url: &str,
    seconds: u64,
) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let mut customers = Vec::with_capacity(CUSTOMERS);
    for n in 0..CUSTOMERS {
        let res: serde_json::Value = client
            .post(format!("{base}/v1/customers"))
            .bearer_auth(token)
            .json(&serde_json::json!({"kind": "company", "name": format!("Aging buyer {n:03}")}))
            .send()
            .await?
            .json()
            .await?;
        customers.push(
            res.get("id")
                .and_then(serde_json::Value::as_str)
                .context("no customer id")?
                .parse::<Uuid>()?,
        );
    }
    let took = seed(url, &customers).await?;
    println!(
        "{engine}: seeded {INVOICES} invoices with {} allocation rows in {:.1} s",
        INVOICES * ROWS_EACH,
        took.as_secs_f64()
    );
    // The answer is right before it is fast: every invoice owes 400.00 today.
    let report: serde_json::Value = client
        .get(format!("{base}/v1/receivables/aging"))
        .bearer_auth(token)
        .send()
        .await?
        .json()
        .await?;
    let owed = report
        .pointer("/by_currency/0/total")
        .and_then(serde_json::Value::as_i64);
    let expected = i64::try_from(INVOICES)? * (TOTAL - 3 * PART);
    if owed != Some(expected) {
        bail!("aging today says {owed:?} owed, expected {expected}");
    }
    let past = day(Utc::now().date_naive(), 200);
    for (name, path) in [
        ("aging today", "/v1/receivables/aging".to_owned()),
        (
            "aging as of 200 days ago",
            format!("/v1/receivables/aging?as_of={past}"),
        ),
        (
            "aging of one customer",
            format!("/v1/receivables/aging?customer_id={}", customers[7]),
        ),
    ] {
        let o = crate::load(format!("{base}{path}"), token, 1, seconds).await;
        crate::row(engine, name, 1, &o);
        if o.p99 >= Duration::from_secs(1) || o.errors > 0 {
            println!(
                "!!! {engine}: {name}: p99 {} ms, {} errors (goal: under 1000 ms, none)",
                crate::ms(o.p99),
                o.errors
            );
        }
    }
    Ok(())
}
