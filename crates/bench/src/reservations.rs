//! Reservation throughput: one hot SKU (every request fights for the same row) and
//! 1000 SKUs (spread out), at 1 and 32 clients; and, on PostgreSQL, the same
//! conditional UPDATE driven by `pgbench` straight at the database, as the ceiling
//! no application on top of it can beat.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sea_orm::{ConnectionTrait, Database};

use crate::Outcome;

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
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .expect("client");
    let url = Arc::new(format!("{base}/v1/inventory/reservations"));
    let token = Arc::new(format!("Bearer {token}"));
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, url, token, next) =
                (client.clone(), url.clone(), token.clone(), next.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(100_000);
                let mut errors = 0;
                while Instant::now() < deadline {
                    let i = if spread {
                        next.fetch_add(7919, Ordering::Relaxed) % SKUS
                    } else {
                        0
                    };
                    let body = serde_json::json!({"lines": [
                        {"sku": format!("SKU-{i:04}"), "warehouse_code": "BENCH", "quantity": 1}]});
                    let t = Instant::now();
                    match client
                        .post(url.as_str())
                        .header("authorization", token.as_str())
                        .json(&body)
                        .send()
                        .await
                    {
                        Ok(res) if res.status() == 201 => {
                            let _ = res.bytes().await;
                            latencies.push(t.elapsed());
                        }
                        _ => errors += 1,
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    crate::collect(tasks, started).await
}

/// The ceiling: `pgbench` running the reservation's conditional UPDATE (same table,
/// same index, same predicate) with no HTTP, JSON, auth, audit or ledger around it.
/// Returns (transactions per second, p50, p99).
pub async fn pgbench_ceiling(
    url: &str,
    concurrency: usize,
    seconds: u64,
    spread: bool,
) -> anyhow::Result<(f64, Duration, Duration)> {
    let db = Database::connect(url).await?;
    db.execute_unprepared(
        "CREATE TABLE IF NOT EXISTS bench_keys AS \
         SELECT row_number() OVER (ORDER BY product_id) AS i, product_id, warehouse_id FROM stock_levels; \
         CREATE UNIQUE INDEX IF NOT EXISTS bench_keys_i ON bench_keys (i)",
    )
    .await?;
    db.close().await?;
    let dir = tempfile::tempdir()?;
    let script = dir.path().join("reserve.sql");
    let pick = if spread {
        format!("random(1, {SKUS})")
    } else {
        "1".to_owned()
    };
    std::fs::write(
        &script,
        format!(
            "\\set i {pick}\n\
             UPDATE stock_levels SET reserved = reserved + 1, version = version + 1, updated_at = now() \
             WHERE (product_id, warehouse_id) = (SELECT product_id, warehouse_id FROM bench_keys WHERE i = :i) \
             AND on_hand - reserved >= 1;\n"
        ),
    )?;
    let out = Command::new("pgbench")
        .current_dir(dir.path())
        .args([
            "-n",
            "-M",
            "prepared",
            "-c",
            &concurrency.to_string(),
            "-j",
            "2",
            "-T",
        ])
        .arg(seconds.to_string())
        .args(["-l", "--log-prefix", "lat", "-f"])
        .arg(&script)
        .arg(url)
        .output()
        .context("pgbench (postgresql-client) is needed for the ceiling")?;
    if !out.status.success() {
        bail!("pgbench failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let tps: f64 = text
        .lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse().ok())
        .context("no tps in pgbench output")?;
    let mut latencies = latencies_from_logs(dir.path())?;
    latencies.sort_unstable();
    Ok((
        tps,
        crate::percentile(&latencies, 50),
        crate::percentile(&latencies, 99),
    ))
}

/// pgbench's per-transaction logs: the third column is the latency in microseconds.
fn latencies_from_logs(dir: &Path) -> anyhow::Result<Vec<Duration>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("lat"))
        {
            for line in std::fs::read_to_string(&path)?.lines() {
                if let Some(us) = line
                    .split_whitespace()
                    .nth(2)
                    .and_then(|v| v.parse::<u64>().ok())
                {
                    out.push(Duration::from_micros(us));
                }
            }
        }
    }
    Ok(out)
}
