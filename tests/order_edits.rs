//! Edits of what has not shipped: a preview that changes nothing, an apply at the
//! version read that adjusts the reservation by the difference only, goes on hold
//! when the review fails, moves the dispatch notes, and keeps the edit; refused
//! whole when stock is short; a stale or missing `If-Match` changes nothing.

use reqwest::Method;
use serde_json::{Value, json};

use ordercrm_tests::{Engine, TestApp, both_engines, problem};

use crate::fulfillment::{approved, ship, world};

both_engines!(
    a_preview_changes_nothing_and_says_what_an_edit_would_do,
    an_edit_applies_at_the_version_read_and_moves_stock_and_notes,
    random_edits_keep_reserved_stock_equal_to_what_orders_hold,
    two_edits_with_one_etag_apply_once,
    an_edit_that_fails_the_review_puts_the_order_on_hold,
    a_channel_key_edits_its_channels_orders_only,
    edits_keep_to_credit_the_editors_cap_and_what_shipped
);

/// A deterministic generator: random but reproducible by seed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

async fn receive(app: &TestApp, sku: &str, warehouse: &str, quantity: i64) {
    let res = app
        .post(
            "/v1/inventory/receipts",
            &json!({"sku": sku, "warehouse_code": warehouse, "quantity": quantity}),
        )
        .await;
    assert_eq!(res.status(), 201);
}

fn etag(o: &Value) -> String {
    format!("\"{}\"", o["version"])
}

async fn edit(app: &TestApp, id: &str, if_match: &str, body: &Value) -> reqwest::Response {
    app.request(Method::POST, &format!("/v1/orders/{id}/edits"))
        .header("if-match", if_match)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// `reserved` of every level, in key order.
async fn reserved(app: &TestApp) -> Vec<(String, i64, i64)> {
    let db = app.raw_db().await;
    use sea_orm::{ConnectionTrait, Statement};
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT p.sku, l.on_hand, l.reserved FROM stock_levels l \
             JOIN products p ON p.id = l.product_id ORDER BY p.sku, l.warehouse_id",
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| {
            (
                r.try_get_by_index::<String>(0).unwrap(),
                r.try_get_by_index::<i64>(1).unwrap(),
                r.try_get_by_index::<i64>(2).unwrap(),
            )
        })
        .collect()
}

/// What an edit may touch, numbers included: orders and their lines, edits and
/// dispatch notes, stock levels, reservations, the ledger, the outbox and the
/// audit log (not what background workers keep, such as customer statistics).
async fn state(app: &TestApp) -> Vec<String> {
    // Not the issuer's work on invoices an edit asked for, done after it.
    app.invoices_issued().await;
    let db = app.raw_db().await;
    use sea_orm::{ConnectionTrait, Statement};
    let mut out = Vec::new();
    for sql in [
        "SELECT CAST(version AS TEXT) || '/' || status || '/' || fulfillment_status || '/' || \
         CAST(grand_total_amount AS TEXT) || '/' || COALESCE(CAST(requested_delivery_on AS TEXT), '-') \
         FROM orders ORDER BY id",
        "SELECT CAST(line_no AS TEXT) || '/' || CAST(quantity AS TEXT) || '/' || \
         CAST(unit_price_amount AS TEXT) || '/' || CAST(total_amount AS TEXT) FROM order_lines ORDER BY id",
        "SELECT CAST(on_hand AS TEXT) || '/' || CAST(reserved AS TEXT) || '/' || CAST(version AS TEXT) \
         FROM stock_levels ORDER BY product_id, warehouse_id",
        "SELECT CAST(quantity AS TEXT) || '/' || CAST(consumed AS TEXT) || '/' || CAST(released AS TEXT) \
         FROM reservation_lines ORDER BY id",
        "SELECT CAST(version AS TEXT) || '/' || status FROM reservations ORDER BY id",
        "SELECT CAST(version AS TEXT) || '/' || status FROM dispatch_notes ORDER BY id",
        "SELECT 'edits ' || CAST(COUNT(*) AS TEXT) FROM order_edits",
        "SELECT 'movements ' || CAST(COUNT(*) AS TEXT) FROM stock_movements",
        "SELECT 'events ' || CAST(COUNT(*) AS TEXT) FROM events",
        "SELECT 'audit ' || CAST(COUNT(*) AS TEXT) FROM audit_events WHERE outcome = 'success'",
    ] {
        let rows = db
            .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
            .await
            .unwrap();
        for r in rows {
            out.push(r.try_get_by_index::<String>(0).unwrap());
        }
    }
    out
}

