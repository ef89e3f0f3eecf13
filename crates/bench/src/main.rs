//! `make bench`: start the release `ordercrm` on SQLite and on PostgreSQL, measure
//! startup-to-ready and idle RSS, then drive fixed-duration load at 1 and 64
//! concurrent connections and print a table of throughput and p50/p99 latency.
//!
//! The load generator shares the machine with the server, so the figures are a
//! floor for what the server alone would do.
#![allow(clippy::print_stdout, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

mod aging;
mod customers;
mod imports;
mod orders;
mod outbox;
mod payments;
mod pgbench;
mod reservations;
mod statements;
mod tracking;
mod webhooks;
use clap::Parser;
use sea_orm::{ConnectionTrait, Database};

#[derive(Parser)]
struct Args {
    /// The release binary.
    #[arg(long, default_value = "target/release/ordercrm")]
    binary: PathBuf,
    /// PostgreSQL admin URL; a scratch database is created and dropped on it.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pg_url: String,
    /// Seconds per scenario.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Customers to seed for the list and search scenarios (0 skips them).
    #[arg(long, default_value_t = 100_000)]
    customers: usize,
    /// Skip the reservation scenarios (and the outbox A/B runs, which need them).
    #[arg(long)]
    no_reservations: bool,
    /// Skip the order scenarios.
    #[arg(long)]
    no_orders: bool,
    /// Skip the PostgreSQL A/B runs of the outbox and document numbers.
    #[arg(long)]
    no_outbox: bool,
    /// Rows of the CSV import that runs under single creates (0 skips it).
    #[arg(long, default_value_t = 100_000)]
    import_rows: usize,
    /// Skip the SQLite run.
    #[arg(long)]
    no_sqlite: bool,
    /// Skip the PostgreSQL run.
    #[arg(long)]
    no_postgres: bool,
    /// Skip the webhook delivery scenarios.
    #[arg(long)]
    no_webhooks: bool,
    /// Skip the tracking scenarios.
    #[arg(long)]
    no_tracking: bool,
    /// Skip the payment scenarios.
    #[arg(long)]
    no_payments: bool,
    /// Skip the receivables aging scenarios.
    #[arg(long)]
    no_aging: bool,
}

pub(crate) struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

async fn start(binary: &PathBuf, database_url: &str) -> anyhow::Result<(Server, Duration)> {
    start_with(binary, database_url, &[]).await
}

