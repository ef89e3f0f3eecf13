//! The real `ordercrm` binary: CLI, configuration errors, JSON logs, refusal of a
//! newer database, graceful shutdown, PostgreSQL.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ordercrm_tests::{Engine, TestDb, ordercrm_binary, postgres_available};
use sea_orm::{ConnectionTrait, Database};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn ordercrm(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(ordercrm_binary());
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn invalid_setting_stops_startup_with_one_line() {
    for (env, needle) in [
        (
            ("ORDERCRM_LISTEN", "not-an-address"),
            "invalid ORDERCRM_LISTEN: 'not-an-address'",
        ),
        (("DATABASE_URL", "mysql://x/y"), "invalid DATABASE_URL"),
        (
            ("LOG_FORMAT", "xml"),
            "invalid LOG_FORMAT: 'xml' is not pretty or json",
        ),
        (("ORDERCRM_WORKERS", "0"), "invalid ORDERCRM_WORKERS"),
    ] {
        let out = ordercrm(&["serve"], &[env]);
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(needle), "{stderr}");
    }
}

#[test]
fn help_documents_every_setting_and_subcommand() {
    let out = ordercrm(&["--help"], &[]);
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for name in [
        "ORDERCRM_LISTEN",
        "DATABASE_URL",
        "ORDERCRM_DATA_DIR",
        "LOG_FORMAT",
        "ORDERCRM_CONFIG",
        "ORDERCRM_WORKERS",
        "ORDERCRM_DB_MAX_CONNECTIONS",
        "ORDERCRM_MAX_BODY_BYTES",
        "ORDERCRM_SHUTDOWN_TIMEOUT",
        "ORDERCRM_RESERVATION_SWEEP_SECS",
        "inventory",
        "serve",
        "migrate",
        "openapi",
        "version",
    ] {
        assert!(help.contains(name), "--help does not mention {name}");
    }
    let out = ordercrm(&["version"], &[]);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("ordercrm {}\n", env!("CARGO_PKG_VERSION"))
    );
    let out = ordercrm(&["openapi"], &[]);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        ordercrm_api::openapi::to_json(&ordercrm_api::openapi())
    );
}

