//! Catalog and inventory: products, warehouses, the ledger, reservations under
//! concurrency (one process and two), WMS counts, alerts, purchasing.

use std::collections::HashMap;

use futures_util::future::join_all;
use ordercrm_tests::{Engine, TestApp, both_engines, postgres_available, problem};
use reqwest::Method;
use serde_json::{Value, json};

both_engines!(
    products_are_unique_by_sku_in_any_case_and_searchable,
    bad_input_changes_nothing,
    state_of_what_a_request_names_is_a_conflict,
    products_round_trip_through_csv,
    the_ledger_explains_every_level,
    reservations_are_all_or_nothing_and_sum_bundles,
    reservation_storm_never_oversells,
    opposite_order_reservations_neither_deadlock_nor_half_apply,
    random_operations_keep_ledger_and_levels_in_step,
    wms_counts_out_of_order_end_at_the_newest,
    low_stock_alerts_fire_once_per_crossing,
    expired_reservations_are_released_by_the_sweeper,
    purchase_orders_receive_into_stock_and_replenishment_explains_itself,
    roles_and_scopes_guard_stock,
    warehouses_carry_a_bounded_priority,
);

async fn json_of(res: reqwest::Response, status: u16) -> Value {
    let got = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "{body}");
    body
}

async fn warehouse(app: &TestApp, code: &str) -> Value {
    json_of(
        app.post(
            "/v1/warehouses",
            &json!({"code": code, "name": format!("Warehouse {code}")}),
        )
        .await,
        201,
    )
    .await
}

async fn product(app: &TestApp, sku: &str) -> Value {
    json_of(
        app.post(
            "/v1/products",
            &json!({"sku": sku, "name": format!("Product {sku}"),
                "list_price": {"amount": 1000, "currency": "CNY"},
                "cost": {"amount": 600, "currency": "CNY"}}),
        )
        .await,
        201,
    )
    .await
}

async fn receive(app: &TestApp, sku: &str, code: &str, quantity: i64) {
    json_of(
        app.post(
            "/v1/inventory/receipts",
            &json!({"sku": sku, "warehouse_code": code, "quantity": quantity}),
        )
        .await,
        201,
    )
    .await;
}

async fn level(app: &TestApp, sku: &str, code: &str) -> Value {
    json_of(
        app.get(&format!("/v1/inventory/levels/{sku}/{code}")).await,
        200,
    )
    .await
}

async fn verify(app: &TestApp) {
    let report = ordercrm_inventory::queries::verify::run(&app.raw_db().await)
        .await
        .unwrap();
    assert!(report.levels_checked > 0);
    assert!(
        report.mismatches.is_empty(),
        "ledger and levels disagree: {:?}",
        report.mismatches
    );
}

