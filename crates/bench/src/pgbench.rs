//! The ceilings: `pgbench` running, as one transaction, the statements the server
//! issues for one request (read from `pg_stat_statements`, see the scripts below), on
//! the same tables, with no HTTP, JSON, authentication or object mapping around them.
//!
//! The statements come in the server's order (read from `log_statement = all`: the
//! reservation rows are written before the stock levels are locked, so locks are held
//! as briefly as the server holds them). Their values are literals taken from what the
//! server stored during the warm-up (the same event payloads, audit changes and
//! review), so the rows written are the same size. Each transaction is preceded by one
//! lookup the server does not make: the product ids and SKUs of the lines, and fresh
//! ids, from `bench_keys` (a client would know the SKUs; pgbench cannot make a UUID
//! otherwise), one round trip in 12 (reservations) or 34 (orders) that pgbench pays
//! and the server does not.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};

use crate::reservations::SKUS;

/// Transactions per second, p50, p99.
pub struct Ceiling {
    pub tps: f64,
    pub p50: Duration,
    pub p99: Duration,
}

/// What the scripts need from the database: the signed-in user, the customer, the
/// warehouse, and the numbered products.
async fn prepare(db: &DatabaseConnection) -> anyhow::Result<()> {
    db.execute_unprepared(&format!(
        "CREATE TABLE IF NOT EXISTS bench_keys AS \
         SELECT (row_number() OVER (ORDER BY sku_normalized) - 1)::int AS i, id AS product_id, \
         sku_normalized AS sku FROM products WHERE sku_normalized LIKE 'sku-%' LIMIT {SKUS}; \
         CREATE UNIQUE INDEX IF NOT EXISTS bench_keys_i ON bench_keys (i); ANALYZE bench_keys"
    ))
    .await?;
    Ok(())
}

async fn text(db: &DatabaseConnection, sql: &str) -> anyhow::Result<String> {
    db.query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?
        .with_context(|| format!("nothing from {sql}"))?
        .try_get_by_index::<String>(0)
        .map_err(Into::into)
}

