//! Order intake: `POST /v1/orders` with three lines, submitted and approved in the
//! same request, at 1, 8 and 32 clients (the median of three runs each), and at 32
//! for one customer against orders spread over 1,000 customers; on
//! PostgreSQL next to pgbench running the same statements, with the statements per
//! order counted for 1, 10 and 50 lines; and the reservation endpoint next to its
//! own statements.

use anyhow::{Context, bail};

use crate::reservations::SKUS;
use crate::statements::Counter;
use crate::{Outcome, pgbench};

/// The buyer every order is for.
pub async fn seed_customer(base: &str, token: &str) -> anyhow::Result<String> {
    let res: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/v1/customers"))
        .bearer_auth(token)
        .json(&serde_json::json!({"name": "Bench buyer", "kind": "company"}))
        .send()
        .await?
        .json()
        .await?;
    res.get("id")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
        .with_context(|| format!("customer not created: {res}"))
}

/// An order of `lines` one-unit lines from SKU `first` on, submitted at once.
fn body(customer: &str, first: usize, lines: usize) -> serde_json::Value {
    let lines: Vec<_> = (0..lines)
        .map(
            |n| serde_json::json!({"sku": format!("SKU-{:04}", (first + n) % SKUS), "quantity": 1}),
        )
        .collect();
    serde_json::json!({"customer_id": customer, "currency": "CNY", "submit": true, "lines": lines})
}

/// Orders from `concurrency` clients for `seconds`; one that is not approved counts
/// as an error.
async fn load(
    base: &str,
    token: &str,
    customer: &str,
    concurrency: usize,
    seconds: u64,
) -> Outcome {
    spread(base, token, vec![customer.to_owned()], concurrency, seconds).await
}

/// [`load`] with each order for the next of `customers`.
async fn spread(
    base: &str,
    token: &str,
    customers: Vec<String>,
    concurrency: usize,
    seconds: u64,
) -> Outcome {
    crate::post_load(
        format!("{base}/v1/orders"),
        token,
        concurrency,
        seconds,
        move |n| {
            let customer = customers
                .get((n / 7919) % customers.len().max(1))
                .map_or("", String::as_str);
            body(customer, n % SKUS, 3)
        },
        approved,
    )
    .await
}

/// Customers one order intake run spreads its orders over.
const CUSTOMERS: usize = 1_000;

/// Intake at 32 clients for one customer against the same spread over 1,000: one
/// customer with many orders must not be a row intake waits on (its statistics are
/// kept in the background). Runs alternate; the medians and their ratio are printed.
async fn one_customer_versus_many(
    engine: &str,
    base: &str,
    token: &str,
    customer: &str,
    seconds: u64,
) -> anyhow::Result<()> {
    let mut many = Vec::with_capacity(CUSTOMERS);
    for _ in 0..CUSTOMERS {
        many.push(seed_customer(base, token).await?);
    }
    let (mut one_runs, mut many_runs) = (Vec::new(), Vec::new());
    for _ in 0..crate::RUNS {
        one_runs.push(load(base, token, customer, 32, seconds).await);
        many_runs.push(spread(base, token, many.clone(), 32, seconds).await);
    }
    let (one, many) = (crate::median(one_runs), crate::median(many_runs));
    crate::row(engine, "orders of one customer", 32, &one);
    crate::row(engine, "orders of 1,000 customers", 32, &many);
    println!(
        "{engine}: one customer at {:.0} % of 1,000 customers (goal: within 20 %)",
        100.0 * one.rate() / many.rate()
    );
    Ok(())
}

fn approved(body: &[u8]) -> bool {
    const APPROVED: &[u8] = b"\"status\":\"approved\",";
    body.windows(APPROVED.len()).any(|w| w == APPROVED)
}

/// Send `count` orders of `lines` lines one after another; all must be approved.
async fn serial(
    base: &str,
    token: &str,
    customer: &str,
    count: usize,
    lines: usize,
) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    for n in 0..count {
        let res = client
            .post(format!("{base}/v1/orders"))
            .bearer_auth(token)
            .json(&body(customer, n * 53, lines))
            .send()
            .await?;
        let status = res.status();
        let bytes = res.bytes().await?;
        if status != 201 || !approved(&bytes) {
            bail!(
                "order of {lines} lines: {status} {}",
                String::from_utf8_lossy(&bytes)
            );
        }
    }
    Ok(())
}

/// `pg_url` is the bench database on PostgreSQL, `None` on SQLite.
pub async fn run(
    engine: &str,
    base: &str,
    token: &str,
    pg_url: Option<&str>,
    seconds: u64,
) -> anyhow::Result<()> {
    let customer = seed_customer(base, token).await?;
    // Warm-up, and the rows the pgbench scripts copy their values from.
    serial(base, token, &customer, 20, 3).await?;
    let script = match pg_url {
        Some(url) => Some(pgbench::order_script(url, &customer).await?),
        None => None,
    };
    for concurrency in [1, 8, 32] {
        crate::compare(
            engine,
            "POST /v1/orders (3 lines)",
            concurrency,
            seconds,
            pg_url.zip(script.as_ref()),
            || load(base, token, &customer, concurrency, seconds),
        )
        .await;
    }
    one_customer_versus_many(engine, base, token, &customer, seconds).await?;
    if let (Some(url), Some(script)) = (pg_url, &script) {
        statements_per_order(url, base, token, &customer, pgbench::statements(&script.0)).await;
    }
    Ok(())
}

/// The statements an order takes, at 1, 10 and 50 lines.
async fn statements_per_order(url: &str, base: &str, token: &str, customer: &str, script: usize) {
    let counter = match Counter::connect(url).await {
        Ok(c) => c,
        Err(err) => {
            println!("!!! statement counts skipped: {err}");
            return;
        }
    };
    const ORDERS: usize = 20;
    for lines in [1, 3, 10, 50] {
        let counted = counter
            .per_unit(ORDERS, || serial(base, token, customer, ORDERS, lines))
            .await;
        match counted {
            Ok(per) => {
                println!(
                    "postgres: statements per order of {lines:>2} lines (pg_stat_statements, {ORDERS} orders): {:.2}{}",
                    crate::statements::total(&per),
                    if lines == 3 {
                        format!(" (the pgbench script: {script})")
                    } else {
                        String::new()
                    }
                );
                for (n, query) in &per {
                    // Every statement of the 50-line orders, and anything that did
                    // not run once per order in the others.
                    if lines == 50 || n.fract() != 0.0 {
                        println!("    {n:>5.2}  {query}");
                    }
                }
            }
            Err(err) => println!("!!! statement count at {lines} lines failed: {err}"),
        }
    }
}
