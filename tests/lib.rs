//! The black-box test harness: the real server, on a random port, against a fresh
//! database per test (a SQLite temp file, or a PostgreSQL database cloned from a
//! migrated template and dropped afterwards).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss,
    clippy::cast_lossless
)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use ordercrm_api::rate_limit::RateLimits;
use ordercrm_kernel::{Hooks, ManualClock};
use ordercrm_server::config::{Config, Settings};
use ordercrm_server::{Application, database};
use reqwest::Method;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::Value;
use tokio::sync::OnceCell;

#[path = "support/receiver.rs"]
pub mod receiver;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// Run a test body once per engine: `both_engines!(name)` makes `name::sqlite` and
/// `name::postgres` from `async fn name(engine: Engine)`.
#[macro_export]
macro_rules! both_engines {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$name($crate::Engine::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                if $crate::postgres_available().await {
                    super::$name($crate::Engine::Postgres).await;
                }
            }
        }
    )*};
}

/// The admin URL of the PostgreSQL server tests create databases on.
pub fn postgres_admin_url() -> String {
    std::env::var("DATABASE_URL_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Whether to run the PostgreSQL variant. With `DATABASE_URL_PG` or
/// `ORDERCRM_REQUIRE_PG=1` an unreachable server fails the test; otherwise the
/// variant is skipped with a loud line (and `make test` says so too).
pub async fn postgres_available() -> bool {
    static REACHABLE: OnceCell<bool> = OnceCell::const_new();
    let reachable = *REACHABLE
        .get_or_init(|| async {
            match Database::connect(postgres_admin_url()).await {
                Ok(conn) => {
                    let _ = conn.close().await;
                    true
                }
                Err(_) => false,
            }
        })
        .await;
    let required = std::env::var("DATABASE_URL_PG").is_ok()
        || std::env::var("ORDERCRM_REQUIRE_PG").is_ok_and(|v| v == "1");
    if !reachable && required {
        panic!(
            "PostgreSQL is required but {} is unreachable",
            postgres_admin_url()
        );
    }
    if !reachable {
        eprintln!(
            "!!! SKIPPED: PostgreSQL variant (no server at {})",
            postgres_admin_url()
        );
    }
    reachable
}

fn replace_db(url: &str, db: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

/// Migrate a template database once per schema (named by a hash of the migration
/// sources), so each test's database is a cheap `CREATE DATABASE ... TEMPLATE`.
async fn postgres_template() -> String {
    static TEMPLATE: OnceCell<String> = OnceCell::const_new();
    TEMPLATE
        .get_or_init(|| async {
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../migrations/src");
            let mut files: Vec<_> = std::fs::read_dir(&dir)
                .unwrap()
                .flatten()
                .map(|e| e.path())
                .collect();
            files.sort();
            for f in files {
                std::hash::Hash::hash(&std::fs::read(&f).unwrap(), &mut hasher);
            }
            let name = format!("ordercrm_tpl_{:016x}", std::hash::Hasher::finish(&hasher));
            let admin = Database::connect(postgres_admin_url()).await.unwrap();
            // Test processes racing to build the same template take turns.
            admin
                .execute_unprepared("SELECT pg_advisory_lock(7324010099)")
                .await
                .unwrap();
            let exists = admin
                .query_one_raw(sea_orm::Statement::from_string(
                    sea_orm::DatabaseBackend::Postgres,
                    format!("SELECT 1 FROM pg_database WHERE datname = '{name}'"),
                ))
                .await
                .unwrap()
                .is_some();
            if !exists {
                let building = format!("{name}_building");
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
                    .await
                    .unwrap();
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {building}"))
                    .await
                    .unwrap();
                let config = test_config(replace_db(&postgres_admin_url(), &building));
                let db = database::connect(&config).await.unwrap();
                database::migrate(&db).await.unwrap();
                db.close().await.unwrap();
                admin
                    .execute_unprepared(&format!("ALTER DATABASE {building} RENAME TO {name}"))
                    .await
                    .unwrap();
            }
            admin
                .execute_unprepared("SELECT pg_advisory_unlock(7324010099)")
                .await
                .unwrap();
            admin.close().await.unwrap();
            name
        })
        .await
        .clone()
}

pub const TEST_JWT_SECRET: &str = "test-only-secret-0123456789abcdefghijklmnopqrstuvwxyz";

/// 32 bytes, base64: the tests' field-encryption key.
pub const TEST_DATA_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

pub fn test_config(database_url: String) -> Config {
    let mut config = Config::from_settings(Settings {
        listen: Some("127.0.0.1:0".into()),
        database_url: Some(database_url),
        workers: Some("2".into()),
        db_max_connections: Some("16".into()),
        jwt_secret: Some(TEST_JWT_SECRET.into()),
        data_key: Some(TEST_DATA_KEY.into()),
        ..Default::default()
    })
    .unwrap();
    config.handle_signals = false;
    // Plain http, so the address is what refuses a URL; names resolve from this
    // table only, and nothing leaves the machine.
    config.webhooks.allow_http = true;
    config.webhooks.resolver = std::sync::Arc::new(ordercrm_webhook::destination::StaticResolver(
        [
            ("shop.test", "93.184.215.14"),
            ("erp.test", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"),
            ("internal.test", "10.0.0.5"),
            ("metadata.test", "169.254.169.254"),
        ]
        .into_iter()
        .map(|(name, ip)| (name.to_owned(), vec![ip.parse().unwrap()]))
        .collect(),
    ));
    // The machine may send to loopback only: a delivery that got past the guard to
    // anywhere else is refused here (and shows as blocked_ip, never as traffic).
    config.webhooks.connect_hook = Some(std::sync::Arc::new(|_, addresses| {
        addresses.iter().all(std::net::IpAddr::is_loopback)
    }));
    config.dispatch.poll = std::time::Duration::from_millis(50);
    config.dispatch.drain = std::time::Duration::from_secs(1);
    config
}

/// An HTTP client for talking to servers (the process's TLS provider chosen first).
pub fn http_client() -> reqwest::Client {
    ordercrm_webhook::dispatch::send::install_tls_provider();
    reqwest::Client::new()
}

/// Let webhooks reach receivers on this machine (the operator's allowlist).
pub fn allow_loopback(config: &mut Config) {
    config.webhooks.policy.allow = vec!["127.0.0.0/8".parse().unwrap()];
}

/// A fresh, empty (migrated) database for one test.
pub struct TestDb {
    pub url: String,
    pub engine: Engine,
    _dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

impl TestDb {
    /// A database with no schema at all (a PostgreSQL database made empty, not from
    /// the template), for tests that migrate step by step.
    pub async fn new_unmigrated(engine: Engine) -> TestDb {
        match engine {
            Engine::Sqlite => Self::new(engine).await,
            Engine::Postgres => {
                let name = format!("ordercrm_t_{}", uuid::Uuid::now_v7().simple());
                let admin = Database::connect(postgres_admin_url()).await.unwrap();
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .unwrap();
                admin.close().await.unwrap();
                TestDb {
                    url: replace_db(&postgres_admin_url(), &name),
                    engine,
                    _dir: None,
                    pg_name: Some(name),
                }
            }
        }
    }

    pub async fn new(engine: Engine) -> TestDb {
        match engine {
            Engine::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                TestDb {
                    url,
                    engine,
                    _dir: Some(dir),
                    pg_name: None,
                }
            }
            Engine::Postgres => {
                let template = postgres_template().await;
                let name = format!("ordercrm_t_{}", uuid::Uuid::now_v7().simple());
                let admin = Database::connect(postgres_admin_url()).await.unwrap();
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
                    .await
                    .unwrap();
                admin.close().await.unwrap();
                let url = replace_db(&postgres_admin_url(), &name);
                TestDb {
                    url,
                    engine,
                    _dir: None,
                    pg_name: Some(name),
                }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take() {
            // Drop runs outside async; a short-lived runtime on its own thread does the cleanup.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    if let Ok(admin) = Database::connect(postgres_admin_url()).await {
                        let _ = admin
                            .execute_unprepared(&format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            ))
                            .await;
                        let _ = admin.close().await;
                    }
                });
            })
            .join();
        }
    }
}

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const PASSWORD: &str = "correct horse battery staple";

