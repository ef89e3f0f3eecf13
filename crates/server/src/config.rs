//! Configuration: defaults, then an optional TOML file, then environment variables
//! (or the equivalent command-line flags). Validated as a whole before anything
//! starts; an invalid setting stops startup with one line naming it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use serde::Deserialize;

/// Every setting, as a flag or an environment variable. Unset ones fall back to the
/// TOML file given by `--config`/`ORDERCRM_CONFIG`, then to the default.
#[derive(Debug, Clone, Default, Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "ORDERCRM_LISTEN", global = true)]
    pub listen: Option<String>,
    /// Database URL: sqlite://PATH or postgres://USER@HOST/DB [default: sqlite://<data dir>/ordercrm.db]
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Directory for the SQLite database and generated keys [default: ./data]
    #[arg(long, env = "ORDERCRM_DATA_DIR", global = true)]
    pub data_dir: Option<String>,
    /// Log format: `pretty` (for a terminal) or `json` [default: pretty]
    #[arg(long, env = "LOG_FORMAT", global = true)]
    pub log_format: Option<String>,
    /// HTTP worker threads [default: number of CPUs]
    #[arg(long, env = "ORDERCRM_WORKERS", global = true)]
    pub workers: Option<String>,
    /// Maximum database connections (the read pool, on SQLite) [default: 16]
    #[arg(long, env = "ORDERCRM_DB_MAX_CONNECTIONS", global = true)]
    pub db_max_connections: Option<String>,
    /// Largest accepted request body, in bytes [default: 1048576]
    #[arg(long, env = "ORDERCRM_MAX_BODY_BYTES", global = true)]
    pub max_body_bytes: Option<String>,
    /// Seconds in-flight requests get to finish on SIGTERM/SIGINT [default: 30]
    #[arg(long, env = "ORDERCRM_SHUTDOWN_TIMEOUT", global = true)]
    pub shutdown_timeout: Option<String>,
    /// Secret signing access tokens, at least 32 bytes; share it between instances
    /// [default: generated once into <data dir>/jwt-secret]
    #[arg(
        long,
        env = "ORDERCRM_JWT_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub jwt_secret: Option<String>,
    /// Key sealing sensitive fields at rest: 32 bytes, base64; keep it safe and share it
    /// between instances [default: generated once into <data dir>/data-key]
    #[arg(long, env = "ORDERCRM_DATA_KEY", global = true, hide_env_values = true)]
    pub data_key: Option<String>,
    /// Lifetime of access tokens in seconds [default: 900]
    #[arg(long, env = "ORDERCRM_ACCESS_TOKEN_TTL", global = true)]
    pub access_token_ttl: Option<String>,
    /// Requests a user or API key may make per minute [default: 600]
    #[arg(long, env = "ORDERCRM_RATE_LIMIT", global = true)]
    pub rate_limit: Option<String>,
    /// Unauthenticated requests one client address may make per minute [default: 120]
    #[arg(long, env = "ORDERCRM_ANONYMOUS_RATE_LIMIT", global = true)]
    pub anonymous_rate_limit: Option<String>,
    /// Comma-separated addresses or CIDRs of the proxies in front of this server, whose
    /// X-Forwarded-For names the client [default: none; the header is ignored]
    #[arg(long, env = "ORDERCRM_TRUSTED_PROXIES", global = true)]
    pub trusted_proxies: Option<String>,
    /// Comma-separated origins allowed to call the API from browsers (CORS) [default: none]
    #[arg(long, env = "ORDERCRM_CORS_ORIGINS", global = true)]
    pub cors_origins: Option<String>,
    /// Seconds between sweeps that release expired reservations [default: 15]
    #[arg(long, env = "ORDERCRM_RESERVATION_SWEEP_SECS", global = true)]
    pub reservation_sweep_secs: Option<String>,
    /// Accept plain http webhook URLs (private deployments) [default: false, https only]
    #[arg(long, env = "ORDERCRM_WEBHOOK_ALLOW_HTTP", global = true)]
    pub webhook_allow_http: Option<String>,
    /// Comma-separated networks (CIDRs) webhooks may reach although they are private,
    /// loopback or otherwise internal [default: none]
    #[arg(long, env = "ORDERCRM_WEBHOOK_ALLOW_NETWORKS", global = true)]
    pub webhook_allow_networks: Option<String>,
    /// Run the webhook dispatcher in this server (turn it off on API-only servers)
    /// [default: true]
    #[arg(long, env = "ORDERCRM_WEBHOOK_DISPATCHER", global = true)]
    pub webhook_dispatcher: Option<String>,
    /// Webhook requests one server has in flight at once [default: 32]
    #[arg(long, env = "ORDERCRM_WEBHOOK_CONCURRENCY", global = true)]
    pub webhook_concurrency: Option<String>,
    /// Webhook requests one server has in flight to one endpoint [default: 8]
    #[arg(long, env = "ORDERCRM_WEBHOOK_ENDPOINT_CONCURRENCY", global = true)]
    pub webhook_endpoint_concurrency: Option<String>,
    /// New webhook requests a second one server sends to one endpoint [default: 50]
    #[arg(long, env = "ORDERCRM_WEBHOOK_ENDPOINT_RATE", global = true)]
    pub webhook_endpoint_rate: Option<String>,
    /// Seconds a receiver has to answer a webhook request [default: 15]
    #[arg(long, env = "ORDERCRM_WEBHOOK_TIMEOUT_SECS", global = true)]
    pub webhook_timeout_secs: Option<String>,
    /// Seconds a server holds a delivery it claimed; at least the timeout + 10
    /// [default: 60]
    #[arg(long, env = "ORDERCRM_WEBHOOK_LEASE_SECS", global = true)]
    pub webhook_lease_secs: Option<String>,
    /// Days succeeded webhook deliveries are kept (undelivered ones always are)
    /// [default: 30]
    #[arg(long, env = "ORDERCRM_WEBHOOK_DELIVERY_RETENTION_DAYS", global = true)]
    pub webhook_delivery_retention_days: Option<String>,
    /// Days the attempts of succeeded webhook deliveries are kept [default: 30]
    #[arg(long, env = "ORDERCRM_WEBHOOK_ATTEMPT_RETENTION_DAYS", global = true)]
    pub webhook_attempt_retention_days: Option<String>,
    /// Days events are kept; older ones leave the feed and order timelines (those a
    /// delivery still owes stay) [default: unset, kept for ever]
    #[arg(long, env = "ORDERCRM_EVENT_RETENTION_DAYS", global = true)]
    pub event_retention_days: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub database_url: String,
    pub data_dir: PathBuf,
    pub log_format: LogFormat,
    pub workers: usize,
    pub db_max_connections: u32,
    pub max_body_bytes: usize,
    pub shutdown_timeout: Duration,
    /// Off in tests that run many servers in one process.
    pub handle_signals: bool,
    /// `None`: use (or create) the secret file in the data directory.
    pub jwt_secret: Option<Secret>,
    /// `None`: use (or create) the key file in the data directory.
    pub data_key: Option<Secret>,
    pub access_token_ttl: Duration,
    pub rate_limit_per_minute: u32,
    pub anonymous_rate_limit_per_minute: u32,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub cors_origins: Vec<String>,
    pub reservation_sweep_interval: Duration,
    /// The edge's other limits; tests tighten them (not settable from outside).
    pub limits: ordercrm_api::Limits,
    /// Test hooks (none in production; not settable from outside).
    pub hooks: ordercrm_kernel::Hooks,
    /// Where webhooks may point; tests swap in a resolver of their own.
    pub webhooks: ordercrm_webhook::destination::Destinations,
    /// How the webhook dispatcher sends (tests shorten its poll and lease).
    pub dispatch: ordercrm_webhook::dispatch::Settings,
    /// Whether this server runs the dispatcher at all.
    pub run_dispatcher: bool,
    /// How long deliveries, attempts and events are kept.
    pub retention: ordercrm_webhook::retention::Retention,
    /// How often expired keys, old deliveries and events are pruned (tests shorten it;
    /// not settable from outside).
    pub maintenance_interval: Duration,
}

