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
    tracking_converges_whatever_the_arrival_order,
    the_whole_path_two_warehouses_tracking_sign_off_completion,
    a_logistics_key_sees_and_reports_only_its_carriers,
    concurrent_deliveries_and_batches_neither_deadlock_nor_double_sign,
    what_the_audit_found_stays_fixed,
);

/// SH-01 holds TEA (10), BJ-01 holds MUG (5); a customer. Returns the customer.
pub(crate) async fn world(app: &TestApp) -> String {
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
pub(crate) async fn approved(app: &TestApp, customer: &str, tea: i64, mug: i64) -> Value {
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

pub(crate) fn ship(lines: &[(i64, i64)], tracking: &str) -> Value {
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
    assert_eq!(app.events_of("dispatch_note.created").await, 2);
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
    let now = app.order(id).await;
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
    let now = app.order(id).await;
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
    assert_eq!(app.events_of("order.shipped").await, 2);

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
    let now = app.order(id).await;
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
    app.verify_books().await;

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
        // Prepaid orders are invoiced at approval: the payments tests follow those.
        .filter(|t| !t.starts_with("invoice.") && !t.starts_with("payment."))
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
    assert_eq!(app.events_of("dispatch_note.voided").await, 2);
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
    let now = app.order(id).await;
    assert_eq!(now["fulfillment_status"], "unfulfilled");
    assert!(now["milestones"]["first_shipped_at"].is_null());
    app.verify_books().await;
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
    let now = app.order(&id).await;
    assert_eq!(now["fulfillment_status"], "shipped");
    assert_eq!(now["lines"][0]["shipped_quantity"], 5);
    assert_eq!(app.events_of("shipment.created").await, 5);
    app.verify_books().await;
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
    app.verify_books().await;
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
    app.verify_books().await;
    app.stop().await;
}

/// A realistic carrier history: (status, time, place, provider id).
fn history() -> Vec<(&'static str, &'static str, &'static str, &'static str)> {
    vec![
        ("label_printed", "2026-11-21T08:00:00Z", "Shanghai", "e1"),
        ("picked_up", "2026-11-21T10:00:00Z", "Shanghai", "e2"),
        ("in_transit", "2026-11-21T18:00:00Z", "Shanghai Hub", "e3"),
        ("in_transit", "2026-11-22T02:00:00Z", "Hangzhou Hub", "e4"),
        ("out_for_delivery", "2026-11-22T08:00:00Z", "Hangzhou", "e5"),
        (
            "attempted_delivery",
            "2026-11-22T11:00:00Z",
            "Hangzhou",
            "e6",
        ),
        ("out_for_delivery", "2026-11-22T14:00:00Z", "Hangzhou", "e7"),
        ("delivered", "2026-11-22T16:30:00Z", "Hangzhou", "e8"),
    ]
}

fn tracking(number: &str, events: &[(&str, &str, &str, &str)], with_ids: bool) -> Value {
    let events: Vec<Value> = events
        .iter()
        .map(|(status, at, place, id)| {
            let mut e = json!({"carrier": "sf", "tracking_number": number, "status": status,
                "occurred_at": at, "location": place, "message": format!("{status} at {place}")});
            if with_ids {
                e["event_id"] = json!(format!("{number}-{id}"));
            }
            e
        })
        .collect();
    json!({"events": events})
}

/// What a shipment's tracking came to: its status, its history (status, time,
/// place), the order's fulfillment, and how many events it wrote.
async fn tracked(
    app: &TestApp,
    shipment: &str,
    order_id: &str,
) -> (Value, Vec<Value>, Value, i64, i64) {
    let s: Value = app
        .get(&format!("/v1/shipments/{shipment}"))
        .await
        .json()
        .await
        .unwrap();
    let h: Value = app
        .get(&format!(
            "/v1/shipments/{shipment}/tracking-events?limit=200"
        ))
        .await
        .json()
        .await
        .unwrap();
    let history: Vec<Value> = h["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| json!([e["status"], e["occurred_at"], e["location"]]))
        .collect();
    let o = app.order(order_id).await;
    let updates = app
        .count(&format!(
            "SELECT COUNT(*) FROM events WHERE event_type = 'shipment.tracking_updated' \
             AND resource_id = '{shipment}'"
        ))
        .await;
    let exceptions = app
        .count(&format!(
            "SELECT COUNT(*) FROM events WHERE event_type = 'shipment.exception_reported' \
             AND resource_id = '{shipment}'"
        ))
        .await;
    (
        json!([s["status"], s["delivered_at"]]),
        history,
        o["fulfillment_status"].clone(),
        updates,
        exceptions,
    )
}

async fn tracking_converges_whatever_the_arrival_order(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app).await;
    let mut shipments = Vec::new();
    for number in ["SF-ONCE", "SF-MESSY"] {
        let o = approved(&app, &customer, 1, 0).await;
        let id = o["id"].as_str().unwrap().to_owned();
        let res = app
            .post(
                &format!("/v1/orders/{id}/shipments"),
                &ship(&[(1, 1)], number),
            )
            .await;
        assert_eq!(res.status(), 201);
        let s: Value = res.json().await.unwrap();
        shipments.push((id, s["id"].as_str().unwrap().to_owned()));
    }
    let events = history();

    // Once, in order, one request.
    let res = app
        .post("/v1/tracking-events", &tracking("SF-ONCE", &events, true))
        .await;
    assert_eq!(res.status(), 200);
    let once: Value = res.json().await.unwrap();
    assert!(
        once["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["result"] == "applied"),
        "{once}"
    );

    // Shuffled, each event on its own and all at once; then shuffled again in one
    // batch; then a Kuaidi100-style full history without ids.
    let mut shuffled = events.clone();
    shuffled.swap(0, 7);
    shuffled.swap(2, 5);
    shuffled.swap(1, 6);
    let sends = shuffled.iter().map(|e| {
        let req = app
            .request(Method::POST, "/v1/tracking-events")
            .json(&tracking("SF-MESSY", std::slice::from_ref(e), true));
        async move {
            let res = ordercrm_tests::send_until_served(req).await;
            assert_eq!(res.status(), 200);
            res.json::<Value>().await.unwrap()
        }
    });
    let first_round = join_all(sends).await;
    let outcomes: Vec<&str> = first_round
        .iter()
        .map(|r| r["results"][0]["result"].as_str().unwrap())
        .collect();
    assert!(
        outcomes.iter().all(|o| *o == "applied" || *o == "stale"),
        "{outcomes:?}"
    );
    let mut again = shuffled.clone();
    again.reverse();
    let res = app
        .post("/v1/tracking-events", &tracking("SF-MESSY", &again, true))
        .await;
    let second: Value = res.json().await.unwrap();
    let res = app
        .post("/v1/tracking-events", &tracking("SF-MESSY", &events, false))
        .await;
    let kuaidi: Value = res.json().await.unwrap();
    for answer in [&second, &kuaidi] {
        assert!(
            answer["results"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["result"] == "duplicate"),
            "{answer}"
        );
    }

    let (o1, s1) = &shipments[0];
    let (o2, s2) = &shipments[1];
    let reference = tracked(&app, s1, o1).await;
    let messy = tracked(&app, s2, o2).await;
    assert_eq!(reference.0, json!(["delivered", "2026-11-22T16:30:00Z"]));
    assert_eq!(reference.1.len(), 8);
    assert_eq!(reference.2, "delivered");
    assert_eq!((reference.3, reference.4), (8, 1));
    assert_eq!(
        messy, reference,
        "the messy history converged to the same state"
    );

    // A late scan after delivery changes nothing; unknown numbers are not found.
    let res = app
        .post(
            "/v1/tracking-events",
            &tracking(
                "SF-ONCE",
                &[("in_transit", "2026-11-22T20:00:00Z", "Hangzhou Hub", "late")],
                true,
            ),
        )
        .await;
    let late: Value = res.json().await.unwrap();
    assert_eq!(late["results"][0]["shipment_status"], "delivered");
    let res = app
        .post(
            "/v1/tracking-events",
            &tracking(
                "NOPE",
                &[("in_transit", "2026-11-22T20:00:00Z", "X", "n")],
                true,
            ),
        )
        .await;
    let nope: Value = res.json().await.unwrap();
    assert_eq!(nope["results"][0]["result"], "not_found");
    assert!(nope["results"][0]["shipment_id"].is_null());
    // Returned to the sender after delivery: the one status that overrides it.
    let res = app
        .post(
            "/v1/tracking-events",
            &tracking(
                "SF-ONCE",
                &[(
                    "returned_to_sender",
                    "2026-11-23T06:00:00Z",
                    "Hangzhou",
                    "rts",
                )],
                true,
            ),
        )
        .await;
    let rts: Value = res.json().await.unwrap();
    assert_eq!(rts["results"][0]["shipment_status"], "returned_to_sender");
    let now = app.order(o1).await;
    assert_eq!(now["fulfillment_status"], "shipped");
    assert_eq!(now["lines"][0]["delivered_quantity"], 0);

    // One bad event refuses the whole request and records nothing.
    let before = app.count("SELECT COUNT(*) FROM tracking_events").await;
    let mut bad = tracking("SF-ONCE", &events, false);
    bad["events"][3]["status"] = json!("teleported");
    let res = app.post("/v1/tracking-events", &bad).await;
    assert_eq!(
        problem(res, 400).await["errors"][0]["field"],
        "events[3].status"
    );
    let mut bad = tracking("SF-ONCE", &events, false);
    bad["events"][1]["occurred_at"] = json!("2026-12-30T00:00:00Z");
    let res = app.post("/v1/tracking-events", &bad).await;
    assert_eq!(problem(res, 400).await["errors"][0]["code"], "in_future");
    let res = app
        .post("/v1/tracking-events", &json!({"events": []}))
        .await;
    problem(res, 400).await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM tracking_events").await,
        before
    );
    // Sales may not report tracking.
    let (_, sales) = app.user("rep@example.com", "sales", None).await;
    let res = app
        .request_as(&sales, Method::POST, "/v1/tracking-events")
        .json(&tracking("SF-ONCE", &events, true))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    app.stop().await;
}

async fn the_whole_path_two_warehouses_tracking_sign_off_completion(engine: Engine) {
    let mut app = TestApp::spawn(engine).await;
    let customer = world(&app).await;
    let res = app
        .post(
            "/v1/orders",
            &json!({"customer_id": customer, "currency": "CNY", "submit": true, "channel": "web",
                "lines": [{"sku": "TEA", "quantity": 1, "warehouse_code": "SH-01"},
                          {"sku": "MUG", "quantity": 1, "warehouse_code": "BJ-01"}],
                "payment": {"amount": {"amount": 2260, "currency": "CNY"}, "method": "online",
                    "provider": "alipay", "reference": "AP-9", "paid_at": "2026-11-23T07:00:00Z"}}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let o: Value = res.json().await.unwrap();
    assert_eq!(o["payment_status"], "paid", "{o}");
    let id = o["id"].as_str().unwrap();
    // The whole path: approved, a note per warehouse, two partial shipments from
    // two warehouses, tracking, a sign-off and a carrier's delivery.
    let n = notes(&app, id).await;
    assert_eq!(
        (note_status(&n, "SH-01"), note_status(&n, "BJ-01")),
        ("open".into(), "open".into())
    );
    let mut shipments = Vec::new();
    for (line, number) in [(1, "SF-A"), (2, "SF-B")] {
        let res = app
            .post(
                &format!("/v1/orders/{id}/shipments"),
                &ship(&[(line, 1)], number),
            )
            .await;
        assert_eq!(res.status(), 201);
        let s: Value = res.json().await.unwrap();
        shipments.push(s["id"].as_str().unwrap().to_owned());
    }

    let n = notes(&app, id).await;
    assert_eq!(
        (note_status(&n, "SH-01"), note_status(&n, "BJ-01")),
        ("shipped".into(), "shipped".into())
    );
    let answer: Value = app
        .post(
            "/v1/tracking-events",
            &tracking(
                "SF-A",
                &[
                    ("picked_up", "2026-11-23T08:00:00Z", "Shanghai", "p"),
                    ("in_transit", "2026-11-23T09:00:00Z", "Hangzhou", "t"),
                ],
                true,
            ),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        answer["results"][1]["shipment_status"], "in_transit",
        "{answer}"
    );
    app.clock.advance(chrono::Duration::hours(2));
    app.relogin().await;
    // Bad sign-offs change nothing.
    let deliver = |s: &str| format!("/v1/shipments/{s}/deliver");
    let res = app.post(&deliver(&shipments[0]), &json!({})).await;
    assert_eq!(problem(res, 400).await["errors"][0]["field"], "signed_by");
    let res = app
        .post(
            &deliver(&shipments[0]),
            &json!({"signed_by": "Li Lei", "delivered_at": "2026-12-30T00:00:00Z"}),
        )
        .await;
    assert_eq!(problem(res, 400).await["errors"][0]["code"], "in_future");
    let res = app
        .post(
            &deliver(&shipments[0]),
            &json!({"signed_by": "Li Lei", "proof": {"kind": "fingerprint", "reference": "x"}}),
        )
        .await;
    problem(res, 400).await;

    // The first by sign-off: partly delivered.
    let res = app
        .post(
            &deliver(&shipments[0]),
            &json!({"signed_by": "Li Lei", "delivered_at": "2026-11-23T09:30:00Z",
                "proof": {"kind": "signature", "reference": "pod/SF-A.png"}}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let signed: Value = res.json().await.unwrap();
    assert_eq!(signed["status"], "delivered");
    assert_eq!(signed["signed_by"], "Li Lei");
    assert_eq!(signed["proof"]["kind"], "signature");
    assert_eq!(signed["delivered_at"], "2026-11-23T09:30:00Z");
    let res = app
        .post(&deliver(&shipments[0]), &json!({"signed_by": "Li Lei"}))
        .await;
    assert_eq!(problem(res, 409).await["current_status"], "delivered");
    let now = app.order(id).await;
    assert_eq!(now["fulfillment_status"], "partially_delivered");
    assert_eq!(now["status"], "approved");
    assert!(now["milestones"]["delivered_at"].is_null());

    // The second by the carrier: delivered in full and paid, so completed.
    let res = app
        .post(
            "/v1/tracking-events",
            &tracking(
                "SF-B",
                &[("delivered", "2026-11-23T09:45:00Z", "Beijing", "d")],
                true,
            ),
        )
        .await;
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["results"][0]["result"], "applied", "{answer}");
    let now = app.order(id).await;
    assert_eq!(now["fulfillment_status"], "delivered");
    assert_eq!(now["status"], "completed");
    assert_eq!(now["milestones"]["delivered_at"], "2026-11-23T09:45:00Z");
    assert!(now["milestones"]["completed_at"].is_string());
    assert_eq!(now["allowed_actions"], json!([]));
    assert_eq!(now["lines"][1]["delivered_quantity"], 1);

    // The timeline, in order, from approval to completion.
    let res = app.get(&format!("/v1/orders/{id}/timeline")).await;
    let timeline: Value = res.json().await.unwrap();
    let types: Vec<&str> = timeline["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "event")
        .filter_map(|e| e["name"].as_str())
        .filter(|t| !t.starts_with("reservation"))
        // Prepaid orders are invoiced at approval: the payments tests follow those.
        .filter(|t| !t.starts_with("invoice.") && !t.starts_with("payment."))
        .collect();
    assert_eq!(
        types,
        [
            "order.created",
            "order.approved",
            "dispatch_note.created",
            "dispatch_note.created",
            "shipment.created",
            "dispatch_note.updated",
            "order.shipped",
            "shipment.created",
            "dispatch_note.updated",
            "order.shipped",
            "shipment.tracking_updated",
            "shipment.tracking_updated",
            "shipment.tracking_updated",
            "shipment.delivered",
            "order.delivered",
            "shipment.tracking_updated",
            "shipment.delivered",
            "order.delivered",
            "order.completed",
        ],
        "{timeline}"
    );
    app.verify_books().await;

    // Returned to the sender after completion: the shipment says so (an exception
    // for someone to act on); the completed order stays as it was.
    let answer: Value = app
        .post(
            "/v1/tracking-events",
            &tracking(
                "SF-B",
                &[("returned_to_sender", "2026-11-23T09:55:00Z", "Beijing", "r")],
                true,
            ),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        answer["results"][0]["shipment_status"],
        "returned_to_sender"
    );
    let now = app.order(id).await;
    assert_eq!(
        (now["status"].as_str(), now["fulfillment_status"].as_str()),
        (Some("completed"), Some("delivered"))
    );
    let res = app
        .post(&deliver(&shipments[1]), &json!({"signed_by": "Li Lei"}))
        .await;
    assert_eq!(
        problem(res, 409).await["current_status"],
        "returned_to_sender"
    );

    // Erasing the customer takes who signed, the proof and the carrier's words too.
    let res = app
        .post(&format!("/v1/customers/{customer}/erase"), &json!({}))
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let stored = ordercrm_tests::everything_stored(&app).await;
    for personal in ["Li Lei", "pod/SF-A.png", "delivered at Beijing"] {
        assert!(!stored.contains(personal), "{personal} is still stored");
    }
    let signed: Value = app
        .get(&format!("/v1/shipments/{}", shipments[0]))
        .await
        .json()
        .await
        .unwrap();
    assert!(signed["signed_by"].is_null() && signed["proof"].is_null());
    // An aggregator pushing the whole history again brings nothing back.
    let again: Value = app
        .post(
            "/v1/tracking-events",
            &tracking(
                "SF-B",
                &[("delivered", "2026-11-23T09:45:00Z", "Beijing", "d")],
                false,
            ),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["results"][0]["result"], "duplicate", "{again}");
    assert!(
        !ordercrm_tests::everything_stored(&app)
            .await
            .contains("delivered at Beijing")
    );
    app.stop().await;
}

async fn a_logistics_key_sees_and_reports_only_its_carriers(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app).await;
    for carriers in [json!([]), json!(["a b"]), json!(vec!["x"; 21])] {
        let res = app
            .post(
                "/v1/api-keys",
                &json!({"name": "bad", "kind": "logistics", "scopes": ["tracking:write"],
                    "carriers": carriers}),
            )
            .await;
        problem(res, 400).await;
    }
    let res = app
        .post(
            "/v1/api-keys",
            &json!({"name": "SF Express", "kind": "logistics",
                "scopes": ["orders:read", "fulfillment:read", "fulfillment:write", "tracking:write"],
                "carriers": [" SF ", "sf"]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let key: Value = res.json().await.unwrap();
    assert_eq!(key["carriers"], json!(["sf"]));
    let secret = key["secret"].as_str().unwrap().to_owned();
    let as_key = |method: Method, path: &str| app.request_as(&secret, method, path);

    let o = approved(&app, &customer, 4, 0).await;
    let id = o["id"].as_str().unwrap();
    let path = format!("/v1/orders/{id}/shipments");
    // Its own carrier ships; another is refused.
    let res = as_key(Method::POST, &path)
        .json(&ship(&[(1, 1)], "SF-OWN"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let own: Value = res.json().await.unwrap();
    let mut ups = ship(&[(1, 1)], "UPS-1");
    ups["carrier"] = json!("ups");
    let res = as_key(Method::POST, &path).json(&ups).send().await.unwrap();
    assert_eq!(problem(res, 403).await["type"], "/problems/forbidden");
    let res = app.post(&path, &ups).await;
    assert_eq!(res.status(), 201);
    let other: Value = res.json().await.unwrap();
    let other_id = other["id"].as_str().unwrap();

    // It sees its own shipments only, and no dispatch notes.
    let res = as_key(Method::GET, &format!("/v1/shipments/{other_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = as_key(
        Method::GET,
        &format!("/v1/shipments/{}", own["id"].as_str().unwrap()),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let list: Value = as_key(Method::GET, &path)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "{list}");
    let notes: Value = as_key(Method::GET, "/v1/dispatch-notes")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(notes["data"], json!([]));
    // Nor through the order's timeline.
    let timeline: Value = as_key(Method::GET, &format!("/v1/orders/{id}/timeline"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text = timeline.to_string();
    assert!(
        text.contains("SF-OWN") && text.contains("shipment.created"),
        "{text}"
    );
    assert!(
        !text.contains("UPS-1") && !text.contains("dispatch_note"),
        "{text}"
    );

    // Tracking for another carrier's number is not found; its own applies.
    let mut body = tracking(
        "UPS-1",
        &[("picked_up", "2026-11-23T07:00:00Z", "X", "u1")],
        true,
    );
    body["events"][0]["carrier"] = json!("ups");
    let answer: Value = as_key(Method::POST, "/v1/tracking-events")
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["results"][0]["result"], "not_found", "{answer}");
    let answer: Value = as_key(Method::POST, "/v1/tracking-events")
        .json(&tracking(
            "SF-OWN",
            &[("picked_up", "2026-11-23T07:00:00Z", "X", "s1")],
            true,
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["results"][0]["result"], "applied", "{answer}");
    for (action, body) in [
        ("deliver", json!({"signed_by": "X"})),
        ("cancel", json!({})),
    ] {
        let res = as_key(Method::POST, &format!("/v1/shipments/{other_id}/{action}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{action}");
    }
    app.stop().await;
}

/// Two orders with two shipments each; batches that deliver them crosswise, and
/// sign-offs racing batches: on PostgreSQL the locks are taken in one order
/// (shipments by id, then orders by id), so nothing deadlocks into a 500; and of two
/// sign-offs at one version exactly one goes through.
async fn concurrent_deliveries_and_batches_neither_deadlock_nor_double_sign(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app).await;
    let res = app
        .post(
            "/v1/inventory/receipts",
            &json!({"sku": "TEA", "warehouse_code": "SH-01", "quantity": 100}),
        )
        .await;
    assert_eq!(res.status(), 201);
    for round in 0..4 {
        let mut numbers = Vec::new();
        for o in 0..2 {
            let order = approved(&app, &customer, 2, 0).await;
            let id = order["id"].as_str().unwrap();
            for s in 0..2 {
                let number = format!("R{round}-O{o}-S{s}");
                let res = app
                    .post(
                        &format!("/v1/orders/{id}/shipments"),
                        &ship(&[(1, 1)], &number),
                    )
                    .await;
                assert_eq!(res.status(), 201);
                let shipment: Value = res.json().await.unwrap();
                numbers.push((number, shipment["id"].as_str().unwrap().to_owned()));
            }
        }
        let at = "2026-11-23T07:00:00Z";
        let batch = |a: usize, b: usize| {
            let mut body = tracking(&numbers[a].0, &[("delivered", at, "Door", "d")], true);
            let other = tracking(&numbers[b].0, &[("delivered", at, "Door", "d")], true);
            body["events"]
                .as_array_mut()
                .unwrap()
                .push(other["events"][0].clone());
            body
        };
        // O0's first with O1's first, and O1's second with O0's second; and a
        // sign-off of one of them on its own.
        let sends = vec![
            app.request(Method::POST, "/v1/tracking-events")
                .json(&batch(0, 2)),
            app.request(Method::POST, "/v1/tracking-events")
                .json(&batch(3, 1)),
            app.request(
                Method::POST,
                &format!("/v1/shipments/{}/deliver", numbers[1].1),
            )
            .json(&json!({"signed_by": "Li Lei"})),
        ];
        let answers = join_all(sends.into_iter().map(|req| async move {
            ordercrm_tests::send_until_served(req)
                .await
                .status()
                .as_u16()
        }))
        .await;
        // The sign-off may find the carrier's delivery first: 409, never 500.
        assert!(answers[..2].iter().all(|s| *s == 200), "{answers:?}");
        assert!(matches!(answers[2], 200 | 409), "{answers:?}");
    }
    // Two sign-offs at the version both read: one is 200, the other 412 or 409.
    let order = approved(&app, &customer, 1, 0).await;
    let res = app
        .post(
            &format!("/v1/orders/{}/shipments", order["id"].as_str().unwrap()),
            &ship(&[(1, 1)], "RACE"),
        )
        .await;
    let shipment: Value = res.json().await.unwrap();
    let path = format!("/v1/shipments/{}/deliver", shipment["id"].as_str().unwrap());
    let sends = ["Alice", "Bob"].map(|who| {
        app.request(Method::POST, &path)
            .header("if-match", "\"1\"")
            .json(&json!({"signed_by": who}))
    });
    let answers = join_all(sends.into_iter().map(|req| async move {
        ordercrm_tests::send_until_served(req)
            .await
            .status()
            .as_u16()
    }))
    .await;
    let mut sorted = answers.to_vec();
    sorted.sort_unstable();
    assert!(sorted == [200, 409] || sorted == [200, 412], "{answers:?}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM tracking_events WHERE tracking_number = 'RACE'")
            .await,
        1
    );
    // A sign-off racing a return to the sender of the other parcel: whichever wins,
    // a completed order is delivered in full.
    for round in 0..4 {
        let res = app
            .post(
                "/v1/orders",
                &json!({"customer_id": customer, "currency": "CNY", "submit": true,
                    "lines": [{"sku": "TEA", "quantity": 2, "warehouse_code": "SH-01"}],
                    "payment": {"amount": {"amount": 2260, "currency": "CNY"}, "method": "online",
                        "provider": "alipay", "reference": format!("RACE-{round}"),
                        "paid_at": "2026-11-23T07:00:00Z"}}),
            )
            .await;
        let o: Value = res.json().await.unwrap();
        let id = o["id"].as_str().unwrap();
        let mut ids = Vec::new();
        for n in 0..2 {
            let res = app
                .post(
                    &format!("/v1/orders/{id}/shipments"),
                    &ship(&[(1, 1)], &format!("RR{round}-{n}")),
                )
                .await;
            let s: Value = res.json().await.unwrap();
            ids.push(s["id"].as_str().unwrap().to_owned());
        }
        let res = app
            .post(
                &format!("/v1/shipments/{}/deliver", ids[1]),
                &json!({"signed_by": "B"}),
            )
            .await;
        assert_eq!(res.status(), 200);
        let rts = tracking(
            &format!("RR{round}-1"),
            &[("returned_to_sender", "2026-11-23T08:00:00Z", "X", "r")],
            true,
        );
        let sends = vec![
            app.request(Method::POST, &format!("/v1/shipments/{}/deliver", ids[0]))
                .json(&json!({"signed_by": "A"})),
            app.request(Method::POST, "/v1/tracking-events").json(&rts),
        ];
        let answers = join_all(sends.into_iter().map(|req| async move {
            ordercrm_tests::send_until_served(req)
                .await
                .status()
                .as_u16()
        }))
        .await;
        assert_eq!(answers, [200, 200]);
        let now: Value = app
            .get(&format!("/v1/orders/{id}"))
            .await
            .json()
            .await
            .unwrap();
        if now["status"] == "completed" {
            assert_eq!(now["fulfillment_status"], "delivered", "{now}");
        } else {
            assert_eq!(now["fulfillment_status"], "partially_delivered", "{now}");
        }
    }
    app.verify_books().await;
    app.stop().await;
}

async fn what_the_audit_found_stays_fixed(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app).await;

    // A label reprinted after pickup does not make the shipment cancellable.
    let o = approved(&app, &customer, 2, 0).await;
    let id = o["id"].as_str().unwrap();
    let res = app
        .post(
            &format!("/v1/orders/{id}/shipments"),
            &ship(&[(1, 1)], "REPRINT"),
        )
        .await;
    let s: Value = res.json().await.unwrap();
    let reprint = tracking(
        "REPRINT",
        &[
            ("picked_up", "2026-11-23T05:00:00Z", "A", "1"),
            ("label_printed", "2026-11-23T06:00:00Z", "A", "2"),
        ],
        true,
    );
    let answer: Value = app
        .post("/v1/tracking-events", &reprint)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["results"][1]["shipment_status"], "label_printed");
    let res = app
        .post(
            &format!("/v1/shipments/{}/cancel", s["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(problem(res, 409).await["reported"], "picked_up");

    // Provider ids count per tracking number: two waybills' event "1" are two events.
    let res = app
        .post(
            &format!("/v1/orders/{id}/shipments"),
            &ship(&[(1, 1)], "WAYBILL-2"),
        )
        .await;
    assert_eq!(res.status(), 201);
    let answer: Value = app
        .post(
            "/v1/tracking-events",
            &tracking(
                "WAYBILL-2",
                &[("picked_up", "2026-11-23T05:30:00Z", "B", "1")],
                false,
            ),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["results"][0]["result"], "applied");
    let mut same_id = tracking(
        "WAYBILL-2",
        &[("in_transit", "2026-11-23T06:30:00Z", "B", "x")],
        false,
    );
    same_id["events"][0]["event_id"] = json!("REPRINT-1");
    let answer: Value = app
        .post("/v1/tracking-events", &same_id)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["results"][0]["result"], "applied", "{answer}");
    // Not from the year 1.
    let old = tracking(
        "WAYBILL-2",
        &[("delivered", "0001-01-01T00:00:00Z", "B", "old")],
        true,
    );
    let res = app.post("/v1/tracking-events", &old).await;
    assert_eq!(
        problem(res, 400).await["errors"][0]["field"],
        "events[0].occurred_at"
    );

    // A held, partly shipped order rejected on release keeps its reservation: the
    // rest is let go, its notes voided, and a shipment cancelled later comes back.
    let o = approved(&app, &customer, 3, 0).await;
    let id = o["id"].as_str().unwrap();
    let res = app
        .post(
            &format!("/v1/orders/{id}/shipments"),
            &ship(&[(1, 1)], "PART"),
        )
        .await;
    let part: Value = res.json().await.unwrap();
    let res = app
        .post(
            &format!("/v1/orders/{id}/hold"),
            &json!({"reason": "check"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .post(&format!("/v1/customers/{customer}/archive"), &json!({}))
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let released: Value = app
        .post(&format!("/v1/orders/{id}/release"), &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(released["status"], "rejected", "{released}");
    assert!(released["reservation_id"].is_string());
    assert_eq!(note_status(&notes(&app, id).await, "SH-01"), "voided");
    let before = level(&app, "TEA", "SH-01").await;
    let res = app
        .post(
            &format!("/v1/shipments/{}/cancel", part["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(level(&app, "TEA", "SH-01").await, (before.0 + 1, before.1));
    app.verify_books().await;
    app.stop().await;
}
