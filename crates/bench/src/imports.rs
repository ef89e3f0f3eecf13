//! Customer creates while a large CSV import runs: the import checks its rows in
//! batches that let other writers in and applies them in one short transaction, so a
//! single create should wait for at most one batch, never for the whole file.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::Outcome;

/// Creates at `concurrency` until `stop` is set (or for `seconds` when there is none).
pub async fn creates(
    base: &str,
    token: &str,
    concurrency: usize,
    seconds: u64,
    stop: Option<Arc<AtomicBool>>,
    tag: &str,
) -> (Outcome, Vec<u16>) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .expect("client");
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let counter = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let statuses = Arc::new(std::sync::Mutex::new(Vec::new()));
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let client = client.clone();
            let url = format!("{base}/v1/customers");
            let token = format!("Bearer {token}");
            let stop = stop.clone();
            let counter = counter.clone();
            let statuses = statuses.clone();
            let tag = tag.to_owned();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0;
                loop {
                    let done = match &stop {
                        Some(s) => s.load(Ordering::Relaxed),
                        None => Instant::now() >= deadline,
                    };
                    if done {
                        break;
                    }
                    let i = counter.fetch_add(1, Ordering::Relaxed);
                    let t = Instant::now();
                    let res = client
                        .post(url.as_str())
                        .header("authorization", token.as_str())
                        .json(&serde_json::json!({"kind": "person", "name": format!("Walk-in {tag} {i}"),
                            "email": format!("walkin-{tag}-{i}@bench.example")}))
                        .send()
                        .await;
                    match res {
                        Ok(r) if r.status() == 201 => {
                            let _ = r.bytes().await;
                            latencies.push(t.elapsed());
                        }
                        Ok(r) => {
                            errors += 1;
                            if let Ok(mut s) = statuses.lock() {
                                let status = r.status().as_u16();
                                // Which statuses, not how many (those are in `errors`).
                                if !s.contains(&status) {
                                    s.push(status);
                                }
                            }
                        }
                        Err(_) => errors += 1,
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let outcome = crate::collect(tasks, started).await;
    let statuses = statuses.lock().map(|s| s.clone()).unwrap_or_default();
    (outcome, statuses)
}

pub struct Report {
    pub plain: Outcome,
    pub during: Outcome,
    pub during_max: Duration,
    pub failed_statuses: Vec<u16>,
    pub import_took: Duration,
    pub import_status: u16,
    pub imported: u64,
}

pub async fn run(base: &str, token: &str, rows: usize, seconds: u64) -> anyhow::Result<Report> {
    let (plain, _) = creates(base, token, 4, seconds, None, "plain").await;
    let mut csv = String::from("kind,name,email,tags\n");
    for i in 0..rows {
        csv.push_str(&format!(
            "person,Imported {i},import{i}@bench.example,bench\n"
        ));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let import = {
        let url = format!("{base}/v1/customers/import");
        let token = token.to_owned();
        let stop = stop.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let res = reqwest::Client::new()
                .post(url)
                .bearer_auth(token)
                .header("content-type", "text/csv")
                .timeout(Duration::from_secs(3600))
                .body(csv)
                .send()
                .await;
            let took = started.elapsed();
            stop.store(true, Ordering::Relaxed);
            let (status, imported) = match res {
                Ok(r) => {
                    let status = r.status().as_u16();
                    let body: serde_json::Value = r.json().await.unwrap_or_default();
                    (
                        status,
                        body.get("created")
                            .and_then(serde_json::Value::as_u64)
                            .unwrap_or(0),
                    )
                }
                Err(_) => (0, 0),
            };
            (took, status, imported)
        })
    };
    let during_task = {
        let base = base.to_owned();
        let token = token.to_owned();
        let stop = stop.clone();
        tokio::spawn(async move { creates(&base, &token, 4, 0, Some(stop), "during").await })
    };
    let (import_took, import_status, imported) = import.await?;
    let (during, failed_statuses) = during_task.await?;
    Ok(Report {
        plain,
        during_max: during.max,
        during,
        failed_statuses,
        import_took,
        import_status,
        imported,
    })
}
