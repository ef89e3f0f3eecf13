//! The dispatcher, end to end: events reach real receivers on 127.0.0.1 (through
//! the operator's allowlist) signed the Standard Webhooks way; failures follow the
//! schedule on the injected clock; a 410 turns the endpoint off; the address guard
//! refuses again at send time; a change that rolls back sends nothing; a channel
//! key's endpoint gets its channel's orders only.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use ordercrm_tests::receiver::{Receiver, Reply};
use ordercrm_tests::{Engine as DbEngine, TestApp, allow_loopback, both_engines};
use ordercrm_webhook::signing::Secret;
use reqwest::Method;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

both_engines!(
    events_reach_the_receiver_signed_and_once,
    failures_follow_the_schedule_and_a_410_turns_the_endpoint_off,
    a_failing_receiver_is_tried_ten_times_on_the_schedule,
    a_secret_that_does_not_open_sends_nothing_and_says_so,
    a_redirect_is_not_followed,
    off_and_on_again_mid_request_sends_once,
    the_guard_refuses_again_at_send_time,
    a_change_that_rolls_back_sends_nothing,
    a_channel_keys_endpoint_gets_only_its_channels_orders,
    nothing_is_lost_when_the_server_is_killed,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_servers_on_one_postgresql_send_each_event_once() {
    if !ordercrm_tests::postgres_available().await {
        return;
    }
    let receiver = Receiver::start().await;
    let app = TestApp::spawn_with(DbEngine::Postgres, |c| {
        allow_loopback(c);
        c.run_dispatcher = false;
        c.rate_limit_per_minute = 1_000_000;
    })
    .await;
    endpoint(&app, &receiver.url, &["customer.*"]).await;
    customers(&app, 5_000).await;
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let _servers: Vec<_> = dirs
        .iter()
        .map(|d| start_dispatching(&app, d.path(), &[]))
        .collect();
    let distinct = distinct_ids(&receiver, 5_000, Duration::from_secs(120)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let all = receiver.received().len();
    println!("three servers: {all} requests, {distinct} distinct ids");
    assert_eq!((all, distinct), (5_000, 5_000));
}

const WAIT: Duration = Duration::from_secs(10);

/// `n` customers (so `n` `customer.created` events), 8 requests at a time.
async fn customers(app: &TestApp, n: usize) {
    use futures_util::StreamExt;
    futures_util::stream::iter(0..n)
        .map(|i| async move {
            let res = app
                .post(
                    "/v1/customers",
                    &json!({"kind": "company", "name": format!("Customer {i}")}),
                )
                .await;
            assert_eq!(res.status(), 201);
        })
        .buffer_unordered(8)
        .collect::<Vec<()>>()
        .await;
}

/// A real `ordercrm` process on `app`'s database that dispatches to loopback.
fn start_dispatching(
    app: &TestApp,
    dir: &std::path::Path,
    extra: &[(&str, &str)],
) -> crate::process::Server {
    let mut env = vec![
        ("ORDERCRM_JWT_SECRET", ordercrm_tests::TEST_JWT_SECRET),
        ("ORDERCRM_DATA_KEY", ordercrm_tests::TEST_DATA_KEY),
        ("ORDERCRM_WEBHOOK_ALLOW_HTTP", "true"),
        ("ORDERCRM_WEBHOOK_ALLOW_NETWORKS", "127.0.0.0/8"),
        ("ORDERCRM_WEBHOOK_ENDPOINT_CONCURRENCY", "32"),
        ("ORDERCRM_WEBHOOK_ENDPOINT_RATE", "10000"),
    ];
    env.extend_from_slice(extra);
    crate::process::start_server_env(&app.db.url, dir, "warn,ordercrm_server=info", &env)
}

/// Wait (up to `within`) until the receiver has seen `n` distinct `webhook-id`s.
async fn distinct_ids(receiver: &Receiver, n: usize, within: Duration) -> usize {
    let until = std::time::Instant::now() + within;
    loop {
        let distinct: std::collections::HashSet<String> = receiver
            .received()
            .iter()
            .map(|r| r.header("webhook-id").to_owned())
            .collect();
        if distinct.len() >= n || std::time::Instant::now() > until {
            assert_eq!(
                distinct.len(),
                n,
                "distinct events received within {within:?}"
            );
            return distinct.len();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn endpoint(app: &TestApp, url: &str, types: &[&str]) -> Value {
    let res = app
        .post(
            "/v1/webhook-endpoints",
            &json!({"url": url, "event_types": types}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    res.json().await.unwrap()
}

async fn customer(app: &TestApp, name: &str) -> String {
    app.customer(name).await
}

/// Rows of `sql` as JSON objects of their text columns (each selected as text).
async fn rows(app: &TestApp, sql: &str, columns: &[&str]) -> Vec<Vec<Option<String>>> {
    let db = app.raw_db().await;
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .into_iter()
        .map(|row| {
            columns
                .iter()
                .map(|c| row.try_get::<Option<String>>("", c).unwrap())
                .collect()
        })
        .collect()
}

/// The delivery's state and the start of each attempt, for the one delivery there is.
struct Seen {
    status: String,
    next_attempt_at: DateTime<Utc>,
    attempts: Vec<(DateTime<Utc>, Option<i64>, Option<String>)>,
}

async fn seen(app: &TestApp) -> Option<Seen> {
    let db = app.raw_db().await;
    let backend = db.get_database_backend();
    // The attempts first: an attempt and its delivery's new state commit together,
    // so the delivery read after them is at least as new.
    let attempts = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT started_at, status_code, error_kind FROM webhook_attempts ORDER BY attempt",
        ))
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            (
                r.try_get::<DateTime<Utc>>("", "started_at").unwrap(),
                r.try_get::<Option<i32>>("", "status_code")
                    .unwrap()
                    .map(i64::from),
                r.try_get::<Option<String>>("", "error_kind").unwrap(),
            )
        })
        .collect();
    let delivery = db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT status, next_attempt_at FROM webhook_deliveries",
        ))
        .await
        .unwrap()?;
    Some(Seen {
        status: delivery.try_get("", "status").unwrap(),
        next_attempt_at: delivery.try_get("", "next_attempt_at").unwrap(),
        attempts,
    })
}

/// Wait until the one delivery has `n` attempts recorded.
async fn attempts(app: &TestApp, n: usize) -> Seen {
    let until = std::time::Instant::now() + WAIT;
    loop {
        let s = seen(app).await;
        let got = s.as_ref().map_or(0, |s| s.attempts.len());
        if got >= n || std::time::Instant::now() > until {
            assert_eq!(got, n, "attempts recorded");
            return s.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn events_reach_the_receiver_signed_and_once(engine: DbEngine) {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn_with(engine, allow_loopback).await;
    // Written before the endpoint was registered: never its business.
    customer(&app, "Before").await;
    let created = endpoint(&app, &receiver.url, &["customer.*"]).await;
    let secret = Secret::parse(created["secret"].as_str().unwrap()).unwrap();
    let id = customer(&app, "Tea House").await;

    let got = receiver.wait_for(1, WAIT).await;
    let r = &got[0];
    assert_eq!(r.header("content-type"), "application/json");
    let event_id = r.header("webhook-id").to_owned();
    assert!(event_id.starts_with("evt_"), "{event_id}");
    let timestamp: i64 = r.header("webhook-timestamp").parse().unwrap();
    assert_eq!(
        timestamp,
        app.clock_now().timestamp(),
        "signed at the server's time"
    );
    assert_eq!(
        r.header("webhook-signature"),
        secret.sign(&event_id, timestamp, &r.body).unwrap()
    );
    let body = r.json();
    assert_eq!(body["id"], event_id.as_str());
    assert_eq!(body["type"], "customer.created");
    assert_eq!(body["data"]["id"], id.as_str());
    assert!(body["created_at"].is_string());
    // A flipped byte no longer verifies.
    let mut flipped = r.body.clone();
    flipped[10] ^= 1;
    assert_ne!(
        r.header("webhook-signature"),
        secret.sign(&event_id, timestamp, &flipped).unwrap()
    );

    // Once: the endpoint's own event is not customer.*, and nothing is sent again.
    receiver.stays_at(1, Duration::from_millis(600)).await;
    let s = seen(&app).await.unwrap();
    assert_eq!(s.status, "succeeded");
    assert_eq!(s.attempts.len(), 1);
    assert_eq!(s.attempts[0].1, Some(200));
    // Nothing of the request is kept but its outcome: no header, no secret.
    let stored = ordercrm_tests::everything_stored(&app).await;
    assert!(!stored.contains(r.header("webhook-signature")));
    assert!(!stored.contains(created["secret"].as_str().unwrap()));
}

async fn failures_follow_the_schedule_and_a_410_turns_the_endpoint_off(engine: DbEngine) {
    let receiver = Receiver::start().await;
    receiver.reply_with(Reply::status(429).header("Retry-After", "120"));
    let mut app = TestApp::spawn_with(engine, allow_loopback).await;
    let created = endpoint(&app, &receiver.url, &["customer.*"]).await;
    let endpoint_id = created["id"].as_str().unwrap().to_owned();
    customer(&app, "Tea House").await;

    // 429 with Retry-After: 120 is asked again no sooner than 120 s.
    let s = attempts(&app, 1).await;
    assert_eq!(s.attempts[0].1, Some(429));
    assert_eq!(s.status, "pending");
    assert_eq!(
        (s.next_attempt_at - s.attempts[0].0).num_seconds(),
        120,
        "the receiver's wait, longer than the schedule's 5 s"
    );
    // Turned off while its retry waits: the delivery is paused, and resumes when the
    // endpoint is turned on again.
    let path = format!("/v1/webhook-endpoints/{endpoint_id}");
    let res = app.patch(&path, &json!({"enabled": false})).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    assert_eq!(seen(&app).await.unwrap().status, "paused");
    let res = app.patch(&path, &json!({"enabled": true})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(seen(&app).await.unwrap().status, "pending");
    app.clock
        .set(s.next_attempt_at - chrono::Duration::milliseconds(500));
    receiver.stays_at(1, Duration::from_millis(500)).await;
    receiver.reply_with(Reply::status(500));
    app.clock.set(s.next_attempt_at);
    receiver.wait_for(2, WAIT).await;

    // 500: the schedule's second wait, 5 min ± 20 %.
    let s = attempts(&app, 2).await;
    assert_eq!(s.attempts[1].1, Some(500));
    assert_eq!(s.attempts[1].2.as_deref(), Some("http_status"));
    let wait = (s.next_attempt_at - s.attempts[1].0).num_milliseconds();
    assert!(
        (240_000..=360_000).contains(&wait),
        "waited {wait} ms after the second attempt"
    );
    app.clock
        .set(s.next_attempt_at - chrono::Duration::milliseconds(500));
    receiver.stays_at(2, Duration::from_millis(500)).await;

    // 410: the endpoint is turned off, announced, and nothing follows.
    receiver.reply_with(Reply::status(410));
    app.clock.set(s.next_attempt_at);
    receiver.wait_for(3, WAIT).await;
    let s = attempts(&app, 3).await;
    assert_eq!(s.status, "failed");
    let got: Value = app
        .get(&format!("/v1/webhook-endpoints/{endpoint_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["enabled"], false);
    assert_eq!(got["disabled_reason"], "the receiver answered 410 Gone");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM events WHERE event_type = 'webhook_endpoint.disabled'")
            .await,
        1
    );
    app.clock.advance(chrono::Duration::days(2));
    app.relogin().await;
    customer(&app, "Later").await;
    receiver.stays_at(3, Duration::from_millis(600)).await;

    // Turned on again: what is written from then on is sent. Nothing was kept for
    // a receiver that said it is gone (a turned-off endpoint's deliveries are kept
    // otherwise: see webhook_operations).
    receiver.reply_with(Reply::status(200));
    let res = app
        .patch(
            &format!("/v1/webhook-endpoints/{endpoint_id}"),
            &json!({"enabled": true}),
        )
        .await;
    assert_eq!(res.status(), 200);
    customer(&app, "Back").await;
    let got = receiver.wait_for(4, WAIT).await;
    assert_eq!(got[3].json()["data"]["name"], "Back");
    receiver.stays_at(4, Duration::from_millis(300)).await;
}

async fn the_guard_refuses_again_at_send_time(engine: DbEngine) {
    // No allowlist here: loopback is refused like the rest. The connect hook records
    // whatever got past the guard, and refuses it.
    let reached: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen_by_hook = reached.clone();
    let app = TestApp::spawn_with(engine, move |c| {
        c.webhooks.connect_hook = Some(Arc::new(move |host, addresses| {
            seen_by_hook
                .lock()
                .unwrap()
                .push(format!("{host} {addresses:?}"));
            false
        }));
    })
    .await;
    let receiver = Receiver::start().await;
    let urls = [
        receiver.url.clone(),
        "http://10.0.0.1/".into(),
        "http://169.254.169.254/latest/meta-data/".into(),
        "http://[::1]/".into(),
        "http://[::ffff:127.0.0.1]/".into(),
        "http://[fc00::1]/".into(),
        "http://100.64.0.1/".into(),
        "http://2130706433/".into(),
        "http://0x7f.1/".into(),
        "http://internal.test/".into(),
        "http://metadata.test/".into(),
    ];
    // Registered at a public name, then pointed inside behind the API's back (as a
    // name that resolves elsewhere at send time would).
    let db = app.raw_db().await;
    for url in &urls {
        let created = endpoint(&app, "http://shop.test/hook", &["customer.*"]).await;
        db.execute_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            match engine {
                DbEngine::Sqlite => "UPDATE webhook_endpoints SET url = ? WHERE id = ?",
                DbEngine::Postgres => "UPDATE webhook_endpoints SET url = $1 WHERE id = $2",
            },
            [
                url.as_str().into(),
                uuid::Uuid::parse_str(created["id"].as_str().unwrap())
                    .unwrap()
                    .into(),
            ],
        ))
        .await
        .unwrap();
    }
    customer(&app, "Tea House").await;
    let until = std::time::Instant::now() + WAIT;
    while app.count("SELECT COUNT(*) FROM webhook_attempts").await < urls.len() as i64
        && std::time::Instant::now() < until
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let found = rows(
        &app,
        "SELECT e.url, a.error_kind FROM webhook_attempts a \
         JOIN webhook_deliveries d ON d.id = a.delivery_id \
         JOIN webhook_endpoints e ON e.id = d.endpoint_id",
        &["url", "error_kind"],
    )
    .await;
    assert_eq!(found.len(), urls.len(), "{found:?}");
    for row in &found {
        assert_eq!(row[1].as_deref(), Some("blocked_ip"), "{row:?}");
    }
    assert!(reached.lock().unwrap().is_empty(), "{:?}", reached.lock());
    assert!(receiver.received().is_empty());
}

async fn a_change_that_rolls_back_sends_nothing(engine: DbEngine) {
    let receiver = Receiver::start().await;
    let mut app = TestApp::spawn_with(engine, allow_loopback).await;
    endpoint(&app, &receiver.url, &["customer.*"]).await;
    // The change and its event are written, then the server dies before the commit.
    let held = app.probe.hold("idempotency.before_commit");
    let request = app
        .request(Method::POST, "/v1/customers")
        .header("Idempotency-Key", "never-committed")
        .json(&json!({"kind": "company", "name": "Ghost"}))
        .send();
    let request = tokio::spawn(request);
    held.reached().await;
    app.crash_and_restart().await;
    let _ = request.await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM customers WHERE name = 'Ghost'")
            .await,
        0
    );
    // What commits afterwards is sent; what rolled back never is.
    customer(&app, "Real").await;
    let got = receiver.wait_for(1, WAIT).await;
    assert_eq!(got[0].json()["data"]["name"], "Real");
    receiver.stays_at(1, Duration::from_millis(600)).await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM webhook_deliveries").await,
        1
    );
}

async fn a_channel_keys_endpoint_gets_only_its_channels_orders(engine: DbEngine) {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn_with(engine, allow_loopback).await;
    let res = app
        .post(
            "/v1/api-keys",
            &json!({"name": "Shop", "kind": "ecommerce",
                "scopes": ["orders:read", "orders:write", "webhooks:write"],
                "channel": "web", "channel_name": "shop"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let key: Value = res.json().await.unwrap();
    let secret = key["secret"].as_str().unwrap();
    let res = app
        .request_as(secret, Method::POST, "/v1/webhook-endpoints")
        .json(&json!({"url": receiver.url, "profile": "ecommerce"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let res = app
        .post(
            "/v1/warehouses",
            &json!({"code": "SH-01", "name": "Shanghai"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let res = app
        .post(
            "/v1/products",
            &json!({"sku": "TEA", "name": "Longjing", "tax_rate_bps": 1300,
                "list_price": {"amount": 1999, "currency": "CNY"}}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let buyer = customer(&app, "Tea House").await;
    let order = |channel: &str, name: &str| {
        json!({"customer_id": buyer, "currency": "CNY", "channel": channel,
            "channel_name": name, "lines": [{"sku": "TEA", "quantity": 1}]})
    };
    let mut ours = Vec::new();
    for (channel, name) in [
        ("web", "shop"),
        ("web", "other"),
        ("phone", ""),
        ("web", "shop"),
    ] {
        let res = app.post("/v1/orders", &order(channel, name)).await;
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
        let body: Value = res.json().await.unwrap();
        if (channel, name) == ("web", "shop") {
            ours.push(body["id"].as_str().unwrap().to_owned());
        }
    }
    // The admin's view: every order wrote its events.
    assert!(
        app.count("SELECT COUNT(*) FROM events WHERE event_type LIKE 'order.%'")
            .await
            >= 4
    );
    let got = receiver.wait_for(2, WAIT).await;
    receiver
        .stays_at(got.len(), Duration::from_millis(600))
        .await;
    let mut orders: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| {
            let body = r.json();
            assert!(
                body["type"].as_str().unwrap().starts_with("order."),
                "{body}"
            );
            body["data"]["id"].as_str().unwrap().to_owned()
        })
        .collect();
    orders.dedup();
    ours.sort();
    orders.sort();
    orders.dedup();
    assert_eq!(orders, ours, "its channel's orders, and only them");

    // A revoked key's endpoint receives nothing more, even of its channel.
    let res = app
        .request(
            Method::DELETE,
            &format!("/v1/api-keys/{}", key["id"].as_str().unwrap()),
        )
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let before = receiver.received().len();
    let res = app.post("/v1/orders", &order("web", "shop")).await;
    assert_eq!(res.status(), 201);
    receiver.stays_at(before, Duration::from_millis(600)).await;
}

/// 500 events, a receiver taking 1 s each, the server SIGKILLed with deliveries in
/// flight and started again: every event arrives, duplicates at most the requests
/// that were in flight (the dispatcher's concurrency, 32).
async fn nothing_is_lost_when_the_server_is_killed(engine: DbEngine) {
    let receiver = Receiver::start().await;
    receiver.reply_with(Reply::status(200).after(Duration::from_secs(1)));
    let app = TestApp::spawn_with(engine, |c| {
        allow_loopback(c);
        c.run_dispatcher = false;
        c.rate_limit_per_minute = 1_000_000;
    })
    .await;
    endpoint(&app, &receiver.url, &["customer.*"]).await;
    customers(&app, 500).await;
    // The shortest lease allowed: the timeout and its margin.
    let fast = [
        ("ORDERCRM_WEBHOOK_CONCURRENCY", "32"),
        ("ORDERCRM_WEBHOOK_TIMEOUT_SECS", "3"),
        ("ORDERCRM_WEBHOOK_LEASE_SECS", "13"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut first = start_dispatching(&app, dir.path(), &fast);
    receiver.wait_for(100, Duration::from_secs(60)).await;
    first.child.kill().unwrap(); // SIGKILL
    first.child.wait().unwrap();
    let before = receiver.received().len();
    let _second = start_dispatching(&app, dir.path(), &fast);
    distinct_ids(&receiver, 500, Duration::from_secs(120)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let all = receiver.received().len();
    println!("kill -9: {before} requests before the kill, {all} in all, 500 distinct");
    assert!(all - 500 <= 32, "{} duplicates", all - 500);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'succeeded'")
            .await,
        500
    );
}

async fn a_failing_receiver_is_tried_ten_times_on_the_schedule(engine: DbEngine) {
    use ordercrm_webhook::schedule::{JITTER, MAX_ATTEMPTS, RETRY_DELAYS};
    let receiver = Receiver::start().await;
    receiver.reply_with(Reply::status(500));
    let app = TestApp::spawn_with(engine, allow_loopback).await;
    endpoint(&app, &receiver.url, &["customer.*"]).await;
    customer(&app, "Tea House").await;
    let last = MAX_ATTEMPTS as usize;
    for n in 1..last {
        let s = attempts(&app, n).await;
        assert_eq!(s.status, "pending");
        let planned = RETRY_DELAYS[n - 1].as_secs_f64();
        let waited = (s.next_attempt_at - s.attempts[n - 1].0)
            .num_microseconds()
            .unwrap() as f64
            / 1e6;
        assert!(
            (planned * (1.0 - JITTER)..=planned * (1.0 + JITTER)).contains(&waited),
            "attempt {n}: waits {waited} s, the schedule says {planned} s ± 20 %; {:?} next {}",
            s.attempts,
            s.next_attempt_at
        );
        // Nothing before its time.
        app.clock
            .set(s.next_attempt_at - chrono::Duration::milliseconds(200));
        receiver.stays_at(n, Duration::from_millis(300)).await;
        app.clock.set(s.next_attempt_at);
    }
    let s = attempts(&app, last).await;
    assert_eq!(s.status, "failed", "after the tenth attempt");
    app.clock.advance(chrono::Duration::days(3));
    receiver.stays_at(last, Duration::from_millis(500)).await;
}

async fn a_secret_that_does_not_open_sends_nothing_and_says_so(engine: DbEngine) {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn_with(engine, allow_loopback).await;
    endpoint(&app, &receiver.url, &["customer.*"]).await;
    // As if the server had been started with another data key.
    let db = app.raw_db().await;
    db.execute_unprepared("UPDATE webhook_endpoints SET secret = 'sealed-with-another-key'")
        .await
        .unwrap();
    customer(&app, "Tea House").await;
    let until = std::time::Instant::now() + WAIT;
    let noted = "SELECT COUNT(*) FROM webhook_deliveries \
                 WHERE error_kind = 'secret_unavailable' AND status = 'pending' AND attempts = 0";
    while app.count(noted).await == 0 && std::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        app.count(noted).await,
        1,
        "said on the delivery, no attempt used up"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM webhook_attempts").await, 0);
    receiver.stays_at(0, Duration::from_millis(300)).await;
}

async fn a_redirect_is_not_followed(engine: DbEngine) {
    let elsewhere = Receiver::start().await;
    let receiver = Receiver::start().await;
    receiver.reply_with(Reply::status(302).header("Location", &elsewhere.url));
    let app = TestApp::spawn_with(engine, allow_loopback).await;
    endpoint(&app, &receiver.url, &["customer.*"]).await;
    customer(&app, "Tea House").await;
    let s = attempts(&app, 1).await;
    assert_eq!(s.attempts[0].1, Some(302));
    assert_eq!(s.attempts[0].2.as_deref(), Some("http_status"));
    assert_eq!(
        s.status, "pending",
        "a redirect is a failure, tried again later"
    );
    elsewhere.stays_at(0, Duration::from_millis(300)).await;
}

async fn off_and_on_again_mid_request_sends_once(engine: DbEngine) {
    let receiver = Receiver::start().await;
    receiver.reply_with(Reply::status(200).after(Duration::from_secs(1)));
    let app = TestApp::spawn_with(engine, allow_loopback).await;
    let created = endpoint(&app, &receiver.url, &["customer.*"]).await;
    let path = format!("/v1/webhook-endpoints/{}", created["id"].as_str().unwrap());
    customer(&app, "Tea House").await;
    receiver.wait_for(1, WAIT).await;
    // The request is at the receiver now.
    for enabled in [false, true] {
        let res = app.patch(&path, &json!({"enabled": enabled})).await;
        assert_eq!(res.status(), 200);
    }
    let s = attempts(&app, 1).await;
    assert_eq!(s.status, "succeeded");
    receiver.stays_at(1, Duration::from_millis(1500)).await;
}
