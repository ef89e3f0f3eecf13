//! The promise watch: an order is late once its requested day has passed while it
//! is approved or on hold and not fully shipped; `delayed` on read and as a list
//! filter, and `order.delayed` once per order with two servers watching.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{NaiveDate, TimeZone, Utc};
use ordercrm_tests::{Engine, TestApp, both_engines, problem};
use serde_json::{Value, json};

use crate::fulfillment::{approved, ship, world};

both_engines!(late_orders_are_flagged_and_announced_once_by_two_servers);

/// Ids of the orders `GET /v1/orders?…` lists (one page is enough here).
async fn listed(app: &TestApp, query: &str) -> HashSet<String> {
    let res = app.get(&format!("/v1/orders?limit=200&{query}")).await;
    assert_eq!(res.status(), 200);
    let page: Value = res.json().await.unwrap();
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn announced(app: &TestApp) -> i64 {
    app.count("SELECT COUNT(*) FROM events WHERE event_type = 'order.delayed'")
        .await
}

async fn until_announced(app: &TestApp, n: i64) {
    for _ in 0..200 {
        if announced(app).await >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{} order.delayed events, not {n}", announced(app).await);
}

async fn late_orders_are_flagged_and_announced_once_by_two_servers(engine: Engine) {
    let mut app = TestApp::spawn_with(engine, |c| {
        c.maintenance_interval = Duration::from_millis(100);
    })
    .await;
    let _second = app.sibling().await;
    let customer = world(&app).await;
    let res = app
        .post(
            "/v1/inventory/receipts",
            &json!({"sku": "TEA", "warehouse_code": "SH-01", "quantity": 100}),
        )
        .await;
    assert_eq!(res.status(), 201);
    // All promised for 2026-12-05.
    let waiting = approved(&app, &customer, 2, 0).await;
    let part = approved(&app, &customer, 1, 1).await;
    let shipped = approved(&app, &customer, 1, 1).await;
    let held = approved(&app, &customer, 1, 0).await;
    let cancelled = approved(&app, &customer, 1, 0).await;
    let id = |o: &Value| o["id"].as_str().unwrap().to_owned();
    let res = app
        .post(
            &format!("/v1/orders/{}/shipments", id(&part)),
            &ship(&[(1, 1)], "SF-PART"),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let res = app
        .post(
            &format!("/v1/orders/{}/shipments", id(&shipped)),
            &ship(&[(1, 1), (2, 1)], "SF-ALL"),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let res = app
        .post(
            &format!("/v1/orders/{}/hold", id(&held)),
            &json!({"reason": "customer asked to wait"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .post(
            &format!("/v1/orders/{}/cancel", id(&cancelled)),
            &json!({"reason": "changed their mind"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    // A draft promised for the same day is no one's promise yet.
    let res = app
        .post(
            "/v1/orders",
            &json!({"customer_id": customer, "currency": "CNY",
                "requested_delivery_on": "2026-12-05",
                "lines": [{"sku": "TEA", "quantity": 1}]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let mut late: HashSet<String> = [id(&waiting), id(&part), id(&held)].into();
    for _ in 0..20 {
        late.insert(id(&approved(&app, &customer, 1, 0).await));
    }

    // The promised day itself is not late.
    app.clock
        .set(Utc.with_ymd_and_hms(2026, 12, 5, 23, 59, 59).unwrap());
    app.relogin().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(announced(&app).await, 0);
    assert!(listed(&app, "delayed=true").await.is_empty());
    let on_the_day = app.order(&id(&waiting)).await;
    assert_eq!(on_the_day["delayed"], false);

    // The day after: flagged on read at once, announced once each by either server.
    app.clock
        .set(Utc.with_ymd_and_hms(2026, 12, 6, 0, 0, 1).unwrap());
    app.relogin().await;
    assert_eq!(listed(&app, "delayed=true").await, late);
    until_announced(&app, 23).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(announced(&app).await, 23, "once per late order");
    assert_eq!(
        app.count(
            "SELECT COUNT(DISTINCT resource_id) FROM events WHERE event_type = 'order.delayed'"
        )
        .await,
        23
    );
    let announced_ids: HashSet<String> = {
        let db = app.raw_db().await;
        use sea_orm::{ConnectionTrait, Statement};
        db.query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT resource_id FROM events WHERE event_type = 'order.delayed'",
        ))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.try_get_by_index::<String>(0).unwrap())
        .collect()
    };
    assert_eq!(announced_ids, late, "exactly the late ones");
    let before = app.order(&id(&waiting)).await;
    assert_eq!(before["delayed"], true);
    assert_eq!(
        before["version"].as_i64(),
        on_the_day["version"].as_i64().map(|v| v + 1),
        "the announcement is a new version"
    );
    assert_eq!(app.order(&id(&held)).await["delayed"], true);
    assert_eq!(app.order(&id(&shipped)).await["delayed"], false);
    assert_eq!(app.order(&id(&cancelled)).await["delayed"], false);
    let on_time = listed(&app, "delayed=false").await;
    assert!(on_time.contains(&id(&shipped)) && on_time.is_disjoint(&late));
    assert_eq!(
        listed(&app, "delayed=true&status=on_hold").await,
        HashSet::from([id(&held)])
    );

    // Shipping the rest ends it; nothing more is announced, days later either.
    let res = app
        .post(
            &format!("/v1/orders/{}/shipments", id(&waiting)),
            &ship(&[(1, 2)], "SF-LATE"),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    assert_eq!(app.order(&id(&waiting)).await["delayed"], false);
    app.clock.set(
        NaiveDate::from_ymd_opt(2026, 12, 9)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap()
            .and_utc(),
    );
    app.relogin().await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(announced(&app).await, 23);
    assert!(!listed(&app, "delayed=true").await.contains(&id(&waiting)));

    // Not a boolean: 400.
    let res = app.get("/v1/orders?delayed=soon").await;
    problem(res, 400).await;
    app.stop().await;
}
