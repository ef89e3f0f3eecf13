use std::sync::Arc;
use std::time::Duration;

use ordercrm_kernel::clock::SharedClock;
use ordercrm_kernel::{Actor, Ctx, Db};

use crate::middleware::metrics::Metrics;

/// Limits the edge enforces, from configuration.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body accepted, in bytes (413 beyond).
    pub max_body_bytes: usize,
    /// How long a completed idempotent response is replayed.
    pub idempotency_ttl: Duration,
    /// How long a request may hold its idempotency key before a retry may take it over
    /// (covers a process that died mid-request).
    pub idempotency_lease: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            idempotency_ttl: Duration::from_secs(24 * 3600),
            idempotency_lease: Duration::from_secs(60),
        }
    }
}

/// Shared by every request.
#[derive(Debug, Clone)]
pub struct AppState {
    pub db: Db,
    pub clock: SharedClock,
    pub limits: Limits,
    pub metrics: Arc<Metrics>,
}

impl AppState {
    pub fn new(db: Db, clock: SharedClock, limits: Limits) -> Self {
        Self {
            db,
            clock,
            limits,
            metrics: Arc::new(Metrics::new()),
        }
    }

    pub fn ctx(&self, actor: Actor, request_id: String) -> Ctx {
        Ctx {
            actor,
            now: self.clock.now(),
            request_id,
        }
    }
}
