//! Webhooks in operation, with the injected clock and real receivers on 127.0.0.1:
//! an endpoint's health (failing after 24 h, off after 5 days, everything kept and
//! recovered in order), recovery after an outage, per-order ordering beside an
//! unordered endpoint, the pull feed under concurrent writers and its horizon,
//! retention, the delivery log, thin payloads, test deliveries and metrics.

use std::collections::HashSet;
use std::time::Duration;

use chrono::Duration as Span;
use ordercrm_tests::receiver::{Receiver, Reply};
use ordercrm_tests::{Engine, TestApp, allow_loopback, both_engines};
use reqwest::Method;
use serde_json::{Value, json};

both_engines!(
    failing_for_a_day_is_announced_five_days_turn_it_off_and_nothing_is_lost,
    recovery_after_an_outage_sends_each_once_oldest_first,
    a_failure_recorded_after_a_later_success_starts_no_run,
    an_ordered_line_does_not_wait_on_a_failing_order,
    one_orders_events_arrive_in_order_while_others_do_not_wait,
    the_feed_yields_every_event_once_under_concurrent_writers,
    below_the_horizon_the_feed_is_gone,
    retention_prunes_succeeded_attempts_and_nothing_else,
    the_delivery_log_redelivery_tests_and_thin_payloads,
);

const WAIT: Duration = Duration::from_secs(20);

/// The default concurrency (8 requests at once to an endpoint: catching up must
/// keep the order by itself), the maintenance every 100 ms.
fn quick_maintenance(c: &mut ordercrm_server::config::Config) {
    allow_loopback(c);
    c.maintenance_interval = Duration::from_millis(100);
}

/// Whether the endpoint at `path` is catching up.
async fn catching_up(app: &TestApp, path: &str) -> bool {
    let ep: Value = app.get(path).await.json().await.unwrap();
    ep["catching_up"]
        .as_bool()
        .expect("catching_up is a boolean")
}

async fn endpoint(app: &TestApp, body: Value) -> Value {
    let res = app.post("/v1/webhook-endpoints", &body).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    res.json().await.unwrap()
}

