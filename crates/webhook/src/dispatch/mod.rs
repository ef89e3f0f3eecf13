//! The dispatcher: a task in every server that turns the outbox into signed HTTP
//! requests and loses none of them. It fans new events out to deliveries
//! ([`fanout`]), claims the due ones with a lease ([`lease`]), sends each
//! ([`send`]) and records what came of it ([`record`]): delivered, tried again on
//! the schedule, `failed` after the last attempt, or the endpoint disabled when its
//! receiver answers 410. Any number of servers may run it on one PostgreSQL.
//!
//! Limits are per server: at most `max_in_flight` requests at once, at most
//! `per_endpoint` of them to one endpoint, and at most `rate_per_endpoint` new
//! requests a second to one endpoint.

pub mod backlog;
pub mod fanout;
pub mod health;
pub mod lease;
pub mod record;
pub mod send;
pub mod stats;

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use ordercrm_kernel::Db;
use ordercrm_kernel::clock::SharedClock;
use ordercrm_kernel::crypto::FieldCipher;
use sea_orm::{DatabaseBackend, DbErr};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::destination::Destinations;
use lease::Claimed;
use send::{Sender, Timeouts};

pub use crate::model::DeliveryStatus as Status;

/// How hard one server pushes.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Requests in flight at once.
    pub max_in_flight: usize,
    /// Requests in flight to one endpoint at once.
    pub per_endpoint: usize,
    /// New requests a second to one endpoint.
    pub rate_per_endpoint: NonZeroU32,
    pub timeouts: Timeouts,
    /// How long a claim holds a delivery: longer than the request timeout, with a
    /// margin for recording the outcome.
    pub lease: Duration,
    /// How often an idle dispatcher looks for work.
    pub poll: Duration,
    /// How long a stopping server lets requests in flight finish.
    pub drain: Duration,
}

/// How often a dispatcher looks for endpoints to announce or turn off.
const HEALTH_EVERY: Duration = Duration::from_secs(1);

/// The lease's margin over the request timeout.
pub const LEASE_MARGIN: Duration = Duration::from_secs(10);

impl Default for Settings {
    fn default() -> Self {
        Self {
            max_in_flight: 32,
            per_endpoint: 8,
            rate_per_endpoint: NonZeroU32::new(50).unwrap_or(NonZeroU32::MIN),
            timeouts: Timeouts {
                request: Duration::from_secs(15),
                connect: Duration::from_secs(5),
            },
            lease: Duration::from_secs(60),
            poll: Duration::from_millis(100),
            // Longer than the request timeout: a stopping server finishes what it
            // sent rather than leaving it to be sent twice.
            drain: Duration::from_secs(16),
        }
    }
}

