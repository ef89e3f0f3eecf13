//! Fulfillment: dispatch notes on approval, shipments that take the goods out of
//! the order's reservation (never more than ordered, also under concurrency),
//! shipments cancelled before pickup, holds and cancellations after a partial
//! shipment, and who may do what.

use futures_util::future::join_all;
use ordercrm_tests::{Engine, TestApp, both_engines, problem};
use reqwest::Method;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

both_engines!(
    two_warehouses_ship_in_parts_and_a_cancelled_shipment_puts_stock_back,
    a_hold_stops_shipping_and_a_cancel_ships_no_more,
    no_over_shipping_under_concurrent_requests,
    who_may_ship_and_bad_input_changes_nothing,
    orders_approved_before_the_upgrade_get_notes_and_ship,
);

/// SH-01 holds TEA (10), BJ-01 holds MUG (5); a customer. Returns the customer.
async fn world(app: &TestApp) -> String {
    for (code, priority) in [("SH-01", 100), ("BJ-01", 50)] {
        let res = app
            .post(
                "/v1/warehouses",
                &json!({"code": code, "name": code, "priority": priority}),
            )
            .await;
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    }
    for (sku, warehouse, stock) in [("TEA", "SH-01", 10), ("MUG", "BJ-01", 5)] {
        let res = app
            .post(
                "/v1/products",
                &json!({"sku": sku, "name": sku, "tax_rate_bps": 1300,
                    "list_price": {"amount": 1000, "currency": "CNY"},
                    "cost": {"amount": 500, "currency": "CNY"}}),
            )
            .await;
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
        let res = app
            .post(
                "/v1/inventory/receipts",
                &json!({"sku": sku, "warehouse_code": warehouse, "quantity": stock}),
            )
            .await;
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    }
    app.customer("Tea House").await
}

/// An approved order of `tea` TEA from SH-01 and `mug` MUG from BJ-01 (lines 1, 2).
async fn approved(app: &TestApp, customer: &str, tea: i64, mug: i64) -> Value {
    let mut lines = vec![json!({"sku": "TEA", "quantity": tea, "warehouse_code": "SH-01"})];
    if mug > 0 {
        lines.push(json!({"sku": "MUG", "quantity": mug, "warehouse_code": "BJ-01"}));
    }
    let res = app
        .post(
            "/v1/orders",
            &json!({"customer_id": customer, "currency": "CNY", "submit": true,
                "requested_delivery_on": "2026-12-05",
                "shipping_address": {"line1": "1 Road", "city": "Shanghai", "country": "CN"},
                "lines": lines}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let order: Value = res.json().await.unwrap();
    assert_eq!(order["status"], "approved", "{order}");
    order
}

fn ship(lines: &[(i64, i64)], tracking: &str) -> Value {
    let lines: Vec<Value> = lines
        .iter()
        .map(|(line_no, quantity)| json!({"line_no": line_no, "quantity": quantity}))
        .collect();
    json!({"lines": lines, "carrier": "SF", "tracking_number": tracking,
        "package": {"weight_grams": 1200, "reference": "BOX-1"}})
}

/// (on_hand, reserved) of a SKU in a warehouse.
async fn level(app: &TestApp, sku: &str, warehouse: &str) -> (i64, i64) {
    let res = app
        .get(&format!("/v1/inventory/levels/{sku}/{warehouse}"))
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    (
        body["on_hand"].as_i64().unwrap(),
        body["reserved"].as_i64().unwrap(),
    )
}

async fn verify(app: &TestApp) {
    let report = ordercrm_inventory::queries::verify::run(&app.raw_db().await)
        .await
        .unwrap();
    assert!(
        report.mismatches.is_empty() && report.impossible.is_empty(),
        "the books disagree: {:?} {:?}",
        report.mismatches,
        report.impossible
    );
}

async fn notes(app: &TestApp, order_id: &str) -> Vec<Value> {
    let res = app
        .get(&format!("/v1/dispatch-notes?order_id={order_id}"))
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    body["data"].as_array().unwrap().clone()
}

fn note_status(notes: &[Value], warehouse: &str) -> String {
    notes
        .iter()
        .find(|n| n["warehouse_code"] == warehouse)
        .map(|n| n["status"].as_str().unwrap().to_owned())
        .unwrap()
}

async fn order(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/v1/orders/{id}"))
        .await
        .json()
        .await
        .unwrap()
}

async fn events_of(app: &TestApp, event_type: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) FROM events WHERE event_type = '{event_type}'"
    ))
    .await
}