/// A value that must never reach a log line or a panic message.
#[derive(Clone)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// One line, naming the setting.
#[derive(Debug, thiserror::Error)]
#[error("invalid {setting}: {message}")]
pub struct ConfigError {
    pub setting: &'static str,
    pub message: String,
}

fn bad(setting: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        setting,
        message: message.into(),
    }
}

impl Settings {
    /// `self` with the unset fields taken from `other`.
    fn or(self, other: Settings) -> Settings {
        Settings {
            listen: self.listen.or(other.listen),
            database_url: self.database_url.or(other.database_url),
            data_dir: self.data_dir.or(other.data_dir),
            log_format: self.log_format.or(other.log_format),
            workers: self.workers.or(other.workers),
            db_max_connections: self.db_max_connections.or(other.db_max_connections),
            max_body_bytes: self.max_body_bytes.or(other.max_body_bytes),
            shutdown_timeout: self.shutdown_timeout.or(other.shutdown_timeout),
            jwt_secret: self.jwt_secret.or(other.jwt_secret),
            data_key: self.data_key.or(other.data_key),
            access_token_ttl: self.access_token_ttl.or(other.access_token_ttl),
            rate_limit: self.rate_limit.or(other.rate_limit),
            anonymous_rate_limit: self.anonymous_rate_limit.or(other.anonymous_rate_limit),
            trusted_proxies: self.trusted_proxies.or(other.trusted_proxies),
            cors_origins: self.cors_origins.or(other.cors_origins),
            reservation_sweep_secs: self.reservation_sweep_secs.or(other.reservation_sweep_secs),
            webhook_allow_http: self.webhook_allow_http.or(other.webhook_allow_http),
            webhook_allow_networks: self.webhook_allow_networks.or(other.webhook_allow_networks),
            webhook_dispatcher: self.webhook_dispatcher.or(other.webhook_dispatcher),
            webhook_concurrency: self.webhook_concurrency.or(other.webhook_concurrency),
            webhook_endpoint_concurrency: self
                .webhook_endpoint_concurrency
                .or(other.webhook_endpoint_concurrency),
            webhook_endpoint_rate: self.webhook_endpoint_rate.or(other.webhook_endpoint_rate),
            webhook_timeout_secs: self.webhook_timeout_secs.or(other.webhook_timeout_secs),
            webhook_lease_secs: self.webhook_lease_secs.or(other.webhook_lease_secs),
            webhook_delivery_retention_days: self
                .webhook_delivery_retention_days
                .or(other.webhook_delivery_retention_days),
            webhook_attempt_retention_days: self
                .webhook_attempt_retention_days
                .or(other.webhook_attempt_retention_days),
            event_retention_days: self.event_retention_days.or(other.event_retention_days),
        }
    }