/// `before` and `after` are the same, or the lines that differ.
fn same(before: &[String], after: &[String], context: &str) {
    let differ: Vec<(Option<&String>, Option<&String>)> = (0..before.len().max(after.len()))
        .map(|i| (before.get(i), after.get(i)))
        .filter(|(a, b)| a != b)
        .collect();
    assert!(differ.is_empty(), "{context}: {differ:?}");
}

/// Reserved stock equals, level by level, what the orders that hold stock still
/// need (ordered less shipped), and what their reservations hold open.
async fn check_reserved_matches_orders(app: &TestApp, context: &str) {
    let levels = app
        .count("SELECT CAST(COALESCE(SUM(reserved), 0) AS BIGINT) FROM stock_levels")
        .await;
    let needed = app
        .count(
            "SELECT CAST(COALESCE(SUM(l.quantity - l.shipped_quantity), 0) AS BIGINT) FROM order_lines l \
             JOIN orders o ON o.id = l.order_id JOIN reservations r ON r.id = o.reservation_id \
             WHERE l.warehouse_id IS NOT NULL AND l.tracks_inventory \
             AND r.status IN ('active', 'partially_consumed')",
        )
        .await;
    let open = app
        .count(
            "SELECT CAST(COALESCE(SUM(quantity - consumed - released), 0) AS BIGINT) FROM reservation_lines",
        )
        .await;
    assert_eq!(levels, needed, "{context}: reserved vs what orders need");
    assert_eq!(levels, open, "{context}: reserved vs reservation lines");
    // Level by level too.
    let mismatched = app
        .count(
            "SELECT COUNT(*) FROM stock_levels s WHERE s.reserved <> COALESCE((\
             SELECT SUM(l.quantity - l.shipped_quantity) FROM order_lines l \
             JOIN orders o ON o.id = l.order_id JOIN reservations r ON r.id = o.reservation_id \
             WHERE l.product_id = s.product_id AND l.warehouse_id = s.warehouse_id \
             AND l.tracks_inventory AND r.status IN ('active', 'partially_consumed')), 0)",
        )
        .await;
    assert_eq!(mismatched, 0, "{context}: a level out of step");
}

