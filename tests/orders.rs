//! `/v1/orders`: intake, pricing and totals, review by stock, the transitions and
//! their `allowed_actions`, idempotent channel intake, and no oversell under load.

use futures_util::future::join_all;
use ordercrm_tests::{Engine, TestApp, both_engines, postgres_available, problem};
use reqwest::Method;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

both_engines!(
    intake_prices_totals_and_reserves,
    short_stock_holds_with_its_inputs_and_release_takes_it,
    transitions_follow_the_table_and_allowed_actions,
    bad_input_is_refused_and_changes_nothing,
    a_resent_external_id_returns_the_order_it_made,
    no_oversell_through_orders,
    reps_see_only_their_customers_orders,
    review_rules_hold_with_their_inputs_and_a_manager_overrides,
    prepaid_intake_records_the_payment_once,
    only_the_order_lets_its_stock_go,
    a_manual_hold_is_released_not_approved,
    lines_that_name_a_warehouse_leave_the_rest_to_the_others,
    malformed_names_and_days_are_refused,
    a_channel_key_sees_and_takes_only_its_channel,
    erasing_a_customer_erases_them_from_their_orders,
    the_timeline_tells_the_story_and_lists_filter_sort_and_export,
    an_integration_names_its_customer_by_reference_or_email,
);

