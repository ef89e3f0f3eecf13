//! Request rate limits (governor's GCRA), keyed by principal, by client IP and by
//! account for sign-ins. They run on the server's clock, so tests can move time.
//! Limits are per process: N instances allow N times the rate.

use std::num::NonZeroU32;
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
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("burst", &self.burst)
            .finish_non_exhaustive()
    }
}

impl Limiter {
    /// `burst` requests at once, refilled evenly over `period`.
    pub fn new(burst: u32, period: Duration, clock: SharedClock) -> Self {
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
        }
    }

    pub fn check(&self, key: &str) -> Verdict {
        match self.inner.check_key(&key.to_owned()) {
            Ok(state) => {
                let remaining = state.remaining_burst_capacity();
                let per = self.period.as_secs_f64() / f64::from(self.burst);
                Verdict {
                    limit: self.burst,
                    remaining,
                    reset: (f64::from(self.burst - remaining.min(self.burst)) * per).ceil() as u64,
                    allowed: true,
                }
            }
            Err(not_until) => Verdict {
                limit: self.burst,
                remaining: 0,
                reset: not_until.wait_time_from(self.clock.now()).as_secs().max(1),
                allowed: false,
            },
        }
    }

    /// Forget keys that are back at full capacity (bounded memory).
    pub fn shrink(&self) {
        self.inner.retain_recent();
    }
}

/// Every limiter the edge applies.
#[derive(Debug)]
pub struct RateLimits {
    /// Per user or API key, on every authenticated request.
    pub principal: Limiter,
    /// Sign-in attempts per client IP.
    pub login_ip: Limiter,
    /// Sign-in attempts per account (normalised email).
    pub login_account: Limiter,
}

impl RateLimits {
    pub fn new(per_minute: u32, clock: SharedClock) -> Self {
        let minute = Duration::from_secs(60);
        Self {
            principal: Limiter::new(per_minute, minute, clock.clone()),
            login_ip: Limiter::new(20, minute, clock.clone()),
            login_account: Limiter::new(10, Duration::from_secs(300), clock),
        }
    }
}