    pub fn from_file(path: &Path) -> Result<Settings, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            bad(
                "ORDERCRM_CONFIG",
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        toml::from_str(&text).map_err(|e| {
            bad(
                "ORDERCRM_CONFIG",
                format!("{}: {}", path.display(), e.message()),
            )
        })
    }
}

fn parse<T: std::str::FromStr>(
    value: Option<String>,
    setting: &'static str,
    default: T,
    expected: &str,
) -> Result<T, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| bad(setting, format!("'{v}' is not {expected}"))),
    }
}

/// `true` or `false` (`1`, `0`), or `default` when unset or empty.
fn switch(value: Option<&str>, setting: &'static str, default: bool) -> Result<bool, ConfigError> {
    match value.map(str::trim) {
        None | Some("") => Ok(default),
        Some("false" | "0") => Ok(false),
        Some("true" | "1") => Ok(true),
        Some(other) => Err(bad(setting, format!("'{other}' is not true or false"))),
    }
}

/// A whole number in `range`, or `default` when unset.
fn bounded<T>(
    value: Option<String>,
    setting: &'static str,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    let n = parse(value, setting, default, "a whole number")?;
    if range.contains(&n) {
        Ok(n)
    } else {
        Err(bad(
            setting,
            format!("must be between {} and {}", range.start(), range.end()),
        ))
    }
}