async fn products_are_unique_by_sku_in_any_case_and_searchable(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let created = json_of(
        app.post(
            "/v1/products",
            &json!({"sku": "TEA-LJ-250", "name": "西湖龙井 Longjing 250 g", "barcode": "6901234567892",
                "category": "tea", "list_price": {"amount": 16800, "currency": "CNY"},
                "tax_rate_bps": 1300, "warranty_days": 0,
                "external_refs": [{"channel": "tmall", "external_id": "TM-1"}]}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(created["unit"], "each");
    assert_eq!(created["tracks_inventory"], true);
    let dup = problem(
        app.post(
            "/v1/products",
            &json!({"sku": "tea-lj-250", "name": "x", "list_price": {"amount": 1, "currency": "CNY"}}),
        )
        .await,
        409,
    )
    .await;
    assert_eq!(dup["type"], "/problems/already-exists");
    assert_eq!(dup["existing"]["id"], created["id"]);
    product(&app, "CUP-1").await;
    json_of(
        app.post(
            "/v1/products",
            &json!({"sku": "SVC-INSTALL", "name": "Installation", "tracks_inventory": false,
                "list_price": {"amount": 5000, "currency": "CNY"}}),
        )
        .await,
        201,
    )
    .await;

    for (q, expected) in [
        ("龙井", "TEA-LJ-250"),
        ("690123456", "TEA-LJ-250"),
        ("cup", "CUP-1"),
        ("lj-2", "TEA-LJ-250"),
    ] {
        let page = json_of(
            app.get(&format!("/v1/products?q={}", urlencode(q))).await,
            200,
        )
        .await;
        let skus: Vec<&str> = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["sku"].as_str().unwrap())
            .collect();
        assert_eq!(skus, vec![expected], "q={q}");
    }
    let services = json_of(app.get("/v1/products?tracks_inventory=false").await, 200).await;
    assert_eq!(services["data"].as_array().unwrap().len(), 1);
    let page1 = json_of(app.get("/v1/products?limit=2&sort=sku").await, 200).await;
    assert_eq!(page1["data"][0]["sku"], "CUP-1");
    let next = page1["next_cursor"].as_str().unwrap();
    let page2 = json_of(
        app.get(&format!("/v1/products?limit=2&sort=sku&cursor={next}"))
            .await,
        200,
    )
    .await;
    assert_eq!(page2["data"][0]["sku"], "TEA-LJ-250");
    assert_eq!(page2["has_more"], false);

    // Optimistic concurrency on products.
    let id = created["id"].as_str().unwrap();
    let stale = app
        .request(Method::PATCH, &format!("/v1/products/{id}"))
        .header("if-match", "\"7\"")
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    problem(stale, 412).await;
    let changed = app
        .request(Method::PATCH, &format!("/v1/products/{id}"))
        .header("if-match", "\"1\"")
        .json(&json!({"list_price": {"amount": 15800, "currency": "CNY"}, "barcode": null}))
        .send()
        .await
        .unwrap();
    let changed = json_of(changed, 200).await;
    assert_eq!(changed["version"], 2);
    assert_eq!(changed["barcode"], Value::Null);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM events WHERE event_type IN ('product.created', 'product.updated')"
        )
        .await,
        4
    );
    // Never stocked: deletable. Stocked: 409, deactivate instead.
    warehouse(&app, "SH-01").await;
    receive(&app, "CUP-1", "SH-01", 1).await;
    let cup = json_of(app.get("/v1/products?q=cup-1").await, 200).await;
    let cup_id = cup["data"][0]["id"].as_str().unwrap();
    let used = problem(
        app.request(Method::DELETE, &format!("/v1/products/{cup_id}"))
            .send()
            .await
            .unwrap(),
        409,
    )
    .await;
    assert!(used["detail"].as_str().unwrap().contains("active=false"));
    let res = app
        .request(Method::DELETE, &format!("/v1/products/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    problem(app.get(&format!("/v1/products/{id}")).await, 404).await;
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn bad_input_changes_nothing(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    warehouse(&app, "SH-01").await;
    product(&app, "A-1").await;
    receive(&app, "A-1", "SH-01", 5).await;
    let before = app.count("SELECT COUNT(*) FROM stock_movements").await;
    let bad = problem(
        app.post(
            "/v1/products",
            &json!({"sku": "has space", "name": "", "list_price": {"amount": -1, "currency": "CNY"}, "tax_rate_bps": 20000}),
        )
        .await,
        400,
    )
    .await;
    let fields: Vec<&str> = bad["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for f in ["sku", "name", "list_price.amount", "tax_rate_bps"] {
        assert!(fields.contains(&f), "{f} not in {fields:?}");
    }
    let bad = problem(
        app.post(
            "/v1/inventory/reservations",
            &json!({"lines": [{"sku": "A-1", "warehouse_code": "SH-01", "quantity": 1},
                {"sku": "NOPE", "warehouse_code": "XX", "quantity": 0}]}),
        )
        .await,
        // It names a SKU and a warehouse that do not exist: 404, every error listed.
        404,
    )
    .await;
    let fields: Vec<&str> = bad["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields.len(), 3, "{fields:?}");
    for f in [
        "lines[1].sku",
        "lines[1].warehouse_code",
        "lines[1].quantity",
    ] {
        assert!(fields.contains(&f), "{f} not in {fields:?}");
    }
    problem(
        app.post(
            "/v1/inventory/adjustments",
            &json!({"sku": "A-1", "warehouse_code": "SH-01", "quantity": -1, "reason": " "}),
        )
        .await,
        400,
    )
    .await;
    let short = problem(
        app.post(
            "/v1/inventory/adjustments",
            &json!({"sku": "A-1", "warehouse_code": "SH-01", "quantity": -6, "reason": "count"}),
        )
        .await,
        409,
    )
    .await;
    assert_eq!(short["type"], "/problems/insufficient-stock");
    assert_eq!(short["lines"][0]["available"], 5);
    problem(
        app.post("/v1/inventory/transfers", &json!({"sku": "A-1", "from_warehouse_code": "SH-01", "to_warehouse_code": "sh-01", "quantity": 1})).await,
        400,
    )
    .await;
    let unknown = problem(
        app.post(
            "/v1/inventory/receipts",
            &json!({"sku": "A-1", "warehouse_code": "SH-01", "quantity": 1, "lot": "x"}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(unknown["errors"][0]["field"], "lot");
    // Naming what does not exist is 404, as a URL naming nothing would be, and no
    // other fix would help; the errors list every mistake in the body.
    let missing = problem(
        app.post(
            "/v1/inventory/receipts",
            &json!({"sku": "NO-SUCH", "warehouse_code": "NOWHERE", "quantity": 1}),
        )
        .await,
        404,
    )
    .await;
    assert_eq!(missing["type"], "/problems/not-found");
    let fields: Vec<&str> = missing["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["sku", "warehouse_code"]);
    let mixed = problem(
        app.post(
            "/v1/inventory/receipts",
            &json!({"sku": "NO-SUCH", "warehouse_code": "SH-01", "quantity": 0}),
        )
        .await,
        404,
    )
    .await;
    assert_eq!(mixed["errors"].as_array().unwrap().len(), 2, "{mixed}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM stock_movements").await,
        before
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM reservations").await, 0);
    assert_eq!(level(&app, "A-1", "SH-01").await["on_hand"], 5);
}

/// Orders rank warehouses by `priority` (0..=1000, default 100): set on create,
/// changed by PATCH, and out of range refused with nothing written.
async fn warehouses_carry_a_bounded_priority(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    assert_eq!(warehouse(&app, "SH-01").await["priority"], 100);
    let bj = json_of(
        app.post(
            "/v1/warehouses",
            &json!({"code": "BJ-01", "name": "Beijing", "priority": 5}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(bj["priority"], 5);
    for priority in [json!(-1), json!(1001), json!(2.5)] {
        let body = problem(
            app.post(
                "/v1/warehouses",
                &json!({"code": "GZ-01", "name": "Guangzhou", "priority": priority}),
            )
            .await,
            400,
        )
        .await;
        assert_eq!(body["errors"][0]["field"], "priority", "{body}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM warehouses").await, 2);
    let path = format!("/v1/warehouses/{}", bj["id"].as_str().unwrap());
    let changed = json_of(app.patch(&path, &json!({"priority": 0})).await, 200).await;
    assert_eq!(
        (changed["priority"].clone(), changed["version"].clone()),
        (json!(0), json!(2))
    );
    problem(app.patch(&path, &json!({"priority": 1001})).await, 400).await;
    let listed = json_of(app.get("/v1/warehouses").await, 200).await;
    let priorities: Vec<(String, i64)> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["code"].as_str().unwrap().to_owned(),
                w["priority"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        priorities,
        [("BJ-01".to_owned(), 0), ("SH-01".to_owned(), 100)]
    );
    app.stop().await;
}

/// A receipt into a deactivated warehouse was a 400, as if the request were
/// malformed; it is well formed, and only a change to the warehouse helps (found by
/// `make fuzz`, which deactivated the example warehouse and then got 400s).
async fn state_of_what_a_request_names_is_a_conflict(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let w = warehouse(&app, "SH-01").await;
    product(&app, "A-1").await;
    let res = app
        .patch(
            &format!("/v1/warehouses/{}", w["id"].as_str().unwrap()),
            &json!({"active": false}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let receipt =
        |quantity: i64| json!({"sku": "A-1", "warehouse_code": "SH-01", "quantity": quantity});
    let body = problem(app.post("/v1/inventory/receipts", &receipt(1)).await, 409).await;
    assert_eq!(body["type"], "/problems/conflict");
    assert_eq!(body["errors"][0]["field"], "warehouse_code");
    assert_eq!(body["errors"][0]["code"], "inactive");
    // With the request itself wrong too, it is the request that must change first.
    let body = problem(app.post("/v1/inventory/receipts", &receipt(0)).await, 400).await;
    assert_eq!(body["errors"].as_array().unwrap().len(), 2, "{body}");
    let res = app
        .request(Method::PUT, "/v1/inventory/levels/A-1/SH-01")
        .json(&json!({"quantity": 3, "counted_at": "2020-01-01T00:00:00Z"}))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["errors"][0]["code"], "inactive");
    assert_eq!(app.count("SELECT COUNT(*) FROM stock_movements").await, 0);
    app.stop().await;
}

async fn products_round_trip_through_csv(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let csv = "sku,name,list_price_amount,list_price_currency,category,external_refs\n\
               TEA-1,Green tea,1200,CNY,tea,shopify:1001\n\
               CUP-1,\"Cup, celadon\",3500,CNY,ware,\n";
    let import = |body: &'static str, query: &'static str| {
        app.request(Method::POST, &format!("/v1/products/import{query}"))
            .header("content-type", "text/csv")
            .body(body)
            .send()
    };
    let dry = json_of(import(csv, "?dry_run=true").await.unwrap(), 200).await;
    assert_eq!(
        (dry["created"].as_i64(), dry["applied"].as_bool()),
        (Some(2), Some(false))
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM products").await, 0);
    let done = json_of(import(csv, "").await.unwrap(), 200).await;
    assert_eq!(done["created"], 2);
    // A bad row fails the whole file.
    let bad = problem(
        import("sku,name,list_price_amount,list_price_currency\ntea-1,Green tea v2,1300,CNY\nX-2,No price,,\n", "").await.unwrap(),
        400,
    )
    .await;
    assert_eq!(bad["type"], "/problems/import-failed");
    assert_eq!(bad["errors"][0]["field"], "row 3: list_price_amount");
    let tea = json_of(app.get("/v1/products?q=tea-1").await, 200).await;
    assert_eq!(tea["data"][0]["name"], "Green tea");

    let export = app
        .request(Method::GET, "/v1/products?sort=sku")
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(export.status(), 200);
    let text = export.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("sku,name,description,category,unit"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("CUP-1,\"Cup, celadon\""),
        "{}",
        lines[1]
    );
    assert!(lines[2].contains("shopify:1001"), "{}", lines[2]);
    // The export re-imports changing nothing: no version moves, no event is written.
    let again = app
        .request(Method::POST, "/v1/products/import")
        .header("content-type", "text/csv")
        .body(text.clone())
        .send()
        .await
        .unwrap();
    let again = json_of(again, 200).await;
    assert_eq!(
        (
            again["created"].as_i64(),
            again["updated"].as_i64(),
            again["unchanged"].as_i64()
        ),
        (Some(0), Some(0), Some(2))
    );
}

async fn the_ledger_explains_every_level(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    warehouse(&app, "SH-01").await;
    warehouse(&app, "BJ-01").await;
    product(&app, "A-1").await;
    receive(&app, "A-1", "SH-01", 100).await;
    let adjusted = json_of(
        app.post(
            "/v1/inventory/adjustments",
            &json!({"sku": "A-1", "warehouse_code": "SH-01", "quantity": -3, "reason": "damaged"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(adjusted["movements"][0]["on_hand_after"], 97);
    assert_eq!(adjusted["movements"][0]["reason"], "damaged");
    let moved = json_of(
        app.post("/v1/inventory/transfers", &json!({"sku": "a-1", "from_warehouse_code": "SH-01", "to_warehouse_code": "BJ-01", "quantity": 40, "reference": "TR-1"})).await,
        201,
    )
    .await;
    let legs = moved["movements"].as_array().unwrap();
    assert_eq!(legs.len(), 2);
    assert_eq!(
        (legs[0]["kind"].as_str(), legs[0]["quantity"].as_i64()),
        (Some("transfer_out"), Some(-40))
    );
    assert_eq!(
        (legs[1]["kind"].as_str(), legs[1]["quantity"].as_i64()),
        (Some("transfer_in"), Some(40))
    );
    assert_eq!(legs[0]["transfer_id"], legs[1]["transfer_id"]);
    // Shipping goes through a reservation.
    let r = json_of(
        app.post("/v1/inventory/reservations", &json!({"lines": [{"sku": "A-1", "warehouse_code": "BJ-01", "quantity": 10}], "reference": "SO-1"})).await,
        201,
    )
    .await;
    let shipped = json_of(
        app.request(
            Method::POST,
            &format!(
                "/v1/inventory/reservations/{}/consume",
                r["id"].as_str().unwrap()
            ),
        )
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    assert_eq!(shipped["status"], "consumed");
    json_of(
        app.post("/v1/inventory/returns", &json!({"sku": "A-1", "warehouse_code": "BJ-01", "quantity": 2, "disposition": "restock", "reference": "RMA-1"})).await,
        201,
    )
    .await;
    let scrap = json_of(
        app.post("/v1/inventory/returns", &json!({"sku": "A-1", "warehouse_code": "BJ-01", "quantity": 1, "disposition": "scrap"})).await,
        201,
    )
    .await;
    assert_eq!(
        (
            scrap["movements"][0]["units"].as_i64(),
            scrap["movements"][0]["quantity"].as_i64()
        ),
        (Some(1), Some(0))
    );
    let sh = level(&app, "A-1", "SH-01").await;
    let bj = level(&app, "A-1", "BJ-01").await;
    assert_eq!(
        (sh["on_hand"].as_i64(), bj["on_hand"].as_i64()),
        (Some(57), Some(32))
    );
    let ledger = json_of(
        app.get("/v1/inventory/movements?sku=A-1&warehouse=bj-01")
            .await,
        200,
    )
    .await;
    let kinds: Vec<&str> = ledger["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        vec!["return_scrap", "return_restock", "shipment", "transfer_in"]
    );
    assert_eq!(ledger["data"][2]["reference"], "SO-1");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM events WHERE event_type = 'stock_level.adjusted'")
            .await,
        1
    );
    verify(&app).await;
    // The CLI check agrees, on the same database.
    let out = std::process::Command::new(ordercrm_tests::ordercrm_binary())
        .args(["inventory", "verify"])
        .env_clear()
        .env("DATABASE_URL", &app.db.url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["levels_checked"], 2);
    // Break the books behind the API's back: verify says so and exits 1.
    use sea_orm::ConnectionTrait;
    app.raw_db()
        .await
        .execute_unprepared("UPDATE stock_levels SET on_hand = on_hand + 1")
        .await
        .unwrap();
    let out = std::process::Command::new(ordercrm_tests::ordercrm_binary())
        .args(["inventory", "verify"])
        .env_clear()
        .env("DATABASE_URL", &app.db.url)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["mismatches"].as_array().unwrap().len(), 2);
}

async fn reservations_are_all_or_nothing_and_sum_bundles(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    warehouse(&app, "SH-01").await;
    product(&app, "A-1").await;
    product(&app, "B-1").await;
    receive(&app, "A-1", "SH-01", 10).await;
    receive(&app, "B-1", "SH-01", 3).await;
    // A bundle listing A twice: 6 + 6 > 10, refused although each line fits.
    let short = problem(
        app.post(
            "/v1/inventory/reservations",
            &json!({"lines": [
            {"sku": "A-1", "warehouse_code": "SH-01", "quantity": 6},
            {"sku": "B-1", "warehouse_code": "SH-01", "quantity": 5},
            {"sku": "a-1", "warehouse_code": "SH-01", "quantity": 6}]}),
        )
        .await,
        409,
    )
    .await;
    let lines = short["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 2, "{short}");
    let a = lines.iter().find(|l| l["sku"] == "A-1").unwrap();
    assert_eq!(
        (a["requested"].as_i64(), a["available"].as_i64()),
        (Some(12), Some(10))
    );
    let b = lines.iter().find(|l| l["sku"] == "B-1").unwrap();
    assert_eq!(
        (b["requested"].as_i64(), b["available"].as_i64()),
        (Some(5), Some(3))
    );
    // One short line: nothing of the other line was held.
    let partial = problem(
        app.post(
            "/v1/inventory/reservations",
            &json!({"lines": [
            {"sku": "A-1", "warehouse_code": "SH-01", "quantity": 4},
            {"sku": "B-1", "warehouse_code": "SH-01", "quantity": 4}]}),
        )
        .await,
        409,
    )
    .await;
    assert_eq!(partial["lines"].as_array().unwrap().len(), 1);
    assert_eq!(level(&app, "A-1", "SH-01").await["reserved"], 0);
    // Release gives stock back; a second release is a clean 409.
    let r = json_of(
        app.post(
            "/v1/inventory/reservations",
            &json!({"lines": [
            {"sku": "A-1", "warehouse_code": "SH-01", "quantity": 4},
            {"sku": "B-1", "warehouse_code": "SH-01", "quantity": 3}], "reference": "cart-1"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(level(&app, "B-1", "SH-01").await["available"], 0);
    let id = r["id"].as_str().unwrap();
    let released = json_of(
        app.request(
            Method::POST,
            &format!("/v1/inventory/reservations/{id}/release"),
        )
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    assert_eq!(released["status"], "released");
    assert_eq!(released["lines"][1]["released"], 3);
    let again = problem(
        app.request(
            Method::POST,
            &format!("/v1/inventory/reservations/{id}/release"),
        )
        .send()
        .await
        .unwrap(),
        409,
    )
    .await;
    assert_eq!(again["type"], "/problems/invalid-state");
    assert_eq!(level(&app, "B-1", "SH-01").await["available"], 3);
    let listed = json_of(
        app.get("/v1/inventory/reservations?reference=cart-1").await,
        200,
    )
    .await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    verify(&app).await;
}

async fn reservation_storm_never_oversells(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    warehouse(&app, "SH-01").await;
    product(&app, "HOT-1").await;
    receive(&app, "HOT-1", "SH-01", 50).await;
    let body = json!({"lines": [{"sku": "HOT-1", "warehouse_code": "SH-01", "quantity": 1}]});
    let statuses = storm((0..200).map(|_| {
        app.request(Method::POST, "/v1/inventory/reservations")
            .json(&body)
    }))
    .await;
    assert_storm(&app, &statuses, "HOT-1").await;
}

/// Send every request at once; the statuses, with each 409's problem type checked.
async fn storm(requests: impl Iterator<Item = reqwest::RequestBuilder>) -> HashMap<u16, usize> {
    let responses = join_all(requests.map(|r| async move {
        let res = ordercrm_tests::send_until_served(r).await;
        let status = res.status().as_u16();
        if status == 409 {
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["type"], "/problems/insufficient-stock");
            assert_eq!(body["lines"][0]["requested"], 1);
            assert_eq!(body["lines"][0]["available"], 0);
        }
        status
    }))
    .await;
    let mut counts = HashMap::new();
    for s in responses {
        *counts.entry(s).or_insert(0) += 1;
    }
    counts
}

async fn assert_storm(app: &TestApp, statuses: &HashMap<u16, usize>, sku: &str) {
    assert_eq!(statuses.get(&201), Some(&50), "{statuses:?}");
    assert_eq!(statuses.get(&409), Some(&150), "{statuses:?}");
    assert_eq!(statuses.len(), 2, "{statuses:?}");
    let l = level(app, sku, "SH-01").await;
    assert_eq!(
        (
            l["on_hand"].as_i64(),
            l["reserved"].as_i64(),
            l["available"].as_i64()
        ),
        (Some(50), Some(50), Some(0))
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM reservations").await, 50);
    verify(app).await;
}

async fn opposite_order_reservations_neither_deadlock_nor_half_apply(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    warehouse(&app, "SH-01").await;
    product(&app, "A-1").await;
    product(&app, "B-1").await;
    receive(&app, "A-1", "SH-01", 30).await;
    receive(&app, "B-1", "SH-01", 30).await;
    let ab = json!({"lines": [{"sku": "A-1", "warehouse_code": "SH-01", "quantity": 1}, {"sku": "B-1", "warehouse_code": "SH-01", "quantity": 1}]});
    let ba = json!({"lines": [{"sku": "B-1", "warehouse_code": "SH-01", "quantity": 1}, {"sku": "A-1", "warehouse_code": "SH-01", "quantity": 1}]});
    let requests = (0..80).map(|i| {
        let body = if i % 2 == 0 { &ab } else { &ba };
        app.request(Method::POST, "/v1/inventory/reservations")
            .json(body)
    });
    let statuses = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        join_all(requests.map(|r| async move { r.send().await.unwrap().status().as_u16() })),
    )
    .await
    .expect("reservations in opposite order deadlocked");
    let ok = statuses.iter().filter(|s| **s == 201).count();
    let short = statuses.iter().filter(|s| **s == 409).count();
    assert_eq!((ok, short), (30, 50), "{statuses:?}");
    // Never half applied: both SKUs held exactly once per success.
    for sku in ["A-1", "B-1"] {
        let l = level(&app, sku, "SH-01").await;
        assert_eq!(
            (l["reserved"].as_i64(), l["available"].as_i64()),
            (Some(30), Some(0)),
            "{sku}"
        );
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM reservation_lines").await,
        60
    );
    verify(&app).await;
}

/// A tiny deterministic generator: the test is random but reproducible by seed.
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

/// Quantities at and beyond the bounds (1..=10⁹), drawn now and then.
const BOUNDARY: [i64; 7] = [
    0,
    -1,
    1_000_000_000,
    1_000_000_001,
    i64::MAX,
    i64::MIN,
    i64::MAX - 999,
];

/// Model-based property test: random receipts, adjustments, transfers,
/// reservations, consumptions (with repeated line numbers), releases and returns,
/// with quantities now and then at or past the bounds, and the expected on-hand and
/// reserved kept in the test. Out-of-bounds requests are 400 and change nothing.
/// After every step the API agrees with the model, and at the end every level
/// equals the sum of its ledger.
async fn random_operations_keep_ledger_and_levels_in_step(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let skus = ["P-1", "P-2", "P-3"];
    let codes = ["W-1", "W-2"];
    for c in codes {
        warehouse(&app, c).await;
    }
    for s in skus {
        product(&app, s).await;
    }
    let seed: u64 = std::env::var("INVENTORY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261125);
    let mut rng = Lcg(seed);
    let mut on_hand: HashMap<(usize, usize), i64> = HashMap::new();
    let mut reserved: HashMap<(usize, usize), i64> = HashMap::new();
    // Open reservations: id → (sku, warehouse, open quantity).
    let mut open: Vec<(String, usize, usize, i64)> = Vec::new();
    for step in 0..160 {
        let (s, w) = (rng.next(3) as usize, rng.next(2) as usize);
        let q = if rng.next(8) == 0 {
            BOUNDARY[rng.next(BOUNDARY.len() as u64) as usize]
        } else {
            rng.next(12) as i64 + 1
        };
        let valid = (1..=1_000_000_000).contains(&q);
        let oh = on_hand.get(&(s, w)).copied().unwrap_or(0);
        let rs = reserved.get(&(s, w)).copied().unwrap_or(0);
        let (sku, code) = (skus[s], codes[w]);
        match rng.next(7) {
            0 => {
                let res = app
                    .post(
                        "/v1/inventory/receipts",
                        &json!({"sku": sku, "warehouse_code": code, "quantity": q}),
                    )
                    .await;
                if valid {
                    json_of(res, 201).await;
                    *on_hand.entry((s, w)).or_default() += q;
                } else {
                    problem(res, 400).await;
                }
            }
            1 => {
                let delta = if rng.next(2) == 0 {
                    q
                } else {
                    q.checked_neg().unwrap_or(q)
                };
                let res = app
                    .post("/v1/inventory/adjustments", &json!({"sku": sku, "warehouse_code": code, "quantity": delta, "reason": format!("step {step}")}))
                    .await;
                if delta == 0 || !(-1_000_000_000..=1_000_000_000).contains(&delta) {
                    problem(res, 400).await;
                } else if oh + delta >= rs {
                    json_of(res, 201).await;
                    *on_hand.entry((s, w)).or_default() += delta;
                } else {
                    problem(res, 409).await;
                }
            }
            2 => {
                let other = 1 - w;
                let res = app
                    .post("/v1/inventory/transfers", &json!({"sku": sku, "from_warehouse_code": code, "to_warehouse_code": codes[other], "quantity": q}))
                    .await;
                if !valid {
                    problem(res, 400).await;
                } else if oh - rs >= q {
                    json_of(res, 201).await;
                    *on_hand.entry((s, w)).or_default() -= q;
                    *on_hand.entry((s, other)).or_default() += q;
                } else {
                    problem(res, 409).await;
                }
            }
            3 => {
                let res = app
                    .post(
                        "/v1/inventory/reservations",
                        &json!({"lines": [{"sku": sku, "warehouse_code": code, "quantity": q}]}),
                    )
                    .await;
                if !valid {
                    problem(res, 400).await;
                } else if oh - rs >= q {
                    let r = json_of(res, 201).await;
                    *reserved.entry((s, w)).or_default() += q;
                    open.push((r["id"].as_str().unwrap().to_owned(), s, w, q));
                } else {
                    problem(res, 409).await;
                }
            }
            4 | 5 if !open.is_empty() => {
                let i = rng.next(open.len() as u64) as usize;
                let (id, rs_, rw, rq) = open[i].clone();
                if !valid {
                    // The same line named twice, one of them out of bounds.
                    let res = app
                        .post(
                            &format!("/v1/inventory/reservations/{id}/consume"),
                            &json!({"lines": [{"line_no": 1, "quantity": 1}, {"line_no": 1, "quantity": q}]}),
                        )
                        .await;
                    problem(res, 400).await;
                } else if rng.next(2) == 0 {
                    // Ship part or all of it, sometimes as two lines naming line 1.
                    let take = rng.next(rq as u64) as i64 + 1;
                    let lines = if take > 1 && rng.next(2) == 0 {
                        json!([{"line_no": 1, "quantity": 1}, {"line_no": 1, "quantity": take - 1}])
                    } else {
                        json!([{"line_no": 1, "quantity": take}])
                    };
                    let r = json_of(
                        app.post(
                            &format!("/v1/inventory/reservations/{id}/consume"),
                            &json!({"lines": lines}),
                        )
                        .await,
                        200,
                    )
                    .await;
                    *on_hand.entry((rs_, rw)).or_default() -= take;
                    *reserved.entry((rs_, rw)).or_default() -= take;
                    if take == rq {
                        assert_eq!(r["status"], "consumed");
                        open.remove(i);
                    } else {
                        assert_eq!(r["status"], "partially_consumed");
                        open[i].3 -= take;
                    }
                } else {
                    json_of(
                        app.post(
                            &format!("/v1/inventory/reservations/{id}/release"),
                            &json!({}),
                        )
                        .await,
                        200,
                    )
                    .await;
                    *reserved.entry((rs_, rw)).or_default() -= rq;
                    open.remove(i);
                }
            }
            _ => {
                let restock = rng.next(2) == 0;
                let res = app
                    .post(
                        "/v1/inventory/returns",
                        &json!({"sku": sku, "warehouse_code": code, "quantity": q,
                        "disposition": if restock { "restock" } else { "scrap" }}),
                    )
                    .await;
                if !valid {
                    problem(res, 400).await;
                } else {
                    json_of(res, 201).await;
                }
                if restock && valid {
                    *on_hand.entry((s, w)).or_default() += q;
                }
            }
        }
        let l = level(&app, sku, code).await;
        assert_eq!(
            l["on_hand"].as_i64().unwrap(),
            on_hand.get(&(s, w)).copied().unwrap_or(0),
            "step {step} seed {seed}"
        );
        assert_eq!(
            l["reserved"].as_i64().unwrap(),
            reserved.get(&(s, w)).copied().unwrap_or(0),
            "step {step} seed {seed}"
        );
        assert!(l["available"].as_i64().unwrap() >= 0);
    }
    for (s, sku) in skus.iter().enumerate() {
        for (w, code) in codes.iter().enumerate() {
            let l = level(&app, sku, code).await;
            assert_eq!(
                l["on_hand"].as_i64().unwrap(),
                on_hand.get(&(s, w)).copied().unwrap_or(0)
            );
        }
    }
    verify(&app).await;
}

async fn wms_counts_out_of_order_end_at_the_newest(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    warehouse(&app, "SH-01").await;
    product(&app, "A-1").await;
    receive(&app, "A-1", "SH-01", 50).await;
    let count = |quantity: i64, at: &str| {
        app.request(Method::PUT, "/v1/inventory/levels/a-1/sh-01")
            .json(
                &json!({"quantity": quantity, "counted_at": at, "reference": format!("WMS-{at}")}),
            )
            .send()
    };
    // A URL naming a product or warehouse that does not exist names no stock level.
    for path in [
        "/v1/inventory/levels/NOPE-1/SH-01",
        "/v1/inventory/levels/A-1/NOWHERE",
    ] {
        let res = app
            .request(Method::PUT, path)
            .json(&json!({"quantity": 1, "counted_at": "2026-11-23T07:00:00Z"}))
            .send()
            .await
            .unwrap();
        problem(res, 404).await;
        let res = app
            .request(Method::PATCH, path)
            .json(&json!({"reorder_point": 5}))
            .send()
            .await
            .unwrap();
        problem(res, 404).await;
    }
    // Newest first, then two stale ones.
    let newest = json_of(count(42, "2026-11-23T07:30:00Z").await.unwrap(), 200).await;
    assert_eq!(newest["applied"], true);
    assert_eq!(newest["movement"]["quantity"], -8);
    assert_eq!(newest["movement"]["kind"], "count");
    for (q, at) in [
        (10, "2026-11-23T06:00:00Z"),
        (99, "2026-11-23T07:00:00Z"),
        (42, "2026-11-23T07:30:00Z"),
    ] {
        let stale = json_of(count(q, at).await.unwrap(), 200).await;
        assert_eq!(stale["applied"], false, "{at}");
        assert!(stale["movement"].is_null());
    }
    // A burst of counts in random order, concurrently: the newest wins.
    let times = ["07:41", "07:45", "07:43", "07:44", "07:42"];
    let sends = times.iter().map(|t| {
        let minute: i64 = t[3..].parse().unwrap();
        count(minute, &format!("2026-11-23T{t}:00Z"))
    });
    for res in join_all(sends).await {
        assert_eq!(res.unwrap().status(), 200);
    }
    let l = level(&app, "A-1", "SH-01").await;
    assert_eq!(l["on_hand"], 45);
    assert_eq!(l["counted_at"], "2026-11-23T07:45:00Z");
    problem(count(5, "2026-11-24T08:00:00Z").await.unwrap(), 400).await;
    verify(&app).await;
}

async fn low_stock_alerts_fire_once_per_crossing(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    warehouse(&app, "SH-01").await;
    product(&app, "A-1").await;
    receive(&app, "A-1", "SH-01", 20).await;
    json_of(
        app.patch(
            "/v1/inventory/levels/A-1/SH-01",
            &json!({"reorder_point": 10, "reorder_quantity": 50, "safety_stock": 5}),
        )
        .await,
        200,
    )
    .await;
    let reserve = |q: i64| {
        app.request(Method::POST, "/v1/inventory/reservations")
            .json(&json!({"lines": [{"sku": "A-1", "warehouse_code": "SH-01", "quantity": q}]}))
            .send()
    };
    json_of(reserve(5).await.unwrap(), 201).await;
    let alerts = || async {
        json_of(app.get("/v1/inventory/alerts").await, 200).await["data"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(alerts().await, 0);
    let big = json_of(reserve(8).await.unwrap(), 201).await;
    json_of(reserve(1).await.unwrap(), 201).await;
    json_of(reserve(1).await.unwrap(), 201).await;
    assert_eq!(alerts().await, 1);
    let open = json_of(app.get("/v1/inventory/alerts").await, 200).await;
    assert_eq!(open["data"][0]["available_at_open"], 7);
    assert_eq!(open["data"][0]["available"], 5);
    let low = json_of(app.get("/v1/inventory?below_reorder_point=true").await, 200).await;
    assert_eq!(low["data"][0]["low_stock"], true);
    let events = "SELECT COUNT(*) FROM events WHERE event_type = 'stock_level.low'";
    assert_eq!(app.count(events).await, 1);
    // Recovery closes it; the next crossing opens a new one.
    json_of(
        app.post(
            &format!(
                "/v1/inventory/reservations/{}/release",
                big["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(alerts().await, 0);
    let closed = json_of(app.get("/v1/inventory/alerts?open=false").await, 200).await;
    assert!(closed["data"][0]["closed_at"].is_string());
    assert_eq!(
        json_of(app.get("/v1/inventory?below_reorder_point=true").await, 200).await["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    json_of(reserve(9).await.unwrap(), 201).await;
    assert_eq!(alerts().await, 1);
    assert_eq!(app.count(events).await, 2);
    // The change that recovers the level answers with the alert already closed.
    let recovered = json_of(
        app.post(
            "/v1/inventory/receipts",
            &json!({"sku": "A-1", "warehouse_code": "SH-01", "quantity": 20}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(recovered["levels"][0]["low_stock"], false);
    assert_eq!(alerts().await, 0);
}

async fn expired_reservations_are_released_by_the_sweeper(engine: Engine) {
    let mut app = TestApp::spawn_with(engine, |c| {
        c.reservation_sweep_interval = std::time::Duration::from_millis(200)
    })
    .await;
    warehouse(&app, "SH-01").await;
    product(&app, "A-1").await;
    receive(&app, "A-1", "SH-01", 5).await;
    let cart = json_of(
        app.post(
            "/v1/inventory/reservations",
            &json!({"lines": [{"sku": "A-1", "warehouse_code": "SH-01", "quantity": 4}],
            "reference": "cart:1", "expires_at": "2026-11-23T08:30:00Z"}),
        )
        .await,
        201,
    )
    .await;
    let keep = json_of(
        app.post(
            "/v1/inventory/reservations",
            &json!({"lines": [{"sku": "A-1", "warehouse_code": "SH-01", "quantity": 1}]}),
        )
        .await,
        201,
    )
    .await;
    problem(
        app.post("/v1/inventory/reservations", &json!({"lines": [{"sku": "A-1", "warehouse_code": "SH-01", "quantity": 1}], "expires_at": "2026-11-23T07:00:00Z"})).await,
        400,
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        level(&app, "A-1", "SH-01").await["reserved"],
        5,
        "not expired yet"
    );
    app.clock.advance(chrono::Duration::minutes(31));
    app.relogin().await;
    let id = cart["id"].as_str().unwrap();
    let mut status = Value::Null;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let res = app.get(&format!("/v1/inventory/reservations/{id}")).await;
        status = json_of(res, 200).await["status"].clone();
        if status == "expired" {
            break;
        }
    }
    assert_eq!(status, "expired");
    let l = level(&app, "A-1", "SH-01").await;
    assert_eq!(l["reserved"], 1);
    let kept = json_of(
        app.get(&format!(
            "/v1/inventory/reservations/{}",
            keep["id"].as_str().unwrap()
        ))
        .await,
        200,
    )
    .await;
    assert_eq!(kept["status"], "active");
    verify(&app).await;
}

async fn purchase_orders_receive_into_stock_and_replenishment_explains_itself(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    warehouse(&app, "SH-01").await;
    let supplier = json_of(
        app.post("/v1/suppliers", &json!({"name": "Hangzhou Tea Co-op", "email": "orders@hz.example.cn", "lead_time_days": 10, "currency": "CNY"})).await,
        201,
    )
    .await;
    let sid = supplier["id"].as_str().unwrap();
    json_of(
        app.post("/v1/products", &json!({"sku": "TEA-1", "name": "Tea", "list_price": {"amount": 1000, "currency": "CNY"},
            "cost": {"amount": 600, "currency": "CNY"}, "supplier_id": sid})).await,
        201,
    )
    .await;
    receive(&app, "TEA-1", "SH-01", 100).await;
    json_of(
        app.patch(
            "/v1/inventory/levels/TEA-1/SH-01",
            &json!({"reorder_point": 20, "reorder_quantity": 50, "safety_stock": 5}),
        )
        .await,
        200,
    )
    .await;
    // 90 shipped within the 30-day window: 3 a day.
    let r = json_of(
        app.post(
            "/v1/inventory/reservations",
            &json!({"lines": [{"sku": "TEA-1", "warehouse_code": "SH-01", "quantity": 90}]}),
        )
        .await,
        201,
    )
    .await;
    json_of(
        app.post(
            &format!(
                "/v1/inventory/reservations/{}/consume",
                r["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await,
        200,
    )
    .await;
    let s = json_of(app.get("/v1/replenishment/suggestions").await, 200).await;
    let one = &s["data"][0];
    assert_eq!(one["average_daily_demand"], 3.0);
    assert_eq!(one["demand_during_lead_time"], 30);
    assert_eq!(one["reorder_level"], 35);
    assert_eq!(one["position"], 10);
    assert_eq!(one["suggested_quantity"], 50);
    assert_eq!(one["supplier_id"], sid);
    let created = json_of(
        app.post(
            "/v1/replenishment/purchase-orders",
            &json!({"lines": [{"sku": "TEA-1", "warehouse_code": "SH-01"}]}),
        )
        .await,
        201,
    )
    .await;
    let po = &created["purchase_orders"][0];
    assert_eq!(po["status"], "draft");
    assert_eq!(po["lines"][0]["quantity"], 50);
    assert_eq!(po["total"], json!({"amount": 30000, "currency": "CNY"}));
    // On order now: nothing more to suggest.
    let s = json_of(app.get("/v1/replenishment/suggestions").await, 200).await;
    assert_eq!(s["data"].as_array().unwrap().len(), 0);

    let id = po["id"].as_str().unwrap();
    problem(
        app.post(
            &format!("/v1/purchase-orders/{id}/receipts"),
            &json!({"lines": [{"line_no": 1, "quantity": 1}]}),
        )
        .await,
        409,
    )
    .await;
    json_of(
        app.post(&format!("/v1/purchase-orders/{id}/order"), &json!({}))
            .await,
        200,
    )
    .await;
    let partial = json_of(
        app.post(
            &format!("/v1/purchase-orders/{id}/receipts"),
            &json!({"lines": [{"line_no": 1, "quantity": 20}], "reference": "GRN-1"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(partial["status"], "partially_received");
    assert_eq!(level(&app, "TEA-1", "SH-01").await["on_hand"], 30);
    let over = problem(
        app.post(
            &format!("/v1/purchase-orders/{id}/receipts"),
            &json!({"lines": [{"line_no": 1, "quantity": 31}]}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(over["errors"][0]["code"], "over_receipt");
    assert_eq!(level(&app, "TEA-1", "SH-01").await["on_hand"], 30);
    let done = json_of(
        app.post(
            &format!("/v1/purchase-orders/{id}/receipts"),
            &json!({"lines": [{"line_no": 1, "quantity": 30}]}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(done["status"], "received");
    assert_eq!(done["lines"][0]["open_quantity"], 0);
    assert_eq!(level(&app, "TEA-1", "SH-01").await["on_hand"], 60);
    problem(
        app.post(&format!("/v1/purchase-orders/{id}/cancel"), &json!({}))
            .await,
        409,
    )
    .await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM events WHERE event_type = 'purchase_order.received'")
            .await,
        2
    );
    let receipts = json_of(
        app.get("/v1/inventory/movements?kind=receipt&sku=TEA-1")
            .await,
        200,
    )
    .await;
    assert_eq!(receipts["data"][0]["purchase_order_id"], id);
    // A manual order, cancelled.
    let manual = json_of(
        app.post("/v1/purchase-orders", &json!({"supplier_id": sid, "warehouse_code": "SH-01", "lines": [{"sku": "TEA-1", "quantity": 5, "unit_cost": 550}]})).await,
        201,
    )
    .await;
    assert_eq!(manual["number"], "PO-000002");
    // The prefix is the company's setting once it has one.
    json_of(
        app.post(
            "/v1/settings",
            &json!({"key": "purchase_order_number_prefix", "value": "CG-"}),
        )
        .await,
        201,
    )
    .await;
    let prefixed = json_of(
        app.post("/v1/purchase-orders", &json!({"supplier_id": sid, "warehouse_code": "SH-01", "lines": [{"sku": "TEA-1", "quantity": 5, "unit_cost": 550}]})).await,
        201,
    )
    .await;
    assert_eq!(prefixed["number"], "CG-000003");
    let cancelled = json_of(
        app.post(
            &format!(
                "/v1/purchase-orders/{}/cancel",
                manual["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(cancelled["status"], "cancelled");
    verify(&app).await;
}

async fn roles_and_scopes_guard_stock(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    warehouse(&app, "SH-01").await;
    product(&app, "A-1").await;
    let (_, sales) = app.user("sales@example.com", "sales", None).await;
    let (_, wh) = app.user("wh@example.com", "warehouse", None).await;
    let receipt = json!({"sku": "A-1", "warehouse_code": "SH-01", "quantity": 5});
    let res = app
        .request_as(&wh, Method::POST, "/v1/inventory/receipts")
        .json(&receipt)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let res = app
        .request_as(&sales, Method::POST, "/v1/inventory/receipts")
        .json(&receipt)
        .send()
        .await
        .unwrap();
    problem(res, 403).await;
    let res = app
        .request_as(&sales, Method::GET, "/v1/inventory?sku=A-1")
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(res, 200).await["data"][0]["available"], 5);
    let res = app
        .request_as(&wh, Method::POST, "/v1/products")
        .json(&json!({"sku": "X", "name": "x", "list_price": {"amount": 1, "currency": "CNY"}}))
        .send()
        .await
        .unwrap();
    problem(res, 403).await;
    for (scopes, write_status) in [
        (json!(["inventory:read"]), 403),
        (json!(["inventory:write"]), 200),
    ] {
        let key = json_of(
            app.post(
                "/v1/api-keys",
                &json!({"name": "wms", "kind": "logistics", "scopes": scopes}),
            )
            .await,
            201,
        )
        .await;
        let secret = key["secret"].as_str().unwrap();
        let res = app
            .request_as(secret, Method::PUT, "/v1/inventory/levels/A-1/SH-01")
            .json(&json!({"quantity": 7, "counted_at": "2026-11-23T07:00:00Z"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), write_status, "{scopes}");
    }
}

/// The storm again on PostgreSQL, split across two `ordercrm` processes that share
/// the database: the guarantee is in the database, not in one process's memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reservation_storm_across_two_processes_on_postgresql() {
    if !postgres_available().await {
        return;
    }
    let app = TestApp::spawn(Engine::Postgres).await;
    warehouse(&app, "SH-01").await;
    product(&app, "HOT-1").await;
    receive(&app, "HOT-1", "SH-01", 50).await;
    let (servers, _dirs, ports, token) = crate::process::two_more_processes(&app).await;
    let body = json!({"lines": [{"sku": "HOT-1", "warehouse_code": "SH-01", "quantity": 1}]});
    let statuses = storm((0..200).map(|i| {
        app.client
            .post(format!(
                "http://127.0.0.1:{}/v1/inventory/reservations",
                ports[i % 2]
            ))
            .bearer_auth(&token)
            .json(&body)
    }))
    .await;
    assert_storm(&app, &statuses, "HOT-1").await;
    drop(servers);
}
