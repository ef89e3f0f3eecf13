//! Build the server from a configuration, bind (port 0 picks a free port), report
//! the address. Production and the tests start exactly this.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use actix_web::HttpServer;
use actix_web::dev::{Server, ServerHandle};
use anyhow::Context;
use ordercrm_api::{AppState, Limits};
use ordercrm_kernel::Db;
use ordercrm_kernel::clock::SharedClock;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::{database, keys};
use ordercrm_identity::IdentityConfig;

pub struct Application {
    address: SocketAddr,
    rate_limits: std::sync::Arc<ordercrm_api::rate_limit::RateLimits>,
    server: Server,
    db: Db,
    stop_workers: watch::Sender<bool>,
    workers: Vec<JoinHandle<()>>,
}

impl Application {
    /// Connect, migrate, bind. Returns once the server accepts connections.
    pub async fn build(config: &Config, clock: SharedClock) -> anyhow::Result<Self> {
        let db = database::connect(config).await?;
        let applied = database::migrate(&db).await?;
        if !applied.is_empty() {
            tracing::info!(migrations = ?applied, "database migrated");
        }

        let listener = TcpListener::bind(config.listen)
            .with_context(|| format!("cannot listen on {} (ORDERCRM_LISTEN)", config.listen))?;
        let address = listener.local_addr()?;
        let mut identity = IdentityConfig::new(keys::load(config)?);
        identity.access_ttl = config.access_token_ttl;
        let mut state = AppState::new(
            db.clone(),
            clock.clone(),
            Limits {
                max_body_bytes: config.max_body_bytes,
                requests_per_minute: config.rate_limit_per_minute,
                anonymous_requests_per_minute: config.anonymous_rate_limit_per_minute,
                trusted_proxies: config.trusted_proxies.clone(),
                cors_origins: config.cors_origins.clone(),
                ..config.limits.clone()
            },
            identity,
            keys::load_data_key(config)?,
        );
        state.hooks = config.hooks.clone();
        state.webhooks = config.webhooks.clone();
        let dispatcher = ordercrm_webhook::dispatch::Dispatcher::new(
            db.clone(),
            clock.clone(),
            keys::load_data_key(config)?,
            config.webhooks.clone(),
            config.dispatch.clone(),
        )
        .map_err(anyhow::Error::msg)?;
        state.dispatch_stats = dispatcher.stats();
        state.webhook_timeouts = config.dispatch.timeouts;
        let rate_limits = state.rate_limits.clone();
        let limiters = rate_limits.clone();
        let throttle = state.identity.throttle;
        // Building the document allocates ~10 MiB of short-lived structures. On a thread
        // of its own they live in that thread's malloc arena, which is handed back to
        // the OS when freed, instead of staying in the main heap for the process's life.
        let doc =
            std::thread::spawn(|| ordercrm_api::openapi::Document::new(ordercrm_api::openapi()))
                .join()
                .map_err(|_| anyhow::anyhow!("building the OpenAPI document panicked"))?;
        // Called on each worker's thread: its pool is opened by its runtime.
        let mut server = HttpServer::new(move || {
            let mut state = state.clone();
            state.db = state.db.for_worker();
            ordercrm_api::app(state, doc.clone())
        })
        .workers(config.workers)
        .shutdown_timeout(config.shutdown_timeout.as_secs())
        .listen(listener)?;
        if !config.handle_signals {
            server = server.disable_signals();
        }
        let server = server.run();

        let (stop_workers, stopped) = watch::channel(false);
        let mut workers = vec![
            tokio::spawn(maintain(
                db.clone(),
                clock.clone(),
                keys::load_data_key(config)?,
                config.retention,
                config.maintenance_interval,
                stopped.clone(),
            )),
            tokio::spawn(forget_idle_limits(
                db.clone(),
                clock.clone(),
                rate_limits,
                throttle,
                stopped.clone(),
            )),
            tokio::spawn(follow_customer_statistics(
                db.clone(),
                clock.clone(),
                keys::load_data_key(config)?,
                stopped.clone(),
            )),
            tokio::spawn(sequence_events(
                db.clone(),
                dispatcher.waker(),
                stopped.clone(),
            )),
            tokio::spawn(issue_invoices(
                db.clone(),
                clock.clone(),
                config.hooks.clone(),
                stopped.clone(),
            )),
            tokio::spawn(release_expired_reservations(
                db.clone(),
                clock,
                config.reservation_sweep_interval,
                stopped.clone(),
            )),
        ];
        if config.run_dispatcher {
            workers.push(tokio::spawn(dispatcher.run(stopped)));
        }
        // A fresh install has no users and no default password: say what to do next.
        match ordercrm_identity::queries::has_active_admin(db.reader()).await {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                "no active admin yet: nobody can sign in. Create the first one with \
                 `ordercrm user create --email you@example.com --role admin` \
                 (same DATABASE_URL; it asks for the password, or reads it \
                 with --password-stdin), then POST /v1/auth/token"
            ),
            Err(err) => tracing::warn!(error = %err, "could not check for an admin"),
        }
        tracing::info!(%address, database = %database::redact(&config.database_url), "listening");
        Ok(Self {
            address,
            rate_limits: limiters,
            server,
            db,
            stop_workers,
            workers,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The edge's rate limiters (tests look at how many keys they hold).
    pub fn rate_limits(&self) -> std::sync::Arc<ordercrm_api::rate_limit::RateLimits> {
        self.rate_limits.clone()
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serve until stopped (SIGTERM/SIGINT, or the handle): in-flight requests
    /// finish, background workers stop, the database closes.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let served = self.server.await;
        let _ = self.stop_workers.send(true);
        for worker in self.workers {
            let _ = worker.await;
        }
        self.db.close().await?;
        tracing::info!("stopped");
        served.map_err(Into::into)
    }
}

/// Every ten minutes: expired idempotency keys, abandoned import batches, and
/// succeeded webhook deliveries, their attempts and events past their keeping go;
/// late orders are announced (`order.delayed`); on a new day, customer tiers are
/// recomputed (orders age out of their windows).
async fn maintain(
    db: Db,
    clock: SharedClock,
    cipher: ordercrm_kernel::crypto::FieldCipher,
    retention: ordercrm_webhook::retention::Retention,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                match ordercrm_api::middleware::idempotency::purge_expired(&db, clock.now()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(purged = n, "expired idempotency keys removed"),
                    Err(err) => tracing::warn!(error = %err, "idempotency purge failed"),
                }
                // Batches of imports the process did not live to apply.
                let stale = clock.now() - chrono::Duration::hours(1);
                match ordercrm_kernel::staging::purge(&db, stale).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(purged = n, "abandoned import batches removed"),
                    Err(err) => tracing::warn!(error = %err, "import staging purge failed"),
                }
                match ordercrm_order::promise::announce(&db, clock.now()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(orders = n, "late orders announced (order.delayed)"),
                    Err(err) => tracing::warn!(error = %err, "promise watch failed"),
                }
                match ordercrm_payment::dunning::sweep(&db, clock.now()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(notices = n, "overdue invoices announced (invoice.overdue, invoice.reminder_due)"),
                    Err(err) => tracing::warn!(error = %err, "overdue sweep failed"),
                }
                match ordercrm_customer::statistics::sweep(&db, &cipher, clock.now()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(customers = n, "customer tiers changed by the daily recomputation"),
                    Err(err) => tracing::warn!(error = %err, "daily customer tier recomputation failed"),
                }
                match ordercrm_webhook::retention::prune(db.writer(), clock.now(), &retention).await {
                    Ok(p) if p == ordercrm_webhook::retention::Pruned::default() => {}
                    Ok(p) => tracing::info!(attempts = p.attempts, deliveries = p.deliveries,
                        events = p.events, "webhook deliveries, attempts and events past their keeping removed"),
                    Err(err) => tracing::warn!(error = %err, "webhook and event pruning failed"),
                }
            }
            _ = stop.changed() => return,
        }
    }
}