/// How long deliveries, attempts and events are kept.
fn retention(s: &Settings) -> Result<ordercrm_webhook::retention::Retention, ConfigError> {
    let defaults = ordercrm_webhook::retention::Retention::default();
    let days = |value: &Option<String>, setting: &'static str, default: i64| {
        bounded(value.clone(), setting, default, 1..=36_500).map(chrono::Duration::days)
    };
    Ok(ordercrm_webhook::retention::Retention {
        deliveries: days(
            &s.webhook_delivery_retention_days,
            "ORDERCRM_WEBHOOK_DELIVERY_RETENTION_DAYS",
            defaults.deliveries.num_days(),
        )?,
        attempts: days(
            &s.webhook_attempt_retention_days,
            "ORDERCRM_WEBHOOK_ATTEMPT_RETENTION_DAYS",
            defaults.attempts.num_days(),
        )?,
        events: match s.event_retention_days.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(_) => Some(days(
                &s.event_retention_days,
                "ORDERCRM_EVENT_RETENTION_DAYS",
                0,
            )?),
        },
    })
}

/// The webhook dispatcher's settings.
fn dispatch_settings(s: &Settings) -> Result<ordercrm_webhook::dispatch::Settings, ConfigError> {
    let defaults = ordercrm_webhook::dispatch::Settings::default();
    let max_in_flight = bounded(
        s.webhook_concurrency.clone(),
        "ORDERCRM_WEBHOOK_CONCURRENCY",
        defaults.max_in_flight,
        1..=1024,
    )?;
    let per_endpoint = bounded(
        s.webhook_endpoint_concurrency.clone(),
        "ORDERCRM_WEBHOOK_ENDPOINT_CONCURRENCY",
        defaults.per_endpoint.min(max_in_flight),
        1..=max_in_flight,
    )?;
    let rate: u32 = bounded(
        s.webhook_endpoint_rate.clone(),
        "ORDERCRM_WEBHOOK_ENDPOINT_RATE",
        defaults.rate_per_endpoint.get(),
        1..=10_000,
    )?;
    let timeout: u64 = bounded(
        s.webhook_timeout_secs.clone(),
        "ORDERCRM_WEBHOOK_TIMEOUT_SECS",
        defaults.timeouts.request.as_secs(),
        1..=60,
    )?;
    let margin = ordercrm_webhook::dispatch::LEASE_MARGIN.as_secs();
    let lease: u64 = bounded(
        s.webhook_lease_secs.clone(),
        "ORDERCRM_WEBHOOK_LEASE_SECS",
        defaults.lease.as_secs().max(timeout + margin),
        (timeout + margin)..=3600,
    )?;
    Ok(ordercrm_webhook::dispatch::Settings {
        max_in_flight,
        per_endpoint,
        rate_per_endpoint: std::num::NonZeroU32::new(rate).unwrap_or(std::num::NonZeroU32::MIN),
        timeouts: ordercrm_webhook::dispatch::send::Timeouts {
            request: Duration::from_secs(timeout),
            connect: defaults.timeouts.connect.min(Duration::from_secs(timeout)),
        },
        lease: Duration::from_secs(lease),
        drain: Duration::from_secs(timeout + 1),
        ..defaults
    })
}

impl Config {
    /// Flags/environment first, then the file, then defaults.
    pub fn load(cli: Settings, file: Option<&Path>) -> Result<Config, ConfigError> {
        let from_file = match file {
            Some(path) => Settings::from_file(path)?,
            None => Settings::default(),
        };
        Self::from_settings(cli.or(from_file))
    }