async fn a_preview_changes_nothing_and_says_what_an_edit_would_do(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app).await;
    let o = approved(&app, &customer, 2, 1).await;
    let id = o["id"].as_str().unwrap();
    let before = state(&app).await;

    let res = app
        .post(
            &format!("/v1/orders/{id}/edits/preview"),
            &json!({"change_lines": [{"line_no": 1, "quantity": 5}],
                "add_lines": [{"sku": "MUG", "quantity": 2, "warehouse_code": "BJ-01"}],
                "remove_lines": [2],
                "shipping_address": {"line1": "9 New Road", "city": "Hangzhou", "country": "CN"},
                "requested_delivery_on": "2026-12-20"}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let p: Value = res.json().await.unwrap();
    // TEA 10.00 and MUG 10.00, 13 % tax: 5 TEA + 2 MUG = 79.10, was 2 TEA + 1 MUG 33.90.
    assert_eq!(p["grand_total_before"]["amount"], 3390, "{p}");
    assert_eq!(p["grand_total_after"]["amount"], 7910, "{p}");
    assert_eq!(p["grand_total_change"]["amount"], 4520);
    assert_eq!(p["applicable"], true);
    assert_eq!(p["review"]["outcome"], "approved", "{p}");
    let lines: Vec<i64> = p["order"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["line_no"].as_i64().unwrap())
        .collect();
    assert_eq!(lines, [1, 3], "line 2 removed, the new one numbered 3");
    assert_eq!(p["order"]["requested_delivery_on"], "2026-12-20");
    let stock = p["stock"].as_array().unwrap();
    let tea = stock.iter().find(|s| s["sku"] == "TEA").unwrap();
    assert_eq!(
        (
            tea["needed_before"].as_i64(),
            tea["needed_after"].as_i64(),
            tea["reserve_change"].as_i64()
        ),
        (Some(2), Some(5), Some(3))
    );
    assert_eq!(tea["available"], 8);
    let mug = stock.iter().find(|s| s["sku"] == "MUG").unwrap();
    assert_eq!(
        mug["reserve_change"], 1,
        "line 2's one MUG out, two in: one more"
    );

    // More than there is: the preview says so, and still changes nothing.
    let res = app
        .post(
            &format!("/v1/orders/{id}/edits/preview"),
            &json!({"change_lines": [{"line_no": 1, "quantity": 11}]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let p: Value = res.json().await.unwrap();
    assert_eq!(p["applicable"], false);
    assert_eq!(p["stock"][0]["sufficient"], false);

    // A change that is no change, and bad input, are 400.
    let res = app
        .post(
            &format!("/v1/orders/{id}/edits/preview"),
            &json!({"change_lines": [{"line_no": 1, "quantity": 2}]}),
        )
        .await;
    problem(res, 400).await;
    for bad in [
        json!({"change_lines": [{"line_no": 1, "quantity": 0}]}),
        json!({"remove_lines": [1, 2]}),
        json!({"change_lines": [{"line_no": 1, "quantity": 3}], "remove_lines": [1]}),
        json!({"change_lines": [{"line_no": 1, "discount": {"amount": 99999, "currency": "CNY"}}]}),
        json!({"payment_terms": "net"}),
        json!({"unknown": 1}),
    ] {
        let res = app
            .post(&format!("/v1/orders/{id}/edits/preview"), &bad)
            .await;
        assert_eq!(res.status(), 400, "{bad}: {}", res.text().await.unwrap());
    }
    // Naming a line or product that is not there: 404, as for any unknown reference.
    for unknown in [
        json!({"change_lines": [{"line_no": 9, "quantity": 1}]}),
        json!({"add_lines": [{"sku": "NOPE", "quantity": 1}]}),
    ] {
        let res = app
            .post(&format!("/v1/orders/{id}/edits/preview"), &unknown)
            .await;
        assert_eq!(
            res.status(),
            404,
            "{unknown}: {}",
            res.text().await.unwrap()
        );
    }
    same(&before, &state(&app).await, "a preview changed something");
}

async fn an_edit_applies_at_the_version_read_and_moves_stock_and_notes(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app).await;
    let o = approved(&app, &customer, 2, 0).await;
    let id = o["id"].as_str().unwrap();
    let body = json!({"change_lines": [{"line_no": 1, "quantity": 3}],
        "add_lines": [{"sku": "MUG", "quantity": 2, "warehouse_code": "BJ-01"}],
        "requested_delivery_on": "2026-12-24", "reason": "called back"});

    // Without If-Match: 428, nothing changes.
    let res = app.post(&format!("/v1/orders/{id}/edits"), &body).await;
    let p = problem(res, 428).await;
    assert_eq!(p["type"], "/problems/precondition-required");
    assert_eq!(app.order(id).await["version"], o["version"]);

    let levels = reserved(&app).await;
    let res = edit(&app, id, &etag(&o), &body).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let etag_header = res.headers()["etag"].to_str().unwrap().to_owned();
    let done: Value = res.json().await.unwrap();
    let after = &done["order"];
    assert_eq!(after["status"], "approved");
    assert_eq!(etag_header, etag(after));
    assert_eq!(
        after["version"].as_i64().unwrap(),
        o["version"].as_i64().unwrap() + 1
    );
    assert_eq!(done["edit"]["grand_total_before"]["amount"], 2260);
    assert_eq!(done["edit"]["grand_total_after"]["amount"], 5650);
    assert_eq!(done["edit"]["grand_total_change"]["amount"], 3390);
    assert_eq!(done["edit"]["reason"], "called back");
    // The difference only: one more TEA, two MUG.
    let now = reserved(&app).await;
    let change: Vec<i64> = now.iter().zip(&levels).map(|(a, b)| a.2 - b.2).collect();
    assert_eq!(change, [2, 1], "MUG +2, TEA +1: {levels:?} → {now:?}");
    check_reserved_matches_orders(&app, "after the edit").await;
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM events WHERE event_type = 'order.updated' AND resource_id = '{id}'"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM events WHERE event_type = 'reservation.adjusted'")
            .await,
        1
    );
    // A note for the new warehouse; SH-01's carries the new day.
    let notes: Value = app
        .get(&format!("/v1/dispatch-notes?order_id={id}"))
        .await
        .json()
        .await
        .unwrap();
    let notes = notes["data"].as_array().unwrap();
    assert_eq!(notes.len(), 2, "{notes:?}");
    let sh = notes
        .iter()
        .find(|n| n["warehouse_code"] == "SH-01")
        .unwrap();
    assert_eq!(sh["requested_delivery_on"], "2026-12-24");
    assert_eq!(sh["lines"][0]["quantity"], 3);

    // The same ETag again: 412, nothing changes.
    let res = edit(
        &app,
        id,
        &etag(&o),
        &json!({"change_lines": [{"line_no": 1, "quantity": 1}]}),
    )
    .await;
    problem(res, 412).await;
    assert_eq!(app.order(id).await["lines"][0]["quantity"], 3);

    // More than there is: 409, nothing changes.
    let before = state(&app).await;
    let res = edit(
        &app,
        id,
        &etag(after),
        &json!({"change_lines": [{"line_no": 2, "quantity": 50}]}),
    )
    .await;
    let p = problem(res, 409).await;
    assert_eq!(p["type"], "/problems/insufficient-stock", "{p}");
    same(
        &before,
        &state(&app).await,
        "a refused edit changed something",
    );

    // Ship one TEA: line 1 cannot go below 1, nor change its price; removing MUG
    // voids BJ-01's note and lets its stock go.
    let res = app
        .post(
            &format!("/v1/orders/{id}/shipments"),
            &ship(&[(1, 1)], "SF-1"),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let current = app.order(id).await;
    let res = edit(
        &app,
        id,
        &etag(&current),
        &json!({"change_lines": [{"line_no": 1, "quantity": 0}]}),
    )
    .await;
    problem(res, 400).await;
    let res = edit(
        &app,
        id,
        &etag(&current),
        &json!({"change_lines": [{"line_no": 1, "unit_price": {"amount": 1, "currency": "CNY"}}]}),
    )
    .await;
    let p = problem(res, 409).await;
    assert_eq!(p["errors"][0]["code"], "line_shipped", "{p}");
    let res = edit(&app, id, &etag(&current), &json!({"remove_lines": [1]})).await;
    problem(res, 409).await;
    let res = edit(
        &app,
        id,
        &etag(&current),
        &json!({"remove_lines": [2], "change_lines": [{"line_no": 1, "quantity": 1}]}),
    )
    .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let done: Value = res.json().await.unwrap();
    // Everything left shipped: fully shipped, no more edits.
    assert_eq!(done["order"]["fulfillment_status"], "shipped", "{done}");
    assert!(
        !done["order"]["allowed_actions"]
            .as_array()
            .unwrap()
            .contains(&json!("edit"))
    );
    check_reserved_matches_orders(&app, "after the second edit").await;
    let notes: Value = app
        .get(&format!("/v1/dispatch-notes?order_id={id}"))
        .await
        .json()
        .await
        .unwrap();
    let bj = notes["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["warehouse_code"] == "BJ-01")
        .cloned()
        .unwrap();
    assert_eq!(bj["status"], "voided", "{bj}");
    let edits: Value = app
        .get(&format!("/v1/orders/{id}/edits"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(edits.as_array().unwrap().len(), 2);
    let res = edit(
        &app,
        id,
        &etag(&done["order"]),
        &json!({"requested_delivery_on": null}),
    )
    .await;
    problem(res, 409).await;
}

async fn random_edits_keep_reserved_stock_equal_to_what_orders_hold(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app).await;
    receive(&app, "TEA", "SH-01", 30).await;
    receive(&app, "MUG", "BJ-01", 15).await;
    let seed: u64 = std::env::var("EDIT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261129);
    let mut rng = Lcg(seed);
    let mut orders = Vec::new();
    for _ in 0..4 {
        let o = approved(&app, &customer, 2, 1).await;
        orders.push(o["id"].as_str().unwrap().to_owned());
    }
    let (mut applied, mut refused, mut cancelled, mut stale) = (0, 0, 0, 0);
    for step in 0..40 {
        let id = orders[rng.next(orders.len() as u64) as usize].clone();
        let current = app.order(&id).await;
        if current["status"] == "cancelled" {
            continue;
        }
        let lines = current["lines"].as_array().unwrap().clone();
        let body = match rng.next(10) {
            0 => {
                let res = app
                    .request(Method::POST, &format!("/v1/orders/{id}/cancel"))
                    .header("if-match", etag(&current))
                    .json(&json!({"reason": "changed their mind"}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 200, "step {step} seed {seed}");
                cancelled += 1;
                check_reserved_matches_orders(&app, &format!("step {step} seed {seed}")).await;
                continue;
            }
            1..=4 => {
                let line = &lines[rng.next(lines.len() as u64) as usize];
                json!({"change_lines": [{"line_no": line["line_no"], "quantity": 1 + rng.next(14)}]})
            }
            5..=6 => {
                let (sku, code) = if rng.next(2) == 0 {
                    ("TEA", "SH-01")
                } else {
                    ("MUG", "BJ-01")
                };
                json!({"add_lines": [{"sku": sku, "quantity": 1 + rng.next(8), "warehouse_code": code}]})
            }
            7 if lines.len() > 1 => {
                let line = &lines[rng.next(lines.len() as u64) as usize];
                json!({"remove_lines": [line["line_no"]]})
            }
            _ => {
                let line = &lines[rng.next(lines.len() as u64) as usize];
                json!({"change_lines": [{"line_no": line["line_no"], "quantity": 1 + rng.next(3)}],
                    "add_lines": [{"sku": "TEA", "quantity": 1 + rng.next(3), "warehouse_code": "SH-01"}]})
            }
        };
        let before = state(&app).await;
        let res = edit(&app, &id, &etag(&current), &body).await;
        let status = res.status().as_u16();
        match status {
            200 => applied += 1,
            409 => {
                let p: Value = res.json().await.unwrap();
                assert_eq!(
                    p["type"], "/problems/insufficient-stock",
                    "step {step}: {p}"
                );
                same(
                    &before,
                    &state(&app).await,
                    &format!("step {step} seed {seed}: a refused edit"),
                );
                refused += 1;
            }
            // The same quantity again: no change.
            400 => {}
            other => panic!(
                "step {step} seed {seed}: {other} {}",
                res.text().await.unwrap()
            ),
        }
        check_reserved_matches_orders(&app, &format!("step {step} seed {seed}")).await;
        // The ETag just used is stale once the edit applied: 412, and nothing changes.
        if status == 200 && step % 3 == 0 {
            let before = state(&app).await;
            let res = edit(&app, &id, &etag(&current), &body).await;
            problem(res, 412).await;
            same(
                &before,
                &state(&app).await,
                &format!("step {step}: stale If-Match"),
            );
            stale += 1;
        }
    }
    assert!(applied >= 10, "only {applied} edits applied (seed {seed})");
    assert!(refused >= 1, "no edit was short of stock (seed {seed})");
    assert!(stale >= 1, "no stale If-Match tried (seed {seed})");
    println!(
        "seed {seed}: {applied} edits applied, {refused} refused for stock, {stale} stale, {cancelled} cancelled"
    );
}

async fn two_edits_with_one_etag_apply_once(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app).await;
    let o = approved(&app, &customer, 1, 1).await;
    let id = o["id"].as_str().unwrap().to_owned();
    let tag = etag(&o);
    let mut tasks = Vec::new();
    for q in [3, 4] {
        let req = app
            .request(Method::POST, &format!("/v1/orders/{id}/edits"))
            .header("if-match", tag.clone())
            .json(&json!({"change_lines": [{"line_no": 1, "quantity": q}]}));
        tasks.push(tokio::spawn(async move {
            req.send().await.unwrap().status().as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 412]);
    let edits: Value = app
        .get(&format!("/v1/orders/{id}/edits"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(edits.as_array().unwrap().len(), 1);
    check_reserved_matches_orders(&app, "after racing edits").await;
}

async fn an_edit_that_fails_the_review_puts_the_order_on_hold(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app).await;
    let res = app
        .post(
            "/v1/settings",
            &json!({"key": "order_approval_threshold", "value": 5000}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let o = approved(&app, &customer, 1, 0).await;
    let id = o["id"].as_str().unwrap();
    let body = json!({"change_lines": [{"line_no": 1, "quantity": 6}]});
    let res = app
        .post(&format!("/v1/orders/{id}/edits/preview"), &body)
        .await;
    let p: Value = res.json().await.unwrap();
    assert_eq!(p["review"]["outcome"], "on_hold", "{p}");
    assert_eq!(p["order"]["status"], "on_hold");
    let res = edit(&app, id, &etag(&o), &body).await;
    assert_eq!(res.status(), 200);
    let done: Value = res.json().await.unwrap();
    assert_eq!(done["order"]["status"], "on_hold");
    assert_eq!(done["edit"]["status_after"], "on_hold");
    assert_eq!(
        done["order"]["version"].as_i64().unwrap(),
        o["version"].as_i64().unwrap() + 2
    );
    let timeline: Value = app
        .get(&format!("/v1/orders/{id}/timeline"))
        .await
        .json()
        .await
        .unwrap();
    let types: Vec<&str> = timeline["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "event" && e["name"].as_str().unwrap().starts_with("order."))
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(
        types.ends_with(&["order.updated", "order.held"]),
        "{types:?}"
    );
    // The stock stays held; a held order is edited without a review.
    check_reserved_matches_orders(&app, "held").await;
    let res = edit(
        &app,
        id,
        &etag(&done["order"]),
        &json!({"change_lines": [{"line_no": 1, "quantity": 2}]}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let done: Value = res.json().await.unwrap();
    assert_eq!(done["order"]["status"], "on_hold");
    check_reserved_matches_orders(&app, "held, edited").await;
    // Released, it is reviewed again: within the threshold now.
    let res = app
        .request(Method::POST, &format!("/v1/orders/{id}/release"))
        .header("if-match", etag(&done["order"]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let released: Value = res.json().await.unwrap();
    assert_eq!(released["status"], "approved", "{released}");
}

async fn a_channel_key_edits_its_channels_orders_only(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app).await;
    let res = app
        .post(
            "/v1/api-keys",
            &json!({"name": "Shop", "kind": "ecommerce", "scopes": ["orders:read", "orders:write"],
                "channel": "web", "channel_name": "shop"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let key: Value = res.json().await.unwrap();
    let secret = key["secret"].as_str().unwrap();
    let res = app
        .request_as(secret, Method::POST, "/v1/orders")
        .json(
            &json!({"customer_id": customer, "currency": "CNY", "submit": true,
            "lines": [{"sku": "TEA", "quantity": 1, "warehouse_code": "SH-01"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let own: Value = res.json().await.unwrap();
    let theirs = approved(&app, &customer, 1, 0).await;
    let body = json!({"change_lines": [{"line_no": 1, "quantity": 2}]});
    let send = |o: &Value| {
        app.request_as(
            secret,
            Method::POST,
            &format!("/v1/orders/{}/edits", o["id"].as_str().unwrap()),
        )
        .header("if-match", etag(o))
        .json(&body)
        .send()
    };
    let res = send(&theirs).await.unwrap();
    problem(res, 404).await;
    let res = send(&own).await.unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let done: Value = res.json().await.unwrap();
    assert!(
        done["edit"]["actor"].as_str().unwrap().starts_with("key:"),
        "{done}"
    );
    // A warehouse user may not edit (no orders:write).
    let (_, warehouse) = app.user("wh@example.com", "warehouse", None).await;
    let res = app
        .request_as(
            &warehouse,
            Method::POST,
            &format!("/v1/orders/{}/edits/preview", own["id"].as_str().unwrap()),
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

async fn edits_keep_to_credit_the_editors_cap_and_what_shipped(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let plain = world(&app).await;
    receive(&app, "TEA", "SH-01", 40).await;
    let res = app
        .post(
            "/v1/settings",
            &json!({"key": "order_discount_caps", "value": {"sales": 1000}}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let (_, rep) = app.user("rep@example.com", "sales", None).await;
    // The rep's customer, on 30 days' credit up to 100.00 CNY.
    let res = app
        .request_as(&rep, Method::POST, "/v1/customers")
        .json(&json!({"kind": "company", "name": "On Credit",
            "credit_limit": {"amount": 10_000, "currency": "CNY"}, "payment_terms_days": 30}))
        .send()
        .await
        .unwrap();
    let customer: Value = res.json().await.unwrap();
    let customer = customer["id"].as_str().unwrap().to_owned();

    // Past the credit limit by an edit: on hold, its credit verdict at the new total.
    let o = approved(&app, &customer, 1, 0).await;
    let id = o["id"].as_str().unwrap();
    let res = edit(
        &app,
        id,
        &etag(&o),
        &json!({"change_lines": [{"line_no": 1, "quantity": 10}]}),
    )
    .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let done: Value = res.json().await.unwrap();
    assert_eq!(done["order"]["status"], "on_hold", "{done}");
    let credit = done["order"]["review"]["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["rule"] == "credit")
        .cloned()
        .unwrap();
    assert_eq!(credit["code"], "credit_limit_exceeded", "{credit}");
    // Held, edited down: its base-currency total follows (other orders' credit sees it).
    let res = edit(
        &app,
        id,
        &etag(&done["order"]),
        &json!({"change_lines": [{"line_no": 1, "quantity": 2}]}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let done: Value = res.json().await.unwrap();
    assert_eq!(done["order"]["grand_total"]["amount"], 2260);
    assert_eq!(done["order"]["grand_total_base"]["amount"], 2260, "{done}");
    let res = app
        .request(Method::POST, &format!("/v1/orders/{id}/cancel"))
        .header("if-match", etag(&done["order"]))
        .json(&json!({"reason": "start again"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // An admin's order for the rep's customer: the rep re-pricing it (40 % off the
    // list price, above cost) is held to the rep's cap (10 %), not the admin's (none).
    let o = approved(&app, &customer, 1, 0).await;
    let id = o["id"].as_str().unwrap();
    let res = app
        .request_as(&rep, Method::POST, &format!("/v1/orders/{id}/edits"))
        .header("if-match", etag(&o))
        .json(&json!({"change_lines": [{"line_no": 1, "unit_price": {"amount": 600, "currency": "CNY"}}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let done: Value = res.json().await.unwrap();
    assert_eq!(done["order"]["status"], "on_hold", "{done}");
    let price = done["order"]["review"]["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["rule"] == "price")
        .cloned()
        .unwrap();
    assert_eq!(price["code"], "price_review", "{price}");
    assert_eq!(price["inputs"]["lines"][0]["role"], "sales", "{price}");

    // With an order discount, once a line shipped, nothing may move its money.
    let res = app
        .post(
            "/v1/orders",
            &json!({"customer_id": plain, "currency": "CNY", "submit": true,
                "order_discount": {"amount": 500, "currency": "CNY"},
                "lines": [{"sku": "TEA", "quantity": 3, "warehouse_code": "SH-01"},
                          {"sku": "TEA", "quantity": 2, "warehouse_code": "SH-01"}]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let o: Value = res.json().await.unwrap();
    let id = o["id"].as_str().unwrap();
    let res = app
        .post(
            &format!("/v1/orders/{id}/shipments"),
            &ship(&[(1, 3)], "SF-D"),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let now = app.order(id).await;
    let res = edit(
        &app,
        id,
        &etag(&now),
        &json!({"change_lines": [{"line_no": 2, "quantity": 4}]}),
    )
    .await;
    let p = problem(res, 409).await;
    assert_eq!(p["errors"][0]["code"], "shipped_value", "{p}");
    // Not by re-quantifying the shipped line at the same time either.
    let res = edit(
        &app,
        id,
        &etag(&now),
        &json!({"change_lines": [{"line_no": 1, "quantity": 4}],
            "order_discount": {"amount": 3000, "currency": "CNY"}}),
    )
    .await;
    let p = problem(res, 409).await;
    assert_eq!(p["errors"][0]["code"], "shipped_value", "{p}");
    // What does not touch the money still changes.
    let res = edit(
        &app,
        id,
        &etag(&now),
        &json!({"requested_delivery_on": "2026-12-30"}),
    )
    .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());

    // Line numbers are not given twice; an order whose stock lines all went can
    // take new ones (its reservation let go, a new one is made).
    let res = app
        .post(
            "/v1/products",
            &json!({"sku": "SVC", "name": "Setup", "tax_rate_bps": 600, "tracks_inventory": false,
                "list_price": {"amount": 5000, "currency": "CNY"}}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let res = app
        .post(
            "/v1/orders",
            &json!({"customer_id": plain, "currency": "CNY", "submit": true,
                "lines": [{"sku": "TEA", "quantity": 1, "warehouse_code": "SH-01"}, {"sku": "SVC", "quantity": 1}]}),
        )
        .await;
    let o: Value = res.json().await.unwrap();
    assert_eq!(o["status"], "approved", "{o}");
    let id = o["id"].as_str().unwrap();
    let res = edit(&app, id, &etag(&o), &json!({"remove_lines": [1]})).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let done: Value = res.json().await.unwrap();
    let res = edit(
        &app,
        id,
        &etag(&done["order"]),
        &json!({"add_lines": [{"sku": "TEA", "quantity": 2, "warehouse_code": "SH-01"}]}),
    )
    .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let done: Value = res.json().await.unwrap();
    let numbers: Vec<i64> = done["order"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["line_no"].as_i64().unwrap())
        .collect();
    assert_eq!(
        numbers,
        [2, 3],
        "line 1 was removed: its number stays unused"
    );
    check_reserved_matches_orders(&app, "after a new hold").await;

    // Erasing the customer takes what edits recorded of them too.
    let res = edit(
        &app,
        id,
        &etag(&done["order"]),
        &json!({"shipping_address": {"recipient": "Zhang Secret", "line1": "88 Private Lane",
            "city": "Shanghai", "country": "CN", "phone": "+8613911112222"},
            "reason": "Zhang Secret asked"}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let res = app
        .post(&format!("/v1/customers/{plain}/erase"), &json!({}))
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let edits = app
        .get(&format!("/v1/orders/{id}/edits"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !edits.contains("Zhang") && !edits.contains("Private"),
        "{edits}"
    );
}
