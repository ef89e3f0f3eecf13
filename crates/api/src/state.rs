use std::sync::Arc;
use std::time::Duration;

use ordercrm_identity::IdentityConfig;
use ordercrm_kernel::clock::SharedClock;
use ordercrm_kernel::crypto::FieldCipher;
use ordercrm_kernel::{Db, Hooks};

use crate::middleware::idempotency::InFlight;
use crate::middleware::metrics::Metrics;
use crate::rate_limit::RateLimits;

/// Limits the edge enforces, from configuration.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body accepted, in bytes (413 beyond).
    pub max_body_bytes: usize,
    /// Largest CSV import, in bytes; spooled to a temporary file, never held in memory.
    pub max_import_bytes: u64,
    /// How long a completed idempotent response is replayed.
    pub idempotency_ttl: Duration,
    /// How long a retry waits for the request holding its key to finish before it is
    /// told 409.
    pub idempotency_wait: Duration,
    /// Requests a user or API key may make per minute (the burst), refilled evenly.
    pub requests_per_minute: u32,
    /// Unauthenticated requests one client source may make per minute.
    pub anonymous_requests_per_minute: u32,
    /// Most keys (sources, principals) one rate limiter tracks.
    pub max_tracked_sources: usize,
    /// Proxies whose `X-Forwarded-For` names the client; none by default.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Origins allowed to call the API from a browser; none by default.
    pub cors_origins: Vec<String>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            max_import_bytes: 256 * 1024 * 1024,
            idempotency_ttl: Duration::from_secs(24 * 3600),
            idempotency_wait: Duration::from_secs(5),
            requests_per_minute: 600,
            anonymous_requests_per_minute: 120,
            max_tracked_sources: 100_000,
            trusted_proxies: Vec::new(),
            cors_origins: Vec::new(),
        }
    }
}

/// Test deliveries one server sends at once (the dispatcher's per-endpoint default).
pub const WEBHOOK_TESTS_AT_ONCE: usize = 8;

/// Shared by every request.
#[derive(Debug, Clone)]
pub struct AppState {
    pub db: Db,
    pub clock: SharedClock,
    pub limits: Limits,
    pub identity: Arc<IdentityConfig>,
    /// Seals sensitive fields (tax ids, bank accounts) at rest.
    pub cipher: FieldCipher,
    pub rate_limits: Arc<RateLimits>,
    pub metrics: Arc<Metrics>,
    /// Idempotency keys requests of this process are working on.
    pub idempotency: Arc<InFlight>,
    /// Test hooks; none in production.
    pub hooks: Hooks,
    /// Where webhooks may point (the operator's rules and the resolver).
    pub webhooks: ordercrm_webhook::destination::Destinations,
    /// This server's webhook dispatcher's counts (zero where none runs).
    pub dispatch_stats: Arc<ordercrm_webhook::dispatch::stats::Stats>,
    /// How long a test delivery waits for its receiver (the dispatcher's timeouts).
    pub webhook_timeouts: ordercrm_webhook::dispatch::send::Timeouts,
    /// Test deliveries in flight at once on this server: each holds an outbound
    /// request open for up to the timeout.
    pub webhook_tests: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    pub fn new(
        db: Db,
        clock: SharedClock,
        limits: Limits,
        identity: IdentityConfig,
        cipher: FieldCipher,
    ) -> Self {
        // Orders tell payments when they move: installed once, before any request.
        ordercrm_payment::settlement::install();
        Self {
            cipher,
            rate_limits: Arc::new(RateLimits::new(&limits, clock.clone())),
            idempotency: Arc::default(),
            hooks: Hooks::default(),
            webhooks: ordercrm_webhook::destination::Destinations::default(),
            dispatch_stats: Arc::default(),
            webhook_timeouts: ordercrm_webhook::dispatch::Settings::default().timeouts,
            webhook_tests: Arc::new(tokio::sync::Semaphore::new(WEBHOOK_TESTS_AT_ONCE)),
            db,
            clock,
            limits,
            identity: Arc::new(identity),
            metrics: Arc::new(Metrics::new()),
        }
    }
}
