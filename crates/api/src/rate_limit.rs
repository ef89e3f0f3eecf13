//! Request rate limits (governor's GCRA), keyed by principal and by client source.
//! They run on the server's clock, so tests can move time. Limits are per process:
//! N instances allow N times the rate (sign-in failures, which must not multiply,
//! are counted in the database instead: see `ordercrm_identity::sign_in_failures`).
//!
//! Memory is bounded: idle keys are swept every minute, and a limiter never tracks
//! more than `max_keys` keys. When a flood of distinct sources fills it, new checks
//! are refused until keys go idle: a cap that fails closed, because failing open
//! would hand the flood what the limit exists to deny.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::Clock as GovernorClock;
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use ordercrm_kernel::clock::SharedClock;

/// The kernel clock as governor's: instants are durations since the Unix epoch.
#[derive(Debug, Clone)]
pub struct ServerClock(pub SharedClock);

impl GovernorClock for ServerClock {
    type Instant = Duration;
    fn now(&self) -> Duration {
        let now = self.0.now();
        Duration::from_micros(u64::try_from(now.timestamp_micros()).unwrap_or(0))
    }
}

type Keyed =
    RateLimiter<String, DefaultKeyedStateStore<String>, ServerClock, StateInformationMiddleware>;

/// How a check came out, for the `RateLimit-*` headers.
#[derive(Debug, Clone, Copy)]
pub struct Verdict {
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the full burst is available again (or, when refused, until the
    /// next request may go).
    pub reset: u64,
    pub allowed: bool,
}

pub struct Limiter {
    inner: Keyed,
    clock: ServerClock,
    burst: u32,
    period: Duration,
    max_keys: usize,
    /// When the last sweep forced by a full table ran (µs since the epoch), so a
    /// flood does not turn every check into a scan.
    last_forced_sweep: AtomicU64,
    /// Taken by each check: see `check`.
    admit: std::sync::Mutex<()>,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("burst", &self.burst)
            .finish_non_exhaustive()
    }
}

impl Limiter {
    /// `burst` requests at once, refilled evenly over `period`; at most `max_keys` keys.
    pub fn new(burst: u32, period: Duration, max_keys: usize, clock: SharedClock) -> Self {
        let burst = burst.max(1);
        let quota = Quota::with_period(period / burst)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN));
        let clock = ServerClock(clock);
        Self {
            inner: RateLimiter::dashmap_with_clock(quota, clock.clone())
                .with_middleware::<StateInformationMiddleware>(),
            clock,
            burst,
            period,
            max_keys: max_keys.max(1),
            last_forced_sweep: AtomicU64::new(0),
            admit: std::sync::Mutex::new(()),
        }
    }

    pub fn check(&self, key: &str) -> Verdict {
        // Counting keys and adding one must be one step: concurrent new keys each saw
        // room for one and went past the cap together. Held for a map lookup.
        let _admit = self
            .admit
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.inner.len() >= self.max_keys {
            let now = u64::try_from(self.clock.now().as_micros()).unwrap_or(u64::MAX);
            let last = self.last_forced_sweep.load(Ordering::Relaxed);
            if now.saturating_sub(last) >= 1_000_000
                && self
                    .last_forced_sweep
                    .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
            {
                self.sweep();
            }
            if self.inner.len() >= self.max_keys {
                return Verdict {
                    limit: self.burst,
                    remaining: 0,
                    reset: whole_seconds(self.period / self.burst).max(1),
                    allowed: false,
                };
            }
        }
        match self.inner.check_key(&key.to_owned()) {
            Ok(state) => {
                let remaining = state.remaining_burst_capacity();
                // Until the used part of the burst has refilled, in whole seconds, rounded up.
                let refill = self
                    .period
                    .checked_mul(self.burst - remaining.min(self.burst))
                    .unwrap_or(Duration::MAX)
                    / self.burst;
                Verdict {
                    limit: self.burst,
                    remaining,
                    reset: whole_seconds(refill),
                    allowed: true,
                }
            }
            Err(not_until) => Verdict {
                limit: self.burst,
                remaining: 0,
                reset: whole_seconds(not_until.wait_time_from(self.clock.now())).max(1),
                allowed: false,
            },
        }
    }

    /// Forget keys that are back at full capacity, and give their memory back.
    pub fn sweep(&self) {
        self.inner.retain_recent();
        self.inner.shrink_to_fit();
    }

    /// Keys tracked now.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }
}

/// Every limiter the edge applies.
#[derive(Debug)]
pub struct RateLimits {
    /// Per user or API key, on every authenticated request.
    pub principal: Limiter,
    /// Per client source, on every unauthenticated request but health checks.
    pub anonymous: Limiter,
    /// Sign-in attempts per client source, checked before anything else of a sign-in.
    pub sign_in: Limiter,
}

impl RateLimits {
    pub fn new(limits: &crate::Limits, clock: SharedClock) -> Self {
        let minute = Duration::from_secs(60);
        let max_keys = limits.max_tracked_sources;
        Self {
            principal: Limiter::new(limits.requests_per_minute, minute, max_keys, clock.clone()),
            anonymous: Limiter::new(
                limits.anonymous_requests_per_minute,
                minute,
                max_keys,
                clock.clone(),
            ),
            sign_in: Limiter::new(20, minute, max_keys, clock),
        }
    }

    /// Forget idle keys in every limiter (run every minute by the server).
    pub fn sweep(&self) {
        self.principal.sweep();
        self.anonymous.sweep();
        self.sign_in.sweep();
    }
}

/// A wait in whole seconds, rounded up: a client that waits `Retry-After` seconds must
/// find the request allowed, not refused for the last fraction of a second.
fn whole_seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{DateTime, Utc};
    use ordercrm_kernel::ManualClock;

    use super::*;

    #[test]
    fn waiting_retry_after_is_always_enough() {
        let start: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let clock = ManualClock::new(start);
        let limiter = Limiter::new(5, Duration::from_secs(60), 10, Arc::new(clock.clone()));
        for _ in 0..5 {
            assert!(limiter.check("k").allowed);
        }
        let refused = limiter.check("k");
        assert!(!refused.allowed);
        assert_eq!(refused.reset, 12);
        // 10.5 s left: Retry-After says 11 (10 would be refused again).
        clock.advance(chrono::Duration::milliseconds(1_500));
        let refused = limiter.check("k");
        assert!(!refused.allowed);
        assert_eq!(refused.reset, 11);
        clock.advance(chrono::Duration::seconds(
            i64::try_from(refused.reset).unwrap(),
        ));
        assert!(limiter.check("k").allowed);
    }
}