#[tokio::test]
async fn config_file_is_read_and_env_wins() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ordercrm.toml");
    std::fs::write(&file, "listen = \"bogus\"\nlog_format = \"json\"\n").unwrap();
    let out = ordercrm(&["migrate", "--config", file.to_str().unwrap()], &[]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("invalid ORDERCRM_LISTEN: 'bogus'"),
        "{stderr}"
    );
    let url = format!("sqlite://{}", dir.path().join("x.db").display());
    let out = ordercrm(
        &["migrate", "--config", file.to_str().unwrap()],
        &[("ORDERCRM_LISTEN", "127.0.0.1:0"), ("DATABASE_URL", &url)],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    let line: Value = serde_json::from_str(stderr.lines().last().unwrap()).unwrap();
    assert_eq!(
        line["message"], "database migrated",
        "log_format from the file took effect"
    );

    std::fs::write(&file, "listen = \"127.0.0.1:0\"\ncolour = \"red\"\n").unwrap();
    let out = ordercrm(&["migrate", "--config", file.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("unknown field `colour`")
    );
}

#[tokio::test]
async fn a_database_from_a_newer_version_is_refused() {
    let db = TestDb::new(Engine::Sqlite).await;
    let out = ordercrm(&["migrate"], &[("DATABASE_URL", &db.url)]);
    assert!(out.status.success());
    let conn = Database::connect(db.url.as_str()).await.unwrap();
    conn.execute_unprepared(
        "INSERT INTO seaql_migrations (version, applied_at) VALUES ('m29990101_000001_from_the_future', 0)",
    )
    .await
    .unwrap();
    conn.close().await.unwrap();
    let out = ordercrm(
        &["serve"],
        &[
            ("DATABASE_URL", &db.url),
            ("ORDERCRM_LISTEN", "127.0.0.1:0"),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("migrated by a newer ordercrm"), "{stderr}");
    assert!(
        stderr.contains("m29990101_000001_from_the_future"),
        "{stderr}"
    );
}

/// A server process, its stderr as JSON lines.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) port: u16,
    logs: std::sync::mpsc::Receiver<Value>,
    /// The lines logged before "listening".
    startup: Vec<Value>,
}

impl Drop for Server {
    /// A failed assertion must not leave a server running (and holding the test's pipes).
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Create a user with the CLI, password on standard input.
fn cli_user(database_url: &str, email: &str, role: &str, password: &str) -> std::process::Output {
    let mut child = Command::new(ordercrm_binary())
        .args([
            "user",
            "create",
            "--email",
            email,
            "--role",
            role,
            "--password-stdin",
        ])
        .env_clear()
        .env("DATABASE_URL", database_url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "{password}").unwrap();
    }
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn the_first_admin_comes_from_the_cli() {
    let db = TestDb::new(Engine::Sqlite).await;
    let data_dir = tempfile::tempdir().unwrap();
    // A server on an empty database says how to create the first admin.
    let server = start_server(&db.url, data_dir.path());
    let hint = |lines: &[Value]| {
        lines.iter().any(|l| {
            l["message"].as_str().is_some_and(|m| {
                m.contains("no active admin") && m.contains("ordercrm user create")
            })
        })
    };
    assert!(
        hint(&server.startup),
        "an empty database logs the first step"
    );
    drop(server);

    let out = cli_user(&db.url, "root@example.com", "admin", "short");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("password must be 12 to 256 characters"));
    let out = cli_user(
        &db.url,
        "root@example.com",
        "admin",
        "a perfectly long passphrase",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.starts_with("created admin root@example.com ("),
        "{stdout}"
    );
    let out = cli_user(
        &db.url,
        "ROOT@example.com",
        "admin",
        "a perfectly long passphrase",
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    let server = start_server(&db.url, data_dir.path());
    assert!(!hint(&server.startup), "with an admin, no hint");
    drop(server);
    let out = cli_user(
        &db.url,
        "x@example.com",
        "emperor",
        "a perfectly long passphrase",
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("--role must be one of"));
}

fn start_server(database_url: &str, data_dir: &std::path::Path) -> Server {
    start_server_with(database_url, data_dir, "info")
}

fn start_server_with(database_url: &str, data_dir: &std::path::Path, rust_log: &str) -> Server {
    start_server_env(database_url, data_dir, rust_log, &[])
}

/// Two more `ordercrm` processes on `app`'s PostgreSQL database (keys shared, as a
/// deployment shares them), their ports, and an admin token signed in through the
/// first: they run on the real clock, not the test's.
pub(crate) async fn two_more_processes(
    app: &ordercrm_tests::TestApp,
) -> (Vec<Server>, Vec<tempfile::TempDir>, Vec<u16>, String) {
    let env = [
        ("ORDERCRM_JWT_SECRET", ordercrm_tests::TEST_JWT_SECRET),
        ("ORDERCRM_DATA_KEY", ordercrm_tests::TEST_DATA_KEY),
    ];
    let dirs = vec![tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let servers: Vec<Server> = dirs
        .iter()
        .map(|d| start_server_env(&app.db.url, d.path(), "warn,ordercrm_server=info", &env))
        .collect();
    let ports: Vec<u16> = servers.iter().map(|s| s.port).collect();
    let tokens: Value = app
        .client
        .post(format!("http://127.0.0.1:{}/v1/auth/token", ports[0]))
        .json(&serde_json::json!({"email": ordercrm_tests::ADMIN_EMAIL, "password": ordercrm_tests::PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = tokens["access_token"].as_str().unwrap().to_owned();
    (servers, dirs, ports, token)
}

/// The real binary serving `database_url`, with extra environment.
pub(crate) fn start_server_env(
    database_url: &str,
    data_dir: &std::path::Path,
    rust_log: &str,
    env: &[(&str, &str)],
) -> Server {
    let mut cmd = Command::new(ordercrm_binary());
    cmd.arg("serve")
        .env_clear()
        .env("RUST_LOG", rust_log)
        .env("DATABASE_URL", database_url)
        .env("ORDERCRM_DATA_DIR", data_dir)
        .env("ORDERCRM_LISTEN", "127.0.0.1:0")
        .env("LOG_FORMAT", "json")
        .env("ORDERCRM_WORKERS", "2");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let value: Value = serde_json::from_str(&line)
                .unwrap_or_else(|_| panic!("not a JSON log line: {line}"));
            if tx.send(value).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut startup = Vec::new();
    loop {
        let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) else {
            let _ = child.kill();
            let status = child.wait();
            panic!("server did not start: {status:?}");
        };
        if line["message"] == "listening" {
            let address: std::net::SocketAddr = line["address"].as_str().unwrap().parse().unwrap();
            return Server {
                child,
                port: address.port(),
                logs: rx,
                startup,
            };
        }
        startup.push(line);
    }
}

/// Every log line until the process's stderr closes (it has exited), at most 10 s.
fn drain(logs: &std::sync::mpsc::Receiver<Value>) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut out = Vec::new();
    while let Ok(line) = logs.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        out.push(line);
    }
    out
}

#[tokio::test]
async fn sigterm_finishes_in_flight_requests_and_logs_carry_request_ids() {
    let db = TestDb::new(Engine::Sqlite).await;
    assert!(
        cli_user(
            &db.url,
            "ops@example.com",
            "admin",
            "a perfectly long passphrase"
        )
        .status
        .success()
    );
    let data_dir = tempfile::tempdir().unwrap();
    let mut server = start_server(&db.url, data_dir.path());
    assert!(
        data_dir.path().join("jwt-secret").exists(),
        "a signing secret was generated"
    );

    // A request whose body is still arriving when the signal comes.
    let body = br#"{"email": "ops@example.com", "password": "a perfectly long passphrase"}"#;
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    let head = format!(
        "POST /v1/auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Request-Id: in-flight-1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body[..10]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    stream.write_all(&body[10..]).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("access_token"));
    assert!(
        response
            .to_lowercase()
            .contains("x-request-id: in-flight-1")
    );

    // New connections are refused once shutdown began, and the process exits cleanly.
    let (status, server) = tokio::task::spawn_blocking(move || {
        let status = server.child.wait();
        (status, server)
    })
    .await
    .unwrap();
    let status = status.unwrap();
    assert!(status.success(), "exit {status:?}");
    let lines = drain(&server.logs);
    let completed: Vec<&Value> = lines
        .iter()
        .filter(|l| l["message"] == "request completed")
        .collect();
    assert_eq!(completed.len(), 1);
    assert_eq!(completed[0]["span"]["request_id"], "in-flight-1");
    assert_eq!(completed[0]["status"], 200);
    let all = lines
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        !all.contains("perfectly long passphrase"),
        "a password reached the logs"
    );
    assert!(!all.contains("$argon2"), "a password hash reached the logs");
    assert!(lines.iter().any(|l| l["message"] == "stopped"));
}

#[tokio::test]
async fn serves_on_postgresql_the_same() {
    if !postgres_available().await {
        return;
    }
    let db = TestDb::new(Engine::Postgres).await;
    assert!(
        cli_user(
            &db.url,
            "ops@example.com",
            "admin",
            "a perfectly long passphrase"
        )
        .status
        .success()
    );
    let data_dir = tempfile::tempdir().unwrap();
    let mut server = start_server(&db.url, data_dir.path());
    let client = ordercrm_tests::http_client();
    let base = format!("http://127.0.0.1:{}", server.port);
    let tokens: Value = client
        .post(format!("{base}/v1/auth/token"))
        .json(&serde_json::json!({"email": "ops@example.com", "password": "a perfectly long passphrase"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = tokens["access_token"].as_str().unwrap().to_owned();
    let ready: Value = client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["database"], "postgres");
    let res = client
        .post(format!("{base}/v1/settings"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"key": "default_currency", "value": "CNY"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let got: Value = client
        .get(format!("{base}/v1/settings/default_currency"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["value"], "CNY");
    server.child.kill().unwrap();
    let _ = server.child.wait();
}

/// Passwords and their hashes never reach a log line, even at the most verbose level.
#[tokio::test]
async fn secrets_stay_out_of_debug_logs() {
    let db = TestDb::new(Engine::Sqlite).await;
    assert!(
        cli_user(
            &db.url,
            "ops@example.com",
            "admin",
            "a perfectly long passphrase"
        )
        .status
        .success()
    );
    let data_dir = tempfile::tempdir().unwrap();
    let mut server = start_server_with(&db.url, data_dir.path(), "trace");
    let port = server.port;
    let base = format!("http://127.0.0.1:{port}");
    let client = ordercrm_tests::http_client();
    let tokens: Value = client
        .post(format!("{base}/v1/auth/token"))
        .json(&serde_json::json!({"email": "ops@example.com", "password": "a perfectly long passphrase"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = tokens["access_token"].as_str().unwrap();
    let res = client
        .post(format!("{base}/v1/users"))
        .bearer_auth(token)
        .json(
            &serde_json::json!({"email": "new@example.com", "display_name": "New", "role": "sales",
            "password": "the new user's secret words"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let body = res.text().await.unwrap();
    assert!(!body.contains("secret words") && !body.contains("$argon2"));
    let res = client
        .post(format!("{base}/v1/auth/token"))
        .json(&serde_json::json!({"email": "new@example.com", "password": "wrong guess, logged?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = server.child.kill();
    let _ = server.child.wait();
    let logs: Vec<String> = drain(&server.logs)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(logs.len() > 5, "trace logging produced lines");
    let all = logs.join("\n");
    for secret in [
        "perfectly long passphrase",
        "secret words",
        "wrong guess",
        "$argon2",
        "ocrm_rt_",
        token,
    ] {
        assert!(!all.contains(secret), "{secret} reached the logs");
    }
}

/// `ordercrm user …` with `stdin` on standard input.
fn cli_with_stdin(database_url: &str, args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = Command::new(ordercrm_binary())
        .args(args)
        .env_clear()
        .env("DATABASE_URL", database_url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut input = child.stdin.take().unwrap();
        writeln!(input, "{stdin}").unwrap();
    }
    child.wait_with_output().unwrap()
}

/// Issue 9, defect 4: a lost admin password, or an admin whose address was made to
/// wait, needed SQL.
#[tokio::test]
async fn a_lost_admin_password_and_a_waiting_address_are_fixed_from_the_cli() {
    let db = TestDb::new(Engine::Sqlite).await;
    let old = "a perfectly long passphrase";
    let new = "another long passphrase";
    assert!(
        cli_user(&db.url, "root@example.com", "admin", old)
            .status
            .success()
    );
    let data_dir = tempfile::tempdir().unwrap();
    let server = start_server(&db.url, data_dir.path());
    let client = ordercrm_tests::http_client();
    let sign_in = |password: &'static str| {
        client
            .post(format!("http://127.0.0.1:{}/v1/auth/token", server.port))
            .json(&serde_json::json!({"email": "root@example.com", "password": password}))
            .send()
    };
    for _ in 0..5 {
        assert_eq!(sign_in("not the password").await.unwrap().status(), 401);
    }
    assert_eq!(sign_in(old).await.unwrap().status(), 429);

    let out = cli_with_stdin(
        &db.url,
        &["user", "unlock", "--email", "ROOT@example.com"],
        "",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .starts_with("root@example.com ("),
    );
    assert_eq!(sign_in(old).await.unwrap().status(), 200);

    let args = [
        "user",
        "set-password",
        "--email",
        "root@example.com",
        "--password-stdin",
    ];
    let out = cli_with_stdin(&db.url, &args, "short");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("password must be 12 to 256 characters"));
    let out = cli_with_stdin(&db.url, &args, new);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .starts_with("password set for root@example.com")
    );
    assert_eq!(sign_in(old).await.unwrap().status(), 401);
    assert_eq!(sign_in(new).await.unwrap().status(), 200);

    let out = cli_with_stdin(
        &db.url,
        &["user", "unlock", "--email", "nobody@example.com"],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("was not found"));
}