/// SH-01 and BJ-01 (BJ-01 ranks first), TEA at 19.99 CNY with 13 % tax, `stock`
/// units in SH-01; a customer. Returns the customer's id.
async fn world(app: &TestApp, stock: i64) -> String {
    for (code, priority) in [("SH-01", 100), ("BJ-01", 50)] {
        let res = app
            .post(
                "/v1/warehouses",
                &json!({"code": code, "name": code, "priority": priority}),
            )
            .await;
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    }
    let res = app
        .post(
            "/v1/products",
            &json!({"sku": "TEA", "name": "Longjing 250 g", "tax_rate_bps": 1300,
                "list_price": {"amount": 1999, "currency": "CNY"},
                "cost": {"amount": 900, "currency": "CNY"}}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    if stock > 0 {
        receive(app, stock).await;
    }
    customer(app, "Tea House").await
}

async fn receive(app: &TestApp, quantity: i64) {
    let res = app
        .post(
            "/v1/inventory/receipts",
            &json!({"sku": "TEA", "warehouse_code": "SH-01", "quantity": quantity}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
}

async fn customer(app: &TestApp, name: &str) -> String {
    app.customer(name).await
}

fn order(customer: &str, quantity: i64, submit: bool) -> Value {
    json!({"customer_id": customer, "currency": "CNY", "submit": submit,
        "lines": [{"sku": "TEA", "quantity": quantity}]})
}

async fn reserved(app: &TestApp) -> i64 {
    app.count("SELECT CAST(COALESCE(SUM(reserved), 0) AS BIGINT) FROM stock_levels")
        .await
}

async fn act(app: &TestApp, id: &str, action: &str, body: &Value) -> reqwest::Response {
    app.post(&format!("/v1/orders/{id}/{action}"), body).await
}

fn actions(order: &Value) -> Vec<String> {
    order["allowed_actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect()
}

async fn intake_prices_totals_and_reserves(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app, 10).await;
    let mut body = order(&customer, 2, true);
    body["shipping_fee"] = json!({"amount": 1000, "currency": "CNY"});
    body["shipping_address"] = json!({"recipient": "李雷", "line1": "1 Nanjing Road", "city": "Shanghai", "country": "CN"});
    body["metadata"] = json!({"shop_order": "A-1"});
    let res = app.post("/v1/orders", &body).await;
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(res.headers()["etag"], "\"2\"", "created, then approved");
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["number"], "SO-000001");
    assert_eq!(created["status"], "approved");
    assert_eq!(created["fulfillment_status"], "unfulfilled");
    assert_eq!(created["payment_status"], "unpaid");
    assert_eq!(created["channel"], "manual");
    assert_eq!(created["payment_terms"], "prepaid");
    // BJ-01 ranks first but has none: SH-01 is the one that can serve the order.
    let line = &created["lines"][0];
    assert_eq!(line["warehouse_code"], "SH-01");
    assert_eq!(
        (line["sku"].clone(), line["tax_rate_bps"].clone()),
        (json!("TEA"), json!(1300))
    );
    // 2 × 19.99 = 39.98; 13 % = 5.1974 → 5.20; + 10.00 shipping.
    assert_eq!(created["subtotal"]["amount"], 3998);
    assert_eq!(created["tax_total"]["amount"], 520);
    assert_eq!(
        created["grand_total"],
        json!({"amount": 5518, "currency": "CNY"})
    );
    assert_eq!(
        created["grand_total_base"],
        json!({"amount": 5518, "currency": "CNY"})
    );
    assert_eq!(created["base_rate"], "1");
    assert_eq!(created["review"]["outcome"], "approved");
    assert_eq!(actions(&created), ["hold", "cancel", "edit"]);
    assert_eq!(reserved(&app).await, 2);
    assert_eq!(created["shipping_address"]["recipient"], "李雷");
    assert_eq!(created["metadata"]["shop_order"], "A-1");

    let got: Value = app.get(&location).await.json().await.unwrap();
    assert_eq!(got, created);
    // One event per transition, the reservation's between them.
    let db = app.raw_db().await;
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT event_type FROM events WHERE event_type LIKE 'order.%' \
             OR event_type LIKE 'reservation.%' ORDER BY seq",
        ))
        .await
        .unwrap();
    let types: Vec<String> = rows
        .iter()
        .map(|r| r.try_get_by_index::<String>(0).unwrap())
        .collect();
    assert_eq!(
        types,
        ["order.created", "reservation.created", "order.approved"]
    );
    app.invoices_issued().await;
    let with_order = app
        .count("SELECT COUNT(*) FROM events WHERE order_id IS NOT NULL")
        .await;
    // And the dispatch note the approval opened, and the invoice it made and
    // the issuer issued (prepaid terms).
    assert_eq!(with_order, 6, "every event names its order");

    // An order discount is shared over the lines; tax on what is left.
    let mut body = order(&customer, 1, false);
    body["lines"] = json!([{"sku": "TEA", "quantity": 1}, {"sku": "TEA", "quantity": 2,
        "unit_price": {"amount": 1000, "currency": "CNY"}, "discount": {"amount": 500, "currency": "CNY"}}]);
    body["order_discount"] = json!({"amount": 100, "currency": "CNY"});
    body["expected_grand_total"] = json!({"amount": 3840, "currency": "CNY"});
    let res = app.post("/v1/orders", &body).await;
    assert_eq!(res.status(), 201);
    let draft: Value = res.json().await.unwrap();
    // Nets 19.99 and 15.00; shares 0.57 and 0.43 (0.5713 and 0.4287: the larger
    // remainder takes the last fen); tax on 19.42 and 14.57: 2.5246 → 2.52 and
    // 1.8941 → 1.89.
    assert_eq!(draft["lines"][0]["order_discount_share"]["amount"], 57);
    assert_eq!(draft["lines"][1]["order_discount_share"]["amount"], 43);
    assert_eq!(draft["discount_total"]["amount"], 600);
    assert_eq!(draft["tax_total"]["amount"], 441);
    assert_eq!(draft["grand_total"]["amount"], 3840);
    assert_eq!(draft["status"], "draft");
    assert_eq!(actions(&draft), ["submit", "cancel", "edit"]);
    assert!(draft["review"].is_null());
    assert_eq!(reserved(&app).await, 2, "a draft holds nothing");
}

async fn short_stock_holds_with_its_inputs_and_release_takes_it(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app, 1).await;
    let res = app.post("/v1/orders", &order(&customer, 3, true)).await;
    assert_eq!(res.status(), 201);
    let held: Value = res.json().await.unwrap();
    let id = held["id"].as_str().unwrap();
    assert_eq!(held["status"], "on_hold");
    let stock = held["review"]["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["rule"] == "stock")
        .unwrap()
        .clone();
    assert_eq!(stock["verdict"], "hold");
    assert_eq!(stock["code"], "insufficient_stock");
    assert_eq!(stock["inputs"]["lines"][0]["requested"], 3);
    assert_eq!(stock["inputs"]["lines"][0]["available"], 1);
    assert_eq!(reserved(&app).await, 0, "nothing held");
    // A stock hold is not a manager's to override.
    assert_eq!(actions(&held), ["release", "reject", "cancel", "edit"]);
    let p = problem(
        act(&app, id, "approve", &json!({"reason": "VIP"})).await,
        409,
    )
    .await;
    assert_eq!(p["type"], "/problems/invalid-transition");
    // Still short: released and held again.
    let again: Value = act(&app, id, "release", &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["status"], "on_hold");
    receive(&app, 5).await;
    let res = act(&app, id, "release", &json!({})).await;
    assert_eq!(res.status(), 200);
    let approved: Value = res.json().await.unwrap();
    assert_eq!(approved["status"], "approved");
    assert_eq!(reserved(&app).await, 3);
    let released = app
        .count("SELECT COUNT(*) FROM events WHERE event_type = 'order.released'")
        .await;
    assert_eq!(released, 2);
}

async fn transitions_follow_the_table_and_allowed_actions(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app, 10).await;
    let draft: Value = app
        .post("/v1/orders", &order(&customer, 2, false))
        .await
        .json()
        .await
        .unwrap();
    let id = draft["id"].as_str().unwrap();
    let p = problem(act(&app, id, "hold", &json!({"reason": "wait"})).await, 409).await;
    assert_eq!(p["type"], "/problems/invalid-transition");
    assert_eq!(p["current_status"], "draft");
    assert_eq!(p["allowed_from"], json!(["approved"]));
    // Stale ETag: 412, nothing changes.
    let res = app
        .request(Method::POST, &format!("/v1/orders/{id}/submit"))
        .header("if-match", "\"7\"")
        .send()
        .await
        .unwrap();
    problem(res, 412).await;
    let approved: Value = act(&app, id, "submit", &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(approved["status"], "approved");
    // A hold needs a reason; it keeps the stock; release reviews again.
    let p = problem(act(&app, id, "hold", &json!({})).await, 400).await;
    assert_eq!(p["errors"][0]["field"], "reason");
    let held: Value = act(
        &app,
        id,
        "hold",
        &json!({"reason": "Customer asked to wait"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(held["status"], "on_hold");
    assert_eq!(held["status_reason"], "Customer asked to wait");
    assert_eq!(actions(&held), ["release", "reject", "cancel", "edit"]);
    assert_eq!(reserved(&app).await, 2);
    let back: Value = act(&app, id, "release", &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(back["status"], "approved");
    assert_eq!(reserved(&app).await, 2, "released with the stock it held");
    // Cancelled: everything let go, and nothing more to do.
    let cancelled: Value = act(&app, id, "cancel", &json!({"reason": "Duplicate"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert!(actions(&cancelled).is_empty());
    assert_eq!(reserved(&app).await, 0);
    let p = problem(
        act(&app, id, "cancel", &json!({"reason": "again"})).await,
        409,
    )
    .await;
    assert_eq!(p["current_status"], "cancelled");

    // Sales may order and cancel, not approve; auditors only read.
    let (_, auditor) = app.user("auditor@example.com", "auditor", None).await;
    let res = app
        .request_as(&auditor, Method::GET, &format!("/v1/orders/{id}"))
        .send()
        .await
        .unwrap();
    let seen: Value = res.json().await.unwrap();
    assert!(actions(&seen).is_empty());
    let res = app
        .request_as(&auditor, Method::POST, "/v1/orders")
        .json(&order(&customer, 1, false))
        .send()
        .await
        .unwrap();
    problem(res, 403).await;
}

async fn bad_input_is_refused_and_changes_nothing(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app, 10).await;
    let cases = [
        (
            json!({"lines": [{"sku": "NOPE", "quantity": 1}]}),
            404,
            "lines[0].sku",
        ),
        (
            json!({"lines": [{"sku": "TEA", "quantity": 0}]}),
            400,
            "lines[0].quantity",
        ),
        (
            json!({"lines": [{"sku": "TEA", "quantity": 1_000_000_001_i64}]}),
            400,
            "lines[0].quantity",
        ),
        (json!({"lines": []}), 400, "lines"),
        (json!({"lines": [{"quantity": 1}]}), 400, "lines[0]"),
        (
            json!({"lines": [{"sku": "TEA", "quantity": 1, "discount": {"amount": 2000, "currency": "CNY"}}]}),
            400,
            "lines[0].discount",
        ),
        (
            json!({"lines": [{"sku": "TEA", "quantity": 1, "unit_price": {"amount": 100, "currency": "USD"}}]}),
            400,
            "lines[0].unit_price.currency",
        ),
        (json!({"currency": "USD"}), 400, "lines[0].unit_price"),
        (
            json!({"lines": [{"sku": "TEA", "quantity": 1, "warehouse_code": "XX"}]}),
            404,
            "lines[0].warehouse_code",
        ),
        (json!({"payment_terms": "net"}), 400, "payment_terms_days"),
        (
            json!({"payment_terms": "cod", "payment_terms_days": 30}),
            400,
            "payment_terms_days",
        ),
        (
            json!({"customer_id": "01937c4e-0000-7000-8000-000000000001"}),
            404,
            "customer_id",
        ),
        (
            json!({"order_discount": {"amount": 5000, "currency": "CNY"}}),
            400,
            "order_discount",
        ),
    ];
    for (patch, status, field) in cases {
        let mut body = order(&customer, 1, true);
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let p = problem(app.post("/v1/orders", &body).await, status).await;
        let fields: Vec<&str> = p["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(fields.contains(&field), "{patch}: {p}");
    }
    let mut body = order(&customer, 1, true);
    body["expected_grand_total"] = json!({"amount": 2000, "currency": "CNY"});
    let p = problem(app.post("/v1/orders", &body).await, 409).await;
    assert_eq!(p["type"], "/problems/grand-total-mismatch");
    assert_eq!(p["expected"]["amount"], 2000);
    assert_eq!(p["computed"]["amount"], 2259);
    assert_eq!(app.count("SELECT COUNT(*) FROM orders").await, 0);
    assert_eq!(reserved(&app).await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM events WHERE event_type LIKE 'order.%'")
            .await,
        0
    );
}

async fn a_resent_external_id_returns_the_order_it_made(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app, 100).await;
    let mut body = order(&customer, 1, true);
    body["channel"] = json!("marketplace");
    body["channel_name"] = json!("tmall");
    body["external_id"] = json!("TM-8848");
    let answers = join_all((0..20).map(|_| {
        let req = app.request(Method::POST, "/v1/orders").json(&body);
        async move {
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            let body: Value = res.json().await.unwrap();
            (status, body["id"].as_str().map(str::to_owned))
        }
    }))
    .await;
    let created = answers.iter().filter(|(s, _)| *s == 201).count();
    let resent = answers.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!((created, resent), (1, 19), "{answers:?}");
    let id = answers[0].1.clone().unwrap();
    assert!(
        answers
            .iter()
            .all(|(_, i)| i.as_deref() == Some(id.as_str()))
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM orders").await, 1);
    assert_eq!(reserved(&app).await, 1);
    // Another body under that id: 409, nothing changes.
    body["lines"][0]["quantity"] = json!(2);
    let p = problem(app.post("/v1/orders", &body).await, 409).await;
    assert_eq!(p["type"], "/problems/external-id-conflict");
    assert_eq!(p["existing"]["id"], id.as_str());
    // The same id in another shop is another order.
    body["channel_name"] = json!("jd");
    assert_eq!(app.post("/v1/orders", &body).await.status(), 201);
    assert_eq!(app.count("SELECT COUNT(*) FROM orders").await, 2);
    assert_eq!(reserved(&app).await, 3);
}

async fn no_oversell_through_orders(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app, 50).await;
    let body = order(&customer, 1, true);
    let statuses = join_all((0..100).map(|_| {
        let req = app.request(Method::POST, "/v1/orders").json(&body);
        async move {
            let res = ordercrm_tests::send_until_served(req).await;
            assert_eq!(res.status(), 201);
            let order: Value = res.json().await.unwrap();
            order["status"].as_str().unwrap().to_owned()
        }
    }))
    .await;
    let approved = statuses.iter().filter(|s| *s == "approved").count();
    let held = statuses.iter().filter(|s| *s == "on_hold").count();
    assert_eq!((approved, held), (50, 50));
    assert_eq!(reserved(&app).await, 50);
    let held_for_stock = app
        .count("SELECT COUNT(*) FROM orders WHERE status = 'on_hold' AND reservation_id IS NULL")
        .await;
    assert_eq!(held_for_stock, 50);
    let report = ordercrm_inventory::queries::verify::run(&app.raw_db().await)
        .await
        .unwrap();
    assert!(
        report.mismatches.is_empty(),
        "ledger and levels disagree: {:?}",
        report.mismatches
    );
}

async fn reps_see_only_their_customers_orders(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    world(&app, 10).await;
    let (_, alice) = app.user("alice@example.com", "sales", None).await;
    let (_, bob) = app.user("bob@example.com", "sales", None).await;
    let res = app
        .request_as(&alice, Method::POST, "/v1/customers")
        .json(&json!({"kind": "person", "name": "Alice's"}))
        .send()
        .await
        .unwrap();
    let theirs: Value = res.json().await.unwrap();
    let customer = theirs["id"].as_str().unwrap();
    let res = app
        .request_as(&alice, Method::POST, "/v1/orders")
        .json(&order(customer, 1, true))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let made: Value = res.json().await.unwrap();
    assert_eq!(
        made["status"], "approved",
        "a rep orders without inventory rights"
    );
    let path = format!("/v1/orders/{}", made["id"].as_str().unwrap());
    let res = app
        .request_as(&bob, Method::GET, &path)
        .send()
        .await
        .unwrap();
    problem(res, 404).await;
    let res = app
        .request_as(&bob, Method::POST, "/v1/orders")
        .json(&order(customer, 1, true))
        .send()
        .await
        .unwrap();
    problem(res, 404).await;
    let page: Value = app
        .request_as(&bob, Method::GET, "/v1/orders")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 0);
    let page: Value = app
        .request_as(&alice, Method::GET, "/v1/orders?q=alice")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
}

fn verdict(order: &Value, rule: &str) -> Value {
    order["review"]["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["rule"] == rule)
        .cloned()
        .unwrap_or(Value::Null)
}

async fn review_rules_hold_with_their_inputs_and_a_manager_overrides(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    world(&app, 1000).await;
    // Whole numbers spelled as floats (1e5, 1000.0) are the integers, stored as such.
    for (key, value, stored) in [
        ("order_approval_threshold", json!(1e5), json!(100_000)),
        (
            "order_discount_caps",
            json!({"sales": 1000.0}),
            json!({"sales": 1000}),
        ),
    ] {
        let res = app
            .post("/v1/settings", &json!({"key": key, "value": value}))
            .await;
        assert_eq!(res.status(), 201);
        let setting: Value = res.json().await.unwrap();
        assert_eq!(setting["value"], stored);
        assert!(setting["value"].to_string().find('.').is_none());
    }
    let (manager_id, manager) = app.user("boss@example.com", "manager", None).await;
    let (_, rep) = app
        .user("rep@example.com", "sales", Some(&manager_id))
        .await;
    // On 30 days' credit up to 100.00 CNY.
    let res = app
        .request_as(&rep, Method::POST, "/v1/customers")
        .json(&json!({"kind": "company", "name": "On Credit",
            "credit_limit": {"amount": 10_000, "currency": "CNY"}, "payment_terms_days": 30}))
        .send()
        .await
        .unwrap();
    let customer: Value = res.json().await.unwrap();
    let customer = customer["id"].as_str().unwrap();
    let as_rep = |body: Value| {
        app.request_as(&rep, Method::POST, "/v1/orders")
            .json(&body)
            .send()
    };

    let first: Value = as_rep(order(customer, 1, true))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(first["payment_terms"], "net");
    assert_eq!(first["payment_terms_days"], 30);
    assert_eq!(first["status"], "approved", "{first}");
    assert_eq!(verdict(&first, "credit")["verdict"], "pass");

    // 22.59 open + 90.35 more is over 100.00.
    let second: Value = as_rep(order(customer, 4, true))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(second["status"], "on_hold");
    let credit = verdict(&second, "credit");
    assert_eq!(credit["code"], "credit_limit_exceeded");
    assert_eq!(credit["inputs"]["exposure"]["amount"], 2259 + 9035);
    assert_eq!(credit["inputs"]["credit_limit"]["amount"], 10_000);
    assert_eq!(
        credit["inputs"]["open_orders"], 1,
        "a count: the caller may not see them"
    );
    assert_eq!(credit["inputs"]["open_amount"]["amount"], 2259);
    assert_eq!(
        reserved(&app).await,
        5,
        "its stock is held while a manager looks"
    );
    // The rep may not override; the manager sees the approve action and uses it.
    assert_eq!(actions(&second), ["release", "reject", "cancel", "edit"]);
    let path = format!("/v1/orders/{}/approve", second["id"].as_str().unwrap());
    let res = app
        .request_as(&rep, Method::POST, &path)
        .json(&json!({"reason": "paid in advance"}))
        .send()
        .await
        .unwrap();
    problem(res, 403).await;
    let seen: Value = app
        .request_as(
            &manager,
            Method::GET,
            &format!("/v1/orders/{}", second["id"].as_str().unwrap()),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        actions(&seen),
        ["release", "approve", "reject", "cancel", "edit"]
    );
    let res = app
        .request_as(&manager, Method::POST, &path)
        .json(&json!({"reason": "Known customer, pays on time"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let approved: Value = res.json().await.unwrap();
    assert_eq!(approved["status"], "approved");
    assert_eq!(approved["status_reason"], "Known customer, pays on time");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'order.approve'")
            .await,
        1
    );

    // Below cost (9.00), and a 20 % discount from a rep capped at 10 %.
    let other = customer_of(&app, &rep, "Cash Buyer").await;
    let mut cheap = order(&other, 1, true);
    cheap["lines"][0]["unit_price"] = json!({"amount": 800, "currency": "CNY"});
    let held: Value = as_rep(cheap).await.unwrap().json().await.unwrap();
    let price = verdict(&held, "price");
    assert_eq!(price["code"], "price_review", "{held}");
    assert_eq!(price["inputs"]["lines"][0]["reason"], "below_cost");
    let mut discounted = order(&other, 1, true);
    discounted["lines"][0]["discount"] = json!({"amount": 400, "currency": "CNY"});
    let held: Value = as_rep(discounted).await.unwrap().json().await.unwrap();
    let price = verdict(&held, "price");
    assert_eq!(price["inputs"]["lines"][0]["reason"], "discount_over_cap");
    assert_eq!(price["inputs"]["lines"][0]["discount_bps"], 2001);
    assert_eq!(price["inputs"]["cap_bps"], 1000);

    // 50 × 19.99 with tax is 1129.44 CNY, over the 1000.00 threshold.
    let big: Value = as_rep(order(&other, 50, true))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let amount = verdict(&big, "amount");
    assert_eq!(amount["code"], "manual_approval");
    assert_eq!(amount["inputs"]["grand_total_base"]["amount"], 112_944);
}

async fn customer_of(app: &TestApp, token: &str, name: &str) -> String {
    let res = app
        .request_as(token, Method::POST, "/v1/customers")
        .json(&json!({"kind": "company", "name": name}))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

async fn prepaid_intake_records_the_payment_once(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app, 10).await;
    let payment = |amount: i64, reference: &str| {
        json!({"amount": {"amount": amount, "currency": "CNY"}, "method": "online",
            "provider": "alipay", "reference": reference, "paid_at": "2026-11-23T07:55:00Z"})
    };
    let mut body = order(&customer, 1, true);
    body["channel"] = json!("web");
    body["payment"] = payment(2259, "AP-1");
    let res = app.post("/v1/orders", &body).await;
    assert_eq!(res.status(), 201);
    let paid: Value = res.json().await.unwrap();
    assert_eq!(paid["payment_status"], "paid");
    assert_eq!(paid["prepaid"]["amount"], 2259);
    assert_eq!(paid["prepayments"][0]["reference"], "AP-1");
    assert_eq!(paid["prepayments"][0]["method"], "online");

    body["payment"] = payment(1000, "AP-2");
    let part: Value = app.post("/v1/orders", &body).await.json().await.unwrap();
    assert_eq!(part["payment_status"], "partially_paid");

    // The same provider payment on another order, more than the total, in the
    // future, nothing: refused, and nothing is written.
    let before = app.count("SELECT COUNT(*) FROM orders").await;
    body["payment"] = payment(1000, "AP-1");
    let p = problem(app.post("/v1/orders", &body).await, 409).await;
    assert_eq!(p["type"], "/problems/already-exists");
    for (bad, field) in [
        (payment(2260, "AP-3"), "payment.amount.amount"),
        (payment(0, "AP-3"), "payment.amount.amount"),
        (
            json!({"amount": {"amount": 10, "currency": "CNY"}, "method": "barter",
            "provider": "x", "reference": "y", "paid_at": "2026-11-23T07:55:00Z"}),
            "payment.method",
        ),
        (
            json!({"amount": {"amount": 10, "currency": "CNY"}, "method": "cash",
            "provider": "x", "reference": "y", "paid_at": "2027-01-01T00:00:00Z"}),
            "payment.paid_at",
        ),
    ] {
        body["payment"] = bad;
        let p = problem(app.post("/v1/orders", &body).await, 400).await;
        assert_eq!(p["errors"][0]["field"], field, "{p}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM orders").await, before);
}

async fn only_the_order_lets_its_stock_go(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app, 5).await;
    let first: Value = app
        .post("/v1/orders", &order(&customer, 5, true))
        .await
        .json()
        .await
        .unwrap();
    let reservation = first["reservation_id"].as_str().unwrap();
    let held: Value = app
        .get(&format!("/v1/inventory/reservations/{reservation}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(held["order_id"], first["id"]);
    // Releasing or shipping it behind the order's back would let the stock be sold twice.
    for action in ["release", "consume"] {
        let p = problem(
            app.post(
                &format!("/v1/inventory/reservations/{reservation}/{action}"),
                &json!({}),
            )
            .await,
            409,
        )
        .await;
        assert_eq!(p["type"], "/problems/invalid-state", "{action}");
    }
    let second: Value = app
        .post("/v1/orders", &order(&customer, 5, true))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(second["status"], "on_hold");
    assert_eq!(reserved(&app).await, 5);
    // Support reads orders (and changes none).
    let (_, support) = app.user("support@example.com", "support", None).await;
    let res = app
        .request_as(&support, Method::GET, "/v1/orders")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

async fn a_manual_hold_is_released_not_approved(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app, 5).await;
    let res = app
        .post(
            "/v1/settings",
            &json!({"key": "base_currency", "value": "USD"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    // No CNY→USD rate: held for the amount rule, which a manager may override.
    let held: Value = app
        .post("/v1/orders", &order(&customer, 1, true))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(verdict(&held, "amount")["code"], "exchange_rate_missing");
    let id = held["id"].as_str().unwrap();
    assert!(actions(&held).contains(&"approve".to_owned()));
    let approved: Value = act(
        &app,
        id,
        "approve",
        &json!({"reason": "rate comes tomorrow"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(approved["status"], "approved");
    let on_hold: Value = act(&app, id, "hold", &json!({"reason": "address check"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(actions(&on_hold), ["release", "reject", "cancel", "edit"]);
    let p = problem(act(&app, id, "approve", &json!({"reason": "x"})).await, 409).await;
    assert_eq!(p["type"], "/problems/invalid-transition");
    let p = problem(act(&app, id, "approve", &json!({})).await, 400).await;
    assert_eq!(p["errors"][0]["field"], "reason");
}

async fn lines_that_name_a_warehouse_leave_the_rest_to_the_others(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app, 10).await;
    let res = app
        .post(
            "/v1/inventory/receipts",
            &json!({"sku": "TEA", "warehouse_code": "BJ-01", "quantity": 5}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let mut body = order(&customer, 5, true);
    body["lines"] = json!([{"sku": "TEA", "quantity": 5, "warehouse_code": "BJ-01"},
        {"sku": "TEA", "quantity": 5}]);
    let made: Value = app.post("/v1/orders", &body).await.json().await.unwrap();
    assert_eq!(made["lines"][1]["warehouse_code"], "SH-01", "{made}");
    assert_eq!(made["status"], "approved");
}

async fn malformed_names_and_days_are_refused(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app, 10).await;
    for (line, field) in [
        (
            json!({"sku": "X".repeat(65), "quantity": 1}),
            "lines[0].sku",
        ),
        (json!({"sku": "\u{3000}", "quantity": 1}), "lines[0].sku"),
        (
            json!({"sku": "TEA", "quantity": 1, "warehouse_code": "W".repeat(33)}),
            "lines[0].warehouse_code",
        ),
    ] {
        let mut body = order(&customer, 1, true);
        body["lines"] = json!([line]);
        let p = problem(app.post("/v1/orders", &body).await, 400).await;
        assert_eq!(p["errors"][0]["field"], field, "{p}");
        assert!(
            p.to_string().len() < 2000,
            "the answer does not echo it at length"
        );
    }
    for day in ["+10000-01-01", "-0001-01-01", "0000-12-31"] {
        let mut body = order(&customer, 1, true);
        body["requested_delivery_on"] = json!(day);
        problem(app.post("/v1/orders", &body).await, 400).await;
        let res = app
            .post(
                "/v1/exchange-rates",
                &json!({"from": "USD", "to": "CNY", "rate": "7", "effective_on": day}),
            )
            .await;
        problem(res, 400).await;
    }
    problem(app.get("/v1/orders?promised_from=-5000-01-01").await, 400).await;
    problem(
        app.get("/v1/exchange-rates/effective?from=USD&to=CNY&on=%2B10000-01-01")
            .await,
        400,
    )
    .await;
    // A time the database cannot store is the client's mistake, not a 500.
    problem(
        app.get("/v1/orders?created_after=-5000-01-01T00:00:00Z")
            .await,
        400,
    )
    .await;
    assert_eq!(app.count("SELECT COUNT(*) FROM orders").await, 0);
}

async fn a_channel_key_sees_and_takes_only_its_channel(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app, 10).await;
    let res = app
        .post(
            "/v1/api-keys",
            &json!({"name": "Shop", "kind": "ecommerce", "scopes": ["orders:read", "orders:write"],
                "channel": "web", "channel_name": "shop"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let key: Value = res.json().await.unwrap();
    assert_eq!(
        (key["channel"].clone(), key["channel_name"].clone()),
        (json!("web"), json!("shop"))
    );
    let secret = key["secret"].as_str().unwrap();
    let as_key = |method: Method, path: &str| app.request_as(secret, method, path);
    let res = as_key(Method::POST, "/v1/orders")
        .json(&order(&customer, 1, true))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let own: Value = res.json().await.unwrap();
    assert_eq!(
        (own["channel"].clone(), own["channel_name"].clone()),
        (json!("web"), json!("shop"))
    );
    for (channel, name) in [("phone", "shop"), ("web", "other")] {
        let mut body = order(&customer, 1, true);
        body["channel"] = json!(channel);
        body["channel_name"] = json!(name);
        let res = as_key(Method::POST, "/v1/orders")
            .json(&body)
            .send()
            .await
            .unwrap();
        problem(res, 403).await;
    }
    let theirs: Value = app
        .post("/v1/orders", &order(&customer, 1, true))
        .await
        .json()
        .await
        .unwrap();
    let res = as_key(
        Method::GET,
        &format!("/v1/orders/{}", theirs["id"].as_str().unwrap()),
    )
    .send()
    .await
    .unwrap();
    problem(res, 404).await;
    let res = as_key(
        Method::POST,
        &format!("/v1/orders/{}/cancel", theirs["id"].as_str().unwrap()),
    )
    .json(&json!({"reason": "not mine"}))
    .send()
    .await
    .unwrap();
    problem(res, 404).await;
    let page: Value = as_key(Method::GET, "/v1/orders")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    let res = as_key(
        Method::POST,
        &format!("/v1/orders/{}/cancel", own["id"].as_str().unwrap()),
    )
    .json(&json!({"reason": "Customer cancelled in the shop"}))
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
}

async fn erasing_a_customer_erases_them_from_their_orders(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    world(&app, 10).await;
    let res = app
        .post(
            "/v1/customers",
            &json!({"kind": "person", "name": "Zhang Wei"}),
        )
        .await;
    let person: Value = res.json().await.unwrap();
    let person = person["id"].as_str().unwrap();
    let mut body = order(person, 1, true);
    body["shipping_address"] = json!({"recipient": "Zhang Wei", "line1": "88 Secret Lane",
        "city": "Hangzhou", "country": "CN", "phone": "+8613800138000"});
    body["notes"] = json!("Leave with the neighbour, Mrs Li");
    body["metadata"] = json!({"buyer_nick": "zhangwei88"});
    let made: Value = app.post("/v1/orders", &body).await.json().await.unwrap();
    let held = act(
        &app,
        made["id"].as_str().unwrap(),
        "hold",
        &json!({"reason": "Zhang Wei called"}),
    )
    .await;
    assert_eq!(held.status(), 200);
    let res = app
        .post(&format!("/v1/customers/{person}/erase"), &json!({}))
        .await;
    assert_eq!(res.status(), 200);
    let path = format!("/v1/orders/{}", made["id"].as_str().unwrap());
    let after: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(after["customer"]["name"], "[erased]");
    assert!(after["shipping_address"].is_null());
    assert!(after["notes"].is_null());
    assert_eq!(
        after["lines"][0]["name"], "Longjing 250 g",
        "products are not people"
    );
    let page: Value = app.get("/v1/orders?q=zhang").await.json().await.unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 0);
    let stored = ordercrm_tests::everything_stored(&app).await;
    for secret in [
        "Secret Lane",
        "Zhang Wei",
        "Mrs Li",
        "8613800138000",
        "zhangwei88",
    ] {
        assert!(!stored.contains(secret), "{secret} is still stored");
    }
    // An erased customer takes no new orders, not even drafts; nor an archived one.
    let orders_before = app.count("SELECT COUNT(*) FROM orders").await;
    let res = app.post("/v1/orders", &order(person, 1, false)).await;
    assert_eq!(res.status(), 409);
    let problem: Value = res.json().await.unwrap();
    assert_eq!(problem["errors"][0]["field"], "customer_id");
    assert_eq!(problem["errors"][0]["code"], "erased");
    let other: Value = app
        .post(
            "/v1/customers",
            &json!({"kind": "company", "name": "Gone Ltd"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let other = other["id"].as_str().unwrap();
    let res = app
        .post(&format!("/v1/customers/{other}/archive"), &json!({}))
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    let res = app.post("/v1/orders", &order(other, 1, false)).await;
    assert_eq!(res.status(), 409);
    let problem: Value = res.json().await.unwrap();
    assert_eq!(problem["errors"][0]["code"], "archived");
    // A line that is wrong in itself is still reported, and then it is not a conflict
    // (an unknown product is a 404, as every unknown reference is).
    let mut wrong = order(other, 1, false);
    wrong["lines"][0]["sku"] = json!("NO-SUCH-SKU");
    let res = app.post("/v1/orders", &wrong).await;
    assert_eq!(res.status(), 404);
    let problem: Value = res.json().await.unwrap();
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields, ["lines[0].sku", "customer_id"]);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM orders").await,
        orders_before
    );
}

async fn the_timeline_tells_the_story_and_lists_filter_sort_and_export(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app, 10).await;
    let made: Value = app
        .post("/v1/orders", &order(&customer, 2, true))
        .await
        .json()
        .await
        .unwrap();
    let id = made["id"].as_str().unwrap();
    app.invoices_issued().await;
    app.clock.advance(chrono::Duration::seconds(1));
    act(&app, id, "hold", &json!({"reason": "check the address"})).await;
    app.clock.advance(chrono::Duration::seconds(1));
    act(&app, id, "cancel", &json!({"reason": "=HYPERLINK(\"x\")"})).await;
    let res = app.get(&format!("/v1/orders/{id}/timeline")).await;
    assert_eq!(res.status(), 200);
    let timeline: Value = res.json().await.unwrap();
    let names: Vec<(&str, &str)> = timeline["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["name"].as_str().unwrap()))
        .collect();
    assert_eq!(
        names,
        // Within one request, its audit entries and then its events.
        [
            ("audit", "order.create"),
            ("audit", "order.submit"),
            ("event", "order.created"),
            ("event", "reservation.created"),
            ("event", "order.approved"),
            ("event", "dispatch_note.created"),
            // Prepaid: invoiced at approval, the invoice voided with the order.
            ("event", "invoice.created"),
            ("event", "invoice.issued"),
            ("audit", "order.hold"),
            ("event", "order.held"),
            ("audit", "order.cancel"),
            ("event", "reservation.released"),
            ("event", "order.cancelled"),
            ("event", "dispatch_note.voided"),
            ("event", "invoice.voided"),
        ]
    );
    assert!(
        timeline["data"][2]["event_id"]
            .as_str()
            .unwrap()
            .starts_with("evt_")
    );
    let (_, rep) = app.user("rep@example.com", "sales", None).await;
    let res = app
        .request_as(&rep, Method::GET, &format!("/v1/orders/{id}/timeline"))
        .send()
        .await
        .unwrap();
    problem(res, 404).await;

    // Two more: a draft and a web order.
    app.post("/v1/orders", &order(&customer, 1, false)).await;
    let mut web = order(&customer, 1, true);
    web["channel"] = json!("web");
    app.post("/v1/orders", &web).await;
    let numbers = |page: &Value| -> Vec<String> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["number"].as_str().unwrap().to_owned())
            .collect()
    };
    let page: Value = app
        .get("/v1/orders?sort=number")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(numbers(&page), ["SO-000001", "SO-000002", "SO-000003"]);
    let page: Value = app
        .get("/v1/orders?sort=-number&limit=2")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(numbers(&page), ["SO-000003", "SO-000002"]);
    let next = page["next_cursor"].as_str().unwrap();
    let page: Value = app
        .get(&format!("/v1/orders?sort=-number&limit=2&cursor={next}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(numbers(&page), ["SO-000001"]);
    let page: Value = app
        .get("/v1/orders?status=cancelled")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(numbers(&page), ["SO-000001"]);
    let page: Value = app
        .get("/v1/orders?channel=web")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(numbers(&page), ["SO-000003"]);
    let page: Value = app
        .get("/v1/orders?payment_status=unpaid&fulfillment_status=unfulfilled&q=so-00000")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 3);
    problem(app.get("/v1/orders?status=lost").await, 400).await;
    let res = app
        .request(Method::GET, "/v1/orders?status=lost")
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    problem(res, 400).await;
    problem(app.get("/v1/orders?sort=total").await, 400).await;

    let res = app
        .request(Method::GET, "/v1/orders?sort=number")
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = res.text().await.unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 4, "{csv}");
    assert!(rows[0].starts_with("number,status,"));
    assert!(
        rows[1].starts_with("SO-000001,cancelled,unfulfilled,unpaid,manual,,,"),
        "{}",
        rows[1]
    );
    // 2 × 19.99 + 13 % tax = 45.18, in major units.
    assert!(rows[1].contains(",45.18,"), "{}", rows[1]);
}

async fn an_integration_names_its_customer_by_reference_or_email(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    world(&app, 100).await;
    let (rep_id, rep) = app.user("rep@example.com", "sales", None).await;
    let key = |scopes: Value| {
        let rep_id = rep_id.clone();
        let app = &app;
        async move {
            let res = app
                .post(
                    "/v1/api-keys",
                    &json!({"name": "Tmall", "kind": "ecommerce", "scopes": scopes,
                        "channel": "marketplace", "channel_name": "tmall", "default_owner_id": rep_id}),
                )
                .await;
            let key: Value = res.json().await.unwrap();
            key["secret"].as_str().unwrap().to_owned()
        }
    };
    let writer = key(json!([
        "orders:write",
        "orders:read",
        "customers:read",
        "customers:write"
    ]))
    .await;
    let buyer = json!({"external_ref": {"channel": "tmall", "external_id": "buyer-8848"},
        "email": "Li.Lei@Example.cn", "name": "李雷"});
    let body = |external_id: &str, customer: &Value| {
        json!({"customer": customer, "currency": "CNY", "submit": true, "external_id": external_id,
            "lines": [{"sku": "TEA", "quantity": 1}]})
    };
    // Ten orders of one new buyer at once: one customer.
    let answers = join_all((0..10).map(|i| {
        let req = app
            .request_as(&writer, Method::POST, "/v1/orders")
            .json(&body(&format!("TM-{i}"), &buyer));
        async move {
            let res = req.send().await.unwrap();
            assert_eq!(res.status(), 201);
            let order: Value = res.json().await.unwrap();
            order["customer"]["id"].as_str().unwrap().to_owned()
        }
    }))
    .await;
    assert!(answers.iter().all(|c| *c == answers[0]), "{answers:?}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM customers").await,
        2,
        "the world's and the buyer"
    );
    // Found again by email alone (any case), and owned by the key's default owner.
    let by_email = json!({"email": "li.lei@example.cn"});
    let res = app
        .request_as(&writer, Method::POST, "/v1/orders")
        .json(&body("TM-email", &by_email))
        .send()
        .await
        .unwrap();
    let order: Value = res.json().await.unwrap();
    assert_eq!(order["customer"]["id"], answers[0].as_str());
    let res = app
        .request_as(&rep, Method::GET, &format!("/v1/customers/{}", answers[0]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the rep owns what the key brought in");
    let page: Value = app
        .request_as(&rep, Method::GET, "/v1/orders")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 11);

    // A key that may not write customers finds, but does not create.
    let reader = key(json!(["orders:write"])).await;
    let stranger =
        json!({"external_ref": {"channel": "tmall", "external_id": "nobody"}, "name": "X"});
    let res = app
        .request_as(&reader, Method::POST, "/v1/orders")
        .json(&body("TM-x", &stranger))
        .send()
        .await
        .unwrap();
    let p = problem(res, 404).await;
    assert_eq!(p["errors"][0]["field"], "customer");
    // Nor does it find one: finding is reading customers, which it may not.
    let res = app
        .request_as(&reader, Method::POST, "/v1/orders")
        .json(&body("TM-y", &buyer))
        .send()
        .await
        .unwrap();
    problem(res, 404).await;
    // Neither, both, or a new buyer without a name: 400, nothing made.
    let before = app.count("SELECT COUNT(*) FROM orders").await;
    let mut both = body("TM-z", &buyer);
    both["customer_id"] = json!(answers[0]);
    let nameless = json!({"external_ref": {"channel": "tmall", "external_id": "new"}});
    for bad in [
        json!({"currency": "CNY", "lines": [{"sku": "TEA", "quantity": 1}]}),
        both,
        body("TM-n", &nameless),
    ] {
        let res = app
            .request_as(&writer, Method::POST, "/v1/orders")
            .json(&bad)
            .send()
            .await
            .unwrap();
        problem(res, 400).await;
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM orders").await, before);
    assert_eq!(app.count("SELECT COUNT(*) FROM customers").await, 2);
}

/// No oversell with two `ordercrm` processes sharing one PostgreSQL: the guarantee
/// is in the database, not in one process's memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_oversell_across_two_processes_on_postgresql() {
    if !postgres_available().await {
        return;
    }
    let app = TestApp::spawn(Engine::Postgres).await;
    let customer = world(&app, 50).await;
    let (servers, _dirs, ports, token) = crate::process::two_more_processes(&app).await;
    let body = order(&customer, 1, true);
    let statuses = join_all((0..100).map(|i| {
        let req = app
            .client
            .post(format!("http://127.0.0.1:{}/v1/orders", ports[i % 2]))
            .bearer_auth(&token)
            .json(&body);
        async move {
            let res = ordercrm_tests::send_until_served(req).await;
            assert_eq!(res.status(), 201);
            let order: Value = res.json().await.unwrap();
            order["status"].as_str().unwrap().to_owned()
        }
    }))
    .await;
    let approved = statuses.iter().filter(|s| *s == "approved").count();
    let held = statuses.iter().filter(|s| *s == "on_hold").count();
    assert_eq!((approved, held), (50, 50));
    assert_eq!(reserved(&app).await, 50);
    let report = ordercrm_inventory::queries::verify::run(&app.raw_db().await)
        .await
        .unwrap();
    assert!(report.mismatches.is_empty(), "{:?}", report.mismatches);
    drop(servers);
}
