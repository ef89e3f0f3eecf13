//! Returns (RMA): never more than delivered (also under concurrent requests),
//! restocked units back on hand and scrapped ones not, refunds that add up to
//! exactly what was charged, who may do what, and the events.

use futures_util::future::join_all;
use ordercrm_tests::{Engine, TestApp, both_engines, problem};
use reqwest::Method;
use serde_json::{Value, json};

both_engines!(
    no_more_returned_than_delivered_also_under_concurrent_requests,
    restocked_units_go_back_on_hand_and_scrapped_ones_do_not,
    three_partial_returns_refund_exactly_what_was_charged,
    who_may_do_what_and_bad_input_changes_nothing,
    an_exchange_is_a_replacement_order_reviewed_like_any_other,
    a_repair_goes_back_as_a_shipment_of_the_order,
    receipts_and_requests_at_once_on_lines_in_either_order,
    a_parcel_back_with_the_sender_is_no_longer_the_customers_to_return,
    a_repair_parcel_has_its_number_to_itself,
);

/// SH-01 holding A, B and C (20 each) at 13 % tax; a customer.
async fn world(app: &TestApp) -> String {
    let res = app
        .post(
            "/v1/warehouses",
            &json!({"code": "SH-01", "name": "Shanghai", "priority": 100}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let res = app
        .post(
            "/v1/warehouses",
            &json!({"code": "BJ-01", "name": "Beijing", "priority": 50}),
        )
        .await;
    assert_eq!(res.status(), 201);
    for (sku, price) in [("A", 1000), ("B", 2500), ("C", 333)] {
        let res = app
            .post(
                "/v1/products",
                &json!({"sku": sku, "name": sku, "tax_rate_bps": 1300,
                    "list_price": {"amount": price, "currency": "CNY"},
                    "cost": {"amount": 100, "currency": "CNY"}}),
            )
            .await;
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
        let res = app
            .post(
                "/v1/inventory/receipts",
                &json!({"sku": sku, "warehouse_code": "SH-01", "quantity": 20}),
            )
            .await;
        assert_eq!(res.status(), 201);
    }
    app.customer("Tea House").await
}

/// Once the statistics consumer has counted the customer's order: it writes in the
/// background, so a test that checks a refusal changed nothing waits for it first.
async fn counted(app: &TestApp, customer: &str) {
    for _ in 0..100 {
        let c: Value = app
            .get(&format!("/v1/customers/{customer}"))
            .await
            .json()
            .await
            .unwrap();
        if !c["statistics"].is_null() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the customer's statistics never came");
}

/// An approved order of `lines` (sku, quantity, unit price, discount) from SH-01.
async fn approved(
    app: &TestApp,
    customer: &str,
    lines: &[(&str, i64, i64, i64)],
    extra: Value,
) -> Value {
    let lines: Vec<Value> = lines
        .iter()
        .map(|(sku, q, price, discount)| {
            json!({"sku": sku, "quantity": q, "warehouse_code": "SH-01",
                "unit_price": {"amount": price, "currency": "CNY"},
                "discount": {"amount": discount, "currency": "CNY"}})
        })
        .collect();
    let mut body = json!({"customer_id": customer, "currency": "CNY", "submit": true,
        "shipping_address": {"line1": "1 Road", "city": "Shanghai", "country": "CN"},
        "lines": lines});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let res = app.post("/v1/orders", &body).await;
    assert_eq!(res.status(), 201);
    let order: Value = res.json().await.unwrap();
    assert_eq!(order["status"], "approved", "{order}");
    order
}

/// Ship `lines` (line_no, quantity) of the order and, with `deliver`, sign for them.
async fn ship(app: &TestApp, order_id: &str, lines: &[(i64, i64)], tracking: &str, deliver: bool) {
    let lines: Vec<Value> = lines
        .iter()
        .map(|(line_no, quantity)| json!({"line_no": line_no, "quantity": quantity}))
        .collect();
    let res = app
        .post(
            &format!("/v1/orders/{order_id}/shipments"),
            &json!({"lines": lines, "carrier": "SF", "tracking_number": tracking}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let shipment: Value = res.json().await.unwrap();
    if deliver {
        let res = app
            .post(
                &format!("/v1/shipments/{}/deliver", shipment["id"].as_str().unwrap()),
                &json!({"signed_by": "Li Lei"}),
            )
            .await;
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    }
}

fn return_body(lines: &[(i64, i64)], resolution: &str) -> Value {
    let lines: Vec<Value> = lines
        .iter()
        .map(|(line_no, quantity)| json!({"line_no": line_no, "quantity": quantity}))
        .collect();
    json!({"lines": lines, "reason": "not as described", "resolution": resolution})
}

async fn request(app: &TestApp, order_id: &str, lines: &[(i64, i64)], resolution: &str) -> Value {
    let res = app
        .post(
            &format!("/v1/orders/{order_id}/returns"),
            &return_body(lines, resolution),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        location,
        format!("/v1/returns/{}", body["id"].as_str().unwrap())
    );
    body
}

async fn act(app: &TestApp, id: &str, action: &str, body: &Value) -> Value {
    let res = app.post(&format!("/v1/returns/{id}/{action}"), body).await;
    assert_eq!(res.status(), 200, "{action}: {}", res.text().await.unwrap());
    res.json().await.unwrap()
}

/// Receive (return line, quantity, disposition) at the order line's warehouse.
fn receipt(lines: &[(i64, i64, &str)]) -> Value {
    let lines: Vec<Value> = lines
        .iter()
        .map(|(line_no, quantity, d)| json!({"line_no": line_no, "quantity": quantity, "disposition": d}))
        .collect();
    json!({"lines": lines})
}

async fn on_hand(app: &TestApp, sku: &str, warehouse: &str) -> i64 {
    let res = app
        .get(&format!("/v1/inventory/levels/{sku}/{warehouse}"))
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    body["on_hand"].as_i64().unwrap()
}

async fn no_more_returned_than_delivered_also_under_concurrent_requests(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app).await;
    let o = approved(
        &app,
        &customer,
        &[("A", 8, 1000, 0), ("B", 2, 2500, 0)],
        json!({}),
    )
    .await;
    let id = o["id"].as_str().unwrap().to_owned();
    // Nothing delivered yet: nothing to return.
    let res = app
        .post(
            &format!("/v1/orders/{id}/returns"),
            &return_body(&[(1, 1)], "refund"),
        )
        .await;
    let p = problem(res, 409).await;
    assert_eq!(p["type"], "/problems/over-return");
    assert_eq!(
        p["lines"],
        json!([{"line_no": 1, "requested": 1, "available": 0}])
    );
    // 6 shipped, 5 of them delivered: 5 returnable.
    ship(&app, &id, &[(1, 5)], "SF1", true).await;
    ship(&app, &id, &[(1, 1)], "SF2", false).await;
    let res = app
        .post(
            &format!("/v1/orders/{id}/returns"),
            &return_body(&[(1, 6)], "refund"),
        )
        .await;
    assert_eq!(problem(res, 409).await["lines"][0]["available"], 5);
    // A line named twice adds up.
    let res = app
        .post(
            &format!("/v1/orders/{id}/returns"),
            &return_body(&[(1, 3), (1, 3)], "refund"),
        )
        .await;
    assert_eq!(problem(res, 409).await["lines"][0]["requested"], 6);
    // Ten at once, one unit each: exactly five accepted.
    let sends = (0..10).map(|_| {
        let req = app
            .request(Method::POST, &format!("/v1/orders/{id}/returns"))
            .json(&return_body(&[(1, 1)], "refund"));
        async move {
            let res = ordercrm_tests::send_until_served(req).await;
            let status = res.status().as_u16();
            let body: Value = res.json().await.unwrap();
            (status, body)
        }
    });
    let answers = join_all(sends).await;
    let created: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == 201)
        .map(|(_, b)| b)
        .collect();
    let refused: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == 409)
        .map(|(_, b)| b)
        .collect();
    assert_eq!((created.len(), refused.len()), (5, 5), "{answers:?}");
    assert!(
        refused.iter().all(|p| p["type"] == "/problems/over-return"),
        "{refused:?}"
    );
    let mut numbers: Vec<&str> = created
        .iter()
        .map(|r| r["number"].as_str().unwrap())
        .collect();
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(numbers.len(), 5);
    assert!(numbers.iter().all(|n| n.starts_with("RMA-")), "{numbers:?}");
    assert_eq!(app.events_of("return.requested").await, 5);
    let claimed = app
        .count("SELECT CAST(SUM(return_claimed_quantity) AS BIGINT) FROM order_lines")
        .await;
    assert_eq!(claimed, 5);
    // A rejected return gives its unit back; a closed one what never arrived.
    let first = created[0]["id"].as_str().unwrap();
    let rejected = act(
        &app,
        first,
        "reject",
        &json!({"note": "photos show no fault"}),
    )
    .await;
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["decision_note"], "photos show no fault");
    assert_eq!(rejected["allowed_actions"], json!([]));
    let again = request(&app, &id, &[(1, 1)], "refund").await;
    assert_eq!(again["status"], "requested");
    let res = app
        .post(
            &format!("/v1/orders/{id}/returns"),
            &return_body(&[(1, 1)], "refund"),
        )
        .await;
    assert_eq!(problem(res, 409).await["lines"][0]["available"], 0);
    // Nothing of this changed the order itself.
    assert_eq!(
        app.order(&id).await["fulfillment_status"],
        "partially_delivered"
    );
    app.verify_books().await;
    app.stop().await;
}

async fn restocked_units_go_back_on_hand_and_scrapped_ones_do_not(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app).await;
    let o = approved(&app, &customer, &[("A", 4, 1000, 0)], json!({})).await;
    let id = o["id"].as_str().unwrap().to_owned();
    ship(&app, &id, &[(1, 4)], "SF1", true).await;
    assert_eq!(on_hand(&app, "A", "SH-01").await, 16);
    let r = request(&app, &id, &[(1, 3)], "refund").await;
    let rid = r["id"].as_str().unwrap().to_owned();
    assert_eq!(r["allowed_actions"], json!(["approve", "reject"]));
    // Not before it is approved.
    let res = app
        .post(
            &format!("/v1/returns/{rid}/receive"),
            &receipt(&[(1, 1, "restock")]),
        )
        .await;
    let p = problem(res, 409).await;
    assert_eq!(
        (p["current_status"].clone(), p["allowed_from"].clone()),
        (json!("requested"), json!(["approved", "received"]))
    );
    let approved = act(&app, &rid, "approve", &json!({})).await;
    assert_eq!(approved["status"], "approved");
    assert_eq!(
        approved["decided_by"].as_str().map(|s| !s.is_empty()),
        Some(true)
    );
    // Two restocked at SH-01, then one scrapped there: in parts.
    let after = act(&app, &rid, "receive", &receipt(&[(1, 2, "restock")])).await;
    assert_eq!(after["status"], "received");
    assert_eq!(after["lines"][0]["received_quantity"], 2);
    assert_eq!(on_hand(&app, "A", "SH-01").await, 18);
    let now = app.order(&id).await;
    assert_eq!(now["fulfillment_status"], "partially_returned");
    assert_eq!(now["lines"][0]["returned_quantity"], 2);
    assert_eq!(app.events_of("order.updated").await, 1);
    // More than is expected is refused, and changes nothing.
    let res = app
        .post(
            &format!("/v1/returns/{rid}/receive"),
            &receipt(&[(1, 1, "scrap"), (1, 1, "restock")]),
        )
        .await;
    let p = problem(res, 409).await;
    assert_eq!(p["type"], "/problems/over-receipt");
    assert_eq!(
        p["lines"],
        json!([{"line_no": 1, "requested": 2, "available": 1}])
    );
    let after = act(&app, &rid, "receive", &receipt(&[(1, 1, "scrap")])).await;
    assert_eq!(
        (
            after["lines"][0]["restocked_quantity"].clone(),
            after["lines"][0]["scrapped_quantity"].clone()
        ),
        (json!(2), json!(1))
    );
    assert_eq!(
        on_hand(&app, "A", "SH-01").await,
        18,
        "a scrapped unit is not on hand"
    );
    let kinds = app
        .count("SELECT COUNT(*) FROM stock_movements WHERE kind = 'return_scrap' AND quantity = 0 AND units = 1")
        .await;
    assert_eq!(kinds, 1);
    let restocked = app
        .count("SELECT CAST(SUM(quantity) AS BIGINT) FROM stock_movements WHERE kind = 'return_restock'")
        .await;
    assert_eq!(restocked, 2);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM stock_movements WHERE reference = '{}'",
            r["number"].as_str().unwrap()
        ))
        .await,
        2
    );
    // 3 of 4 back: each unit refunded 1130 (10.00 + 13 %), the last unit still out.
    assert_eq!(
        after["refund_due"],
        json!({"amount": 3390, "currency": "CNY"})
    );
    let closed = act(&app, &rid, "close", &json!({})).await;
    assert_eq!(closed["status"], "closed");
    // The last unit comes back on a second return, restocked in Beijing.
    let r2 = request(&app, &id, &[(1, 1)], "refund").await;
    let r2id = r2["id"].as_str().unwrap();
    act(&app, r2id, "approve", &json!({})).await;
    let done = act(
        &app,
        r2id,
        "receive",
        &json!({"lines": [{"line_no": 1, "quantity": 1, "disposition": "restock", "warehouse_code": "bj-01"}]}),
    )
    .await;
    assert_eq!(done["refund_due"]["amount"], 1130);
    assert_eq!(on_hand(&app, "A", "BJ-01").await, 1);
    let now = app.order(&id).await;
    assert_eq!(now["fulfillment_status"], "returned");
    assert_eq!(now["lines"][0]["returned_quantity"], 4);
    assert_eq!(app.events_of("order.updated").await, 2);
    for (event, n) in [
        ("return.requested", 2),
        ("return.approved", 2),
        ("return.received", 3),
        ("return.closed", 1),
        ("return.rejected", 0),
    ] {
        assert_eq!(app.events_of(event).await, n, "{event}");
    }
    app.verify_books().await;
    app.stop().await;
}

