//! Reservation throughput: one hot SKU (every request fights for the same row) and
//! 1000 SKUs (spread out); and, on PostgreSQL, `pgbench` running the endpoint's own
//! statements straight at the database, as the ceiling no application on top of it
//! can beat.

use std::time::{Duration, Instant};

use anyhow::bail;

use crate::statements::Counter;
use crate::{Outcome, pgbench};

pub const SKUS: usize = 1000;
/// Far more than a bench run can reserve.
const STOCK: i64 = 100_000_000;

/// A warehouse, the SKUs and stock, through the API.
pub async fn seed(base: &str, token: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let client = reqwest::Client::new();
    let post = |path: &str, body: serde_json::Value| {
        client
            .post(format!("{base}{path}"))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    let res = post(
        "/v1/warehouses",
        serde_json::json!({"code": "BENCH", "name": "Bench"}),
    )
    .await?;
    if res.status() != 201 {
        bail!("warehouse: {}", res.status());
    }
    for i in 0..SKUS {
        let sku = format!("SKU-{i:04}");
        let res = post(
            "/v1/products",
            serde_json::json!({"sku": sku, "name": format!("Bench product {i}"),
                "list_price": {"amount": 1000, "currency": "CNY"}}),
        )
        .await?;
        if res.status() != 201 {
            bail!("product {sku}: {}", res.status());
        }
        let res = post(
            "/v1/inventory/receipts",
            serde_json::json!({"sku": sku, "warehouse_code": "BENCH", "quantity": STOCK}),
        )
        .await?;
        if res.status() != 201 {
            bail!("receipt {sku}: {}", res.status());
        }
    }
    Ok(started.elapsed())
}

/// POST one-line reservations for `seconds` from `concurrency` clients; `spread`
/// picks a different SKU per request, otherwise every request wants SKU-0000.
pub async fn load(
    base: &str,
    token: &str,
    concurrency: usize,
    seconds: u64,
    spread: bool,
) -> Outcome {
    crate::post_load(
        format!("{base}/v1/inventory/reservations"),
        token,
        concurrency,
        seconds,
        move |n| {
            let i = if spread { n % SKUS } else { 0 };
            serde_json::json!({"lines": [
                {"sku": format!("SKU-{i:04}"), "warehouse_code": "BENCH", "quantity": 1}]})
        },
        |_| true,
    )
    .await
}

/// One-line reservations on one hot SKU at 1 and 32 clients and on 1000 SKUs at 1, 8
/// and 32 (the median of three runs each); on PostgreSQL next to pgbench running the
/// endpoint's own statements, which are counted first.
pub async fn run(
    engine: &str,
    base: &str,
    token: &str,
    pg_url: Option<&str>,
    seconds: u64,
) -> anyhow::Result<()> {
    if let Some(url) = pg_url {
        count_statements(url, base, token).await?;
    }
    for (name, spread, clients) in [
        ("reserve: one hot SKU", false, &[1, 32][..]),
        ("reserve: 1000 SKUs", true, &[1, 8, 32][..]),
    ] {
        let script = match pg_url {
            Some(url) => Some(pgbench::reservation_script(url, spread).await?),
            None => None,
        };
        for &concurrency in clients {
            crate::compare(
                engine,
                name,
                concurrency,
                seconds,
                pg_url.zip(script.as_ref()),
                || load(base, token, concurrency, seconds, spread),
            )
            .await;
        }
    }
    Ok(())
}

/// One-line reservations on `count` SKUs, one after another; the pgbench script
/// copies the values of the last one.
async fn reserve_each(base: &str, token: &str, count: usize) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    for i in 0..count {
        let res = client
            .post(format!("{base}/v1/inventory/reservations"))
            .bearer_auth(token)
            .json(&serde_json::json!({"lines": [
                {"sku": format!("SKU-{i:04}"), "warehouse_code": "BENCH", "quantity": 1}]}))
            .send()
            .await?;
        if res.status() != 201 {
            bail!("reservation: {}", res.status());
        }
    }
    Ok(())
}

async fn count_statements(url: &str, base: &str, token: &str) -> anyhow::Result<()> {
    const COUNT: usize = 50;
    let counter = match Counter::connect(url).await {
        Ok(c) => c,
        Err(err) => {
            println!("!!! statement counts skipped: {err}");
            return reserve_each(base, token, 1).await;
        }
    };
    let per = counter
        .per_unit(COUNT, || reserve_each(base, token, COUNT))
        .await;
    // After the count: the script copies the values of the reservations it made.
    let script = match pgbench::reservation_script(url, true).await {
        Ok((s, _)) => pgbench::statements(&s),
        Err(_) => 0,
    };
    match per {
        Ok(per) => println!(
            "postgres: statements per reservation (pg_stat_statements, {COUNT} of them): {:.2} (the pgbench script: {script})",
            crate::statements::total(&per)
        ),
        Err(err) => println!("!!! reservation statement count failed: {err}"),
    }
    Ok(())
}