/// Rate limiters forget idle keys every minute, and sign-in failure counts nobody
/// added to for a day are dropped: memory and the table stay bounded.
async fn forget_idle_limits(
    db: Db,
    clock: SharedClock,
    limits: std::sync::Arc<ordercrm_api::rate_limit::RateLimits>,
    throttle: ordercrm_identity::throttle::Policy,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                limits.sweep();
                match ordercrm_identity::throttle::purge(db.writer(), &throttle, clock.now()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(forgotten = n, "idle sign-in failure counts removed"),
                    Err(err) => tracing::warn!(error = %err, "sign-in failure purge failed"),
                }
            }
            _ = stop.changed() => return,
        }
    }
}

/// How often customer statistics catch up with the order events.
const STATISTICS_EVERY: Duration = Duration::from_millis(500);

/// Keep customer statistics and tiers with the orders
/// ([`ordercrm_order::statistics::follow`]), a batch at a time until caught up.
async fn follow_customer_statistics(
    db: Db,
    clock: SharedClock,
    cipher: ordercrm_kernel::crypto::FieldCipher,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(STATISTICS_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => loop {
                match ordercrm_order::statistics::follow(&db, &cipher, clock.now()).await {
                    Ok(0) => break,
                    Ok(_) => tokio::task::yield_now().await,
                    Err(err) => {
                        tracing::warn!(error = %err, "customer statistics failed");
                        break;
                    }
                }
                if *stop.borrow() {
                    return;
                }
            },
            _ = stop.changed() => return,
        }
    }
}