/// Wait until `sql` (a count) is `n`.
async fn until_count(app: &TestApp, sql: &str, n: i64) {
    let until = std::time::Instant::now() + WAIT;
    loop {
        let got = app.count(sql).await;
        if got == n || std::time::Instant::now() > until {
            assert_eq!(got, n, "{sql}");
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The `webhook-id`s and `data.name`s the receiver got, in arrival order.
fn arrivals(receiver: &Receiver) -> Vec<(String, String)> {
    receiver
        .received()
        .iter()
        .map(|r| {
            let body = r.json();
            (
                r.header("webhook-id").to_owned(),
                body["data"]["name"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

async fn customers(app: &TestApp, names: impl Iterator<Item = String>) {
    for name in names {
        app.customer(&name).await;
    }
}

async fn failing_for_a_day_is_announced_five_days_turn_it_off_and_nothing_is_lost(engine: Engine) {
    let receiver = Receiver::start().await;
    receiver.reply_with(Reply::status(500));
    let mut app = TestApp::spawn_with(engine, quick_maintenance).await;
    let created = endpoint(
        &app,
        json!({"url": receiver.url, "event_types": ["customer.*"]}),
    )
    .await;
    let path = format!("/v1/webhook-endpoints/{}", created["id"].as_str().unwrap());
    let t0 = app.clock_now();
    app.customer("C-000").await;
    receiver.wait_for(1, WAIT).await;
    // The attempt is recorded once the answer is in.
    until_count(
        &app,
        "SELECT COUNT(*) FROM webhook_endpoints WHERE failing_since IS NOT NULL",
        1,
    )
    .await;
    let ep: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(
        ep["failing_since"]
            .as_str()
            .map(|t| t.parse::<chrono::DateTime<chrono::Utc>>().unwrap()),
        Some(t0),
        "the clock starts at the first failure"
    );

    // 150 events while it fails; a day later it is announced, once.
    customers(&app, (1..=150).map(|i| format!("C-{i:03}"))).await;
    app.clock.set(t0 + Span::hours(23));
    app.relogin().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(app.events_of("webhook_endpoint.failing").await, 0);
    app.clock.set(t0 + Span::hours(24) + Span::seconds(1));
    app.relogin().await;
    until_count(
        &app,
        "SELECT COUNT(*) FROM events WHERE event_type = 'webhook_endpoint.failing'",
        1,
    )
    .await;
    app.clock.set(t0 + Span::days(3));
    app.relogin().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        app.events_of("webhook_endpoint.failing").await,
        1,
        "once a run"
    );
    let ep: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(ep["enabled"], true);

    // Five days: turned off, announced, its deliveries paused (none dropped).
    app.clock.set(t0 + Span::days(5) + Span::seconds(1));
    app.relogin().await;
    until_count(
        &app,
        "SELECT COUNT(*) FROM events WHERE event_type = 'webhook_endpoint.disabled'",
        1,
    )
    .await;
    let ep: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(ep["enabled"], false);
    assert_eq!(ep["disabled_reason"], "every attempt failed for 5 days");
    // 150 more while it is off: kept for it, paused; none dropped, none done.
    customers(&app, (151..=300).map(|i| format!("C-{i:03}"))).await;
    until_count(&app, "SELECT COUNT(*) FROM webhook_deliveries", 301).await;
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM webhook_deliveries WHERE status IN ('failed', 'succeeded')"
        )
        .await,
        0
    );
    let sent_before = receiver.received().len();
    receiver
        .stays_at(sent_before, Duration::from_millis(500))
        .await;

    // Recover (it waits while the endpoint is off), then turn it on: all 301, in
    // the order they happened, once each.
    receiver.reply_with(Reply::status(200));
    let res = app
        .post(
            &format!("{path}/recover"),
            &json!({"since": t0 - Span::minutes(1)}),
        )
        .await;
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
    let recovery: Value = res.json().await.unwrap();
    assert_eq!(recovery["deliveries"], 301);
    assert!(catching_up(&app, &path).await);
    let res = app.patch(&path, &json!({"enabled": true})).await;
    assert_eq!(res.status(), 200);
    let turned_on: Value = res.json().await.unwrap();
    assert_eq!(turned_on["catching_up"], true, "the answer says so too");
    // An event after it is turned on goes at once, beside the line.
    app.customer("C-301").await;
    let got = receiver.wait_for(sent_before + 302, WAIT * 3).await;
    let names: Vec<String> = arrivals(&receiver)[sent_before..]
        .iter()
        .map(|(_, name)| name.clone())
        .collect();
    let (new, line): (Vec<String>, Vec<String>) = names.into_iter().partition(|n| n == "C-301");
    let expected: Vec<String> = (0..=300).map(|i| format!("C-{i:03}")).collect();
    assert_eq!(line, expected, "every event, in order, once");
    assert_eq!(new.len(), 1);
    receiver
        .stays_at(got.len(), Duration::from_millis(500))
        .await;
    until_count(
        &app,
        "SELECT COUNT(*) FROM webhook_endpoints WHERE catching_up_until IS NULL",
        1,
    )
    .await;
    let ep: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(ep["catching_up"], false, "through the backlog");
    assert_eq!(ep["failing_since"], Value::Null, "one success ends the run");
    app.stop().await;
}

async fn recovery_after_an_outage_sends_each_once_oldest_first(engine: Engine) {
    let receiver = Receiver::start().await;
    receiver.reply_with(Reply::status(503));
    let mut app = TestApp::spawn_with(engine, quick_maintenance).await;
    let created = endpoint(
        &app,
        json!({"url": receiver.url, "event_types": ["customer.created"]}),
    )
    .await;
    let path = format!("/v1/webhook-endpoints/{}", created["id"].as_str().unwrap());
    let t0 = app.clock_now();
    customers(&app, (0..20).map(|i| format!("C-{i:03}"))).await;
    receiver.wait_for(20, WAIT).await;
    // An hour of outage: the retries on the schedule fail too.
    for minutes in [1, 10, 60] {
        app.clock.set(t0 + Span::minutes(minutes));
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    app.relogin().await;
    let failed_ids: HashSet<String> = arrivals(&receiver).into_iter().map(|a| a.0).collect();
    assert_eq!(failed_ids.len(), 20);
    let before = receiver.received().len();

    // Back, but the first resend fails once more.
    receiver.reply_with(Reply::status(200));
    receiver.reply_by(move |r, prior| {
        let first = |c: &ordercrm_tests::receiver::Captured| c.json()["data"]["name"] == "C-000";
        (first(r) && prior.len() >= before && !prior[before..].iter().any(first))
            .then(|| Reply::status(503))
    });
    let res = app
        .post(
            &format!("{path}/recover"),
            &json!({"since": t0 - Span::minutes(5)}),
        )
        .await;
    assert_eq!(res.status(), 202);
    assert_eq!(res.json::<Value>().await.unwrap()["deliveries"], 20);
    assert!(catching_up(&app, &path).await);
    // Eight may be in flight to an endpoint, but one catching up sends its line
    // one at a time (what happens meanwhile goes at once, beside it). The oldest
    // fails again: it steps out and retries on its schedule; the line goes on.
    app.customer("C-020").await;
    receiver.wait_for(before + 21, WAIT).await;
    receiver
        .stays_at(before + 21, Duration::from_millis(800))
        .await;
    until_count(
        &app,
        "SELECT COUNT(*) FROM webhook_endpoints WHERE catching_up_until IS NULL",
        1,
    )
    .await;
    assert!(!catching_up(&app, &path).await, "through the line");
    // Its fifth attempt: the schedule waits hours (counting every attempt).
    app.clock.set(app.clock_now() + Span::hours(7));
    app.relogin().await;
    receiver.wait_for(before + 22, WAIT).await;
    receiver
        .stays_at(before + 22, Duration::from_millis(800))
        .await;
    let resent: Vec<(String, String)> = arrivals(&receiver)[before..]
        .iter()
        .filter(|a| a.1 != "C-020")
        .cloned()
        .collect();
    let names: Vec<&str> = resent.iter().map(|a| a.1.as_str()).collect();
    let expected: Vec<String> = (0..20)
        .chain(std::iter::once(0))
        .map(|i| format!("C-{i:03}"))
        .collect();
    assert_eq!(
        names, expected,
        "oldest first, each once, the refused one again on its retry"
    );
    let ids: HashSet<String> = resent.iter().take(20).map(|a| a.0.clone()).collect();
    assert_eq!(ids, failed_ids, "the same webhook-ids");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'succeeded'")
            .await,
        21
    );
    // A time to come, or one before year 1, is refused, and changes nothing.
    for since in [
        json!(app.clock_now() + Span::hours(1)),
        json!("0000-01-01T00:00:00Z"),
    ] {
        let res = app
            .post(&format!("{path}/recover"), &json!({"since": since}))
            .await;
        assert_eq!(res.status(), 400, "{since}");
    }
    app.stop().await;
}

async fn a_failure_recorded_after_a_later_success_starts_no_run(engine: Engine) {
    let receiver = Receiver::start().await;
    receiver.reply_with(Reply::status(200));
    // The first request is answered slowly, with a failure; the second at once.
    receiver.reply_by(|r, _| {
        r.json()["data"]["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("C-SLOW"))
            .then(|| Reply {
                delay: Duration::from_millis(1500),
                ..Reply::status(500)
            })
    });
    let app = TestApp::spawn_with(engine, quick_maintenance).await;
    let created = endpoint(
        &app,
        json!({"url": receiver.url, "event_types": ["customer.created"]}),
    )
    .await;
    let path = format!("/v1/webhook-endpoints/{}", created["id"].as_str().unwrap());
    app.customer("C-SLOW").await;
    receiver.wait_for(1, WAIT).await;
    app.customer("C-FAST").await;
    until_count(&app, "SELECT COUNT(*) FROM webhook_attempts", 2).await;
    let ep: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(
        ep["failing_since"],
        Value::Null,
        "the success (recorded first, started no earlier) says the receiver is fine"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'")
            .await,
        1,
        "the failed one waits for its retry"
    );
    // A success stamped later than now (a server whose clock runs ahead) proves
    // nothing: the next failure starts the run.
    {
        use sea_orm::{ConnectionTrait, Statement};
        let db = app.raw_db().await;
        let backend = db.get_database_backend();
        let sql = if backend == sea_orm::DatabaseBackend::Postgres {
            "UPDATE webhook_attempts SET started_at = $1 WHERE error_kind IS NULL"
        } else {
            "UPDATE webhook_attempts SET started_at = ? WHERE error_kind IS NULL"
        };
        let ahead = app.clock_now() + Span::days(10);
        db.execute_raw(Statement::from_sql_and_values(backend, sql, [ahead.into()]))
            .await
            .unwrap();
    }
    app.customer("C-SLOW-2").await;
    until_count(&app, "SELECT COUNT(*) FROM webhook_attempts", 3).await;
    let ep: Value = app.get(&path).await.json().await.unwrap();
    assert_ne!(ep["failing_since"], Value::Null, "{ep}");
    app.stop().await;
}

async fn an_ordered_line_does_not_wait_on_a_failing_order(engine: Engine) {
    let receiver = Receiver::start().await;
    receiver.reply_with(Reply::status(503));
    let app = TestApp::spawn_with(engine, quick_maintenance).await;
    let customer = world(&app).await;
    let created = endpoint(
        &app,
        json!({"url": receiver.url, "event_types": ["order.created", "order.approved"],
            "ordered": true}),
    )
    .await;
    let path = format!("/v1/webhook-endpoints/{}", created["id"].as_str().unwrap());
    let t0 = app.clock_now();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let res = app
            .post(
                "/v1/orders",
                &json!({"customer_id": customer, "currency": "CNY", "submit": true,
                    "lines": [{"sku": "TEA", "quantity": 1}]}),
            )
            .await;
        assert_eq!(res.status(), 201);
        let order: Value = res.json().await.unwrap();
        ids.push(order["id"].as_str().unwrap().to_owned());
    }
    // Each order's created fails once; its approval waits behind it.
    receiver.wait_for(2, WAIT).await;
    receiver.stays_at(2, Duration::from_millis(500)).await;
    // Back, but it keeps refusing the first order.
    let (bad, good) = (ids[0].clone(), ids[1].clone());
    receiver.reply_with(Reply::status(200));
    receiver
        .reply_by(move |r, _| (r.json()["data"]["id"] == bad.as_str()).then(|| Reply::status(500)));
    let res = app
        .post(
            &format!("{path}/recover"),
            &json!({"since": t0 - Span::minutes(1)}),
        )
        .await;
    assert_eq!(res.status(), 202);
    assert_eq!(res.json::<Value>().await.unwrap()["deliveries"], 4);
    // The other order's events arrive, in order, while the refused one's retry
    // waits minutes (its approval behind it).
    until_count(
        &app,
        "SELECT COUNT(*) FROM webhook_endpoints WHERE catching_up_until IS NULL",
        1,
    )
    .await;
    let good_types: Vec<String> = receiver.received()[2..]
        .iter()
        .filter(|c| c.json()["data"]["id"] == good.as_str())
        .map(|c| c.json()["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(good_types, ["order.created", "order.approved"]);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'")
            .await,
        2,
        "the refused order's two wait for its retry"
    );
    app.stop().await;
}

/// SH-01 holds TEA; a customer. Returns the customer.
async fn world(app: &TestApp) -> String {
    let res = app
        .post("/v1/warehouses", &json!({"code": "SH-01", "name": "SH-01"}))
        .await;
    assert_eq!(res.status(), 201);
    let res = app
        .post(
            "/v1/products",
            &json!({"sku": "TEA", "name": "Tea", "list_price": {"amount": 1000, "currency": "CNY"}}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let res = app
        .post(
            "/v1/inventory/receipts",
            &json!({"sku": "TEA", "warehouse_code": "SH-01", "quantity": 1_000_000}),
        )
        .await;
    assert_eq!(res.status(), 201);
    app.customer("Tea House").await
}

async fn one_orders_events_arrive_in_order_while_others_do_not_wait(engine: Engine) {
    let ordered = Receiver::start().await;
    let unordered = Receiver::start().await;
    // `order.approved` fails twice before it is taken.
    ordered.reply_by(|r, before| {
        let approved =
            |c: &ordercrm_tests::receiver::Captured| c.json()["type"] == "order.approved";
        (approved(r) && before.iter().filter(|c| approved(c)).count() < 2)
            .then(|| Reply::status(503))
    });
    let app = TestApp::spawn_with(engine, allow_loopback).await;
    let customer = world(&app).await;
    for (url, ordered) in [(&ordered.url, true), (&unordered.url, false)] {
        endpoint(
            &app,
            json!({"url": url, "event_types": ["order.created", "order.approved", "order.shipped"],
                "ordered": ordered}),
        )
        .await;
    }
    let res = app
        .post(
            "/v1/orders",
            &json!({"customer_id": customer, "currency": "CNY",
                "lines": [{"sku": "TEA", "quantity": 2}]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let order: Value = res.json().await.unwrap();
    let id = order["id"].as_str().unwrap();
    let res = app
        .post(&format!("/v1/orders/{id}/submit"), &json!({}))
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let res = app
        .post(
            &format!("/v1/orders/{id}/shipments"),
            &json!({"lines": [{"line_no": 1, "quantity": 2}], "carrier": "SF", "tracking_number": "SF1"}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());

    let types = |r: &Receiver| -> Vec<String> {
        r.received()
            .iter()
            .map(|c| c.json()["type"].as_str().unwrap().to_owned())
            .collect()
    };
    // The unordered endpoint has all three without waiting for anyone's retry.
    unordered.wait_for(3, WAIT).await;
    let mut got = types(&unordered);
    got.sort();
    assert_eq!(got, ["order.approved", "order.created", "order.shipped"]);
    // The ordered one: created, approved failed; shipped waits.
    ordered.wait_for(2, WAIT).await;
    ordered.stays_at(2, Duration::from_millis(500)).await;
    assert_eq!(types(&ordered), ["order.created", "order.approved"]);
    // The retry after ~5 s fails again; shipped still waits.
    app.clock.advance(Span::seconds(7));
    ordered.wait_for(3, WAIT).await;
    ordered.stays_at(3, Duration::from_millis(500)).await;
    // The next, after ~5 min, is taken; then shipped goes.
    app.clock.advance(Span::minutes(7));
    ordered.wait_for(5, WAIT).await;
    ordered.stays_at(5, Duration::from_millis(300)).await;
    assert_eq!(
        types(&ordered),
        [
            "order.created",
            "order.approved",
            "order.approved",
            "order.approved",
            "order.shipped"
        ]
    );
    assert_eq!(unordered.received().len(), 3);
    app.stop().await;
}

async fn the_feed_yields_every_event_once_under_concurrent_writers(engine: Engine) {
    use futures_util::StreamExt;
    let app = TestApp::spawn_with(engine, |c| {
        c.rate_limit_per_minute = 1_000_000;
    })
    .await;
    let customer = world(&app).await;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let app = &app;
        let done = done.clone();
        async move {
            let mut after = 0i64;
            let mut seen: Vec<(i64, String)> = Vec::new();
            let mut quiet = 0;
            loop {
                let res = app.get(&format!("/v1/events?after={after}&limit=50")).await;
                assert_eq!(res.status(), 200);
                let page: Value = res.json().await.unwrap();
                for e in page["data"].as_array().unwrap() {
                    seen.push((
                        e["position"].as_i64().unwrap(),
                        e["id"].as_str().unwrap().to_owned(),
                    ));
                }
                after = page["next_after"].as_i64().unwrap();
                if page["data"].as_array().unwrap().is_empty() {
                    if done.load(std::sync::atomic::Ordering::SeqCst) {
                        quiet += 1;
                        // PostgreSQL gives positions every 100 ms: wait them out.
                        if quiet > 10 {
                            return seen;
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(30)).await;
                }
            }
        }
    };
    let writers = {
        let app = &app;
        let customer = customer.clone();
        let done = done.clone();
        async move {
            futures_util::stream::iter(0..32)
                .map(|_| {
                    let customer = customer.clone();
                    async move {
                        for _ in 0..4 {
                            let res = app
                                .post(
                                    "/v1/orders",
                                    &json!({"customer_id": customer, "currency": "CNY", "submit": true,
                                        "lines": [{"sku": "TEA", "quantity": 1}]}),
                                )
                                .await;
                            assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
                        }
                    }
                })
                .buffer_unordered(32)
                .collect::<Vec<()>>()
                .await;
            // And the invoices the orders asked for, issued just after.
            app.invoices_issued().await;
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    };
    let (seen, ()) = tokio::join!(reader, writers);
    let total = app.count("SELECT COUNT(*) FROM events").await;
    let positions: Vec<i64> = seen.iter().map(|s| s.0).collect();
    let expected: Vec<i64> = (1..=total).collect();
    assert_eq!(
        positions, expected,
        "every position once, in order, no gaps"
    );
    let ids: HashSet<&String> = seen.iter().map(|s| &s.1).collect();
    assert_eq!(ids.len() as i64, total);
    assert!(total > 32 * 4 * 2, "{total} events");

    // Filtered by type; a key reads only what its scopes let it.
    let res = app.get("/v1/events?type=order.created&limit=500").await;
    let page: Value = res.json().await.unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 128);
    let res = app.get("/v1/events?type=ordr.*").await;
    assert_eq!(res.status(), 400);
    let res = app
        .post(
            "/v1/api-keys",
            &json!({"name": "erp", "kind": "erp", "scopes": ["events:read", "inventory:read"]}),
        )
        .await;
    let key: Value = res.json().await.unwrap();
    let res = app
        .request_as(
            key["secret"].as_str().unwrap(),
            Method::GET,
            "/v1/events?limit=500",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let page: Value = res.json().await.unwrap();
    let types: HashSet<String> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e["type"]
                .as_str()
                .unwrap()
                .split('.')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(!types.is_empty());
    assert!(
        types
            .iter()
            .all(|t| ["reservation", "stock_level", "product", "warehouse"].contains(&t.as_str())),
        "{types:?}"
    );
    let res = app
        .post(
            "/v1/api-keys",
            &json!({"name": "shop", "kind": "erp", "scopes": ["orders:read"]}),
        )
        .await;
    let key: Value = res.json().await.unwrap();
    let res = app
        .request_as(key["secret"].as_str().unwrap(), Method::GET, "/v1/events")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "events:read is needed");
    // A type it may not read is refused; a filter that matches nothing pages on to
    // the newest position at once.
    let res = app
        .request_as(
            key_secret(&app, json!(["events:read", "inventory:read"]))
                .await
                .as_str(),
            Method::GET,
            "/v1/events?type=order.*",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    until_count(
        &app,
        "SELECT COUNT(*) FROM events WHERE position IS NULL",
        0,
    )
    .await;
    let newest = app.count("SELECT MAX(position) FROM events").await;
    assert!(newest > total, "the keys made since wrote events");
    let page: Value = app
        .get("/v1/events?type=refund.*")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 0);
    assert_eq!(page["next_after"], newest);
    // A position the feed never gave is refused, not answered with nothing.
    let res = app
        .get(&format!("/v1/events?after={}", newest + 1000))
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(page["has_more"], false);

    // A channel's key reads its channel's orders and nothing of the others', not
    // even where they are.
    let res = app
        .post(
            "/v1/api-keys",
            &json!({"name": "Shop", "kind": "ecommerce", "scopes": ["events:read", "orders:read"],
                "channel": "web", "channel_name": "shop"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let shop: Value = res.json().await.unwrap();
    let shop = shop["secret"].as_str().unwrap();
    for name in ["shop", "other"] {
        let res = app
            .post(
                "/v1/orders",
                &json!({"customer_id": customer, "currency": "CNY", "channel": "web",
                    "channel_name": name, "lines": [{"sku": "TEA", "quantity": 1}]}),
            )
            .await;
        assert_eq!(res.status(), 201);
    }
    until_count(
        &app,
        "SELECT COUNT(*) FROM events WHERE position IS NULL",
        0,
    )
    .await;
    let newest = app.count("SELECT MAX(position) FROM events").await;
    let res = app
        .request_as(
            shop,
            Method::GET,
            &format!("/v1/events?type=order.created&after={total}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let page: Value = res.json().await.unwrap();
    let data = page["data"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["data"]["channel_name"], "shop");
    assert_eq!(
        page["next_after"], newest,
        "no trace of the other channel's order"
    );
    app.stop().await;
}

async fn key_secret(app: &TestApp, scopes: Value) -> String {
    let res = app
        .post(
            "/v1/api-keys",
            &json!({"name": "k", "kind": "erp", "scopes": scopes}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let key: Value = res.json().await.unwrap();
    key["secret"].as_str().unwrap().to_owned()
}

async fn below_the_horizon_the_feed_is_gone(engine: Engine) {
    let mut app = TestApp::spawn_with(engine, |c| {
        c.maintenance_interval = Duration::from_millis(100);
        c.retention.events = Some(Span::days(7));
    })
    .await;
    customers(&app, (0..5).map(|i| format!("Old {i}"))).await;
    app.clock.advance(Span::days(8));
    app.relogin().await;
    customers(&app, (0..3).map(|i| format!("New {i}"))).await;
    // The old ones go (all but the newest event, so positions never repeat).
    until_count(
        &app,
        "SELECT COUNT(*) FROM events WHERE event_type = 'customer.created'",
        3,
    )
    .await;
    let res = app.get("/v1/events?after=0").await;
    assert_eq!(res.status(), 410);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let problem: Value = res.json().await.unwrap();
    assert_eq!(problem["type"], "/problems/feed-expired");
    let horizon = problem["horizon"].as_i64().unwrap();
    assert_eq!(problem["oldest_position"], horizon + 1);
    // From the horizon on, the feed goes on: the new customers are there (once
    // PostgreSQL has given them their positions).
    until_count(
        &app,
        "SELECT COUNT(*) FROM events WHERE position IS NULL",
        0,
    )
    .await;
    let res = app.get(&format!("/v1/events?after={horizon}")).await;
    assert_eq!(res.status(), 200);
    let page: Value = res.json().await.unwrap();
    let names: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "customer.created")
        .map(|e| e["data"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["New 0", "New 1", "New 2"]);
    // Absent `after` starts at the horizon.
    let res = app.get("/v1/events").await;
    assert_eq!(res.status(), 200);
    app.stop().await;
}

async fn retention_prunes_succeeded_attempts_and_nothing_else(engine: Engine) {
    let good = Receiver::start().await;
    let bad = Receiver::start().await;
    bad.reply_with(Reply::status(500));
    let mut app = TestApp::spawn_with(engine, |c| {
        allow_loopback(c);
        c.maintenance_interval = Duration::from_millis(100);
        c.retention.attempts = Span::days(10);
        c.retention.deliveries = Span::days(30);
    })
    .await;
    for url in [&good.url, &bad.url] {
        endpoint(&app, json!({"url": url, "event_types": ["customer.*"]})).await;
    }
    customers(&app, (0..3).map(|i| format!("C{i}"))).await;
    good.wait_for(3, WAIT).await;
    bad.wait_for(3, WAIT).await;
    until_count(&app, "SELECT COUNT(*) FROM webhook_attempts", 6).await;
    let events = app.count("SELECT COUNT(*) FROM events").await;
    // Past the attempts' period: the succeeded deliveries' attempts go, nothing else.
    app.clock.advance(Span::days(11));
    app.relogin().await;
    until_count(
        &app,
        "SELECT COUNT(*) FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id \
         WHERE d.status = 'succeeded'",
        0,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'succeeded'")
            .await,
        3,
        "the deliveries stay for their own period"
    );
    let failing = app
        .count(
            "SELECT COUNT(*) FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id \
             WHERE d.status <> 'succeeded'",
        )
        .await;
    assert!(
        failing >= 3,
        "undelivered ones keep their attempts ({failing})"
    );
    assert!(app.count("SELECT COUNT(*) FROM events").await >= events);
    // Past the deliveries' period: the succeeded ones go; the undelivered stay.
    app.clock.advance(Span::days(20));
    app.relogin().await;
    until_count(
        &app,
        "SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'succeeded'",
        0,
    )
    .await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM webhook_deliveries WHERE status <> 'succeeded'")
            .await,
        3
    );
    assert!(
        app.count("SELECT COUNT(*) FROM events").await >= events,
        "events stay"
    );
    app.stop().await;
}

async fn the_delivery_log_redelivery_tests_and_thin_payloads(engine: Engine) {
    let receiver = Receiver::start().await;
    let big = "x".repeat(5000);
    receiver.reply_with(Reply::status(502).body(&big));
    let app = TestApp::spawn_with(engine, allow_loopback).await;
    let created = endpoint(
        &app,
        json!({"url": receiver.url, "event_types": ["customer.*"], "payload": "thin"}),
    )
    .await;
    assert_eq!(created["payload"], "thin");
    let endpoint_id = created["id"].as_str().unwrap().to_owned();
    let customer = app.customer("Tea House").await;
    let got = receiver.wait_for(1, WAIT).await;
    let body = got[0].json();
    assert_eq!(
        body["data"],
        json!({"resource": "customer", "id": customer, "version": 1}),
        "thin: the resource's id, type and version"
    );
    assert_eq!(body["type"], "customer.created");

    // The log: the delivery, filtered, and its attempt with 4 KiB of the answer.
    until_count(&app, "SELECT COUNT(*) FROM webhook_attempts", 1).await;
    let res = app
        .get(&format!(
            "/v1/webhook-deliveries?endpoint_id={endpoint_id}&status=pending"
        ))
        .await;
    assert_eq!(res.status(), 200);
    let page: Value = res.json().await.unwrap();
    let delivery = &page["data"][0];
    assert_eq!(delivery["event_type"], "customer.created");
    assert_eq!(delivery["event_id"], got[0].header("webhook-id"));
    assert_eq!(delivery["last_status_code"], 502);
    assert_eq!(delivery["error_kind"], "http_status");
    assert!(delivery["next_attempt_at"].is_string());
    let id = delivery["id"].as_str().unwrap().to_owned();
    let by_event = app
        .get(&format!(
            "/v1/webhook-deliveries?event_id={}",
            got[0].header("webhook-id")
        ))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(by_event["data"].as_array().unwrap().len(), 1);
    let res = app.get("/v1/webhook-deliveries?event_id=evt_nope").await;
    assert_eq!(res.status(), 400);
    let res = app.get("/v1/webhook-deliveries?status=lost").await;
    assert_eq!(res.status(), 400);
    let attempts: Value = app
        .get(&format!("/v1/webhook-deliveries/{id}/attempts"))
        .await
        .json()
        .await
        .unwrap();
    let first = &attempts["data"][0];
    assert_eq!(first["attempt"], 1);
    assert_eq!(first["status_code"], 502);
    assert_eq!(first["response_excerpt"].as_str().unwrap().len(), 4096);
    assert!(first["duration_ms"].is_i64());

    // Redeliver: sent again now, the same webhook-id, no event written.
    receiver.reply_with(Reply::status(200));
    let events = app.count("SELECT COUNT(*) FROM events").await;
    let res = app
        .post(
            &format!("/v1/webhook-deliveries/{id}/redeliver"),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
    let got = receiver.wait_for(2, WAIT).await;
    assert_eq!(got[1].header("webhook-id"), got[0].header("webhook-id"));
    until_count(
        &app,
        "SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'succeeded'",
        1,
    )
    .await;
    let delivery: Value = app
        .get(&format!("/v1/webhook-deliveries/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(delivery["status"], "succeeded");
    assert_eq!(delivery["attempts"], 2);
    assert_eq!(app.count("SELECT COUNT(*) FROM events").await, events);

    // A test delivery: signed, typed, answered, stored nowhere.
    let res = app
        .post(
            &format!("/v1/webhook-endpoints/{endpoint_id}/test"),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let result: Value = res.json().await.unwrap();
    assert_eq!(result["delivered"], true);
    assert_eq!(result["status_code"], 200);
    let got = receiver.wait_for(3, WAIT).await;
    assert_eq!(got[2].json()["type"], "webhook_endpoint.tested");
    assert_eq!(
        got[2].header("webhook-id"),
        result["event_id"].as_str().unwrap()
    );
    let secret =
        ordercrm_webhook::signing::Secret::parse(created["secret"].as_str().unwrap()).unwrap();
    let ts: i64 = got[2].header("webhook-timestamp").parse().unwrap();
    assert_eq!(
        got[2].header("webhook-signature"),
        secret
            .sign(got[2].header("webhook-id"), ts, &got[2].body)
            .unwrap()
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM events").await, events);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM webhook_deliveries").await,
        1
    );

    // Another key sees none of it; a turned-off endpoint's delivery is not resent.
    let res = app
        .post(
            "/v1/api-keys",
            &json!({"name": "other", "kind": "erp", "scopes": ["webhooks:write"]}),
        )
        .await;
    let key: Value = res.json().await.unwrap();
    let other = key["secret"].as_str().unwrap();
    for (method, path) in [
        (Method::GET, format!("/v1/webhook-deliveries/{id}")),
        (Method::GET, format!("/v1/webhook-deliveries/{id}/attempts")),
        (
            Method::POST,
            format!("/v1/webhook-deliveries/{id}/redeliver"),
        ),
        (
            Method::POST,
            format!("/v1/webhook-endpoints/{endpoint_id}/test"),
        ),
    ] {
        let res = app.request_as(other, method, &path).send().await.unwrap();
        assert_eq!(res.status(), 404, "{path}");
    }
    let list: Value = app
        .request_as(other, Method::GET, "/v1/webhook-deliveries")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 0);
    let res = app
        .patch(
            &format!("/v1/webhook-endpoints/{endpoint_id}"),
            &json!({"enabled": false}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .post(
            &format!("/v1/webhook-deliveries/{id}/redeliver"),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 409);

    // Metrics: the results this server counted.
    let metrics = app.get("/metrics").await.text().await.unwrap();
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} not in\n{metrics}"))
    };
    assert_eq!(
        value("ordercrm_webhook_deliveries_total{result=\"succeeded\"}"),
        1.0
    );
    assert_eq!(
        value("ordercrm_webhook_deliveries_total{result=\"retrying\"}"),
        1.0
    );
    assert_eq!(value("ordercrm_webhook_attempts_in_flight"), 0.0);
    assert!(value("ordercrm_webhook_fanout_lag_seconds") >= 0.0);
    app.stop().await;
}
