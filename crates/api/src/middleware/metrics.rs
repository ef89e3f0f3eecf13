//! Prometheus metrics: requests by route and status, a latency histogram, the
//! database pools and the outbox's lag, in the text exposition format at `/metrics`.

use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web::Data;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::state::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    pool: &'static str,
    state: &'static str,
}

/// How often a scrape may measure the outbox.
const OUTBOX_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

type LatencyFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 1 ms .. ~16 s
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: LatencyFamily,
    pool: Family<PoolLabels, Gauge>,
    outbox_unsequenced: Gauge,
    outbox_lag: Gauge<f64, AtomicU64>,
    webhook_results: Family<ResultLabels, Counter>,
    webhook_in_flight: Gauge,
    webhook_fanout_lag: Gauge<f64, AtomicU64>,
    webhook_oldest_due: Family<EndpointLabels, Gauge<f64, AtomicU64>>,
    /// When the outbox was last measured: scrapes (anonymous ones too) query the
    /// database at most every [`OUTBOX_EVERY`].
    outbox_measured: Mutex<Option<Instant>>,
    // Encoding needs exclusive access to nothing, but gauges are refreshed per scrape;
    // serialising scrapes keeps two concurrent scrapes from interleaving updates.
    scrape: Mutex<()>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("ordercrm");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: LatencyFamily = Family::new_with_constructor(latency_histogram);
        let pool = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "http_requests",
            "HTTP requests by method, route template and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by method and route template",
            latency.clone(),
        );
        registry.register(
            "db_pool_connections",
            "Database pool connections by pool (SQLite: read, write; PostgreSQL: shared, or background and requests) and state (idle, in_use, max)",
            pool.clone(),
        );
        let outbox_unsequenced = Gauge::default();
        let outbox_lag = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "outbox_unsequenced_events",
            "Committed events not yet given their place in the feed",
            outbox_unsequenced.clone(),
        );
        registry.register(
            "outbox_lag_seconds",
            "Age of the oldest event not yet in the feed (0 when none)",
            outbox_lag.clone(),
        );
        let webhook_results = Family::<ResultLabels, Counter>::default();
        let webhook_in_flight = Gauge::default();
        let webhook_fanout_lag = Gauge::<f64, AtomicU64>::default();
        let webhook_oldest_due = Family::<EndpointLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "webhook_deliveries",
            "Webhook attempts this server finished, by result: succeeded, retrying (failed, tried again later), failed (for good)",
            webhook_results.clone(),
        );
        registry.register(
            "webhook_attempts_in_flight",
            "Webhook requests this server has in flight",
            webhook_in_flight.clone(),
        );
        registry.register(
            "webhook_fanout_lag_seconds",
            "Age of the oldest event not yet fanned out to webhook deliveries (0 when none)",
            webhook_fanout_lag.clone(),
        );
        registry.register(
            "webhook_oldest_due_delivery_seconds",
            "Per endpoint with deliveries due, how long its oldest due delivery has waited",
            webhook_oldest_due.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            pool,
            outbox_unsequenced,
            outbox_lag,
            webhook_results,
            webhook_in_flight,
            webhook_fanout_lag,
            webhook_oldest_due,
            outbox_measured: Mutex::new(None),
            scrape: Mutex::new(()),
        }
    }

    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                method: method.to_owned(),
                route: route.to_owned(),
            })
            .observe(seconds);
    }

    /// Whether the outbox is due for measuring; if so, it counts as measured now.
    pub fn outbox_due(&self) -> bool {
        let mut last = self
            .outbox_measured
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.is_some_and(|t| t.elapsed() < OUTBOX_EVERY) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }

    /// The outbox could not be measured: its lag is unknown, not zero.
    pub fn outbox_unknown(&self) {
        self.outbox_lag.set(f64::NAN);
        self.webhook_fanout_lag.set(f64::NAN);
    }

    /// The exposition text, with pool gauges read at this moment and the outbox's
    /// lag as the caller measured it (`None`: unknown, left as last seen).
    pub fn render(
        &self,
        state: &AppState,
        outbox: Option<(
            ordercrm_kernel::events::Lag,
            ordercrm_webhook::dispatch::stats::Backlog,
        )>,
    ) -> String {
        let _guard = self
            .scrape
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for p in state.db.pool_stats() {
            let set = |state: &'static str, v: i64| {
                let labels = PoolLabels {
                    pool: p.pool,
                    state,
                };
                self.pool.get_or_create(&labels).set(v);
            };
            let idle = i64::try_from(p.idle).unwrap_or(i64::MAX);
            set("idle", idle);
            set("in_use", i64::from(p.size).saturating_sub(idle));
            set("max", i64::from(p.max));
        }
        if let Some((lag, backlog)) = outbox {
            self.outbox_unsequenced.set(lag.unsequenced);
            self.outbox_lag.set(lag.oldest_seconds);
            self.webhook_fanout_lag.set(backlog.fanout_lag_seconds);
            self.webhook_oldest_due.clear();
            for (endpoint, seconds) in backlog.oldest_due_seconds {
                self.webhook_oldest_due
                    .get_or_create(&EndpointLabels {
                        endpoint: endpoint.to_string(),
                    })
                    .set(seconds);
            }
        }
        use ordercrm_webhook::dispatch::stats::Stats;
        let stats = &state.dispatch_stats;
        for (result, counter) in [
            ("succeeded", &stats.succeeded),
            ("retrying", &stats.retrying),
            ("failed", &stats.failed),
        ] {
            let c = self.webhook_results.get_or_create(&ResultLabels { result });
            // The dispatcher counts; the counter catches up (both only grow).
            c.inc_by(Stats::get(counter).saturating_sub(c.get()));
        }
        self.webhook_in_flight
            .set(i64::try_from(Stats::get(&stats.in_flight)).unwrap_or(i64::MAX));
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    // Known methods only: a made-up method must not become a new label (and series).
    let method: &'static str = match req.method().as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "OTHER",
    };
    // The route template, never the raw path: ids in paths would explode cardinality.
    let pattern = req.match_pattern();
    let state = req.app_data::<Data<AppState>>().cloned();
    let res = next.call(req).await;
    // An error a middleware returns instead of a response is still an answer the
    // client sees (the framework renders it): count it with its status.
    let status = match &res {
        Ok(res) => res.status(),
        Err(err) => err.as_response_error().status_code(),
    }
    .as_u16();
    if let Some(state) = state {
        let route = pattern.as_deref().unwrap_or("unmatched");
        state
            .metrics
            .observe(method, route, status, started.elapsed().as_secs_f64());
        if let Some(pattern) = &pattern {
            let problem = res.as_ref().ok().and_then(|r| {
                r.response()
                    .extensions()
                    .get::<crate::error::ProblemTypeSent>()
                    .map(|p| p.0.clone())
            });
            state
                .hooks
                .responded(method, pattern, status, problem.as_deref());
        }
    }
    res
}