async fn three_partial_returns_refund_exactly_what_was_charged(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app).await;
    let res = app
        .post(
            "/v1/settings",
            &json!({"key": "refund_shipping_on_full_return", "value": true}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let o = approved(
        &app,
        &customer,
        &[("A", 3, 1000, 150), ("B", 2, 2500, 99), ("C", 4, 333, 0)],
        json!({"order_discount": {"amount": 500, "currency": "CNY"},
            "shipping_fee": {"amount": 800, "currency": "CNY"}}),
    )
    .await;
    // By hand: nets 2850, 4901, 1332 (9083); the 5.00 order discount shared 157,
    // 270, 73 (156.9, 269.8, 73.3 rounded down, the two largest remainders a unit
    // more); taxable 2693, 4631, 1259; 13 % tax 350, 602, 164.
    let totals: Vec<i64> = o["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["total"]["amount"].as_i64().unwrap())
        .collect();
    assert_eq!(totals, vec![3043, 5233, 1423]);
    assert_eq!(o["grand_total"]["amount"], 10499);
    let id = o["id"].as_str().unwrap().to_owned();
    ship(&app, &id, &[(1, 3), (2, 2), (3, 4)], "SF1", true).await;
    let mut refunded = 0;
    // Each return: its lines, and what each is refunded by hand. A line's share
    // is its total × units ÷ quantity rounded down; its last units take the rest.
    type Return<'a> = (&'a [(i64, i64)], &'a [i64], i64);
    let returns: [Return; 3] = [
        // 3043/3 = 1014.3; 5233/2 = 2616.5; 1423/4 = 355.75.
        (&[(1, 1), (2, 1), (3, 1)], &[1014, 2616, 355], 0),
        // 3043/3 = 1014.3; 1423 × 2/4 = 711.5.
        (&[(1, 1), (3, 2)], &[1014, 711], 0),
        // The last of each line: 3043 − 2028, 5233 − 2616, 1423 − 1066; and the
        // shipping fee, with the order's last units.
        (&[(1, 1), (2, 1), (3, 1)], &[1015, 2617, 357], 800),
    ];
    for (lines, expected, shipping) in returns {
        let r = request(&app, &id, lines, "refund").await;
        let rid = r["id"].as_str().unwrap();
        act(&app, rid, "approve", &json!({})).await;
        let received: Vec<(i64, i64, &str)> = (1..)
            .zip(lines.iter())
            .map(|(n, (_, q))| (n, *q, "restock"))
            .collect();
        let r = act(&app, rid, "receive", &receipt(&received)).await;
        let got: Vec<i64> = r["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["refund"]["amount"].as_i64().unwrap())
            .collect();
        assert_eq!(got, expected, "{r}");
        assert_eq!(r["shipping_refund"]["amount"], shipping);
        let due = expected.iter().sum::<i64>() + shipping;
        assert_eq!(r["refund_due"]["amount"], due);
        let closed = act(&app, rid, "close", &json!({"note": "refund due"})).await;
        assert_eq!(closed["refund_due"]["amount"], due);
        refunded += due;
    }
    assert_eq!(refunded, 10499, "everything back refunds the grand total");
    let now = app.order(&id).await;
    assert_eq!(now["fulfillment_status"], "returned");
    let credited = app
        .count("SELECT CAST(SUM(credited_amount) AS BIGINT) FROM order_lines")
        .await;
    assert_eq!(credited, 9699);
    app.verify_books().await;
    // Erasing the customer takes why the goods came back and what people noted.
    let res = app
        .post(&format!("/v1/customers/{customer}/erase"), &json!({}))
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let stored = ordercrm_tests::everything_stored(&app).await;
    for personal in ["not as described", "refund due"] {
        assert!(!stored.contains(personal), "{personal} is still stored");
    }
    app.stop().await;
}

async fn who_may_do_what_and_bad_input_changes_nothing(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app).await;
    let (rep_id, rep) = app.user("rep@example.com", "sales", None).await;
    let (_, support) = app.user("support@example.com", "support", None).await;
    let (_, warehouse) = app.user("wh@example.com", "warehouse", None).await;
    let (_, finance) = app.user("fin@example.com", "finance", None).await;
    let o = approved(&app, &customer, &[("A", 4, 1000, 0)], json!({})).await;
    let id = o["id"].as_str().unwrap().to_owned();
    ship(&app, &id, &[(1, 4)], "SF1", true).await;
    let path = format!("/v1/orders/{id}/returns");
    counted(&app, &customer).await;
    let stored = ordercrm_tests::everything_stored(&app).await;
    // Bad bodies: 400 naming each field, nothing stored.
    for (body, field) in [
        (
            json!({"lines": [], "reason": "x", "resolution": "refund"}),
            "lines",
        ),
        (
            json!({"lines": [{"line_no": 1, "quantity": 0}], "reason": "x", "resolution": "refund"}),
            "lines[0].quantity",
        ),
        (
            json!({"lines": [{"line_no": 1, "quantity": 1}], "reason": " ", "resolution": "refund"}),
            "reason",
        ),
        (
            json!({"lines": [{"line_no": 1, "quantity": 1}], "reason": "x", "resolution": "swap"}),
            "resolution",
        ),
        (
            json!({"lines": [{"line_no": 0, "quantity": 1}], "reason": "x", "resolution": "refund"}),
            "lines[0].line_no",
        ),
    ] {
        let res = app.post(&path, &body).await;
        let p = problem(res, 400).await;
        assert!(
            p["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["field"] == field),
            "{field}: {p}"
        );
    }
    let res = app.post(&path, &return_body(&[(9, 1)], "refund")).await;
    assert_eq!(problem(res, 404).await["errors"][0]["code"], "unknown_line");
    assert_eq!(ordercrm_tests::everything_stored(&app).await, stored);
    // The rep's customer's order is the rep's; another customer's is not.
    let res = app
        .request_as(&rep, Method::POST, &path)
        .json(&return_body(&[(1, 1)], "refund"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404, "not the rep's customer");
    let res = app
        .patch(
            &format!("/v1/customers/{customer}"),
            &json!({"owner_id": rep_id}),
        )
        .await;
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    let by_rep: Value = app
        .request_as(&rep, Method::POST, &path)
        .json(&return_body(&[(1, 1)], "exchange"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(by_rep["status"], "requested", "{by_rep}");
    assert_eq!(by_rep["allowed_actions"], json!([]), "a rep only asks");
    let rid = by_rep["id"].as_str().unwrap().to_owned();
    let res = app
        .request_as(&support, Method::POST, &path)
        .json(&return_body(&[(1, 1)], "refund"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    // Neither the warehouse nor finance requests; neither the rep nor the
    // warehouse approves; finance reads.
    for token in [&warehouse, &finance] {
        let res = app
            .request_as(token, Method::POST, &path)
            .json(&return_body(&[(1, 1)], "refund"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403);
    }
    for token in [&rep, &warehouse] {
        let res = app
            .request_as(token, Method::POST, &format!("/v1/returns/{rid}/approve"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403);
    }
    let res = app
        .request_as(&finance, Method::GET, &format!("/v1/returns/{rid}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // A stale If-Match is 412; the current one passes.
    let res = app
        .request(Method::POST, &format!("/v1/returns/{rid}/approve"))
        .header("If-Match", "\"7\"")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 412);
    let res = app
        .request(Method::POST, &format!("/v1/returns/{rid}/approve"))
        .header("If-Match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = app
        .post(&format!("/v1/returns/{rid}/approve"), &json!({}))
        .await;
    assert_eq!(problem(res, 409).await["current_status"], "approved");
    // The rep may not receive; the warehouse does, where it names.
    let res = app
        .request_as(&rep, Method::POST, &format!("/v1/returns/{rid}/receive"))
        .json(&receipt(&[(1, 1, "restock")]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let stored = ordercrm_tests::everything_stored(&app).await;
    for (body, status, code) in [
        (
            json!({"lines": [{"line_no": 2, "quantity": 1, "disposition": "restock"}]}),
            404,
            "unknown_line",
        ),
        (
            json!({"lines": [{"line_no": 1, "quantity": 1, "disposition": "restock", "warehouse_code": "XX-9"}]}),
            404,
            "unknown_warehouse",
        ),
        (
            json!({"lines": [{"line_no": 1, "quantity": 1, "disposition": "burn"}]}),
            400,
            "invalid_value",
        ),
    ] {
        let res = app
            .request_as(
                &warehouse,
                Method::POST,
                &format!("/v1/returns/{rid}/receive"),
            )
            .json(&body)
            .send()
            .await
            .unwrap();
        let p = problem(res, status).await;
        assert!(
            p["errors"]
                .as_array()
                .is_some_and(|e| e.iter().any(|e| e["code"] == code)),
            "{code}: {p}"
        );
    }
    assert_eq!(ordercrm_tests::everything_stored(&app).await, stored);
    let res = app
        .request_as(
            &warehouse,
            Method::POST,
            &format!("/v1/returns/{rid}/receive"),
        )
        .json(&receipt(&[(1, 1, "restock")]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let received: Value = res.json().await.unwrap();
    assert_eq!(
        received["refund_due"]["amount"], 0,
        "an exchange refunds nothing"
    );
    // A logistics key bound to carriers carries parcels: returns are not its own.
    let res = app
        .post(
            "/v1/api-keys",
            &json!({"name": "EMS", "kind": "logistics",
                "scopes": ["fulfillment:write", "returns:read", "events:read", "orders:read"],
                "carriers": ["ems"]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let ems: Value = res.json().await.unwrap();
    let res = app
        .request_as(
            ems["secret"].as_str().unwrap(),
            Method::POST,
            &format!("/v1/returns/{rid}/receive"),
        )
        .json(&receipt(&[(1, 1, "restock")]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    // Nor their events: not in the feed, not on the order's timeline.
    let ems_secret = ems["secret"].as_str().unwrap();
    let feed: Value = app
        .request_as(ems_secret, Method::GET, "/v1/events?limit=500")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        feed["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| !e["type"].as_str().unwrap().starts_with("return.")),
        "{feed}"
    );
    let timeline = app
        .request_as(
            ems_secret,
            Method::GET,
            &format!("/v1/orders/{id}/timeline"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(timeline.status(), 200);
    let timeline = timeline.text().await.unwrap();
    assert!(
        timeline.contains("order.approved") && !timeline.contains("return."),
        "{timeline}"
    );
    let res = app
        .request_as(ems_secret, Method::GET, "/v1/events?type=return.*")
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(res, 400).await["errors"][0]["code"],
        "event_type_not_permitted"
    );
    // Rejecting after goods arrived is refused.
    let res = app
        .post(&format!("/v1/returns/{rid}/reject"), &json!({}))
        .await;
    assert_eq!(
        problem(res, 409).await["allowed_from"],
        json!(["requested", "approved"])
    );
    // Lists: by status, by order; the warehouse's queue.
    let list: Value = app
        .get("/v1/returns?status=requested")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let list: Value = app
        .get(&format!("/v1/orders/{id}/returns"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 2);
    let res = app.get("/v1/returns?status=lost").await;
    assert_eq!(problem(res, 400).await["errors"][0]["field"], "status");
    // A channel key: its own channel's orders only.
    let res = app
        .post(
            "/v1/api-keys",
            &json!({"name": "Shop", "kind": "ecommerce", "scopes": ["returns:read", "returns:write"],
                "channel": "web", "channel_name": "shop"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let key: Value = res.json().await.unwrap();
    let secret = key["secret"].as_str().unwrap();
    let res = app
        .request_as(secret, Method::POST, &path)
        .json(&return_body(&[(1, 1)], "refund"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404, "a manual order is not the shop's");
    let res = app
        .request_as(secret, Method::GET, &format!("/v1/returns/{rid}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let list: Value = app
        .request_as(secret, Method::GET, "/v1/returns")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"], json!([]));
    app.stop().await;
}

async fn exchange(app: &TestApp, order_id: &str, body: Value) -> (Value, Value) {
    let res = app
        .post(&format!("/v1/orders/{order_id}/returns"), &body)
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let r: Value = res.json().await.unwrap();
    let rid = r["id"].as_str().unwrap().to_owned();
    act(app, &rid, "approve", &json!({})).await;
    act(app, &rid, "receive", &receipt(&[(1, 1, "restock")])).await;
    let closed = act(app, &rid, "close", &json!({})).await;
    let replacement = closed["replacement_order_id"].as_str().unwrap().to_owned();
    (r, app.order(&replacement).await)
}

async fn reserved(app: &TestApp, sku: &str) -> i64 {
    let body: Value = app
        .get(&format!("/v1/inventory/levels/{sku}/SH-01"))
        .await
        .json()
        .await
        .unwrap();
    body["reserved"].as_i64().unwrap()
}

async fn an_exchange_is_a_replacement_order_reviewed_like_any_other(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app).await;
    // D is listed but was never stocked.
    let res = app
        .post(
            "/v1/products",
            &json!({"sku": "D", "name": "D", "tax_rate_bps": 1300,
                "list_price": {"amount": 1200, "currency": "CNY"},
                "cost": {"amount": 100, "currency": "CNY"}}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let o = approved(&app, &customer, &[("A", 3, 1000, 0)], json!({})).await;
    let id = o["id"].as_str().unwrap().to_owned();
    ship(&app, &id, &[(1, 3)], "SF1", true).await;
    let before = reserved(&app, "A").await;
    // Like for like: nothing to pay, below cost, yet not held for price.
    let (r, rep) = exchange(&app, &id, return_body(&[(1, 1)], "exchange")).await;
    assert_eq!(r["lines"][0]["replacement_unit_price"]["amount"], 0);
    assert_eq!(rep["status"], "approved", "{rep}");
    assert_eq!(rep["replaces_return_id"], r["id"]);
    assert_eq!(rep["grand_total"]["amount"], 0);
    assert_eq!(rep["payment_status"], "paid");
    assert_eq!(rep["tags"], json!(["exchange"]));
    assert_eq!(rep["customer"]["id"], customer.as_str());
    assert_eq!(
        (
            rep["lines"][0]["sku"].clone(),
            rep["lines"][0]["unit_price"]["amount"].clone()
        ),
        (json!("A"), json!(0))
    );
    let price = rep["review"]["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["rule"] == "price")
        .unwrap()
        .clone();
    assert_eq!(price["code"], "exchange");
    assert_eq!(
        reserved(&app, "A").await,
        before + 1,
        "it holds its stock like any order"
    );
    // Its goods and prices are what the exchange settled: no edit changes them.
    let rep_id = rep["id"].as_str().unwrap();
    let res = app
        .request(Method::POST, &format!("/v1/orders/{rep_id}/edits"))
        .header("if-match", format!("\"{}\"", rep["version"]))
        .json(&json!({"change_lines": [{"line_no": 1, "quantity": 50}]}))
        .send()
        .await
        .unwrap();
    let p = problem(res, 409).await;
    assert_eq!(p["errors"][0]["code"], "replacement", "{p}");
    let res = app
        .request(Method::POST, &format!("/v1/orders/{rep_id}/edits"))
        .header("if-match", format!("\"{}\"", rep["version"]))
        .json(&json!({"requested_delivery_on": "2026-12-24"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    // For a dearer product: its list price less what the returned unit was paid
    // before tax (10.00): 25.00 − 10.00 = 15.00, plus 13 %.
    let mut body = return_body(&[(1, 1)], "exchange");
    body["exchange"] = json!([{"line_no": 1, "sku": "b"}]);
    let (r, rep) = exchange(&app, &id, body).await;
    assert_eq!(r["lines"][0]["replacement_unit_price"]["amount"], 2500);
    assert_eq!(rep["status"], "approved", "{rep}");
    let line = &rep["lines"][0];
    assert_eq!(
        (
            line["sku"].clone(),
            line["unit_price"]["amount"].clone(),
            line["discount"]["amount"].clone()
        ),
        (json!("B"), json!(2500), json!(1000))
    );
    assert_eq!(rep["grand_total"]["amount"], 1695);
    // Short of stock: held, like any order.
    let mut body = return_body(&[(1, 1)], "exchange");
    body["exchange"] = json!([{"line_no": 1, "sku": "D"}]);
    let (_, rep) = exchange(&app, &id, body).await;
    assert_eq!(rep["status"], "on_hold", "{rep}");
    let codes: Vec<&str> = rep["review"]["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["code"].as_str().unwrap())
        .collect();
    assert!(
        codes.contains(&"insufficient_stock") && codes.contains(&"exchange"),
        "{codes:?}"
    );
    // A replacement that cannot be made (its product withdrawn since) leaves the
    // return received, saying why; closed without one, it settles otherwise.
    let o3 = approved(&app, &customer, &[("C", 1, 333, 0)], json!({})).await;
    let id3 = o3["id"].as_str().unwrap().to_owned();
    ship(&app, &id3, &[(1, 1)], "SF3", true).await;
    let r = request(&app, &id3, &[(1, 1)], "exchange").await;
    let rid = r["id"].as_str().unwrap();
    act(&app, rid, "approve", &json!({})).await;
    act(&app, rid, "receive", &receipt(&[(1, 1, "restock")])).await;
    let c_id = r["lines"][0]["product_id"].as_str().unwrap();
    let res = app
        .patch(&format!("/v1/products/{c_id}"), &json!({"active": false}))
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let res = app
        .post(&format!("/v1/returns/{rid}/close"), &json!({}))
        .await;
    let p = problem(res, 409).await;
    assert_eq!(p["replacement_errors"][0]["code"], "inactive", "{p}");
    let res = app
        .post(
            &format!("/v1/returns/{rid}/approve"),
            &json!({"replace": false}),
        )
        .await;
    assert_eq!(problem(res, 400).await["errors"][0]["field"], "replace");
    let closed = act(&app, rid, "close", &json!({"replace": false})).await;
    assert_eq!(closed["status"], "closed");
    assert_eq!(closed["replacement_order_id"], Value::Null);
    assert_eq!(app.order(&id).await["fulfillment_status"], "returned");
    // An exchange's words are checked: not with a refund, only lines returned,
    // products that exist.
    let o2 = approved(&app, &customer, &[("A", 1, 1000, 0)], json!({})).await;
    let id2 = o2["id"].as_str().unwrap().to_owned();
    ship(&app, &id2, &[(1, 1)], "SF2", true).await;
    let path2 = format!("/v1/orders/{id2}/returns");
    let mut body = return_body(&[(1, 1)], "refund");
    body["exchange"] = json!([{"line_no": 1, "sku": "B"}]);
    assert_eq!(
        problem(app.post(&path2, &body).await, 400).await["errors"][0]["code"],
        "unexpected"
    );
    let mut body = return_body(&[(1, 1)], "exchange");
    body["exchange"] = json!([{"line_no": 2, "sku": "B"}]);
    assert_eq!(
        problem(app.post(&path2, &body).await, 400).await["errors"][0]["code"],
        "not_returned"
    );
    body["exchange"] = json!([{"line_no": 1, "sku": "NOPE"}]);
    assert_eq!(
        problem(app.post(&path2, &body).await, 404).await["errors"][0]["code"],
        "unknown_product"
    );
    assert_eq!(app.events_of("return.closed").await, 4);
    app.verify_books().await;
    app.stop().await;
}

async fn a_repair_goes_back_as_a_shipment_of_the_order(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app).await;
    let o = approved(&app, &customer, &[("A", 2, 1000, 0)], json!({})).await;
    let id = o["id"].as_str().unwrap().to_owned();
    ship(&app, &id, &[(1, 2)], "SF1", true).await;
    assert_eq!(on_hand(&app, "A", "SH-01").await, 18);
    let r = request(&app, &id, &[(1, 1)], "repair").await;
    let rid = r["id"].as_str().unwrap().to_owned();
    act(&app, &rid, "approve", &json!({})).await;
    // A repair's goods are received for repair, nothing else; a refund's never so.
    let res = app
        .post(
            &format!("/v1/returns/{rid}/receive"),
            &receipt(&[(1, 1, "restock")]),
        )
        .await;
    assert_eq!(problem(res, 400).await["errors"][0]["code"], "repair_only");
    let got = act(&app, &rid, "receive", &receipt(&[(1, 1, "repair")])).await;
    assert_eq!(got["lines"][0]["received_quantity"], 1);
    assert_eq!(got["refund_due"]["amount"], 0);
    assert_eq!(
        got["allowed_actions"],
        json!(["receive", "ship_back", "close"])
    );
    assert_eq!(
        on_hand(&app, "A", "SH-01").await,
        18,
        "no stock moves for a repair"
    );
    let now = app.order(&id).await;
    assert_eq!(
        (
            now["fulfillment_status"].clone(),
            now["lines"][0]["returned_quantity"].clone()
        ),
        (json!("delivered"), json!(0))
    );
    // Not closed while the goods are with us.
    let res = app
        .post(&format!("/v1/returns/{rid}/close"), &json!({}))
        .await;
    problem(res, 409).await;
    // Back to the customer: a shipment of the order, for what was received.
    let back = |n: i64, tracking: &str| json!({"lines": [{"line_no": 1, "quantity": n}], "carrier": "sf", "tracking_number": tracking});
    let path = format!("/v1/returns/{rid}/shipments");
    let res = app.post(&path, &back(2, "RP0")).await;
    let p = problem(res, 409).await;
    assert_eq!(p["type"], "/problems/over-shipment");
    let res = app.post(&path, &back(1, "RP1")).await;
    assert_eq!(res.status(), 201);
    let first: Value = res.json().await.unwrap();
    assert_eq!(first["return_id"], rid.as_str());
    assert_eq!(first["order_id"], id.as_str());
    let res = app.post(&path, &back(1, "RP1b")).await;
    assert_eq!(problem(res, 409).await["type"], "/problems/over-shipment");
    // Cancelled before pickup, its unit may go again.
    let res = app
        .post(
            &format!("/v1/shipments/{}/cancel", first["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    // The original parcel's number is not the repair's.
    let res = app.post(&path, &back(1, "SF1")).await;
    assert_eq!(problem(res, 409).await["errors"][0]["code"], "in_use");
    let res = app.post(&path, &back(1, "RP2")).await;
    assert_eq!(res.status(), 201);
    let second: Value = res.json().await.unwrap();
    let res = app
        .post(
            &format!("/v1/shipments/{}/deliver", second["id"].as_str().unwrap()),
            &json!({"signed_by": "Li Lei"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let now = app.order(&id).await;
    assert_eq!(
        (
            now["lines"][0]["shipped_quantity"].clone(),
            now["lines"][0]["delivered_quantity"].clone(),
            now["fulfillment_status"].clone()
        ),
        (json!(2), json!(2), json!("delivered")),
        "the way back counts towards none of the order's quantities"
    );
    assert_eq!(on_hand(&app, "A", "SH-01").await, 18);
    let closed = act(&app, &rid, "close", &json!({})).await;
    assert_eq!(closed["status"], "closed");
    // A closed repair's parcel is on its way: not cancelled.
    let r2 = request(&app, &id, &[(1, 1)], "repair").await;
    let r2id = r2["id"].as_str().unwrap();
    act(&app, r2id, "approve", &json!({})).await;
    act(&app, r2id, "receive", &receipt(&[(1, 1, "repair")])).await;
    let res = app
        .post(&format!("/v1/returns/{r2id}/shipments"), &back(1, "RP4"))
        .await;
    assert_eq!(res.status(), 201);
    let third: Value = res.json().await.unwrap();
    act(&app, r2id, "close", &json!({})).await;
    let res = app
        .post(
            &format!("/v1/shipments/{}/cancel", third["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    problem(res, 409).await;
    // The goods are the customer's again: both units may come back.
    let again = request(&app, &id, &[(1, 2)], "refund").await;
    assert_eq!(again["lines"][0]["quantity"], 2);
    // Only a received repair ships back.
    let res = app
        .post(
            &format!("/v1/returns/{}/shipments", again["id"].as_str().unwrap()),
            &back(1, "RP3"),
        )
        .await;
    problem(res, 409).await;
    assert_eq!(app.events_of("shipment.created").await, 4);
    assert_eq!(app.events_of("shipment.cancelled").await, 1);
    app.verify_books().await;
    app.stop().await;
}

/// Requests claim lines in line order; receipts must count them in the same order,
/// or the two wait on each other (PostgreSQL found that, as a deadlock). Line 1 is
/// B and line 2 is A, the opposite of their products' order.
async fn receipts_and_requests_at_once_on_lines_in_either_order(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app).await;
    for sku in ["A", "B"] {
        let res = app
            .post(
                "/v1/inventory/receipts",
                &json!({"sku": sku, "warehouse_code": "SH-01", "quantity": 20}),
            )
            .await;
        assert_eq!(res.status(), 201);
    }
    let o = approved(
        &app,
        &customer,
        &[("B", 30, 2500, 0), ("A", 30, 1000, 0)],
        json!({}),
    )
    .await;
    let id = o["id"].as_str().unwrap().to_owned();
    ship(&app, &id, &[(1, 30), (2, 30)], "SF1", true).await;
    let mut waiting = Vec::new();
    for _ in 0..12 {
        let r = request(&app, &id, &[(1, 1), (2, 1)], "refund").await;
        let rid = r["id"].as_str().unwrap().to_owned();
        act(&app, &rid, "approve", &json!({})).await;
        waiting.push(rid);
    }
    let mut sends = Vec::new();
    for rid in &waiting {
        sends.push(
            app.request(Method::POST, &format!("/v1/returns/{rid}/receive"))
                .json(&receipt(&[(1, 1, "restock"), (2, 1, "restock")])),
        );
        sends.push(
            app.request(Method::POST, &format!("/v1/orders/{id}/returns"))
                .json(&return_body(&[(2, 1), (1, 1)], "refund")),
        );
    }
    let answers = join_all(sends.into_iter().map(|req| async move {
        ordercrm_tests::send_until_served(req)
            .await
            .status()
            .as_u16()
    }))
    .await;
    assert!(
        answers.iter().all(|s| *s == 200 || *s == 201),
        "{answers:?}"
    );
    let claimed = app
        .count("SELECT CAST(SUM(return_claimed_quantity) AS BIGINT) FROM order_lines")
        .await;
    let returned = app
        .count("SELECT CAST(SUM(returned_quantity) AS BIGINT) FROM order_lines")
        .await;
    assert_eq!((claimed, returned), (48, 24));
    assert_eq!(on_hand(&app, "A", "SH-01").await, 40 - 30 + 12);
    app.verify_books().await;
    app.stop().await;
}

async fn a_parcel_back_with_the_sender_is_no_longer_the_customers_to_return(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app).await;
    let o = approved(&app, &customer, &[("A", 2, 1000, 0)], json!({})).await;
    let id = o["id"].as_str().unwrap().to_owned();
    ship(&app, &id, &[(1, 2)], "SF-RTS", true).await;
    let r = request(&app, &id, &[(1, 1)], "refund").await;
    let rid = r["id"].as_str().unwrap();
    act(&app, rid, "approve", &json!({})).await;
    let repair = request(&app, &id, &[(1, 1)], "repair").await;
    let repair_id = repair["id"].as_str().unwrap();
    act(&app, repair_id, "approve", &json!({})).await;
    // The carrier brings the parcel back to us instead.
    let later = (app.clock_now() + chrono::Duration::hours(1)).to_rfc3339();
    let res = app
        .post(
            "/v1/tracking-events",
            &json!({"events": [{"carrier": "sf", "tracking_number": "SF-RTS",
                "status": "returned_to_sender", "occurred_at": later}]}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    assert_eq!(app.order(&id).await["lines"][0]["delivered_quantity"], 0);
    counted(&app, &customer).await;
    let stored = ordercrm_tests::everything_stored(&app).await;
    let res = app
        .post(
            &format!("/v1/returns/{rid}/receive"),
            &receipt(&[(1, 1, "restock")]),
        )
        .await;
    let p = problem(res, 409).await;
    assert_eq!(p["lines"], json!([{"line_no": 1, "available": 0}]), "{p}");
    let res = app
        .post(
            &format!("/v1/returns/{repair_id}/receive"),
            &receipt(&[(1, 1, "repair")]),
        )
        .await;
    problem(res, 409).await;
    assert_eq!(ordercrm_tests::everything_stored(&app).await, stored);
    // What never reached the customer is not theirs to return: rejected, it is
    // not asked for again.
    act(
        &app,
        rid,
        "reject",
        &json!({"note": "the parcel came back to us"}),
    )
    .await;
    let res = app
        .post(
            &format!("/v1/orders/{id}/returns"),
            &return_body(&[(1, 1)], "refund"),
        )
        .await;
    assert_eq!(problem(res, 409).await["lines"][0]["available"], 0);
    app.stop().await;
}

async fn a_repair_parcel_has_its_number_to_itself(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app).await;
    let o = approved(&app, &customer, &[("A", 4, 1000, 0)], json!({})).await;
    let id = o["id"].as_str().unwrap().to_owned();
    ship(&app, &id, &[(1, 3)], "SF1", true).await;
    let mut repairs = Vec::new();
    for _ in 0..2 {
        let r = request(&app, &id, &[(1, 1)], "repair").await;
        let rid = r["id"].as_str().unwrap().to_owned();
        act(&app, &rid, "approve", &json!({})).await;
        act(&app, &rid, "receive", &receipt(&[(1, 1, "repair")])).await;
        repairs.push(rid);
    }
    let back = json!({"lines": [{"line_no": 1, "quantity": 1}], "carrier": "sf",
        "tracking_number": "RP-SAME"});
    // Two at once with one number: one parcel gets it.
    let sends = repairs.iter().map(|rid| {
        let req = app
            .request(Method::POST, &format!("/v1/returns/{rid}/shipments"))
            .json(&back);
        async move {
            ordercrm_tests::send_until_served(req)
                .await
                .status()
                .as_u16()
        }
    });
    let mut answers = join_all(sends).await;
    answers.sort_unstable();
    assert_eq!(answers, vec![201, 409]);
    // Nor does a shipment of goods take a repair parcel's number.
    let res = app
        .post(
            &format!("/v1/orders/{id}/shipments"),
            &json!({"lines": [{"line_no": 1, "quantity": 1}], "carrier": "SF",
                "tracking_number": "RP-SAME"}),
        )
        .await;
    assert_eq!(problem(res, 409).await["errors"][0]["code"], "in_use");
    ship(&app, &id, &[(1, 1)], "SF2", false).await;
    app.stop().await;
}
