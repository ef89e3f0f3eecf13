//! Webhook delivery to a receiver on this machine that answers 200 at once:
//! - deliveries a second from a backlog of `BACKLOG` events, by 1 server and (on
//!   PostgreSQL) 3, timed from the first arrival to the last;
//! - the delay from a change's commit (its 201 reaching the client) to the event's
//!   arrival, p50 and p99, at `PACE` changes a second through one server.
//!
//! The per-endpoint limits are raised for the run (concurrency 32, 10,000 a second),
//! so the figures are the dispatcher's, not the defaults' (8 and 50 a second).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::{Context, bail};

use crate::{ms, percentile, sign_in, start_with};

const BACKLOG: usize = 5_000;
const PACE: u64 = 50;
const PACE_SECONDS: u64 = 5;

const DISPATCH: &[(&str, &str)] = &[
    ("ORDERCRM_WEBHOOK_ALLOW_HTTP", "true"),
    ("ORDERCRM_WEBHOOK_ALLOW_NETWORKS", "127.0.0.0/8"),
    ("ORDERCRM_WEBHOOK_ENDPOINT_CONCURRENCY", "32"),
    ("ORDERCRM_WEBHOOK_ENDPOINT_RATE", "10000"),
];

/// When each customer's event arrived (by the customer's id).
#[derive(Clone, Default)]
struct Arrivals(Arc<Mutex<HashMap<String, Instant>>>);

impl Arrivals {
    fn take(&self) -> HashMap<String, Instant> {
        std::mem::take(&mut *self.0.lock().expect("arrivals"))
    }

    fn len(&self) -> usize {
        self.0.lock().expect("arrivals").len()
    }
}

async fn receive(body: web::Bytes, arrivals: web::Data<Arrivals>) -> HttpResponse {
    let at = Instant::now();
    let id = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| {
            v.pointer("/data/id")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        });
    if let Some(id) = id {
        arrivals.0.lock().expect("arrivals").entry(id).or_insert(at);
    }
    HttpResponse::NoContent().finish()
}

async fn receiver() -> anyhow::Result<(String, Arrivals)> {
    let arrivals = Arrivals::default();
    let data = web::Data::new(arrivals.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .default_service(web::to(receive))
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))?;
    let port = server.addrs().first().context("no address")?.port();
    tokio::spawn(server.run());
    Ok((format!("http://127.0.0.1:{port}/hook"), arrivals))
}

/// Create `n` customers, 8 at a time; the instant each 201 arrived, by id.
async fn customers(
    base: &str,
    token: &str,
    n: usize,
    pace: Option<u64>,
) -> HashMap<String, Instant> {
    use futures_util::StreamExt;
    let client = reqwest::Client::new();
    let started = Instant::now();
    futures_util::stream::iter(0..n)
        .map(|i| {
            let client = client.clone();
            async move {
                if let Some(per_second) = pace {
                    let due = started
                        + Duration::from_micros(
                            1_000_000 * u64::try_from(i).unwrap_or(0) / per_second,
                        );
                    tokio::time::sleep_until(due.into()).await;
                }
                let res = client
                    .post(format!("{base}/v1/customers"))
                    .bearer_auth(token)
                    .json(&serde_json::json!({"kind": "company", "name": format!("Hook {i}")}))
                    .send()
                    .await
                    .ok()?;
                let at = Instant::now();
                let body: serde_json::Value = res.json().await.ok()?;
                Some((body.get("id")?.as_str()?.to_owned(), at))
            }
        })
        .buffer_unordered(8)
        .filter_map(|x| async move { x })
        .collect()
        .await
}

/// Wait until `n` events arrived (at most `within`).
async fn arrived(arrivals: &Arrivals, n: usize, within: Duration) -> anyhow::Result<()> {
    let until = Instant::now() + within;
    while arrivals.len() < n {
        if Instant::now() > until {
            bail!(
                "{} of {n} webhook deliveries arrived within {within:?}",
                arrivals.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

pub(crate) async fn run(binary: &PathBuf, engine: &str, url: &str) -> anyhow::Result<()> {
    let (hook, arrivals) = receiver().await?;
    let mut api_env = DISPATCH.to_vec();
    api_env.push(("ORDERCRM_WEBHOOK_DISPATCHER", "false"));
    let (api, _) = start_with(binary, url, &api_env).await?;
    let token = sign_in(&api.base).await?;
    let res = reqwest::Client::new()
        .post(format!("{}/v1/webhook-endpoints", api.base))
        .bearer_auth(&token)
        .json(&serde_json::json!({"url": hook, "event_types": ["customer.*"]}))
        .send()
        .await?;
    if res.status() != 201 {
        bail!("registering the endpoint: {}", res.status());
    }
    let fleets: &[usize] = if engine == "postgres" { &[1, 3] } else { &[1] };
    let mut api = Some(api);
    for &servers in fleets {
        let a = match api.take() {
            Some(a) => a,
            None => start_with(binary, url, &api_env).await?.0,
        };
        let base = a.base.clone();
        customers(&base, &token, BACKLOG, None).await;
        // One writer at a time on SQLite: the dispatchers work alone.
        drop(a);
        let mut fleet = Vec::new();
        for _ in 0..servers {
            fleet.push(start_with(binary, url, DISPATCH).await?.0);
        }
        arrived(&arrivals, BACKLOG, Duration::from_secs(300)).await?;
        drop(fleet);
        let times: Vec<Instant> = arrivals.take().into_values().collect();
        let (Some(first), Some(last)) = (times.iter().min(), times.iter().max()) else {
            bail!("nothing arrived");
        };
        #[allow(clippy::cast_precision_loss, reason = "a count far below 2^52")]
        let rate = (BACKLOG - 1) as f64 / (*last - *first).as_secs_f64().max(1e-9);
        println!(
            "| {engine:<8} | {:<26} | {servers:>3} | {rate:>9.0} | {:>8} | {:>8} | {:>6} |",
            "webhook deliveries/s", "-", "-", 0
        );
    }
    // The delay, through one server that takes the changes and dispatches them.
    let (server, _) = start_with(binary, url, DISPATCH).await?;
    let n = usize::try_from(PACE * PACE_SECONDS).unwrap_or(usize::MAX);
    let committed = customers(&server.base, &token, n, Some(PACE)).await;
    arrived(&arrivals, committed.len(), Duration::from_secs(60)).await?;
    let reached = arrivals.take();
    let mut delays: Vec<Duration> = committed
        .iter()
        .filter_map(|(id, at)| Some(reached.get(id)?.saturating_duration_since(*at)))
        .collect();
    delays.sort_unstable();
    println!(
        "| {engine:<8} | {:<26} | {:>3} | {:>9} | {:>8} | {:>8} | {:>6} |",
        format!("commit→delivery @{PACE}/s"),
        1,
        "-",
        ms(percentile(&delays, 50)),
        ms(percentile(&delays, 99)),
        n - delays.len()
    );
    Ok(())
}