/// A stored value as an SQL literal pgbench leaves alone: quotes doubled, and a
/// colon before a letter (which pgbench would take for a variable) written as the
/// JSON escape `\u003a`, which jsonb reads back as the same colon.
fn literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => out.push_str("''"),
            ':' if chars
                .peek()
                .is_some_and(|n| n.is_ascii_alphabetic() || *n == '_') =>
            {
                out.push_str("\\u003a");
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

async fn stored(db: &DatabaseConnection, what: &str) -> anyhow::Result<String> {
    Ok(literal(&text(db, what).await?))
}

pub(crate) async fn event(db: &DatabaseConnection, kind: &str) -> anyhow::Result<String> {
    stored(
        db,
        &format!(
            "SELECT payload::text FROM events WHERE event_type = '{kind}' ORDER BY seq DESC LIMIT 1"
        ),
    )
    .await
}

pub(crate) async fn audit(db: &DatabaseConnection, action: &str) -> anyhow::Result<String> {
    stored(
        db,
        &format!("SELECT changes::text FROM audit_events WHERE action = '{action}' ORDER BY seq DESC LIMIT 1"),
    )
    .await
}

/// `-D` definitions for the script: the user, customer and warehouse.
pub(crate) async fn defines(
    db: &DatabaseConnection,
    customer: &str,
) -> anyhow::Result<Vec<String>> {
    let user = text(db, "SELECT id::text FROM users ORDER BY created_at LIMIT 1").await?;
    let warehouse = text(
        db,
        "SELECT id::text FROM warehouses WHERE code_normalized = 'bench'",
    )
    .await?;
    Ok(vec![
        format!("u={user}"),
        format!("c={customer}"),
        format!("w={warehouse}"),
    ])
}

pub(crate) const EVENT: &str = "INSERT INTO events (id, event_type, resource_type, resource_id, resource_version, \
    payload, actor, request_id, created_at, order_id, customer_id) VALUES";
pub(crate) const AUDIT: &str = "INSERT INTO audit_events (id, occurred_at, actor_type, actor_id, action, \
    entity_type, entity_id, changes, outcome, ip, user_agent, request_id) VALUES";
const RESERVATION: &str = "INSERT INTO reservations (id, reference, status, expires_at, actor, \
    order_id, version, created_at, updated_at) VALUES";
const RESERVATION_LINES: &str = "INSERT INTO reservation_lines (id, reservation_id, line_no, \
    product_id, warehouse_id, quantity, consumed, released) VALUES";

/// The reservation endpoint's 11 statements (one line, SKU and warehouse code given).
pub async fn reservation_script(url: &str, spread: bool) -> anyhow::Result<(String, Vec<String>)> {
    let db = Database::connect(url).await?;
    prepare(&db).await?;
    let created = event(&db, "reservation.created").await?;
    let changes = audit(&db, "reservation.create").await?;
    let defines = defines(&db, "-").await?;
    db.close().await?;
    let pick = if spread {
        format!("random(0, {})", SKUS - 1)
    } else {
        "0".to_owned()
    };
    let script = format!(
        "\\set i {pick}
SELECT product_id AS p1, sku AS s1, gen_random_uuid() AS r FROM bench_keys WHERE i = :i \\gset
BEGIN;
SELECT * FROM users WHERE id = :u LIMIT 1;
SELECT * FROM products WHERE sku_normalized IN (:s1);
SELECT * FROM warehouses WHERE code_normalized IN ('bench');
{RESERVATION} (:r, NULL, 'active', NULL, 'user:' || :u, NULL, 1, now(), now()) RETURNING *;
{RESERVATION_LINES} (gen_random_uuid(), :r, 1, :p1, :w, 1, 0, 0);
SELECT * FROM stock_levels WHERE product_id = :p1 AND warehouse_id = :w ORDER BY product_id, warehouse_id FOR UPDATE;
UPDATE stock_levels AS l SET reserved = l.reserved + v.column3, version = l.version + 1, updated_at = now() FROM (VALUES (:p1::uuid, :w::uuid, 1::bigint)) AS v WHERE l.product_id = v.column1 AND l.warehouse_id = v.column2 AND l.on_hand - l.reserved >= v.column3 RETURNING l.*;
{EVENT} (gen_random_uuid(), 'reservation.created', 'reservation', :r, 1, {created}, 'user:' || :u, gen_random_uuid()::text, now(), NULL, NULL);
{AUDIT} (gen_random_uuid(), now(), 'user', :u, 'reservation.create', 'reservation', :r, {changes}, 'success', '127.0.0.1', 'bench', gen_random_uuid()::text) RETURNING *;
COMMIT;
"
    );
    Ok((script, defines))
}

const ORDER_COLUMNS: &str = "id, number, status, fulfillment_status, payment_status, channel, \
    channel_name, external_id, intake_hash, customer_id, customer_name, currency, prices_include_tax, \
    subtotal_amount, discount_amount, order_discount_amount, tax_amount, shipping_amount, \
    grand_total_amount, base_currency, base_rate, grand_total_base_amount, shipping_address, \
    billing_address, requested_delivery_on, payment_terms, payment_terms_days, notes, tags, metadata, \
    review, status_reason, reservation_id, search_text, created_by, creator_role, prepaid_amount, \
    submitted_at, version, created_at, updated_at";
const LINE_COLUMNS: &str = "id, order_id, line_no, product_id, sku, name, unit, tax_rate_bps, \
    tracks_inventory, quantity, unit_price_amount, discount_amount, order_discount_share, tax_amount, \
    total_amount, warehouse_id, warehouse_code";

/// `POST /v1/orders` with three lines, submitted and approved: 33 statements.
pub async fn order_script(url: &str, customer: &str) -> anyhow::Result<(String, Vec<String>)> {
    let db = Database::connect(url).await?;
    prepare(&db).await?;
    let created = event(&db, "order.created").await?;
    let reserved = event(&db, "reservation.created").await?;
    let approved = event(&db, "order.approved").await?;
    let create = audit(&db, "order.create").await?;
    let reserve = audit(&db, "reservation.create").await?;
    let submit = audit(&db, "order.submit").await?;
    let review = stored(
        &db,
        "SELECT review::text FROM orders WHERE status = 'approved' ORDER BY created_at DESC LIMIT 1",
    )
    .await?;
    let defines = defines(&db, customer).await?;
    db.close().await?;
    let line = |n: usize| {
        format!(
            "(gen_random_uuid(), :o, {n}, :p{n}, :s{n}, 'Bench product', 'each', 0, true, 1, 1000, 0, 0, 0, 1000, :w, 'BENCH')"
        )
    };
    let lines = [line(1), line(2), line(3)].join(", ");
    let setting = |key: &str| format!("SELECT * FROM settings WHERE key = '{key}' LIMIT 1;");
    let script = format!(
        "\\set i random(0, {last})
SELECT a.product_id AS p1, a.sku AS s1, b.product_id AS p2, b.sku AS s2, c.product_id AS p3, c.sku AS s3, gen_random_uuid() AS o, gen_random_uuid() AS r FROM bench_keys a, bench_keys b, bench_keys c WHERE a.i = :i AND b.i = (:i + 1) % {SKUS} AND c.i = (:i + 2) % {SKUS} \\gset
BEGIN;
SELECT * FROM users WHERE id = :u LIMIT 1;
SELECT * FROM customers WHERE id = :c LIMIT 1;
SELECT * FROM products WHERE 1 = 0 OR sku_normalized IN (:s1, :s2, :s3);
SELECT * FROM warehouses;
SELECT * FROM stock_levels WHERE product_id IN (:p1, :p2, :p3);
{prices_include_tax}
{order_number_prefix}
SELECT nextval('numbers_order'::regclass) FROM generate_series(1, 1::bigint) ORDER BY 1;
INSERT INTO orders ({ORDER_COLUMNS}) VALUES (:o, 'B-' || :o, 'draft', 'unfulfilled', 'unpaid', 'manual', '', NULL, NULL, :c, 'Bench buyer', 'CNY', false, 3000, 0, 0, 0, 0, 3000, NULL, NULL, NULL, NULL, NULL, NULL, 'prepaid', NULL, NULL, '[]', '{{}}', NULL, NULL, NULL, 'b-000001 bench buyer', 'user:' || :u, 'admin', 0, NULL, 1, now(), now()) RETURNING *;
INSERT INTO order_lines ({LINE_COLUMNS}) VALUES {lines};
{EVENT} (gen_random_uuid(), 'order.created', 'order', :o, 1, {created}, 'user:' || :u, gen_random_uuid()::text, now(), :o, :c);
{AUDIT} (gen_random_uuid(), now(), 'user', :u, 'order.create', 'order', :o, {create}, 'success', '127.0.0.1', 'bench', gen_random_uuid()::text) RETURNING *;
SELECT * FROM customers WHERE id = :c LIMIT 1;
SELECT * FROM products WHERE id IN (:p1, :p2, :p3);
SELECT * FROM warehouses WHERE id IN (:w);
{RESERVATION} (:r, 'B-' || :o, 'active', NULL, 'user:' || :u, :o, 1, now(), now()) RETURNING *;
{RESERVATION_LINES} (gen_random_uuid(), :r, 1, :p1, :w, 1, 0, 0), (gen_random_uuid(), :r, 2, :p2, :w, 1, 0, 0), (gen_random_uuid(), :r, 3, :p3, :w, 1, 0, 0);
SELECT * FROM stock_levels WHERE (product_id = :p1 AND warehouse_id = :w) OR (product_id = :p2 AND warehouse_id = :w) OR (product_id = :p3 AND warehouse_id = :w) ORDER BY product_id, warehouse_id FOR UPDATE;
UPDATE stock_levels AS l SET reserved = l.reserved + v.column3, version = l.version + 1, updated_at = now() FROM (VALUES (:p1::uuid, :w::uuid, 1::bigint), (:p2::uuid, :w::uuid, 1::bigint), (:p3::uuid, :w::uuid, 1::bigint)) AS v WHERE l.product_id = v.column1 AND l.warehouse_id = v.column2 AND l.on_hand - l.reserved >= v.column3 RETURNING l.*;
{EVENT} (gen_random_uuid(), 'reservation.created', 'reservation', :r, 1, {reserved}, 'user:' || :u, gen_random_uuid()::text, now(), :o, NULL);
{AUDIT} (gen_random_uuid(), now(), 'user', :u, 'reservation.create', 'reservation', :r, {reserve}, 'success', '127.0.0.1', 'bench', gen_random_uuid()::text) RETURNING *;
SELECT * FROM products WHERE id IN (:p1, :p2, :p3) OR 1 = 0;
{order_discount_caps}
{default_currency}
{base_currency}
{order_approval_threshold}
UPDATE orders SET status = 'approved', base_currency = 'CNY', base_rate = '1', grand_total_base_amount = 3000, review = {review}, status_reason = NULL, reservation_id = :r, submitted_at = now(), version = 2, updated_at = now() WHERE id = :o RETURNING *;
SELECT * FROM order_lines WHERE order_id IN (:o) ORDER BY line_no;
SELECT id, number, order_id, amount, currency, method, provider, reference, received_on, created_at FROM payments WHERE order_id IN (:o) ORDER BY created_at;
{EVENT} (gen_random_uuid(), 'order.approved', 'order', :o, 2, {approved}, 'user:' || :u, gen_random_uuid()::text, now(), :o, :c);
{AUDIT} (gen_random_uuid(), now(), 'user', :u, 'order.submit', 'order', :o, {submit}, 'success', '127.0.0.1', 'bench', gen_random_uuid()::text) RETURNING *;
COMMIT;
",
        last = SKUS - 1,
        prices_include_tax = setting("prices_include_tax"),
        order_number_prefix = setting("order_number_prefix"),
        order_discount_caps = setting("order_discount_caps"),
        default_currency = setting("default_currency"),
        base_currency = setting("base_currency"),
        order_approval_threshold = setting("order_approval_threshold"),
    );
    Ok((script, defines))
}

/// The statements between `BEGIN;` and `COMMIT;`, both counted.
pub fn statements(script: &str) -> usize {
    script
        .lines()
        .skip_while(|l| *l != "BEGIN;")
        .filter(|l| l.ends_with(';'))
        .count()
}

/// The server's pool in the bench (`ORDERCRM_DB_MAX_CONNECTIONS`): however many HTTP
/// clients there are, at most this many transactions run in the database at once, so
/// pgbench gets no more connections than that (more would only thrash two cores).
pub const POOL: usize = 16;

/// Run `script` for `seconds` as `clients` would reach the database through the
/// server's pool: on `min(clients, POOL)` connections.
pub fn run(
    url: &str,
    (script, defines): &(String, Vec<String>),
    clients: usize,
    seconds: u64,
) -> anyhow::Result<Ceiling> {
    let clients = clients.min(POOL);
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("script.sql");
    std::fs::write(&path, script)?;
    let mut cmd = Command::new("pgbench");
    cmd.current_dir(dir.path()).args([
        "-n",
        "-M",
        "prepared",
        "-c",
        &clients.to_string(),
        "-j",
        "2",
        "-T",
        &seconds.to_string(),
        "-l",
        "--sampling-rate",
        "0.25",
        "--log-prefix",
        "lat",
    ]);
    for d in defines {
        cmd.arg("-D").arg(d);
    }
    let out = cmd
        .arg("-f")
        .arg(&path)
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
    let failed = text
        .lines()
        .find(|l| l.starts_with("number of failed transactions"))
        .and_then(|l| l.split_whitespace().nth(4))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    if failed > 0 {
        bail!("pgbench: {failed} transactions failed");
    }
    let mut latencies = latencies_from_logs(dir.path())?;
    latencies.sort_unstable();
    Ok(Ceiling {
        tps,
        p50: crate::percentile(&latencies, 50),
        p99: crate::percentile(&latencies, 99),
    })
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