/// How often the outbox's new events are given their feed position (PostgreSQL).
const SEQUENCE_EVERY: Duration = Duration::from_millis(100);

/// Give committed events their place in the feed ([`ordercrm_kernel::events::sequence`]).
async fn sequence_events(
    db: Db,
    sequenced: std::sync::Arc<tokio::sync::Notify>,
    mut stop: watch::Receiver<bool>,
) {
    if db.backend() != sea_orm::DatabaseBackend::Postgres {
        return;
    }
    let mut tick = tokio::time::interval(SEQUENCE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                match ordercrm_kernel::events::sequence(db.writer()).await {
                    Ok(0) => {}
                    // Their deliveries need not wait for the dispatcher's next poll.
                    Ok(_) => sequenced.notify_one(),
                    Err(err) => {
                        if ordercrm_kernel::db::is_connection_lost(&err) {
                            ordercrm_kernel::db::connection_lost();
                        }
                        tracing::warn!(error = %err, "sequencing events failed");
                    }
                }
            }
            _ = stop.changed() => return,
        }
    }
}

/// How often the issuer looks for invoices orders asked for.
const ISSUE_EVERY: Duration = Duration::from_millis(50);

/// Issue the invoices order transitions asked for ([`ordercrm_payment::issuer`]),
/// a batch at a time until none waits.
async fn issue_invoices(
    db: Db,
    clock: SharedClock,
    hooks: ordercrm_kernel::Hooks,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(ISSUE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut issuer = ordercrm_payment::issuer::Issuer::default();
    let now = || clock.now();
    loop {
        tokio::select! {
            _ = tick.tick() => loop {
                match issuer.pass(&db, &now, &hooks).await {
                    Ok(0) => break,
                    Ok(_) => tokio::task::yield_now().await,
                    Err(err) => {
                        tracing::warn!(error = %err, "issuing invoices failed");
                        break;
                    }
                }
                if *stop.borrow() {
                    return;
                }
            },
            _ = stop.changed() => return,
        }
    }
}

/// Carts hold stock with `expires_at`; this lets go of the holds that lapsed.
async fn release_expired_reservations(
    db: Db,
    clock: SharedClock,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                match ordercrm_inventory::commands::reservations::sweep_expired(&db, clock.now()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(released = n, "expired reservations released"),
                    Err(err) => tracing::warn!(error = %err, "reservation sweep failed"),
                }
            }
            _ = stop.changed() => return,
        }
    }
}
