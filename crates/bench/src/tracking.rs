//! Tracking in: `POST /v1/tracking-events` with 100-event batches (one new event for
//! each of 100 shipments, as an aggregator pushes them) at 1 and 8 clients, events
//! applied per second and p99; on PostgreSQL next to pgbench running the same
//! statements on the same tables.

use anyhow::{Context, bail};
use sea_orm::{ConnectionTrait, Database};

use crate::reservations::SKUS;
use crate::{Outcome, pgbench};

/// Shipments the batches are drawn from.
pub const SHIPMENTS: usize = 2000;
/// Events per request.
pub const BATCH: usize = 100;

/// `SHIPMENTS` one-line orders, approved and shipped with carrier `bench` under
/// tracking numbers `BT-0000` …, from 8 clients.
async fn seed(base: &str, token: &str, customer: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let (client, base, token, customer) = (
            client.clone(),
            base.to_owned(),
            token.to_owned(),
            customer.to_owned(),
        );
        tasks.push(tokio::spawn(async move {
            for n in (worker..SHIPMENTS).step_by(8) {
                let order: serde_json::Value = client
                    .post(format!("{base}/v1/orders"))
                    .bearer_auth(&token)
                    .json(&serde_json::json!({"customer_id": customer, "currency": "CNY",
                        "submit": true, "lines": [{"sku": format!("SKU-{:04}", n % SKUS), "quantity": 1}]}))
                    .send()
                    .await?
                    .json()
                    .await?;
                let id = order
                    .get("id")
                    .and_then(serde_json::Value::as_str)
                    .with_context(|| format!("order not created: {order}"))?;
                let res = client
                    .post(format!("{base}/v1/orders/{id}/shipments"))
                    .bearer_auth(&token)
                    .json(&serde_json::json!({"lines": [{"line_no": 1, "quantity": 1}],
                        "carrier": "bench", "tracking_number": format!("BT-{n:04}")}))
                    .send()
                    .await?;
                if res.status() != 201 {
                    bail!("shipment {n}: {} {}", res.status(), res.text().await?);
                }
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

/// Request `n`: shipments `n % SHIPMENTS` on, one `in_transit` event each, its time
/// and id from the clock (each run counts `n` from 0 again), so every event is new.
fn body(n: usize) -> serde_json::Value {
    // A day ago, plus n microseconds: a time no other request uses, within the
    // year the server takes.
    let at = chrono::Utc::now() - chrono::Duration::days(1)
        + chrono::Duration::microseconds(i64::try_from(n).unwrap_or(0));
    let events: Vec<_> = (0..BATCH)
        .map(|j| {
            serde_json::json!({"carrier": "bench",
                "tracking_number": format!("BT-{:04}", (n + j) % SHIPMENTS),
                "event_id": format!("{}-{j}", at.timestamp_micros()), "status": "in_transit",
                "occurred_at": at, "location": format!("Hub {}", j % 10),
                "message": "Departed the sorting centre"})
        })
        .collect();
    serde_json::json!({"events": events})
}

/// Every event recorded: none unknown, none a repeat.
fn recorded(body: &[u8]) -> bool {
    let has = |needle: &[u8]| body.windows(needle.len()).any(|w| w == needle);
    has(b"\"results\"") && !has(b"not_found") && !has(b"duplicate")
}

async fn load(base: &str, token: &str, concurrency: usize, seconds: u64) -> Outcome {
    crate::post_load(
        format!("{base}/v1/tracking-events"),
        token,
        concurrency,
        seconds,
        body,
        recorded,
    )
    .await
}

/// `pg_url` is the bench database on PostgreSQL, `None` on SQLite.
pub async fn run(
    engine: &str,
    base: &str,
    token: &str,
    pg_url: Option<&str>,
    seconds: u64,
) -> anyhow::Result<()> {
    let customer = crate::orders::seed_customer(base, token).await?;
    seed(base, token, &customer).await?;
    // Warm-up, and the rows the pgbench script copies its values from.
    let warm = load(base, token, 1, 1).await;
    if warm.errors > 0 {
        bail!("tracking warm-up: {} requests failed", warm.errors);
    }
    let script = match pg_url {
        Some(url) => Some(script(url, &customer).await?),
        None => None,
    };
    let name = format!("POST /v1/tracking-events ({BATCH})");
    for concurrency in [1, 8] {
        let mut runs = Vec::new();
        let mut ceilings = Vec::new();
        for _ in 0..crate::RUNS {
            runs.push(load(base, token, concurrency, seconds).await);
            if let (Some(url), Some(script)) = (pg_url, &script) {
                match pgbench::run(url, script, concurrency, seconds) {
                    Ok(c) => ceilings.push(c),
                    Err(err) => println!("!!! pgbench for tracking skipped: {err}"),
                }
            }
        }
        let ours = crate::median(runs);
        crate::row(engine, &name, concurrency, &ours);
        #[allow(clippy::cast_precision_loss, reason = "a batch size")]
        let per_request = BATCH as f64;
        println!(
            "{engine}: tracking at {concurrency} client(s): {:.0} events applied a second, p99 {} ms",
            ours.rate() * per_request,
            crate::ms(ours.p99)
        );
        if let Some(c) = crate::median_ceiling(ceilings) {
            crate::ceiling_row(
                engine,
                "  pgbench: its statements",
                concurrency,
                &c,
                ours.rate(),
            );
            println!(
                "{engine}: pgbench at {concurrency} client(s): {:.0} events a second, p99 {} ms; ours {:.0} %",
                c.tps * per_request,
                crate::ms(c.p99),
                100.0 * ours.rate() / c.tps.max(1e-9)
            );
        }
    }
    Ok(())
}

/// The batches pgbench draws from, one row per starting shipment: the 100 shipments
/// in id order (the order the server takes them in), with their orders and numbers.
async fn batches(url: &str) -> anyhow::Result<()> {
    let db = Database::connect(url).await?;
    let cols: Vec<String> = (1..=BATCH)
        .flat_map(|j| {
            [
                format!("s{j} uuid"),
                format!("o{j} uuid"),
                format!("n{j} text"),
            ]
        })
        .collect();
    db.execute_unprepared(&format!(
        "DROP TABLE IF EXISTS bench_batches; CREATE TABLE bench_batches (b int PRIMARY KEY, {})",
        cols.join(", ")
    ))
    .await?;
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT id::text, order_id::text, tracking_number FROM shipments \
             WHERE carrier = 'bench' ORDER BY tracking_number",
        ))
        .await?;
    let shipments: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| {
            Ok((
                r.try_get_by_index::<String>(0)?,
                r.try_get_by_index::<String>(1)?,
                r.try_get_by_index::<String>(2)?,
            ))
        })
        .collect::<Result<_, sea_orm::DbErr>>()?;
    if shipments.len() != SHIPMENTS {
        bail!("{} bench shipments, not {SHIPMENTS}", shipments.len());
    }
    for chunk in (0..SHIPMENTS).collect::<Vec<_>>().chunks(50) {
        let values: Vec<String> = chunk
            .iter()
            .map(|b| {
                let mut batch: Vec<&(String, String, String)> = (0..BATCH)
                    .filter_map(|j| shipments.get((b + j) % SHIPMENTS))
                    .collect();
                batch.sort_by(|x, y| x.0.cmp(&y.0));
                let cells: Vec<String> = batch
                    .iter()
                    .flat_map(|(s, o, n)| [format!("'{s}'"), format!("'{o}'"), format!("'{n}'")])
                    .collect();
                format!("({b}, {})", cells.join(", "))
            })
            .collect();
        db.execute_unprepared(&format!(
            "INSERT INTO bench_batches VALUES {}",
            values.join(", ")
        ))
        .await?;
    }
    db.close().await?;
    Ok(())
}

const TRACKING: &str = "INSERT INTO tracking_events (id, shipment_id, carrier, tracking_number, \
    provider_event_id, fingerprint, status, occurred_at, location, message, source, recorded_by, \
    recorded_at) VALUES";

/// What the server does for one request: per shipment, in id order, 10 statements.
async fn script(url: &str, customer: &str) -> anyhow::Result<(String, Vec<String>)> {
    batches(url).await?;
    let db = Database::connect(url).await?;
    let updated = pgbench::event(&db, "shipment.tracking_updated").await?;
    let tracked = pgbench::audit(&db, "shipment.track").await?;
    let defines = pgbench::defines(&db, customer).await?;
    db.close().await?;
    let numbers: Vec<String> = (1..=BATCH).map(|j| format!(":n{j}")).collect();
    let mut script = format!(
        "\\set b random(0, {last})
SELECT * FROM bench_batches WHERE b = :b \\gset
BEGIN;
SELECT * FROM users WHERE id = :u LIMIT 1;
SELECT * FROM shipments WHERE carrier IN ('bench') AND tracking_number IN ({numbers}) AND status <> 'cancelled';
",
        last = SHIPMENTS - 1,
        numbers = numbers.join(", ")
    );
    for j in 1..=BATCH {
        let (s, o, n) = (format!(":s{j}"), format!(":o{j}"), format!(":n{j}"));
        script.push_str(&format!(
            "UPDATE shipments SET version = version WHERE id = {s} AND status <> 'cancelled';
SELECT * FROM shipments WHERE id = {s} LIMIT 1;
SELECT * FROM tracking_events WHERE shipment_id = {s} ORDER BY occurred_at;
SELECT * FROM tracking_events WHERE fingerprint IN (md5({s}::text) || md5(:b::text)) OR (carrier = 'bench' AND tracking_number = {n} AND provider_event_id IN ({s}::text));
{TRACKING} (gen_random_uuid(), {s}, 'bench', {n}, gen_random_uuid()::text, md5(clock_timestamp()::text) || md5(random()::text), 'in_transit', clock_timestamp(), 'Hub 1', 'Departed the sorting centre', 'carrier', 'user:' || :u, now());
SELECT * FROM shipment_lines WHERE shipment_id = {s} ORDER BY line_no;
SELECT * FROM orders WHERE id = {o} LIMIT 1;
{EVENT} (gen_random_uuid(), 'shipment.tracking_updated', 'shipment', {s}, 2, {updated}, 'user:' || :u, gen_random_uuid()::text, now(), {o}, :c);
UPDATE shipments SET status = 'in_transit', version = version + 1, delivered_at = NULL, updated_at = now() WHERE id = {s};
{AUDIT} (gen_random_uuid(), now(), 'user', :u, 'shipment.track', 'shipment', {s}, {tracked}, 'success', '127.0.0.1', 'bench', gen_random_uuid()::text) RETURNING *;
",
            EVENT = pgbench::EVENT,
            AUDIT = pgbench::AUDIT,
        ));
    }
    script.push_str("COMMIT;\n");
    Ok((script, defines))
}