    pub fn from_settings(s: Settings) -> Result<Config, ConfigError> {
        let dispatch = dispatch_settings(&s)?;
        let retention = retention(&s)?;
        let listen = parse(
            s.listen,
            "ORDERCRM_LISTEN",
            SocketAddr::from(([127, 0, 0, 1], 8080)),
            "a socket address such as 127.0.0.1:8080",
        )?;
        let data_dir = PathBuf::from(s.data_dir.unwrap_or_else(|| "./data".into()));
        if data_dir.as_os_str().is_empty() {
            return Err(bad("ORDERCRM_DATA_DIR", "must not be empty"));
        }
        let database_url = s
            .database_url
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("ordercrm.db").display()));
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(bad(
                "DATABASE_URL",
                "must start with sqlite:, postgres:// or postgresql://",
            ));
        }
        let log_format = match s.log_format.as_deref().map(str::trim) {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(bad(
                    "LOG_FORMAT",
                    format!("'{other}' is not pretty or json"),
                ));
            }
        };
        let cpus = std::thread::available_parallelism().map_or(2, usize::from);
        let workers: usize = parse(s.workers, "ORDERCRM_WORKERS", cpus, "a positive number")?;
        if !(1..=256).contains(&workers) {
            return Err(bad("ORDERCRM_WORKERS", "must be between 1 and 256"));
        }
        let db_max_connections: u32 = parse(
            s.db_max_connections,
            "ORDERCRM_DB_MAX_CONNECTIONS",
            16,
            "a positive number",
        )?;
        if !(2..=1000).contains(&db_max_connections) {
            return Err(bad(
                "ORDERCRM_DB_MAX_CONNECTIONS",
                "must be between 2 and 1000",
            ));
        }
        let max_body_bytes: usize = parse(
            s.max_body_bytes,
            "ORDERCRM_MAX_BODY_BYTES",
            1024 * 1024,
            "a number of bytes",
        )?;
        if max_body_bytes < 1024 {
            return Err(bad("ORDERCRM_MAX_BODY_BYTES", "must be at least 1024"));
        }
        let shutdown_secs: u64 = parse(
            s.shutdown_timeout,
            "ORDERCRM_SHUTDOWN_TIMEOUT",
            30,
            "a number of seconds",
        )?;
        let jwt_secret = match s.jwt_secret {
            Some(v) if v.len() < 32 => {
                return Err(bad("ORDERCRM_JWT_SECRET", "must be at least 32 bytes"));
            }
            other => other.map(Secret),
        };
        let ttl: u64 = parse(
            s.access_token_ttl,
            "ORDERCRM_ACCESS_TOKEN_TTL",
            900,
            "a number of seconds",
        )?;
        if !(60..=86_400).contains(&ttl) {
            return Err(bad(
                "ORDERCRM_ACCESS_TOKEN_TTL",
                "must be between 60 and 86400 seconds",
            ));
        }
        let rate_limit_per_minute: u32 = parse(
            s.rate_limit,
            "ORDERCRM_RATE_LIMIT",
            600,
            "a number of requests",
        )?;
        if rate_limit_per_minute == 0 {
            return Err(bad("ORDERCRM_RATE_LIMIT", "must be at least 1"));
        }
        let anonymous_rate_limit_per_minute: u32 = parse(
            s.anonymous_rate_limit,
            "ORDERCRM_ANONYMOUS_RATE_LIMIT",
            120,
            "a number of requests",
        )?;
        if anonymous_rate_limit_per_minute == 0 {
            return Err(bad("ORDERCRM_ANONYMOUS_RATE_LIMIT", "must be at least 1"));
        }
        let trusted_proxies =
            ordercrm_api::client_addr::parse_trusted(s.trusted_proxies.as_deref().unwrap_or(""))
                .map_err(|e| bad("ORDERCRM_TRUSTED_PROXIES", e))?;
        let sweep_secs: u64 = parse(
            s.reservation_sweep_secs,
            "ORDERCRM_RESERVATION_SWEEP_SECS",
            15,
            "a number of seconds",
        )?;
        if !(1..=3600).contains(&sweep_secs) {
            return Err(bad(
                "ORDERCRM_RESERVATION_SWEEP_SECS",
                "must be between 1 and 3600",
            ));
        }
        let cors_origins: Vec<String> = s
            .cors_origins
            .unwrap_or_default()
            .split(',')
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect();
        if let Some(bad_origin) = cors_origins
            .iter()
            .find(|o| !(o.starts_with("http://") || o.starts_with("https://")))
        {
            return Err(bad(
                "ORDERCRM_CORS_ORIGINS",
                format!("'{bad_origin}' is not an origin such as https://shop.example.com"),
            ));
        }
        let webhook_allow_http = switch(
            s.webhook_allow_http.as_deref(),
            "ORDERCRM_WEBHOOK_ALLOW_HTTP",
            false,
        )?;
        let run_dispatcher = switch(
            s.webhook_dispatcher.as_deref(),
            "ORDERCRM_WEBHOOK_DISPATCHER",
            true,
        )?;
        let webhook_allow_networks = ordercrm_api::client_addr::parse_trusted(
            s.webhook_allow_networks.as_deref().unwrap_or(""),
        )
        .map_err(|e| bad("ORDERCRM_WEBHOOK_ALLOW_NETWORKS", e))?;
        let data_key = s.data_key.map(Secret);
        if let Some(key) = &data_key
            && crate::keys::decode_data_key(&key.0).is_none()
        {
            return Err(bad("ORDERCRM_DATA_KEY", "must be 32 bytes, base64-encoded"));
        }
        Ok(Config {
            data_key,
            jwt_secret,
            access_token_ttl: Duration::from_secs(ttl),
            rate_limit_per_minute,
            anonymous_rate_limit_per_minute,
            trusted_proxies,
            cors_origins,
            limits: ordercrm_api::Limits::default(),
            hooks: ordercrm_kernel::Hooks::default(),
            webhooks: ordercrm_webhook::destination::Destinations {
                allow_http: webhook_allow_http,
                policy: ordercrm_webhook::ssrf::Policy {
                    allow: webhook_allow_networks,
                },
                ..Default::default()
            },
            dispatch,
            run_dispatcher,
            retention,
            maintenance_interval: Duration::from_secs(600),
            reservation_sweep_interval: Duration::from_secs(sweep_secs),
            listen,
            database_url,
            data_dir,
            log_format,
            workers,
            db_max_connections,
            max_body_bytes,
            shutdown_timeout: Duration::from_secs(shutdown_secs),
            handle_signals: true,
        })
    }

    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_sane() {
        let c = Config::from_settings(Settings::default()).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.database_url, "sqlite://./data/ordercrm.db");
        assert_eq!(c.log_format, LogFormat::Pretty);
    }

    #[test]
    fn errors_name_the_setting() {
        let err = Config::from_settings(Settings {
            listen: Some("nowhere".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid ORDERCRM_LISTEN: 'nowhere' is not a socket address such as 127.0.0.1:8080"
        );
        let err = Config::from_settings(Settings {
            database_url: Some("mysql://x".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.to_string().starts_with("invalid DATABASE_URL"));
    }

    #[test]
    fn flags_win_over_file() {
        let file = Settings {
            listen: Some("0.0.0.0:1".into()),
            workers: Some("3".into()),
            ..Default::default()
        };
        let cli = Settings {
            listen: Some("127.0.0.1:2".into()),
            ..Default::default()
        };
        let c = Config::from_settings(cli.or(file)).unwrap();
        assert_eq!(c.listen.port(), 2);
        assert_eq!(c.workers, 3);
    }
}