/// Hold (`enabled` false) or resume (true) the deliveries an endpoint owes, as it is
/// turned off or on: a turned-off endpoint's deliveries are no one's work, and the
/// claim never has to look past them. A delivery being sent right now (its lease
/// live) is left to finish; what it leaves pending the claim passes over while the
/// endpoint is off. Resumed deliveries are a backlog the endpoint catches up on,
/// oldest first ([`backlog`]); returns how many were paused, or on resuming
/// whether there is a line.
pub async fn park(
    conn: &impl sea_orm::ConnectionTrait,
    endpoint: Uuid,
    enabled: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<u64, DbErr> {
    if enabled {
        // What waited is a backlog: it goes in line.
        return Ok(u64::from(backlog::begin(conn, endpoint, now).await?));
    }
    let backend = conn.get_database_backend();
    let (from, to) = (Status::Pending, Status::Paused);
    // Leases lapse by the database's clock on PostgreSQL (see `lease::claim`).
    let (clock, mut values): (&str, Vec<sea_orm::Value>) = match backend {
        DatabaseBackend::Postgres => ("statement_timestamp()", Vec::new()),
        _ => ("?", vec![now.into()]),
    };
    let sql = format!(
        "UPDATE webhook_deliveries SET status = ? \
         WHERE endpoint_id = ? AND status = ? AND (lease_until IS NULL OR lease_until <= {clock})"
    );
    let mut all: Vec<sea_orm::Value> =
        vec![to.as_str().into(), endpoint.into(), from.as_str().into()];
    all.append(&mut values);
    Ok(conn
        .execute_raw(sea_orm::Statement::from_sql_and_values(
            backend,
            numbered(backend, &sql),
            all,
        ))
        .await?
        .rows_affected())
}

/// `?` placeholders as the backend wants them (`$1`, `$2`… on PostgreSQL).
pub(crate) fn numbered(backend: DatabaseBackend, sql: &str) -> String {
    if backend != DatabaseBackend::Postgres {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// What this server is sending right now.
#[derive(Default)]
struct Load {
    total: usize,
    per_endpoint: HashMap<Uuid, usize>,
    /// Endpoints past their rate, and until when they rest.
    resting: HashMap<Uuid, Instant>,
}

pub(crate) struct Inner {
    pub(crate) db: Db,
    pub(crate) clock: SharedClock,
    pub(crate) cipher: FieldCipher,
    pub(crate) sender: Sender,
    /// This server's name on its leases.
    pub(crate) me: String,
    settings: Settings,
    load: Mutex<Load>,
    limiter: DefaultKeyedRateLimiter<Uuid>,
    /// A request finished (a slot is free), or new events have their positions.
    freed: Arc<Notify>,
    pub(crate) stats: Arc<stats::Stats>,
}

impl Inner {
    /// Leave `endpoint` alone on this server for `span`.
    pub(crate) fn rest(&self, endpoint: Uuid, span: Duration) {
        self.load
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .resting
            .insert(endpoint, Instant::now() + span);
    }
}

/// The dispatcher of one server.
#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

/// Frees its slot however the delivery's task ends (finished, failed, aborted).
struct Slot {
    inner: Arc<Inner>,
    endpoint: Uuid,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut load = self
            .inner
            .load
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        load.total = load.total.saturating_sub(1);
        if let Some(n) = load.per_endpoint.get_mut(&self.endpoint) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                load.per_endpoint.remove(&self.endpoint);
            }
        }
        drop(load);
        stats::Stats::sub(&self.inner.stats.in_flight);
        self.inner.freed.notify_one();
    }
}