/// A running server and a client for it, signed in as an admin by default.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub clock: ManualClock,
    pub db: TestDb,
    pub config: Config,
    /// The bootstrap admin's id and access token; `request` sends it.
    pub admin_id: String,
    pub token: String,
    /// Counts the server's hook points and can hold a request at one.
    pub probe: Probe,
    pub rate_limits: Arc<RateLimits>,
    handle: actix_web::dev::ServerHandle,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

pub fn start_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T08:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

impl TestApp {
    pub async fn spawn(engine: Engine) -> TestApp {
        Self::spawn_with(engine, |_| {}).await
    }

    pub async fn spawn_with(engine: Engine, tweak: impl FnOnce(&mut Config)) -> TestApp {
        init_test_logging();
        let db = TestDb::new(engine).await;
        let mut config = test_config(db.url.clone());
        let probe = Probe::default();
        config.hooks = probe
            .hooks()
            .on_response(move |method, route, status, problem| {
                statuses_seen::record(engine, method, route, status, problem);
            });
        tweak(&mut config);
        let clock = ManualClock::new(start_time());
        let admin = ordercrm_server::users::create(
            &config,
            &clock,
            ADMIN_EMAIL.to_owned(),
            "admin",
            Some("Ada Admin".to_owned()),
            PASSWORD.to_owned(),
        )
        .await
        .unwrap();
        let app = Application::build(&config, Arc::new(clock.clone()))
            .await
            .unwrap();
        let address = format!("http://{}", app.address());
        let handle = app.handle();
        let rate_limits = app.rate_limits();
        let task = tokio::spawn(app.run_until_stopped());
        let mut app = TestApp {
            address,
            client: http_client(),
            clock,
            db,
            config,
            admin_id: admin.id.to_string(),
            token: String::new(),
            probe,
            rate_limits,
            handle,
            task: Some(task),
        };
        app.token = app.login(ADMIN_EMAIL, PASSWORD).await;
        app
    }