/// `start`, with more environment.
pub(crate) async fn start_with(
    binary: &PathBuf,
    database_url: &str,
    env: &[(&str, &str)],
) -> anyhow::Result<(Server, Duration)> {
    let port = free_port()?;
    let started = Instant::now();
    let child = Command::new(binary)
        .arg("serve")
        .envs(env.iter().copied())
        .env("DATABASE_URL", database_url)
        .env("ORDERCRM_LISTEN", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        // The bench measures the server, not the per-user limiter.
        .env("ORDERCRM_RATE_LIMIT", "1000000000")
        // Said out loud: pgbench gets as many connections (see pgbench::POOL).
        .env("ORDERCRM_DB_MAX_CONNECTIONS", pgbench::POOL.to_string())
        // One sign-in serves the whole run; a 100k-row import outlasts the default
        // 15-minute token.
        .env("ORDERCRM_ACCESS_TOKEN_TTL", "86400")
        .env(
            "ORDERCRM_JWT_SECRET",
            "bench-only-secret-0123456789abcdefghijklmnop",
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))?;
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    loop {
        if let Ok(res) = client.get(format!("{}/readyz", server.base)).send().await
            && res.status() == 200
        {
            return Ok((server, started.elapsed()));
        }
        if started.elapsed() > Duration::from_secs(30) {
            bail!("server did not become ready");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

pub(crate) struct Outcome {
    requests: usize,
    errors: usize,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

pub(crate) async fn load(url: String, token: &str, concurrency: usize, seconds: u64) -> Outcome {
    let token = Arc::new(format!("Bearer {token}"));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .expect("client");
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let url = Arc::new(url);
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let client = client.clone();
            let url = url.clone();
            let token = token.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(100_000);
                let mut errors = 0;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let mut req = client.get(url.as_str());
                    // Probes call /healthz without credentials; the API with them.
                    if url.contains("/v1/") {
                        req = req.header("authorization", token.as_str());
                    }
                    match req.send().await {
                        Ok(res) if res.status().is_success() => {
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
    collect(tasks, started).await
}

/// POST the body `body(n)` makes (n counts up by a stride that spreads SKUs) from
/// `concurrency` clients for `seconds`; an answer counts when it is 201 and `ok`
/// accepts its body, anything else is an error.
pub(crate) async fn post_load(
    url: String,
    token: &str,
    concurrency: usize,
    seconds: u64,
    body: impl Fn(usize) -> serde_json::Value + Send + Sync + 'static,
    ok: fn(&[u8]) -> bool,
) -> Outcome {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .expect("client");
    let url = Arc::new(url);
    let token = Arc::new(format!("Bearer {token}"));
    let body = Arc::new(body);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, url, token, body, next) = (
                client.clone(),
                url.clone(),
                token.clone(),
                body.clone(),
                next.clone(),
            );
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(100_000);
                let mut errors = 0;
                while Instant::now() < deadline {
                    let n = next.fetch_add(7919, std::sync::atomic::Ordering::Relaxed);
                    let t = Instant::now();
                    let sent = client
                        .post(url.as_str())
                        .header("authorization", token.as_str())
                        .json(&body(n))
                        .send()
                        .await;
                    match sent {
                        Ok(res) if res.status().is_success() => {
                            if res.bytes().await.is_ok_and(|b| ok(&b)) {
                                latencies.push(t.elapsed());
                            } else {
                                errors += 1;
                            }
                        }
                        _ => errors += 1,
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    collect(tasks, started).await
}

type Task = tokio::task::JoinHandle<(Vec<Duration>, usize)>;

/// Merge the load tasks' latencies into one outcome.
pub(crate) async fn collect(tasks: Vec<Task>, started: Instant) -> Outcome {
    let mut all = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (l, e) = task.await.expect("load task");
        all.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed();
    all.sort_unstable();
    Outcome {
        requests: all.len(),
        errors,
        elapsed,
        p50: percentile(&all, 50),
        p99: percentile(&all, 99),
        max: all.last().copied().unwrap_or_default(),
    }
}

impl Outcome {
    /// Requests per second over the run.
    #[allow(
        clippy::cast_precision_loss,
        reason = "a request count, far below 2^52"
    )]
    pub(crate) fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
}

/// The value at percent `p` of an ascending list (the nearest rank below).
pub(crate) fn percentile<T: Copy + Default>(sorted: &[T], p: usize) -> T {
    let rank = (sorted.len() * p / 100).min(sorted.len().saturating_sub(1));
    sorted.get(rank).copied().unwrap_or_default()
}

/// `RUNS` runs of `ours` at `concurrency`, each followed (with a script) by a pgbench
/// run of the same length; prints the medians of both and their ratio.
pub(crate) async fn compare<F, Fut>(
    engine: &str,
    name: &str,
    concurrency: usize,
    seconds: u64,
    pgbench: Option<(&str, &(String, Vec<String>))>,
    ours: F,
) where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Outcome>,
{
    let mut runs = Vec::new();
    let mut ceilings = Vec::new();
    for _ in 0..RUNS {
        runs.push(ours().await);
        if let Some((url, script)) = pgbench {
            match pgbench::run(url, script, concurrency, seconds) {
                Ok(c) => ceilings.push(c),
                Err(err) => println!("!!! pgbench for {name} skipped: {err}"),
            }
        }
    }
    let ours = median(runs);
    row(engine, name, concurrency, &ours);
    if let Some(c) = median_ceiling(ceilings) {
        ceiling_row(
            engine,
            "  pgbench: its statements",
            concurrency,
            &c,
            ours.rate(),
        );
    }
}

/// Runs per measured scenario; the median is reported.
pub(crate) const RUNS: usize = 3;

/// The run with the median throughput.
pub(crate) fn median(mut runs: Vec<Outcome>) -> Outcome {
    runs.sort_by(|a, b| a.rate().total_cmp(&b.rate()));
    runs.swap_remove(runs.len() / 2)
}

/// The pgbench run with the median throughput, if any ran.
pub(crate) fn median_ceiling(mut runs: Vec<pgbench::Ceiling>) -> Option<pgbench::Ceiling> {
    runs.sort_by(|a, b| a.tps.total_cmp(&b.tps));
    let mid = runs.len() / 2;
    (mid < runs.len()).then(|| runs.swap_remove(mid))
}

pub(crate) fn row(engine: &str, name: &str, concurrency: usize, o: &Outcome) {
    println!(
        "| {engine:<8} | {name:<26} | {concurrency:>3} | {:>9.0} | {:>8} | {:>8} | {:>6} |",
        o.rate(),
        ms(o.p50),
        ms(o.p99),
        o.errors
    );
}

pub(crate) fn ceiling_row(
    engine: &str,
    name: &str,
    concurrency: usize,
    c: &pgbench::Ceiling,
    ours: f64,
) {
    println!(
        "| {engine:<8} | {name:<26} | {concurrency:>3} | {:>9.0} | {:>8} | {:>8} |      - |   (ours = {:.0} % of it)",
        c.tps,
        ms(c.p50),
        ms(c.p99),
        100.0 * ours / c.tps
    );
}

/// KiB as MiB, for display.
#[allow(clippy::cast_precision_loss, reason = "a memory size, far below 2^52")]
fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

const PASSWORD: &str = "bench passphrase, long enough";

/// The first admin, as the README creates it: `ordercrm user create --password-stdin`.
fn create_admin(binary: &PathBuf, database_url: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut child = Command::new(binary)
        .args([
            "user",
            "create",
            "--email",
            "bench@example.com",
            "--role",
            "admin",
            "--password-stdin",
        ])
        .env("DATABASE_URL", database_url)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()?;
    writeln!(child.stdin.take().context("stdin")?, "{PASSWORD}")?;
    if !child.wait()?.success() {
        bail!("user create failed");
    }
    Ok(())
}

pub(crate) async fn sign_in(base: &str) -> anyhow::Result<String> {
    let res: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/v1/auth/token"))
        .json(&serde_json::json!({"email": "bench@example.com", "password": PASSWORD}))
        .send()
        .await?
        .json()
        .await?;
    res.get("access_token")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
        .context("no access token")
}

async fn seed(base: &str, token: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    for (key, value) in [
        ("company_name", serde_json::json!("Acme Trading Co.")),
        ("default_currency", serde_json::json!("CNY")),
        ("order_number_prefix", serde_json::json!("SO-")),
    ] {
        let res = client
            .post(format!("{base}/v1/settings"))
            .bearer_auth(token)
            .json(&serde_json::json!({"key": key, "value": value}))
            .send()
            .await?;
        if res.status() != 201 {
            bail!("seeding {key}: {}", res.status());
        }
    }
    for i in 0..200 {
        client
            .post(format!("{base}/v1/settings"))
            .bearer_auth(token)
            .json(&serde_json::json!({"key": format!("ui.pref{i:03}"), "value": {"n": i}}))
            .send()
            .await?;
    }
    Ok(())
}

pub(crate) fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

async fn run_engine(args: &Args, engine: &str, url: &str) -> anyhow::Result<()> {
    // Startup on an existing database: migrate it once, then time a fresh start.
    create_admin(&args.binary, url)?;
    let (first, _) = start(&args.binary, url).await?;
    seed(&first.base, &sign_in(&first.base).await?).await?;
    drop(first);
    let (server, ready_after) = start(&args.binary, url).await?;
    let token = sign_in(&server.base).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = rss_kib(server.child.id()).unwrap_or(0);
    println!(
        "{engine}: startup to ready on an existing database {} ms, idle RSS {:.1} MiB",
        ms(ready_after),
        mib(idle)
    );
    for (name, path) in [
        ("GET /healthz", "/healthz"),
        ("GET /v1/settings/{key}", "/v1/settings/company_name"),
        ("GET /v1/settings?limit=50", "/v1/settings?limit=50"),
    ] {
        for concurrency in [1, 64] {
            let o = load(
                format!("{}{path}", server.base),
                &token,
                concurrency,
                args.seconds,
            )
            .await;
            row(engine, name, concurrency, &o);
        }
    }
    if args.customers > 0 {
        let (took, keys) = customers::seed(url, args.customers).await?;
        println!(
            "{engine}: seeded {} customers in {:.1} s",
            args.customers,
            took.as_secs_f64()
        );
        let deep = customers::cursor_for_page(&keys, 1000, 50)
            .context("not enough customers for page 1000")?;
        for (name, path) in [
            ("customers page 1", "/v1/customers?limit=50".to_owned()),
            (
                "customers page 1000",
                format!("/v1/customers?limit=50&cursor={deep}"),
            ),
            (
                "customers q=伟 (Chinese)",
                "/v1/customers?limit=50&q=%E4%BC%9F".to_owned(),
            ),
            (
                "customers q=customer4242@",
                "/v1/customers?limit=50&q=customer4242%40".to_owned(),
            ),
            (
                "customers q=no match",
                "/v1/customers?limit=50&q=zzzz-nothing".to_owned(),
            ),
        ] {
            let o = load(format!("{}{path}", server.base), &token, 1, args.seconds).await;
            row(engine, name, 1, &o);
        }
    }
    if !args.no_reservations || !args.no_orders || !args.no_tracking {
        let took = reservations::seed(&server.base, &token).await?;
        println!(
            "{engine}: seeded {} SKUs with stock in {:.1} s",
            reservations::SKUS,
            took.as_secs_f64()
        );
        let pg = (engine == "postgres").then_some(url);
        if !args.no_reservations {
            reservations::run(engine, &server.base, &token, pg, args.seconds).await?;
        }
        if !args.no_orders {
            orders::run(engine, &server.base, &token, pg, args.seconds).await?;
        }
        if !args.no_tracking {
            tracking::run(engine, &server.base, &token, pg, args.seconds).await?;
        }
        if engine == "postgres" && !args.no_outbox && !args.no_reservations {
            outbox::run(&server.base, &token, url, args.seconds).await?;
        }
    }
    if !args.no_payments {
        payments::run(engine, &server.base, &token, url, args.seconds).await?;
    }
    if !args.no_aging {
        aging::run(engine, &server.base, &token, url, args.seconds).await?;
    }
    if args.import_rows > 0 {
        let r = imports::run(&server.base, &token, args.import_rows, args.seconds).await?;
        row(engine, "create customer", 4, &r.plain);
        row(engine, "create during import", 4, &r.during);
        println!(
            "{engine}: import of {} rows answered {} ({} created) in {:.1} s; creates meanwhile: p99 {} ms = {:.1} x the plain p99, slowest {} ms, failed statuses {:?}",
            args.import_rows,
            r.import_status,
            r.imported,
            r.import_took.as_secs_f64(),
            ms(r.during.p99),
            r.during.p99.as_secs_f64() / r.plain.p99.as_secs_f64().max(1e-9),
            ms(r.during_max),
            r.failed_statuses
        );
        if r.during.errors > 0 {
            println!(
                "!!! {engine}: {} creates failed while the import ran",
                r.during.errors
            );
        }
    }
    let loaded = rss_kib(server.child.id()).unwrap_or(0);
    println!("{engine}: RSS after load {:.1} MiB", mib(loaded));
    drop(server);
    if !args.no_webhooks {
        webhooks::run(&args.binary, engine, url).await?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // reqwest is built without a TLS provider (the server chooses ring): so does this.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args = Args::parse();
    println!(
        "ordercrm bench: {} s per scenario, {} CPUs shared by server and load generator",
        args.seconds,
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    println!(
        "| engine   | endpoint                   | con |   req/s   | p50 ms   | p99 ms   | errors |"
    );
    println!(
        "|----------|----------------------------|-----|-----------|----------|----------|--------|"
    );

    let dir = tempfile::tempdir()?;
    let sqlite = format!("sqlite://{}", dir.path().join("bench.db").display());
    if !args.no_sqlite {
        run_engine(&args, "sqlite", &sqlite).await?;
    }
    if args.no_postgres {
        return Ok(());
    }
    match Database::connect(args.pg_url.as_str()).await {
        Ok(admin) => {
            let name = format!("ordercrm_bench_{}", uuid::Uuid::now_v7().simple());
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await?;
            let base = args
                .pg_url
                .rsplit_once('/')
                .map_or(args.pg_url.as_str(), |(b, _)| b);
            let result = run_engine(&args, "postgres", &format!("{base}/{name}")).await;
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await?;
            result?;
        }
        Err(err) => println!(
            "!!! PostgreSQL at {} unreachable, skipped: {err}",
            args.pg_url
        ),
    }
    Ok(())
}