impl Dispatcher {
    pub fn new(
        db: Db,
        clock: SharedClock,
        cipher: FieldCipher,
        destinations: Destinations,
        settings: Settings,
    ) -> Result<Self, String> {
        let sender = Sender::new(destinations, settings.timeouts)?;
        let mut name = [0u8; 4];
        getrandom::fill(&mut name).map_err(|e| format!("no randomness: {e}"))?;
        let me = format!(
            "{}-{}",
            std::process::id(),
            name.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                clock,
                cipher,
                sender,
                me,
                limiter: RateLimiter::keyed(Quota::per_second(settings.rate_per_endpoint)),
                settings,
                load: Mutex::new(Load::default()),
                freed: Arc::new(Notify::new()),
                stats: Arc::default(),
            }),
        })
    }

    /// This server's delivery counts, for `/metrics`.
    pub fn stats(&self) -> Arc<stats::Stats> {
        self.inner.stats.clone()
    }

    /// What wakes an idle dispatcher at once (the sequencer pokes it when it gave new
    /// events their positions), instead of at its next poll.
    pub fn waker(&self) -> Arc<Notify> {
        self.inner.freed.clone()
    }

    /// Work until `stop` turns true; then let requests in flight finish (for
    /// `drain`), and give back the leases of the rest.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut tasks = JoinSet::new();
        let mut last_trim = Instant::now();
        let mut last_health = Instant::now() - HEALTH_EVERY;
        loop {
            if *stop.borrow() {
                break;
            }
            while tasks.try_join_next().is_some() {}
            if last_trim.elapsed() > Duration::from_secs(60) {
                self.inner.limiter.retain_recent();
                last_trim = Instant::now();
            }
            if last_health.elapsed() >= HEALTH_EVERY {
                last_health = Instant::now();
                let inner = &self.inner;
                if let Err(err) =
                    health::sweep(inner.db.writer(), inner.db.reader(), inner.clock.now()).await
                {
                    tracing::warn!(error = %err, "webhook health sweep failed");
                }
                if let Err(err) =
                    backlog::settle(inner.db.writer(), inner.db.reader(), inner.clock.now()).await
                {
                    tracing::warn!(error = %err, "webhook backlog settling failed");
                }
            }
            let worked = match self.round(&mut tasks).await {
                Ok(n) => n > 0,
                Err(err) => {
                    if ordercrm_kernel::db::is_connection_lost(&err) {
                        ordercrm_kernel::db::connection_lost();
                    }
                    tracing::warn!(error = %err, "webhook dispatch round failed");
                    false
                }
            };
            if !worked {
                tokio::select! {
                    () = tokio::time::sleep(self.inner.settings.poll) => {}
                    () = self.inner.freed.notified() => {}
                    _ = stop.changed() => break,
                }
            }
        }
        let drained = tokio::time::timeout(self.inner.settings.drain, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
        }
        if let Err(err) = lease::release_all(self.inner.db.writer(), &self.inner.me).await {
            tracing::warn!(error = %err, "could not give back webhook leases; they lapse");
        }
    }

    /// Fan out, claim, start. Returns how much it did (0: nothing to do now).
    pub async fn round(&self, tasks: &mut JoinSet<()>) -> Result<usize, DbErr> {
        let inner = &self.inner;
        let settings = &inner.settings;
        let now = inner.clock.now();
        let fanned = fanout::run(inner.db.writer(), inner.db.reader(), now).await?;
        let (free, skip) = {
            let mut load = inner.load.lock().unwrap_or_else(PoisonError::into_inner);
            let at = Instant::now();
            load.resting.retain(|_, until| *until > at);
            let mut skip: Vec<Uuid> = load
                .per_endpoint
                .iter()
                .filter(|(_, n)| **n >= settings.per_endpoint)
                .map(|(id, _)| *id)
                .collect();
            skip.extend(load.resting.keys().copied());
            (settings.max_in_flight.saturating_sub(load.total), skip)
        };
        if free == 0 {
            return Ok(fanned);
        }
        let claimed = lease::claim(
            inner.db.writer(),
            inner.db.reader(),
            &lease::Want {
                me: &inner.me,
                now,
                lease: settings.lease,
                limit: free,
                per_endpoint: settings.per_endpoint,
                skip: &skip,
            },
        )
        .await?;
        let mut give_back = Vec::new();
        let mut started = 0;
        for c in claimed {
            match self.take_slot(&c) {
                Some(slot) => {
                    let inner = inner.clone();
                    started += 1;
                    tasks.spawn(async move {
                        let _slot = slot;
                        if let Err(err) = record::deliver(&inner, &c).await {
                            if ordercrm_kernel::db::is_connection_lost(&err) {
                                ordercrm_kernel::db::connection_lost();
                            }
                            tracing::warn!(delivery = %c.id, error = %err,
                                "webhook delivery not recorded; its lease lapses and it is sent again");
                        }
                    });
                }
                None => give_back.push(c.id),
            }
        }
        lease::release(inner.db.writer(), &inner.me, &give_back).await?;
        Ok(fanned + started)
    }

    /// A slot for `c`, unless its endpoint is full or past its rate here.
    fn take_slot(&self, c: &Claimed) -> Option<Slot> {
        let inner = &self.inner;
        let mut load = inner.load.lock().unwrap_or_else(PoisonError::into_inner);
        if load.total >= inner.settings.max_in_flight
            || load.per_endpoint.get(&c.endpoint_id).copied().unwrap_or(0)
                >= inner.settings.per_endpoint
        {
            return None;
        }
        if let Err(not_until) = inner.limiter.check_key(&c.endpoint_id) {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            ));
            load.resting.insert(c.endpoint_id, Instant::now() + wait);
            return None;
        }
        load.total += 1;
        *load.per_endpoint.entry(c.endpoint_id).or_insert(0) += 1;
        stats::Stats::add(&inner.stats.in_flight);
        Some(Slot {
            inner: inner.clone(),
            endpoint: c.endpoint_id,
        })
    }
}