async fn two_warehouses_ship_in_parts_and_a_cancelled_shipment_puts_stock_back(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app).await;
    let o = approved(&app, &customer, 4, 2).await;
    let id = o["id"].as_str().unwrap();
    assert_eq!(o["fulfillment_status"], "unfulfilled");
    assert!(o["milestones"]["approved_at"].is_string(), "{o}");
    assert!(o["milestones"]["first_shipped_at"].is_null());

    // One note per warehouse, open, with the order's lines there.
    let n = notes(&app, id).await;
    assert_eq!(n.len(), 2, "{n:?}");
    let sh = n.iter().find(|n| n["warehouse_code"] == "SH-01").unwrap();
    assert_eq!(sh["status"], "open");
    assert_eq!(
        sh["number"],
        format!("{}-SH-01", o["number"].as_str().unwrap())
    );
    assert_eq!(sh["promised_on"], "2026-12-05");
    assert_eq!(sh["ship_to"]["city"], "Shanghai");
    assert_eq!(sh["lines"][0]["sku"], "TEA");
    assert_eq!(sh["lines"][0]["open_quantity"], 4);
    assert_eq!(events_of(&app, "dispatch_note.created").await, 2);
    // The queue of one warehouse.
    let res = app
        .get("/v1/dispatch-notes?warehouse=bj-01&status=open")
        .await;
    let queue: Value = res.json().await.unwrap();
    assert_eq!(queue["data"].as_array().unwrap().len(), 1, "{queue}");
    assert_eq!(queue["data"][0]["warehouse_code"], "BJ-01");
    let csv = app
        .request(Method::GET, "/v1/dispatch-notes?status=open")
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.starts_with("number,status,order_number"), "{csv}");
    assert!(csv.contains("TEA×4") && csv.contains("MUG×2"), "{csv}");

    // First shipment: 1 TEA. The order and its SH-01 note are part shipped.
    let res = app
        .post(
            &format!("/v1/orders/{id}/shipments"),
            &ship(&[(1, 1)], "SF001"),
        )
        .await;
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let first: Value = res.json().await.unwrap();
    assert_eq!(
        location,
        format!("/v1/shipments/{}", first["id"].as_str().unwrap())
    );
    assert_eq!(first["status"], "pending");
    assert_eq!(first["carrier"], "sf");
    assert_eq!(first["package"]["weight_grams"], 1200);
    assert_eq!(first["lines"][0]["warehouse_code"], "SH-01");
    assert_eq!(level(&app, "TEA", "SH-01").await, (9, 3));
    let now = order(&app, id).await;
    assert_eq!(now["fulfillment_status"], "partially_shipped");
    assert_eq!(now["lines"][0]["shipped_quantity"], 1);
    assert!(now["milestones"]["first_shipped_at"].is_string());
    let n = notes(&app, id).await;
    assert_eq!(note_status(&n, "SH-01"), "partially_shipped");
    assert_eq!(note_status(&n, "BJ-01"), "open");

    // Asking for more than is left is refused, naming the line; nothing moves.
    let res = app
        .post(
            &format!("/v1/orders/{id}/shipments"),
            &ship(&[(1, 2), (1, 2)], "SF00X"),
        )
        .await;
    let p = problem(res, 409).await;
    assert_eq!(p["type"], "/problems/over-shipment");
    assert_eq!(
        p["lines"],
        json!([{"line_no": 1, "requested": 4, "unshipped": 3}])
    );
    assert_eq!(level(&app, "TEA", "SH-01").await, (9, 3));

    // Second shipment from both warehouses: everything has left.
    let res = app
        .post(
            &format!("/v1/orders/{id}/shipments"),
            &ship(&[(1, 3), (2, 2)], "SF002"),
        )
        .await;
    assert_eq!(res.status(), 201);
    let second: Value = res.json().await.unwrap();
    assert_eq!(second["lines"].as_array().unwrap().len(), 2);
    assert_eq!(level(&app, "TEA", "SH-01").await, (6, 0));
    assert_eq!(level(&app, "MUG", "BJ-01").await, (3, 0));
    let now = order(&app, id).await;
    assert_eq!(now["fulfillment_status"], "shipped");
    // Nothing left to cancel: a return is the way back.
    let actions: Vec<&str> = now["allowed_actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(!actions.contains(&"cancel"), "{actions:?}");
    let res = app
        .post(
            &format!("/v1/orders/{id}/cancel"),
            &json!({"reason": "late"}),
        )
        .await;
    assert_eq!(
        problem(res, 409).await["type"],
        "/problems/invalid-transition"
    );
    let n = notes(&app, id).await;
    assert_eq!(note_status(&n, "SH-01"), "shipped");
    assert_eq!(note_status(&n, "BJ-01"), "shipped");
    assert_eq!(events_of(&app, "order.shipped").await, 2);

    // The second shipment is cancelled before pickup: its stock is held again.
    let second_id = second["id"].as_str().unwrap();
    let res = app
        .request(Method::POST, &format!("/v1/shipments/{second_id}/cancel"))
        .header("if-match", "\"1\"")
        .json(&json!({"reason": "the van broke down"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let cancelled: Value = res.json().await.unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["cancel_reason"], "the van broke down");
    assert_eq!(level(&app, "TEA", "SH-01").await, (9, 3));
    assert_eq!(level(&app, "MUG", "BJ-01").await, (5, 2));
    let now = order(&app, id).await;
    assert_eq!(now["fulfillment_status"], "partially_shipped");
    assert_eq!(now["lines"][0]["shipped_quantity"], 1);
    assert_eq!(now["lines"][1]["shipped_quantity"], 0);
    let n = notes(&app, id).await;
    assert_eq!(note_status(&n, "SH-01"), "partially_shipped");
    assert_eq!(note_status(&n, "BJ-01"), "open");
    let res = app
        .post(&format!("/v1/shipments/{second_id}/cancel"), &json!({}))
        .await;
    let p = problem(res, 409).await;
    assert_eq!(p["current_status"], "cancelled");
    let reservation = now["reservation_id"].as_str().unwrap();
    let res = app
        .get(&format!("/v1/inventory/reservations/{reservation}"))
        .await;
    let r: Value = res.json().await.unwrap();
    assert_eq!(r["status"], "partially_consumed", "{r}");
    verify(&app).await;

    // The shipments, oldest first; one by id; the timeline tells it all in order.
    let res = app.get(&format!("/v1/orders/{id}/shipments")).await;
    let list: Value = res.json().await.unwrap();
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [first["id"].as_str().unwrap(), second_id]);
    let res = app.get(&format!("/v1/shipments/{second_id}")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["etag"], "\"2\"");
    let res = app.get(&format!("/v1/orders/{id}/timeline")).await;
    let timeline: Value = res.json().await.unwrap();
    let types: Vec<&str> = timeline["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "event")
        .filter_map(|e| e["name"].as_str())
        .filter(|t| !t.starts_with("reservation") && !t.starts_with("order.created"))
        .collect();
    assert_eq!(
        types,
        [
            "order.approved",
            "dispatch_note.created",
            "dispatch_note.created",
            "shipment.created",
            "dispatch_note.updated",
            "order.shipped",
            "shipment.created",
            "dispatch_note.updated",
            "dispatch_note.updated",
            "order.shipped",
            "shipment.cancelled",
            "dispatch_note.updated",
            "dispatch_note.updated",
            "order.updated",
        ],
        "{timeline}"
    );
    app.stop().await;
}

async fn a_hold_stops_shipping_and_a_cancel_ships_no_more(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app).await;
    let o = approved(&app, &customer, 4, 2).await;
    let id = o["id"].as_str().unwrap();
    let res = app
        .post(
            &format!("/v1/orders/{id}/shipments"),
            &ship(&[(1, 1)], "SF001"),
        )
        .await;
    assert_eq!(res.status(), 201);
    let first: Value = res.json().await.unwrap();

    // On hold: nothing ships, and the warehouse still sees the notes (flagged).
    let res = app
        .post(
            &format!("/v1/orders/{id}/hold"),
            &json!({"reason": "address check"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .post(
            &format!("/v1/orders/{id}/shipments"),
            &ship(&[(1, 1)], "SF002"),
        )
        .await;
    let p = problem(res, 409).await;
    assert_eq!(p["type"], "/problems/invalid-transition");
    assert_eq!(p["current_status"], "on_hold");
    let (_, warehouse) = app.user("wh@example.com", "warehouse", None).await;
    let res = app
        .request_as(
            &warehouse,
            Method::GET,
            "/v1/dispatch-notes?warehouse=SH-01",
        )
        .send()
        .await
        .unwrap();
    let queue: Value = res.json().await.unwrap();
    assert_eq!(queue["data"][0]["order"]["status"], "on_hold", "{queue}");
    let res = app
        .request_as(
            &warehouse,
            Method::POST,
            &format!("/v1/orders/{id}/shipments"),
        )
        .json(&ship(&[(1, 1)], "SF002"))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(res, 409).await["current_status"], "on_hold");

    // Released (its stock is still held: the review passes), it ships again.
    let res = app
        .post(&format!("/v1/orders/{id}/release"), &json!({}))
        .await;
    let released: Value = res.json().await.unwrap();
    assert_eq!(released["status"], "approved", "{released}");
    assert_eq!(level(&app, "TEA", "SH-01").await, (9, 3));
    assert_eq!(notes(&app, id).await.len(), 2, "no second set of notes");

    // Cancelled after a partial shipment: only the remainder goes.
    let res = app
        .post(
            &format!("/v1/orders/{id}/cancel"),
            &json!({"reason": "customer asked"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let cancelled: Value = res.json().await.unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["fulfillment_status"], "partially_shipped");
    assert_eq!(level(&app, "TEA", "SH-01").await, (9, 0));
    assert_eq!(level(&app, "MUG", "BJ-01").await, (5, 0));
    let n = notes(&app, id).await;
    assert_eq!(note_status(&n, "SH-01"), "voided");
    assert_eq!(note_status(&n, "BJ-01"), "voided");
    assert_eq!(events_of(&app, "dispatch_note.voided").await, 2);
    let res = app
        .post(
            &format!("/v1/orders/{id}/shipments"),
            &ship(&[(1, 1)], "SF003"),
        )
        .await;
    assert_eq!(problem(res, 409).await["current_status"], "cancelled");

    // The one shipment comes back before pickup: on-hand again, held for nobody.
    let res = app
        .post(
            &format!("/v1/shipments/{}/cancel", first["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(level(&app, "TEA", "SH-01").await, (10, 0));
    let now = order(&app, id).await;
    assert_eq!(now["fulfillment_status"], "unfulfilled");
    assert!(now["milestones"]["first_shipped_at"].is_null());
    verify(&app).await;
    app.stop().await;
}

async fn no_over_shipping_under_concurrent_requests(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app).await;
    let o = approved(&app, &customer, 5, 0).await;
    let id = o["id"].as_str().unwrap().to_owned();
    let sends = (0..20).map(|i| {
        let req = app
            .request(Method::POST, &format!("/v1/orders/{id}/shipments"))
            .json(&ship(&[(1, 1)], &format!("SF{i:03}")));
        async move {
            let res = ordercrm_tests::send_until_served(req).await;
            let status = res.status().as_u16();
            let body: Value = res.json().await.unwrap();
            (status, body)
        }
    });
    let answers = join_all(sends).await;
    let created = answers.iter().filter(|(s, _)| *s == 201).count();
    let refused: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == 409)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(created, 5, "{answers:?}");
    assert_eq!(refused.len(), 15, "{answers:?}");
    assert!(
        refused
            .iter()
            .all(|p| p["type"] == "/problems/over-shipment"),
        "{refused:?}"
    );
    assert_eq!(level(&app, "TEA", "SH-01").await, (5, 0));
    let now = order(&app, &id).await;
    assert_eq!(now["fulfillment_status"], "shipped");
    assert_eq!(now["lines"][0]["shipped_quantity"], 5);
    assert_eq!(events_of(&app, "shipment.created").await, 5);
    verify(&app).await;
    app.stop().await;
}

async fn who_may_ship_and_bad_input_changes_nothing(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app).await;
    let o = approved(&app, &customer, 4, 0).await;
    let id = o["id"].as_str().unwrap();
    let path = format!("/v1/orders/{id}/shipments");
    let bad = [
        json!({"lines": [], "carrier": "sf", "tracking_number": "X"}),
        json!({"lines": [{"line_no": 1, "quantity": 0}], "carrier": "sf", "tracking_number": "X"}),
        json!({"lines": [{"line_no": 1, "quantity": 1}], "carrier": "s f", "tracking_number": "X"}),
        json!({"lines": [{"line_no": 1, "quantity": 1}], "carrier": "sf", "tracking_number": " "}),
        json!({"lines": [{"line_no": 9, "quantity": 1}], "carrier": "sf", "tracking_number": "X"}),
        json!({"lines": [{"line_no": 1, "quantity": 1}], "carrier": "sf", "tracking_number": "X",
            "package": {"weight_grams": 0}}),
        json!({"lines": [{"line_no": 1, "quantity": 1}], "carrier": "sf", "tracking_number": "X",
            "status": "delivered"}),
        json!({"lines": [{"line_no": 1, "quantity": 1_000_000_000}, {"line_no": 1, "quantity": 1_000_000_000}],
            "carrier": "sf", "tracking_number": "X"}),
    ];
    for body in bad {
        let res = app.post(&path, &body).await;
        let status = res.status().as_u16();
        assert!(matches!(status, 400 | 404 | 409), "{body}: {status}");
    }
    let res = app
        .post(
            &path,
            &json!({"lines": [{"line_no": 9, "quantity": 1}], "carrier": "sf", "tracking_number": "X"}),
        )
        .await;
    // The house rule: a request naming only something that does not exist is 404.
    let p = problem(res, 404).await;
    assert_eq!(p["errors"][0]["field"], "lines[0].line_no", "{p}");
    assert_eq!(p["errors"][0]["code"], "unknown_line");
    assert_eq!(level(&app, "TEA", "SH-01").await, (10, 4));
    assert_eq!(app.count("SELECT COUNT(*) FROM shipments").await, 0);

    // Sales reads its customers' shipments but does not ship; the warehouse ships.
    let (_, sales) = app.user("rep@example.com", "sales", None).await;
    let res = app
        .request_as(&sales, Method::POST, &path)
        .json(&ship(&[(1, 1)], "SF1"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let (_, warehouse) = app.user("wh@example.com", "warehouse", None).await;
    let res = app
        .request_as(&warehouse, Method::POST, &path)
        .json(&ship(&[(1, 1)], "SF1"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let shipment: Value = res.json().await.unwrap();
    let res = app
        .request_as(
            &sales,
            Method::GET,
            &format!("/v1/shipments/{}", shipment["id"].as_str().unwrap()),
        )
        .send()
        .await
        .unwrap();
    // The rep owns no customer here: the order and its shipment are not theirs to see.
    assert_eq!(res.status(), 404);
    let res = app
        .request_as(&sales, Method::GET, &format!("/v1/orders/{id}/shipments"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    // A key with fulfillment scopes ships too; one with orders only does not.
    for (scopes, status) in [
        (json!(["orders:read"]), 403),
        (json!(["fulfillment:write"]), 201),
    ] {
        let res = app
            .post(
                "/v1/api-keys",
                &json!({"name": "wms", "kind": "erp", "scopes": scopes}),
            )
            .await;
        assert_eq!(res.status(), 201);
        let key: Value = res.json().await.unwrap();
        let res = app
            .request_as(key["secret"].as_str().unwrap(), Method::POST, &path)
            .json(&ship(&[(1, 1)], "SF2"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), status);
    }
    let res = app
        .get("/v1/shipments/00000000-0000-0000-0000-000000000000")
        .await;
    assert_eq!(res.status(), 404);
    verify(&app).await;
    app.stop().await;
}

/// The migration's backfill, run on rows as an older version left them (approved and
/// manually held orders without approval times or notes): they get both, a draft
/// gets neither, and the warehouse can then see and ship them.
async fn orders_approved_before_the_upgrade_get_notes_and_ship(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app).await;
    let approved_one = approved(&app, &customer, 2, 1).await;
    let held = approved(&app, &customer, 1, 0).await;
    let res = app
        .post(
            &format!("/v1/orders/{}/hold", held["id"].as_str().unwrap()),
            &json!({"reason": "check"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .post(
            "/v1/orders",
            &json!({"customer_id": customer, "currency": "CNY",
                "lines": [{"sku": "TEA", "quantity": 1}]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let db = app.raw_db().await;
    let backend = db.get_database_backend();
    for sql in [
        "DELETE FROM dispatch_notes",
        "UPDATE orders SET approved_at = NULL",
    ] {
        db.execute_unprepared(sql).await.unwrap();
    }
    for sql in ordercrm_migrations::fulfillment_backfill(backend) {
        db.execute_unprepared(&sql).await.unwrap();
    }
    // Twice: a second run adds nothing.
    for sql in ordercrm_migrations::fulfillment_backfill(backend) {
        db.execute_unprepared(&sql).await.unwrap();
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM orders WHERE approved_at IS NOT NULL")
            .await,
        2
    );
    let id = approved_one["id"].as_str().unwrap();
    let n = notes(&app, id).await;
    assert_eq!(n.len(), 2, "{n:?}");
    let sh = n.iter().find(|n| n["warehouse_code"] == "SH-01").unwrap();
    assert_eq!(sh["status"], "open");
    assert_eq!(sh["promised_on"], "2026-12-05");
    assert_eq!(sh["ship_to"]["city"], "Shanghai");
    assert_eq!(sh["lines"][0]["open_quantity"], 2);
    assert_eq!(notes(&app, held["id"].as_str().unwrap()).await.len(), 1);
    let (_, warehouse) = app.user("wh@example.com", "warehouse", None).await;
    let res = app
        .request_as(
            &warehouse,
            Method::POST,
            &format!("/v1/orders/{id}/shipments"),
        )
        .json(&ship(&[(1, 2), (2, 1)], "SF9"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let n = notes(&app, id).await;
    assert_eq!(note_status(&n, "SH-01"), "shipped");
    assert_eq!(note_status(&n, "BJ-01"), "shipped");
    verify(&app).await;
    app.stop().await;
}
