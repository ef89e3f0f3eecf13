//! Customer statistics and tiers: kept from the order events in the background;
//! tiers move up with orders and down as orders age out of the window (a daily task
//! two servers race for), one `customer.tier_changed` per crossing; merging carries
//! the orders and recomputes both customers.

use std::time::Duration;

use chrono::Months;
use ordercrm_tests::{Engine, TestApp, both_engines};
use serde_json::{Value, json};

use crate::fulfillment::{approved, world};

both_engines!(
    tiers_follow_a_scripted_history_once_per_crossing_on_two_servers,
    statistics_net_out_cancellations_and_follow_a_merge,
    orders_taken_during_a_merge_follow_it
);

async fn customer(app: &TestApp, id: &str) -> Value {
    let res = app.get(&format!("/v1/customers/{id}")).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// The customer once its statistics count `orders` orders (the consumer runs every
/// half second).
async fn counted(app: &TestApp, id: &str, orders: i64) -> Value {
    for _ in 0..200 {
        let c = customer(app, id).await;
        if c["statistics"]["order_count"] == orders {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "statistics never reached {orders} orders: {}",
        customer(app, id).await
    );
}

/// The customer once its tier is `tier`.
async fn in_tier(app: &TestApp, id: &str, tier: &str) -> Value {
    for _ in 0..200 {
        let c = customer(app, id).await;
        if c["tier"] == tier {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never {tier}: {}", customer(app, id).await);
}

async fn tier_changes(app: &TestApp, id: &str) -> Vec<String> {
    let db = app.raw_db().await;
    use sea_orm::{ConnectionTrait, Statement};
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            format!(
                "SELECT payload FROM events WHERE event_type = 'customer.tier_changed' \
                 AND resource_id = '{id}' ORDER BY seq"
            ),
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| {
            let payload: Value = r.try_get_by_index(0).unwrap();
            payload["tier"].as_str().unwrap().to_owned()
        })
        .collect()
}

async fn set_tiers(app: &TestApp) {
    let res = app
        .post(
            "/v1/settings",
            &json!({"key": "customer_tiers", "value": [
                {"tier": "gold", "min_spend": 5000, "min_orders": 3, "months": 12},
                {"tier": "silver", "min_spend": 2000, "min_orders": 1, "months": 12}
            ]}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
}

async fn stock(app: &TestApp) {
    let res = app
        .post(
            "/v1/inventory/receipts",
            &json!({"sku": "TEA", "warehouse_code": "SH-01", "quantity": 100}),
        )
        .await;
    assert_eq!(res.status(), 201);
}

async fn tiers_follow_a_scripted_history_once_per_crossing_on_two_servers(engine: Engine) {
    let mut app = TestApp::spawn_with(engine, |c| {
        c.maintenance_interval = Duration::from_millis(100);
    })
    .await;
    let _second = app.sibling().await;
    let start = app.clock_now();
    let buyer = world(&app).await;
    stock(&app).await;

    // Rules that nobody can meet with 0 orders are refused, as are bad shapes.
    for bad in [
        json!([{"tier": "standard", "min_spend": 1, "min_orders": 1, "months": 12}]),
        json!([{"tier": "gold", "min_spend": 1, "min_orders": 1, "months": 0}]),
        json!([{"tier": "gold", "min_spend": -1, "min_orders": 1, "months": 12}]),
        json!([{"tier": "gold", "min_spend": 1, "min_orders": 1, "months": 12},
               {"tier": "gold", "min_spend": 2, "min_orders": 1, "months": 12}]),
        json!([{"tier": "gold", "min_spend": 1, "min_orders": 1, "months": 12, "x": 1}]),
        json!({"tier": "gold"}),
        json!([{"tier": "gold", "min_spend": 0, "min_orders": 0, "months": 12}]),
    ] {
        let res = app
            .post(
                "/v1/settings",
                &json!({"key": "customer_tiers", "value": bad}),
            )
            .await;
        assert_eq!(res.status(), 400, "{bad}");
    }
    set_tiers(&app).await;

    let c = customer(&app, &buyer).await;
    assert_eq!(c["tier"], "standard");
    assert!(c["statistics"].is_null(), "{c}");

    // One TEA is 10.00 + 13 % tax: 11.30.
    let a = approved(&app, &buyer, 1, 0).await;
    assert_eq!(a["grand_total"]["amount"], 1130, "{a}");
    let c = counted(&app, &buyer, 1).await;
    assert_eq!(c["tier"], "standard", "11.30 is below silver's 20.00");
    let s = &c["statistics"];
    assert_eq!(
        s["lifetime_value"],
        json!({"amount": 1130, "currency": "CNY"})
    );
    assert_eq!(s["average_order_value"]["amount"], 1130);
    assert_eq!(s["first_order_at"], s["last_order_at"]);

    // Three months on, a second: 22.60 over 2 orders, silver.
    app.clock.advance(chrono::Duration::days(90));
    app.relogin().await;
    approved(&app, &buyer, 1, 0).await;
    let c = in_tier(&app, &buyer, "silver").await;
    assert_eq!(c["statistics"]["order_count"], 2);
    assert_eq!(c["statistics"]["lifetime_value"]["amount"], 2260);
    assert_eq!(c["statistics"]["average_order_value"]["amount"], 1130);

    // Three more months, three TEA: 56.50 over 3 orders, gold.
    app.clock.advance(chrono::Duration::days(90));
    app.relogin().await;
    approved(&app, &buyer, 3, 0).await;
    let c = in_tier(&app, &buyer, "gold").await;
    assert_eq!(c["statistics"]["lifetime_value"]["amount"], 5650);
    assert_ne!(
        c["statistics"]["first_order_at"],
        c["statistics"]["last_order_at"]
    );
    let gold = app.get("/v1/customers?tier=gold").await;
    let gold: Value = gold.json().await.unwrap();
    assert_eq!(gold["data"].as_array().unwrap().len(), 1, "{gold}");
    let gold_orders: Value = app
        .get("/v1/orders?customer_tier=gold")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(gold_orders["data"].as_array().unwrap().len(), 3);
    let standard_orders: Value = app
        .get("/v1/orders?customer_tier=standard")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(standard_orders["data"].as_array().unwrap().len(), 0);

    // A year and a day after the first order it leaves the window: 2 orders, silver.
    // Nothing happens to the customer; the daily task on either server finds it.
    let first = start + Months::new(12) + chrono::Duration::days(1);
    app.clock.set(first);
    app.relogin().await;
    let c = in_tier(&app, &buyer, "silver").await;
    // Lifetime figures keep every order; only the tier's window moved.
    assert_eq!(c["statistics"]["order_count"], 3);
    assert_eq!(c["statistics"]["lifetime_value"]["amount"], 5650);
    // The second order ages out too: one order of 33.90 still makes silver.
    app.clock.set(first + chrono::Duration::days(90));
    app.relogin().await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(customer(&app, &buyer).await["tier"], "silver");
    // And the last: standard.
    app.clock.set(first + chrono::Duration::days(182));
    app.relogin().await;
    in_tier(&app, &buyer, "standard").await;

    // Several ticks of both servers later, still one event per crossing.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        tier_changes(&app, &buyer).await,
        ["silver", "gold", "silver", "standard"]
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM audit_events WHERE action = 'customer.tier_change' AND entity_id = '{buyer}'"
        ))
        .await,
        4
    );
}

async fn statistics_net_out_cancellations_and_follow_a_merge(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let keep = world(&app).await;
    stock(&app).await;
    set_tiers(&app).await;
    let dup = app.customer("Tea House (duplicate)").await;

    let v0 = customer(&app, &keep).await["version"].as_i64().unwrap();
    approved(&app, &keep, 1, 0).await;
    let cancelled = approved(&app, &keep, 4, 0).await;
    let c = counted(&app, &keep, 2).await;
    // The figures are part of the customer as read: its version (ETag) moved.
    assert!(c["version"].as_i64().unwrap() > v0, "{c}");
    let id = cancelled["id"].as_str().unwrap();
    let res = app
        .post(
            &format!("/v1/orders/{id}/cancel"),
            &json!({"reason": "changed their mind"}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let c = counted(&app, &keep, 1).await;
    assert_eq!(c["statistics"]["lifetime_value"]["amount"], 1130);
    assert_eq!(c["tier"], "standard");

    // A draft counts for nothing until it is approved.
    let res = app
        .post(
            "/v1/orders",
            &json!({"customer_id": dup, "currency": "CNY",
                "lines": [{"sku": "TEA", "quantity": 2, "warehouse_code": "SH-01"}]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let draft: Value = res.json().await.unwrap();
    approved(&app, &dup, 1, 0).await;
    let d = counted(&app, &dup, 1).await;
    assert_eq!(d["statistics"]["lifetime_value"]["amount"], 1130);

    // Merged: the duplicate's orders (the draft too) belong to the one kept, whose
    // figures now count both approved orders: silver. The duplicate has none left.
    let res = app
        .post(
            &format!("/v1/customers/{keep}/merge"),
            &json!({"source_id": dup}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let k = counted(&app, &keep, 2).await;
    assert_eq!(k["statistics"]["lifetime_value"]["amount"], 2260);
    let k = in_tier(&app, &keep, "silver").await;
    assert_eq!(k["statistics"]["order_count"], 2);
    let d = counted(&app, &dup, 0).await;
    assert_eq!(d["statistics"]["lifetime_value"]["amount"], 0);
    let draft_now: Value = app
        .get(&format!("/v1/orders/{}", draft["id"].as_str().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(draft_now["customer"]["id"], keep.as_str());
    assert_eq!(
        draft_now["version"].as_i64().unwrap(),
        draft["version"].as_i64().unwrap() + 1
    );
    let of_dup: Value = app
        .get(&format!("/v1/orders?customer_id={dup}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(of_dup["data"].as_array().unwrap().len(), 0);
    // One statement moved them: no event each (customer.merged says it).
    assert_eq!(
        app.count("SELECT COUNT(*) FROM events WHERE event_type = 'order.updated'")
            .await,
        0
    );
}

/// Orders taken for the duplicate while it is merged end up with the customer that
/// stays, or are refused (the duplicate is archived): none is left behind.
async fn orders_taken_during_a_merge_follow_it(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let keep = world(&app).await;
    let res = app
        .post(
            "/v1/inventory/receipts",
            &json!({"sku": "TEA", "warehouse_code": "SH-01", "quantity": 500}),
        )
        .await;
    assert_eq!(res.status(), 201);
    for round in 0..3 {
        let dup = app.customer(&format!("Duplicate {round}")).await;
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let req = app
                .request(reqwest::Method::POST, "/v1/orders")
                .json(&json!({
                "customer_id": dup, "currency": "CNY", "submit": true,
                "lines": [{"sku": "TEA", "quantity": 1, "warehouse_code": "SH-01"}]}));
            tasks.push(tokio::spawn(async move {
                let mut statuses = Vec::new();
                for _ in 0..8 {
                    let res = req.try_clone().unwrap().send().await.unwrap();
                    statuses.push(res.status().as_u16());
                }
                statuses
            }));
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
        let res = app
            .post(
                &format!("/v1/customers/{keep}/merge"),
                &json!({"source_id": dup}),
            )
            .await;
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
        for t in tasks {
            for status in t.await.unwrap() {
                assert!(
                    [201, 409, 503].contains(&status),
                    "intake answered {status}"
                );
            }
        }
        let left: Value = app
            .get(&format!("/v1/orders?customer_id={dup}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            left["data"].as_array().unwrap().len(),
            0,
            "round {round}: orders left on the merged duplicate"
        );
    }
}
