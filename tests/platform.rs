//! Health, readiness, metrics, request ids, and framework errors as problem+json.

use ordercrm_tests::{Engine, TestApp, both_engines, problem};
use reqwest::Method;
use serde_json::json;

both_engines!(
    health_and_readiness,
    framework_errors_are_problem_json,
    metrics_count_requests_by_route
);

async fn health_and_readiness(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let res = app.get("/healthz").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap(),
        json!({"status": "ok"})
    );

    let res = app.get("/readyz").await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    let expected = match engine {
        Engine::Sqlite => "sqlite",
        Engine::Postgres => "postgres",
    };
    assert_eq!(body["database"], expected);
    assert_eq!(
        body["schema_version"],
        ordercrm_migrations::known_versions()
            .last()
            .unwrap()
            .as_str()
    );

    // Operations for anonymous callers ignore a credential, even a made-up one, and a
    // health check is never limited: a proxy that forwards every header still gets its
    // answer, many times over.
    for path in ["/healthz", "/readyz", "/openapi.json"] {
        for _ in 0..5 {
            let res = app
                .request_as("made-up", Method::GET, path)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200, "{path}");
        }
    }
    app.stop().await;
}

async fn framework_errors_are_problem_json(engine: Engine) {
    let app = TestApp::spawn(engine).await;

    let body = problem(app.get("/no/such/route").await, 404).await;
    assert_eq!(body["type"], "/problems/not-found");
    assert_eq!(body["instance"], "/no/such/route");

    let res = app
        .request(Method::PUT, "/v1/settings/x")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["allow"], "GET, PATCH, DELETE");
    let body = problem(res, 405).await;
    assert_eq!(body["type"], "/problems/method-not-allowed");

    let malformed = app
        .request(Method::POST, "/v1/settings")
        .header("content-type", "application/json")
        .body("{\"key\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(malformed, 400).await["type"],
        "/problems/malformed-request"
    );

    let empty = app
        .request(Method::POST, "/v1/settings")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(empty, 400).await["type"],
        "/problems/malformed-request"
    );

    let unknown = app
        .post(
            "/v1/settings",
            &json!({"key": "a", "value": 1, "colour": "red"}),
        )
        .await;
    let body = problem(unknown, 400).await;
    assert_eq!(body["type"], "/problems/validation");
    assert_eq!(body["errors"][0]["field"], "colour");
    assert_eq!(body["errors"][0]["code"], "unknown_field");

    let wrong_type = app
        .post("/v1/settings", &json!({"key": 5, "value": 1}))
        .await;
    let body = problem(wrong_type, 400).await;
    assert_eq!(body["errors"][0]["field"], "key");
    assert_eq!(body["errors"][0]["code"], "invalid_type");

    let missing = app.post("/v1/settings", &json!({"key": "a"})).await;
    let body = problem(missing, 400).await;
    assert_eq!(body["errors"][0]["field"], "value");
    assert_eq!(body["errors"][0]["code"], "required");

    let text = app
        .request(Method::POST, "/v1/settings")
        .header("content-type", "text/plain")
        .body("{\"key\": \"a\", \"value\": 1}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(text, 415).await["type"],
        "/problems/unsupported-media-type"
    );

    let huge = json!({"key": "big", "value": "x".repeat(2 * 1024 * 1024)});
    let body = problem(app.post("/v1/settings", &huge).await, 413).await;
    assert_eq!(body["type"], "/problems/payload-too-large");
    // The same through the idempotency layer, which reads the body first.
    let res = app
        .request(Method::POST, "/v1/settings")
        .header("idempotency-key", "big-1")
        .json(&huge)
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(res, 413).await["type"],
        "/problems/payload-too-large"
    );

    let body = problem(app.get("/v1/settings?colour=red").await, 400).await;
    assert_eq!(body["errors"][0]["field"], "colour");
    assert_eq!(body["errors"][0]["code"], "unknown_parameter");
    let body = problem(app.get("/v1/settings?limit=lots").await, 400).await;
    assert_eq!(body["errors"][0]["field"], "limit");
    let body = problem(app.get("/v1/settings?limit=0").await, 400).await;
    assert_eq!(body["errors"][0]["code"], "range");
    let body = problem(app.get("/v1/settings?sort=colour").await, 400).await;
    assert_eq!(body["errors"][0]["field"], "sort");

    let res = app
        .request(Method::PATCH, "/v1/settings/x")
        .header("if-match", "yesterday")
        .json(&json!({"value": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(res, 400).await["errors"][0]["field"], "If-Match");

    // Nothing above changed anything.
    let list: serde_json::Value = app.get("/v1/settings").await.json().await.unwrap();
    assert_eq!(list["data"], json!([]));
    app.stop().await;
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let res = app
        .request(Method::GET, "/healthz")
        .header("x-request-id", "lb-7f3a.42")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "lb-7f3a.42");

    // Unsafe ids (spaces, too long) are replaced, not echoed into logs.
    let res = app
        .request(Method::GET, "/healthz")
        .header("x-request-id", "bad id with spaces")
        .send()
        .await
        .unwrap();
    let replaced = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&replaced).is_ok());

    let a = app.get("/healthz").await.headers()["x-request-id"].clone();
    let b = app.get("/healthz").await.headers()["x-request-id"].clone();
    assert_ne!(a, b);

    let res = app
        .request(Method::GET, "/nowhere")
        .header("x-request-id", "trace-1")
        .send()
        .await
        .unwrap();
    assert_eq!(problem(res, 404).await["request_id"], "trace-1");
    app.stop().await;
}