    /// Stop the server the way a killed process stops: requests in flight are dropped
    /// where they are, nothing is flushed. Then start it again on the same database.
    pub async fn crash_and_restart(&mut self) {
        self.handle.stop(false).await;
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        let app = Application::build(&self.config, Arc::new(self.clock.clone()))
            .await
            .unwrap();
        self.address = format!("http://{}", app.address());
        self.handle = app.handle();
        self.rate_limits = app.rate_limits();
        self.task = Some(tokio::spawn(app.run_until_stopped()));
    }

    /// Another server on this database and clock, as a second instance of a
    /// deployment: its background tasks race this one's. Stops when dropped.
    pub async fn sibling(&self) -> Sibling {
        let app = Application::build(&self.config, Arc::new(self.clock.clone()))
            .await
            .unwrap();
        let handle = app.handle();
        tokio::spawn(app.run_until_stopped());
        Sibling { handle }
    }

    /// Sign the admin in again (after moving the clock past the token's life).
    pub async fn relogin(&mut self) {
        self.token = self.login(ADMIN_EMAIL, PASSWORD).await;
    }

    /// Sign in; the access token.
    pub async fn login(&self, email: &str, password: &str) -> String {
        let res = self
            .anonymous(Method::POST, "/v1/auth/token")
            .json(&serde_json::json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "sign-in as {email}");
        let body: Value = res.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// Create a user as the admin and sign in as them: (id, access token).
    pub async fn user(
        &self,
        email: &str,
        role: &str,
        manager_id: Option<&str>,
    ) -> (String, String) {
        let res = self
            .post(
                "/v1/users",
                &serde_json::json!({"email": email, "display_name": email, "role": role,
                    "manager_id": manager_id, "password": PASSWORD}),
            )
            .await;
        assert_eq!(res.status(), 201);
        let body: Value = res.json().await.unwrap();
        let id = body["id"].as_str().unwrap().to_owned();
        (id, self.login(email, PASSWORD).await)
    }

    /// A request without credentials.
    pub fn anonymous(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// A request with someone else's bearer token or API key.
    pub fn request_as(&self, token: &str, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.anonymous(method, path).bearer_auth(token)
    }

    pub fn clock_now(&self) -> DateTime<Utc> {
        ordercrm_kernel::Clock::now(&self.clock)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// A request as the bootstrap admin.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.request_as(&self.token, method, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.request(Method::GET, path).send().await.unwrap()
    }

    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.request(Method::POST, path)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn patch(&self, path: &str, body: &Value) -> reqwest::Response {
        self.request(Method::PATCH, path)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// A company customer named `name`, created as the admin; its id.
    pub async fn customer(&self, name: &str) -> String {
        let res = self
            .post(
                "/v1/customers",
                &serde_json::json!({"kind": "company", "name": name}),
            )
            .await;
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
        let body: Value = res.json().await.unwrap();
        body["id"].as_str().unwrap().to_owned()
    }

    /// The first column of the first row of `sql` (a `SELECT COUNT(*)`), on this test's database.
    /// How many events of `event_type` the outbox holds.
    pub async fn events_of(&self, event_type: &str) -> i64 {
        self.count(&format!(
            "SELECT COUNT(*) FROM events WHERE event_type = '{event_type}'"
        ))
        .await
    }

    /// `GET /v1/orders/{id}` as the admin.
    pub async fn order(&self, id: &str) -> Value {
        let res = self.get(&format!("/v1/orders/{id}")).await;
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    /// The stock books agree: every level equals its ledger, and nothing held or
    /// counted is impossible (`ordercrm inventory verify`).
    pub async fn verify_books(&self) {
        let report = ordercrm_inventory::queries::verify::run(&self.raw_db().await)
            .await
            .unwrap();
        assert!(
            report.mismatches.is_empty() && report.impossible.is_empty(),
            "the books disagree: {:?} {:?}",
            report.mismatches,
            report.impossible
        );
    }

    /// Wait until the issuer has issued the invoices orders asked for: it runs
    /// moments after the change that asked commits.
    pub async fn invoices_issued(&self) {
        for _ in 0..400 {
            let waiting = self
                .count("SELECT COUNT(*) FROM invoices WHERE issue_requested_at IS NOT NULL")
                .await;
            if waiting == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("invoices orders asked for were not issued within 10 s");
    }

    pub async fn count(&self, sql: &str) -> i64 {
        let db = self.raw_db().await;
        let row = db
            .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
            .await
            .unwrap()
            .unwrap();
        row.try_get_by_index::<i64>(0).unwrap()
    }

    /// A direct connection to this test's database, for assertions on raw rows.
    pub async fn raw_db(&self) -> DatabaseConnection {
        Database::connect(self.db.url.as_str()).await.unwrap()
    }

    /// Stop the server gracefully and wait for it.
    pub async fn stop(mut self) {
        self.handle.stop(true).await;
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }
}

/// A second server started by [`TestApp::sibling`].
pub struct Sibling {
    handle: actix_web::dev::ServerHandle,
}

impl Drop for Sibling {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        tokio::spawn(async move { handle.stop(false).await });
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if self.task.is_some() {
            // Not stopped explicitly: stop without waiting so the database can be dropped.
            let handle = self.handle.clone();
            tokio::spawn(async move { handle.stop(false).await });
        }
    }
}

/// Every (method, route, status) the servers of this test process answered with,
/// written to `target/<profile>/status-seen/` for the `status_coverage` test to
/// check against the OpenAPI document once the whole suite has run.
pub mod statuses_seen {
    use std::collections::BTreeSet;
    use std::io::Write;
    use std::path::PathBuf;
    use std::sync::Mutex;

    use super::Engine;

    type Seen = BTreeSet<(Engine, String, String, u16, Option<String>)>;
    static SEEN: Mutex<Option<(Seen, Option<std::fs::File>)>> = Mutex::new(None);

    /// Where observations are kept: next to the test binaries, so `make test` can
    /// clear it before a run.
    pub fn dir() -> PathBuf {
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().and_then(|d| d.parent()).unwrap();
        profile_dir.join("status-seen")
    }

    pub fn engine_name(engine: Engine) -> &'static str {
        match engine {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }

    pub fn record(engine: Engine, method: &str, route: &str, status: u16, problem: Option<&str>) {
        let mut guard = SEEN.lock().unwrap();
        let (seen, file) = guard.get_or_insert_with(|| {
            let dir = dir();
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join(format!("{}.tsv", std::process::id()));
            (BTreeSet::new(), std::fs::File::create(path).ok())
        });
        // Each new triple once per process: a few hundred lines for the whole suite.
        let problem = problem.map(str::to_owned);
        if seen.insert((
            engine,
            method.to_owned(),
            route.to_owned(),
            status,
            problem.clone(),
        )) && let Some(file) = file
        {
            let problem = problem.as_deref().unwrap_or("-");
            let _ = writeln!(
                file,
                "{}\t{method}\t{route}\t{status}\t{problem}",
                engine_name(engine)
            );
        }
    }
}

/// Watches the server's hook points (`ordercrm_kernel::hooks`): counts every pass,
/// and can hold the next request that reaches a point until the test lets it go.
#[derive(Clone, Default)]
pub struct Probe(Arc<ProbeInner>);

#[derive(Default)]
struct ProbeInner {
    counts: Mutex<HashMap<&'static str, usize>>,
    holds: Mutex<Vec<(&'static str, Held)>>,
}

/// A request held at a hook point.
#[derive(Clone)]
pub struct Held {
    reached: Arc<tokio::sync::Notify>,
    open: Arc<tokio::sync::Semaphore>,
}

impl Held {
    /// Wait until a request is held here.
    pub async fn reached(&self) {
        self.reached.notified().await;
    }

    /// Let it go on.
    pub fn release(&self) {
        self.open.add_permits(1);
    }
}

impl Probe {
    pub fn hooks(&self) -> Hooks {
        let probe = self.clone();
        Hooks::new(move |point| {
            *probe.0.counts.lock().unwrap().entry(point).or_default() += 1;
            let held = {
                let mut holds = probe.0.holds.lock().unwrap();
                holds
                    .iter()
                    .position(|(p, _)| *p == point)
                    .map(|i| holds.remove(i).1)
            };
            async move {
                if let Some(held) = held {
                    held.reached.notify_one();
                    let _ = held.open.acquire().await;
                }
            }
        })
    }

    /// How many times requests passed `point`.
    pub fn count(&self, point: &str) -> usize {
        self.0
            .counts
            .lock()
            .unwrap()
            .get(point)
            .copied()
            .unwrap_or(0)
    }

    /// Hold the next request that reaches `point`.
    pub fn hold(&self, point: &'static str) -> Held {
        let held = Held {
            reached: Arc::new(tokio::sync::Notify::new()),
            open: Arc::new(tokio::sync::Semaphore::new(0)),
        };
        self.0.holds.lock().unwrap().push((point, held.clone()));
        held
    }
}

/// Everything the database holds, as text: every column of every row of every
/// table (blobs as lossy UTF-8, so a secret inside a stored response body is found).
pub async fn everything_stored(app: &TestApp) -> String {
    // Not the issuer's work on invoices asked for earlier, done in between.
    app.invoices_issued().await;
    let db = app.raw_db().await;
    let backend = db.get_database_backend();
    let tables_sql = match app.db.engine {
        Engine::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table'",
        Engine::Postgres => {
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        }
    };
    let tables = db
        .query_all_raw(Statement::from_string(backend, tables_sql))
        .await
        .unwrap();
    let mut text = String::new();
    for t in tables {
        let name: String = t.try_get_by_index(0).unwrap();
        let rows = db
            .query_all_raw(Statement::from_string(
                backend,
                format!("SELECT * FROM \"{name}\""),
            ))
            .await
            .unwrap();
        // Sorted: PostgreSQL returns rows in physical order, which an update that
        // changes nothing a test compares (the outbox sequencer numbering events)
        // moves.
        let mut lines = Vec::with_capacity(rows.len());
        for row in rows {
            let mut line = String::new();
            for i in 0..row.column_names().len() {
                if let Ok(Some(v)) = row.try_get_by_index::<Option<String>>(i) {
                    line.push_str(&v);
                } else if let Ok(Some(v)) = row.try_get_by_index::<Option<Vec<u8>>>(i) {
                    line.push_str(&String::from_utf8_lossy(&v));
                } else if let Ok(Some(v)) = row.try_get_by_index::<Option<serde_json::Value>>(i) {
                    line.push_str(&v.to_string());
                }
                line.push('\t');
            }
            lines.push(line);
        }
        lines.sort_unstable();
        for line in lines {
            text.push_str(&line);
            text.push('\n');
        }
    }
    text
}

/// Send `req`, and again after `Retry-After` while the answer is 503 (the database
/// busy: nothing was done), as a client under load would; at most 10 times.
pub async fn send_until_served(req: reqwest::RequestBuilder) -> reqwest::Response {
    for _ in 0..9 {
        let res = req.try_clone().unwrap().send().await.unwrap();
        if res.status() != 503 {
            return res;
        }
        let wait = res
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            .unwrap_or(1);
        tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
    }
    req.send().await.unwrap()
}

/// The body of a response that must be problem+json, with its status checked.
pub async fn problem(res: reqwest::Response, status: u16) -> Value {
    assert_eq!(res.status().as_u16(), status, "unexpected status");
    let content_type = res
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let request_id = res
        .headers()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert!(
        body["type"].as_str().unwrap().starts_with("/problems/") || body["type"] == "about:blank"
    );
    assert!(body["title"].is_string());
    assert_eq!(
        body["request_id"],
        request_id.as_str(),
        "problem carries the request id"
    );
    body
}

/// Set `TEST_LOG=1` to see the server's logs.
fn init_test_logging() {
    if std::env::var("TEST_LOG").is_ok() {
        ordercrm_server::telemetry::init(
            ordercrm_server::config::LogFormat::Pretty,
            std::io::stderr,
        );
    }
}

/// The `ordercrm` binary built next to this test binary (`make test` builds it).
pub fn ordercrm_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|d| d.parent()).unwrap();
    let bin = dir.join("ordercrm");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p ordercrm-server` first (make test does)",
        bin.display()
    );
    bin
}

/// A component schema's example: `example`, or the first of `examples` (what a
/// hand-written schema such as a `oneOf` carries).
pub fn schema_example(doc: &Value, reference: &str) -> Value {
    let schema = &doc["components"]["schemas"][reference.rsplit('/').next().unwrap_or_default()];
    match &schema["example"] {
        Value::Null => schema["examples"][0].clone(),
        example => example.clone(),
    }
}