async fn metrics_count_requests_by_route(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    for _ in 0..3 {
        app.get("/v1/settings/missing").await;
    }
    app.get("/healthz").await;
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = res.text().await.unwrap();
    assert!(
        text.contains(r#"ordercrm_http_requests_total{method="GET",route="/v1/settings/{key}",status="404"} 3"#),
        "{text}"
    );
    assert!(
        text.contains(
            r#"ordercrm_http_requests_total{method="GET",route="/healthz",status="200"} 1"#
        )
    );
    assert!(text.contains(r#"ordercrm_http_request_duration_seconds_bucket{le="0.001",method="GET",route="/healthz"}"#)
        || text.contains(r#"ordercrm_http_request_duration_seconds_bucket{method="GET",route="/healthz",le="0.001"}"#));
    // The tests' configuration: 16 connections, 2 workers. On PostgreSQL each
    // worker has a pool of 6, background work (and overflow) one of 4: 16 in all.
    let max = |pool: &str| gauge(&text, pool, "max");
    match engine {
        Engine::Sqlite => {
            assert_eq!((max("read"), max("write")), (Some(16), Some(1)), "{text}");
        }
        Engine::Postgres => {
            assert_eq!(
                (max("background"), max("requests"), max("shared")),
                (Some(4), Some(12), None),
                "{text}"
            );
            let in_use = gauge(&text, "requests", "in_use").unwrap();
            let idle = gauge(&text, "requests", "idle").unwrap();
            // No idle connection at this instant is possible under a loaded suite
            // (connections open lazily and close when idle): only the bounds hold.
            assert!(in_use >= 0 && idle >= 0 && in_use + idle <= 12, "{text}");
        }
    }
    // Raw paths never become labels.
    assert!(!text.contains("/v1/settings/missing"));
    app.stop().await;
}

fn gauge(text: &str, pool: &str, state: &str) -> Option<i64> {
    let series = format!(r#"ordercrm_db_pool_connections{{pool="{pool}",state="{state}"}} "#);
    text.lines()
        .find_map(|l| l.strip_prefix(series.as_str()))
        .map(|v| v.parse().unwrap())
}

/// With more workers than connections to share out, PostgreSQL keeps one pool for
/// all: a worker with a share of one or two would queue while another idles.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn few_connections_for_many_workers_stay_one_pool() {
    if !ordercrm_tests::postgres_available().await {
        return;
    }
    let app = TestApp::spawn_with(Engine::Postgres, |c| {
        c.workers = 8;
        c.db_max_connections = 16;
    })
    .await;
    // More requests at once than a worker's share would have had connections.
    let bodies: Vec<_> = (0..24)
        .map(|i| json!({"kind": "company", "name": format!("Pool {i}")}))
        .collect();
    let tasks: Vec<_> = bodies
        .iter()
        .map(|body| app.post("/v1/customers", body))
        .collect();
    for res in futures_util::future::join_all(tasks).await {
        assert_eq!(res.status(), 201);
    }
    let text = app.get("/metrics").await.text().await.unwrap();
    assert_eq!(gauge(&text, "shared", "max"), Some(16), "{text}");
    assert_eq!(gauge(&text, "requests", "max"), None, "{text}");
    app.stop().await;
}

#[tokio::test]
async fn docs_page_works_offline() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let res = app.get("/docs").await;
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'self'"),
        "the browser may load nothing from elsewhere"
    );
    let html = res.text().await.unwrap();
    assert!(html.contains("src=\"/docs/scalar.js\""));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no external asset: {html}"
    );
    let js = app.get("/docs/scalar.js").await;
    assert_eq!(js.status(), 200);
    assert!(js.bytes().await.unwrap().len() > 100_000);
    app.stop().await;
}

/// After PostgreSQL drops every connection (a restart, an operator's
/// `pg_terminate_backend`), only a request that meets the first dead one fails, and
/// with 503 and `Retry-After`, not 500: the pools then check each connection before
/// use for a while and replace the dead ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lost_connections_cost_at_most_a_retryable_answer() {
    if !ordercrm_tests::postgres_available().await {
        return;
    }
    let app = TestApp::spawn(Engine::Postgres).await;
    // Both workers' pools warm: several connections each, all recently used.
    let warm: Vec<_> = (0..24).map(|_| app.get("/v1/customers")).collect();
    for res in futures_util::future::join_all(warm).await {
        assert_eq!(res.status(), 200);
    }
    use sea_orm::ConnectionTrait;
    let admin = app.raw_db().await;
    let killed = admin
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        ))
        .await
        .unwrap()
        .len();
    assert!(killed >= 4, "{killed} connections terminated");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let mut failed = Vec::new();
    for _ in 0..30 {
        let res = app.get("/v1/customers").await;
        if res.status() != 200 {
            let retry = res.headers().get("retry-after").cloned();
            failed.push((res.status().as_u16(), retry));
        }
    }
    eprintln!(
        "after the backends were terminated, {} of 30 failed: {failed:?}",
        failed.len()
    );
    assert!(
        failed.len() <= 2,
        "{} of 30 failed: {failed:?}",
        failed.len()
    );
    for (status, retry) in &failed {
        assert_eq!(*status, 503, "{failed:?}");
        assert!(retry.is_some(), "{failed:?}");
    }
    app.stop().await;
}
