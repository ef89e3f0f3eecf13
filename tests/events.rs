//! The outbox: every event reaches the feed exactly once, in an order that never
//! changes, though writers take no lock and commit in any order.

use std::collections::HashSet;
use std::time::Duration;

use ordercrm_tests::{Engine, TestApp, both_engines, postgres_available};
use reqwest::Method;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, Statement, TransactionTrait,
};
use serde_json::{Value, json};
use uuid::Uuid;

/// What a reader following the feed has seen: event ids in the order it read them.
async fn follow(db: &DatabaseConnection, seen: &mut Vec<Uuid>, last: &mut i64) {
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT id, position FROM events WHERE position > $1 ORDER BY position LIMIT 100",
            [(*last).into()],
        ))
        .await
        .unwrap();
    for row in rows {
        seen.push(row.try_get_by_index::<Uuid>(0).unwrap());
        *last = row.try_get_by_index::<i64>(1).unwrap();
    }
}

/// An event written by a transaction the test holds open: it takes its transaction
/// id now and commits when the test says.
async fn open_writer(db: &DatabaseConnection) -> (DatabaseTransaction, Uuid) {
    let txn = db.begin().await.unwrap();
    let id = Uuid::now_v7();
    txn.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        "INSERT INTO events (id, event_type, resource_type, resource_id, resource_version, \
         payload, actor, created_at) \
         VALUES ($1, 'setting.updated', 'setting', 'held', 1, '{}'::jsonb, 'test', now())",
        [id.into()],
    ))
    .await
    .unwrap();
    (txn, id)
}

async fn create_setting(app: &TestApp, key: &str) -> Uuid {
    let res = app
        .post("/v1/settings", &json!({"key": key, "value": 1}))
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let rows = app
        .raw_db()
        .await
        .query_all_raw(Statement::from_sql_and_values(
            sea_orm::DatabaseBackend::Postgres,
            "SELECT id FROM events WHERE resource_id = $1",
            [key.into()],
        ))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    rows[0].try_get_by_index::<Uuid>(0).unwrap()
}

async fn metric(app: &TestApp, name: &str) -> f64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

/// Two transactions write an event early and commit late (the second before the
/// first); requests write and commit events in between, which reach the feed at
/// once. A reader polling the feed all along sees none of them skipped or
/// repeated, and the order it saw is the order the feed keeps.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn feed_never_skips_an_event_that_commits_late() {
    if !postgres_available().await {
        return;
    }
    let app = TestApp::spawn(Engine::Postgres).await;
    let db = app.raw_db().await;
    let reader_db = app.raw_db().await;
    // What the setup wrote (the admin user) reaches the feed first.
    let sequenced = "SELECT COUNT(*) FROM events WHERE position IS NOT NULL";
    let base = app.count("SELECT COUNT(*) FROM events").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while app.count(sequenced).await < base {
        assert!(tokio::time::Instant::now() < deadline, "feed stalled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (stop_reading, mut stopped) = tokio::sync::watch::channel(false);
    let reader = tokio::spawn(async move {
        let (mut seen, mut last) = (Vec::new(), base);
        loop {
            follow(&reader_db, &mut seen, &mut last).await;
            if *stopped.borrow() {
                // One more read after everything committed and was sequenced.
                follow(&reader_db, &mut seen, &mut last).await;
                return seen;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(15)) => {}
                _ = stopped.changed() => {}
            }
        }
    });

    let mut written = Vec::new();
    let (early, early_id) = open_writer(&db).await;
    for i in 0..3 {
        written.push(create_setting(&app, &format!("first_{i}")).await);
    }
    let (middle, middle_id) = open_writer(&db).await;
    for i in 0..3 {
        written.push(create_setting(&app, &format!("second_{i}")).await);
    }
    // Writers did not wait for the open transactions (no global lock), and what
    // they committed reaches the feed while those are still open.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while app.count(sequenced).await < base + 6 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "committed events held back by open transactions"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    middle.commit().await.unwrap();
    for i in 0..2 {
        written.push(create_setting(&app, &format!("third_{i}")).await);
    }
    // Everything committed so far is in the feed before the early writer commits.
    while app.count(sequenced).await < base + 9 {
        assert!(tokio::time::Instant::now() < deadline, "feed stalled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    early.commit().await.unwrap();
    written.push(early_id);
    written.push(middle_id);

    // Everything reaches the feed.
    let all = base + i64::try_from(written.len()).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while app.count(sequenced).await < all {
        assert!(tokio::time::Instant::now() < deadline, "feed stalled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop_reading.send(true).unwrap();
    let seen = reader.await.unwrap();

    let unique: HashSet<Uuid> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "an event was read twice");
    assert_eq!(unique, written.iter().copied().collect(), "events missing");
    // The order the reader saw is the feed's order now, with no gaps.
    let rows = db
        .query_all_raw(Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            format!("SELECT id, position FROM events WHERE position > {base} ORDER BY position"),
        ))
        .await
        .unwrap();
    let order: Vec<Uuid> = rows
        .iter()
        .map(|r| r.try_get_by_index::<Uuid>(0).unwrap())
        .collect();
    let positions: Vec<i64> = rows
        .iter()
        .map(|r| r.try_get_by_index::<i64>(1).unwrap())
        .collect();
    assert_eq!(order, seen);
    assert_eq!(positions, (base + 1..=all).collect::<Vec<_>>());
    // The early writer's event, committed last, comes last: after every position a
    // reader had already passed.
    assert_eq!(seen.last(), Some(&early_id));
    assert_eq!(
        metric(&app, "ordercrm_outbox_unsequenced_events").await,
        0.0
    );
    app.stop().await;
}

both_engines!(every_change_writes_an_event);

/// A made resource's id.
async fn made(res: reqwest::Response, what: &str) -> String {
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert!(status.is_success(), "fixture {what}: {status} {body}");
    body["id"].as_str().unwrap().to_owned()
}

/// Operations that change no business resource, so write no event. Everything else
/// in the document must write at least one.
const CHANGE_NOTHING: &[(&str, &str)] = &[
    // Sessions, not business resources: the audit log keeps them.
    ("post", "/v1/auth/token"),
    ("post", "/v1/auth/refresh"),
    ("post", "/v1/auth/logout"),
    // Sending again and testing are about deliveries, not business resources (the
    // conventions: no event); the webhook tests assert they write none.
    ("post", "/v1/webhook-endpoints/{id}/recover"),
    ("post", "/v1/webhook-endpoints/{id}/test"),
    ("post", "/v1/webhook-deliveries/{id}/redeliver"),
    // A dry run.
    ("post", "/v1/orders/{id}/edits/preview"),
];

/// Every mutating operation in the OpenAPI document, called successfully with its
/// documented example body (ids, SKUs and codes pointed at a fixture), writes at
/// least one event, every event it writes is a type the document's `webhooks` map
/// lists, and every event about a customer's things names the customer. An
/// idempotent replay writes none.
async fn every_change_writes_an_event(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let doc: Value =
        serde_json::from_str(&ordercrm_api::openapi::to_json(&ordercrm_api::openapi())).unwrap();
    let catalogue: HashSet<String> = doc["webhooks"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();

    // The world the examples talk about (TEA-LJ-250 and CUP-CELADON in SH-01 and
    // BJ-01), and one target per operation that ends something.
    let mut warehouses = Vec::new();
    for code in ["SH-01", "BJ-01"] {
        let res = app
            .post("/v1/warehouses", &json!({"code": code, "name": code}))
            .await;
        warehouses.push(made(res, code).await);
    }
    let supplier = made(
        app.post(
            "/v1/suppliers",
            &json!({"name": "Tea Co", "currency": "CNY", "lead_time_days": 7}),
        )
        .await,
        "supplier",
    )
    .await;
    let mut products = Vec::new();
    for sku in ["TEA-LJ-250", "CUP-CELADON"] {
        let product = made(
            app.post(
                "/v1/products",
                &json!({"sku": sku, "name": sku, "list_price": {"amount": 100, "currency": "CNY"},
                    "cost": {"amount": 60, "currency": "CNY"},
                    "supplier_id": supplier}),
            )
            .await,
            sku,
        )
        .await;
        products.push(product);
        let res = app
            .post(
                "/v1/inventory/receipts",
                &json!({"sku": sku, "warehouse_code": "SH-01", "quantity": 500}),
            )
            .await;
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    }
    // Below its reorder point: replenishment suggests it.
    let res = app
        .patch(
            "/v1/inventory/levels/CUP-CELADON/SH-01",
            &json!({"reorder_point": 10_000, "reorder_quantity": 100}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let doomed_product = made(
        app.post(
            "/v1/products",
            &json!({"sku": "COV-DEL", "name": "To delete", "list_price": {"amount": 1, "currency": "CNY"}}),
        )
        .await,
        "product to delete",
    )
    .await;
    let hold = json!({"lines": [{"sku": "TEA-LJ-250", "warehouse_code": "SH-01", "quantity": 2}]});
    let to_release = made(app.post("/v1/inventory/reservations", &hold).await, "hold").await;
    let to_consume = made(app.post("/v1/inventory/reservations", &hold).await, "hold").await;
    let po = json!({"supplier_id": supplier, "warehouse_code": "SH-01",
        "lines": [{"sku": "TEA-LJ-250", "quantity": 200}]});
    let po_to_cancel = made(app.post("/v1/purchase-orders", &po).await, "po").await;
    let po_to_place = made(app.post("/v1/purchase-orders", &po).await, "po").await;
    let po_to_receive = made(app.post("/v1/purchase-orders", &po).await, "po").await;
    let res = app
        .post(
            &format!("/v1/purchase-orders/{po_to_receive}/order"),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let customer = |name: &str| json!({"kind": "company", "name": name});
    let main = made(
        app.post("/v1/customers", &customer("Main")).await,
        "customer",
    )
    .await;
    let duplicate = made(
        app.post("/v1/customers", &customer("Dup")).await,
        "customer",
    )
    .await;
    let to_erase = made(
        app.post("/v1/customers", &customer("Erase")).await,
        "customer",
    )
    .await;
    let to_archive = made(
        app.post("/v1/customers", &customer("Archive")).await,
        "customer",
    )
    .await;
    let address =
        json!({"kind": "shipping", "line1": "1 Road", "city": "Shanghai", "country": "CN"});
    let mut addresses = Vec::new();
    for _ in 0..2 {
        addresses.push(
            made(
                app.post(&format!("/v1/customers/{main}/addresses"), &address)
                    .await,
                "address",
            )
            .await,
        );
    }
    let mut contacts = Vec::new();
    for name in ["A", "B"] {
        contacts.push(
            made(
                app.post(
                    &format!("/v1/customers/{main}/contacts"),
                    &json!({"name": name}),
                )
                .await,
                "contact",
            )
            .await,
        );
    }
    let follow_up = made(
        app.post(
            &format!("/v1/customers/{main}/follow-ups"),
            &json!({"title": "Call", "due_at": "2026-11-30T02:00:00Z"}),
        )
        .await,
        "follow-up",
    )
    .await;
    let (manager, _) = app.user("manager@example.com", "manager", None).await;
    let (user, _) = app.user("rep@example.com", "sales", None).await;
    let (_, own_token) = app.user("self@example.com", "sales", None).await;
    // One failed sign-in: something for unlock to clear.
    let res = app
        .anonymous(Method::POST, "/v1/auth/token")
        .json(&json!({"email": "rep@example.com", "password": "wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let key = made(
        app.post(
            "/v1/api-keys",
            &json!({"name": "k", "kind": "erp", "scopes": ["customers:read"]}),
        )
        .await,
        "key",
    )
    .await;
    let rate_to_delete = made(
        app.post(
            "/v1/exchange-rates",
            &json!({"from": "EUR", "to": "CNY", "rate": "7.8", "effective_on": "2026-11-01"}),
        )
        .await,
        "exchange rate",
    )
    .await;
    // Orders in every state an action starts from. A USD order with no USD→CNY
    // rate is held for the amount rule, which a manager may override.
    let res = app
        .post(
            "/v1/settings",
            &json!({"key": "base_currency", "value": "CNY"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let order = |submit: bool, currency: &str| {
        json!({"customer_id": main, "currency": currency, "submit": submit,
            "lines": [{"sku": "TEA-LJ-250", "quantity": 1,
                "unit_price": {"amount": 100, "currency": currency}}]})
    };
    let draft_to_submit = made(app.post("/v1/orders", &order(false, "CNY")).await, "order").await;
    let draft_to_cancel = made(app.post("/v1/orders", &order(false, "CNY")).await, "order").await;
    let approved = made(app.post("/v1/orders", &order(true, "CNY")).await, "order").await;
    let held_to_approve = made(app.post("/v1/orders", &order(true, "USD")).await, "order").await;
    let held_to_reject = made(app.post("/v1/orders", &order(true, "USD")).await, "order").await;
    let held_to_release = made(app.post("/v1/orders", &order(true, "USD")).await, "order").await;
    let to_ship = made(app.post("/v1/orders", &order(true, "CNY")).await, "order").await;
    let to_edit = made(app.post("/v1/orders", &order(true, "CNY")).await, "order").await;
    // Shipments to cancel, to sign for, and to track (the example's number).
    let mut shipments = Vec::new();
    for number in ["SF-CANCEL", "SF-SIGN", "SF1234567890"] {
        let shipped = made(app.post("/v1/orders", &order(true, "CNY")).await, "order").await;
        shipments.push(
            made(
                app.post(
                    &format!("/v1/orders/{shipped}/shipments"),
                    &json!({"lines": [{"line_no": 1, "quantity": 1}], "carrier": "sf",
                        "tracking_number": number}),
                )
                .await,
                "shipment",
            )
            .await,
        );
    }
    // A delivered order of six, and returns in each state an action starts from;
    // one unit is left for the example's new return.
    let returned = made(
        app.post(
            "/v1/orders",
            &json!({"customer_id": main, "currency": "CNY", "submit": true,
                "lines": [{"sku": "TEA-LJ-250", "quantity": 6,
                    "unit_price": {"amount": 100, "currency": "CNY"}}]}),
        )
        .await,
        "order",
    )
    .await;
    let parcel = made(
        app.post(
            &format!("/v1/orders/{returned}/shipments"),
            &json!({"lines": [{"line_no": 1, "quantity": 6}], "carrier": "sf",
                "tracking_number": "SF-RETURNS"}),
        )
        .await,
        "shipment",
    )
    .await;
    let res = app
        .post(
            &format!("/v1/shipments/{parcel}/deliver"),
            &json!({"signed_by": "Li Lei"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let mut returns = Vec::new();
    for (steps, resolution) in [
        (&[][..], "refund"),
        (&[][..], "refund"),
        (&["approve"][..], "refund"),
        (&["approve", "receive"][..], "refund"),
        (&["approve", "receive"][..], "repair"),
    ] {
        let id = made(
            app.post(
                &format!("/v1/orders/{returned}/returns"),
                &json!({"lines": [{"line_no": 1, "quantity": 1}], "reason": "fixture",
                    "resolution": resolution}),
            )
            .await,
            "return",
        )
        .await;
        for step in steps {
            let disposition = if resolution == "repair" {
                "repair"
            } else {
                "restock"
            };
            let body = if *step == "receive" {
                json!({"lines": [{"line_no": 1, "quantity": 1, "disposition": disposition}]})
            } else {
                json!({})
            };
            let res = app.post(&format!("/v1/returns/{id}/{step}"), &body).await;
            assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
        }
        returns.push(id);
    }
    // Invoices: an order to invoice, drafts to issue and void, an open one to write
    // off and one owing money for a payment's credit to pay.
    // On credit terms: prepaid orders are invoiced at approval.
    let on_credit = || {
        let mut body = order(true, "CNY");
        body["payment_terms"] = json!("net");
        body["payment_terms_days"] = json!(30);
        body
    };
    let to_invoice = made(app.post("/v1/orders", &on_credit()).await, "order").await;
    let mut invoices = Vec::new();
    for issue in [false, false, true, true, false] {
        let invoiced = made(app.post("/v1/orders", &on_credit()).await, "order").await;
        invoices.push(
            made(
                app.post(
                    &format!("/v1/orders/{invoiced}/invoices"),
                    &json!({"issue": issue}),
                )
                .await,
                "invoice",
            )
            .await,
        );
    }
    let with_credit = made(
        app.post(
            "/v1/payments",
            &json!({"customer_id": main, "amount": {"amount": 100, "currency": "CNY"},
                "method": "cash", "allocations": []}),
        )
        .await,
        "payment",
    )
    .await;
    // A credit note to void, on the open invoice nothing else changes.
    let credit_note = made(
        app.post(
            &format!("/v1/invoices/{}/credit-notes", invoices[3]),
            &json!({"amount": {"amount": 20, "currency": "CNY"}, "reason": "fixture"}),
        )
        .await,
        "credit note",
    )
    .await;
    // Payments with credit to refund and to reverse; refunds to approve (asked for
    // by finance, above the threshold), to pay out and to fail.
    let credit = || {
        json!({"customer_id": main, "amount": {"amount": 100, "currency": "CNY"},
            "method": "cash", "allocations": []})
    };
    let to_refund = made(app.post("/v1/payments", &credit()).await, "payment").await;
    let to_reverse = made(app.post("/v1/payments", &credit()).await, "payment").await;
    let res = app
        .post(
            "/v1/settings",
            &json!({"key": "refund_approval_threshold", "value": 50}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let (_, finance) = app.user("finance@example.com", "finance", None).await;
    let refund = |amount: i64| {
        app.request_as(
            &finance,
            Method::POST,
            &format!("/v1/payments/{to_refund}/refunds"),
        )
        .json(&json!({"amount": {"amount": amount, "currency": "CNY"}}))
        .send()
    };
    let refund_to_approve = made(refund(60).await.unwrap(), "refund").await;
    let refund_to_succeed = made(refund(10).await.unwrap(), "refund").await;
    let refund_to_fail = made(refund(10).await.unwrap(), "refund").await;
    let hook = json!({"url": "https://shop.test/hooks", "event_types": ["order.*"]});
    let endpoint = made(app.post("/v1/webhook-endpoints", &hook).await, "endpoint").await;
    let endpoint_to_delete = made(app.post("/v1/webhook-endpoints", &hook).await, "endpoint").await;
    for key in ["cov_patch", "cov_delete"] {
        let res = app
            .post("/v1/settings", &json!({"key": key, "value": 1}))
            .await;
        assert_eq!(res.status(), 201);
    }

    let mut tried = 0;
    let mut patched = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["post", "put", "patch", "delete"] {
            let Some(op) = item.get(method) else { continue };
            if CHANGE_NOTHING.contains(&(method, path.as_str())) {
                continue;
            }
            // Path parameters, and what the example body needs to fit this world.
            let id = match (method, path.as_str()) {
                ("delete", "/v1/api-keys/{id}") => key.clone(),
                ("delete", "/v1/products/{id}") => doomed_product.clone(),
                (_, "/v1/products/{id}") => products[0].clone(),
                (_, "/v1/warehouses/{id}") => warehouses[0].clone(),
                (_, "/v1/customers/{id}/erase") => to_erase.clone(),
                (_, "/v1/customers/{id}/archive") => to_archive.clone(),
                (_, p) if p.starts_with("/v1/customers/{id}") => main.clone(),
                (_, "/v1/follow-ups/{id}") => follow_up.clone(),
                (_, "/v1/inventory/reservations/{id}/release") => to_release.clone(),
                (_, "/v1/inventory/reservations/{id}/consume") => to_consume.clone(),
                (_, "/v1/purchase-orders/{id}/cancel") => po_to_cancel.clone(),
                (_, "/v1/purchase-orders/{id}/order") => po_to_place.clone(),
                (_, "/v1/purchase-orders/{id}/receipts") => po_to_receive.clone(),
                (_, "/v1/suppliers/{id}") => supplier.clone(),
                (_, "/v1/exchange-rates/{id}") => rate_to_delete.clone(),
                (_, "/v1/orders/{id}/submit") => draft_to_submit.clone(),
                (_, "/v1/orders/{id}/cancel") => draft_to_cancel.clone(),
                (_, "/v1/orders/{id}/hold") => approved.clone(),
                (_, "/v1/orders/{id}/approve") => held_to_approve.clone(),
                (_, "/v1/orders/{id}/reject") => held_to_reject.clone(),
                (_, "/v1/orders/{id}/release") => held_to_release.clone(),
                (_, "/v1/orders/{id}/shipments") => to_ship.clone(),
                (_, "/v1/orders/{id}/edits") => to_edit.clone(),
                (_, "/v1/shipments/{id}/cancel") => shipments[0].clone(),
                (_, "/v1/shipments/{id}/deliver") => shipments[1].clone(),
                (_, "/v1/orders/{id}/returns") => returned.clone(),
                (_, "/v1/returns/{id}/approve") => returns[0].clone(),
                (_, "/v1/returns/{id}/reject") => returns[1].clone(),
                (_, "/v1/returns/{id}/receive") => returns[2].clone(),
                (_, "/v1/returns/{id}/close") => returns[3].clone(),
                (_, "/v1/returns/{id}/shipments") => returns[4].clone(),
                (_, "/v1/orders/{id}/invoices") => to_invoice.clone(),
                (_, "/v1/invoices/{id}") => invoices[4].clone(),
                (_, "/v1/invoices/{id}/issue") => invoices[0].clone(),
                (_, "/v1/invoices/{id}/void") => invoices[1].clone(),
                (_, "/v1/invoices/{id}/mark-uncollectible") => invoices[2].clone(),
                (_, "/v1/invoices/{id}/credit-notes") => invoices[3].clone(),
                (_, "/v1/credit-notes/{id}/void") => credit_note.clone(),
                (_, "/v1/payments/{id}/refunds") => to_refund.clone(),
                (_, "/v1/payments/{id}/reverse") => to_reverse.clone(),
                (_, "/v1/refunds/{id}/approve") => refund_to_approve.clone(),
                (_, "/v1/refunds/{id}/succeed") => refund_to_succeed.clone(),
                (_, "/v1/refunds/{id}/fail") => refund_to_fail.clone(),
                (_, "/v1/payments/{id}/allocate") => with_credit.clone(),
                (_, p) if p.starts_with("/v1/users/{id}") => user.clone(),
                ("delete", "/v1/webhook-endpoints/{id}") => endpoint_to_delete.clone(),
                (_, p) if p.starts_with("/v1/webhook-endpoints/{id}") => endpoint.clone(),
                _ => String::new(),
            };
            let concrete = path
                .replace("{id}", &id)
                .replace(
                    "{address_id}",
                    &addresses[if method == "delete" { 1 } else { 0 }],
                )
                .replace(
                    "{contact_id}",
                    &contacts[if method == "delete" { 1 } else { 0 }],
                )
                .replace("{sku}", "TEA-LJ-250")
                .replace("{warehouse_code}", "SH-01")
                .replace(
                    "{key}",
                    if method == "delete" {
                        "cov_delete"
                    } else {
                        "cov_patch"
                    },
                );
            let content = &op["requestBody"]["content"];
            let mut body = content["application/json"]["schema"]["$ref"]
                .as_str()
                .map(|r| ordercrm_tests::schema_example(&doc, r));
            if let Some(body) = body.as_mut() {
                fit_example(body, &supplier, &duplicate, &manager, &main);
                // A new product or warehouse, not the fixture's.
                if method == "post" && path == "/v1/products" {
                    body["sku"] = json!("COV-NEW");
                }
                if method == "post" && path == "/v1/warehouses" {
                    body["code"] = json!("COV-WH");
                }
                // A repair's parcel has a number of its own.
                if path == "/v1/returns/{id}/shipments" {
                    body["tracking_number"] = json!("SF-REPAIR");
                }
                // All credit: the open invoice left owing is the allocation's.
                if path == "/v1/payments" {
                    body["allocations"] = json!([]);
                    if let Some(b) = body.as_object_mut() {
                        b.remove("received_on");
                    }
                }
                if path == "/v1/payments/{id}/allocate" {
                    *body = json!({});
                }
                // Within what the fixture's payment has left.
                if path == "/v1/payments/{id}/refunds" {
                    *body = json!({"amount": {"amount": 10, "currency": "CNY"}});
                }
                // Within what the fixture's invoice owes: nothing to split.
                if path == "/v1/invoices/{id}/credit-notes" {
                    *body =
                        json!({"amount": {"amount": 50, "currency": "CNY"}, "reason": "fixture"});
                }
                if path == "/v1/replenishment/purchase-orders" {
                    body["lines"][0]["sku"] = json!("CUP-CELADON");
                }
            }
            let mut req = if path == "/v1/me/password" {
                app.request_as(&own_token, Method::POST, &concrete)
            } else {
                app.request(
                    Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                    &concrete,
                )
            };
            if path == "/v1/orders/{id}/edits" {
                // An edit applies only at the version read.
                let order = app.get(&format!("/v1/orders/{id}")).await;
                req = req.header("if-match", order.headers()["etag"].clone());
            }
            if path == "/v1/me/password" {
                body = Some(json!({"current_password": ordercrm_tests::PASSWORD,
                    "new_password": "a new, longer passphrase"}));
            }
            if content.get("text/csv").is_some() {
                let csv = if path.starts_with("/v1/customers") {
                    "kind,name\nperson,Imported\n"
                } else {
                    "sku,name,list_price_amount,list_price_currency\nCOV-IMP,Imported,100,CNY\n"
                };
                req = req.header("content-type", "text/csv").body(csv);
            } else if let Some(body) = &body {
                req = req.json(body);
            }
            if method == "patch" {
                patched.push((path.clone(), concrete.clone(), body.clone()));
            }
            let before = app.count("SELECT COALESCE(MAX(seq), 0) FROM events").await;
            let res = req.send().await.unwrap();
            let status = res.status();
            assert!(
                status.is_success(),
                "{method} {path}: {status} {}",
                res.text().await.unwrap()
            );
            let written = written_since(&app, before).await;
            assert!(
                !written.is_empty(),
                "{method} {path} changed something and wrote no event"
            );
            for (event_type, resource_type, customer_id) in &written {
                assert!(
                    catalogue.contains(event_type),
                    "{method} {path} wrote {event_type}, which the document's webhooks map lacks"
                );
                if ["customer", "contact", "address", "note", "follow_up"]
                    .contains(&resource_type.as_str())
                {
                    assert!(
                        customer_id.is_some(),
                        "{method} {path}: {event_type} names no customer"
                    );
                }
            }
            tried += 1;
        }
    }
    assert!(tried >= 45, "only {tried} operations tried");

    // A PATCH that names no field, or sends again what it already set, changes
    // nothing: no event, and the version (ETag) stays.
    assert!(
        patched.len() >= 9,
        "only {} PATCH operations",
        patched.len()
    );
    for (path, concrete, body) in patched {
        for (what, body) in [("empty", json!({})), ("repeated", body.unwrap_or_default())] {
            let etag = app.get(&concrete).await.headers().get("etag").cloned();
            let before = app.count("SELECT COALESCE(MAX(seq), 0) FROM events").await;
            let res = app.patch(&concrete, &body).await;
            let status = res.status();
            let same_etag = res.headers().get("etag").cloned() == etag;
            assert_eq!(
                status,
                200,
                "{what} PATCH {path}: {}",
                res.text().await.unwrap()
            );
            let written = written_since(&app, before).await;
            assert!(written.is_empty(), "{what} PATCH {path} wrote {written:?}");
            assert!(
                same_etag || etag.is_none(),
                "{what} PATCH {path} moved the ETag"
            );
        }
    }

    // Every event about a resource is a newer version of it than the one before,
    // so a reader that drops versions it has seen never drops a change.
    let db = app.raw_db().await;
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT resource_type, resource_id, resource_version, event_type FROM events ORDER BY seq",
        ))
        .await
        .unwrap();
    let mut last: std::collections::HashMap<(String, String), (i64, String)> =
        std::collections::HashMap::new();
    for r in rows {
        let key = (
            r.try_get_by_index::<String>(0).unwrap(),
            r.try_get_by_index::<String>(1).unwrap(),
        );
        let version = r.try_get_by_index::<i64>(2).unwrap();
        let event_type = r.try_get_by_index::<String>(3).unwrap();
        if let Some((before, before_type)) = last.get(&key) {
            assert!(
                version > *before,
                "{key:?}: {event_type} v{version} after {before_type} v{before}"
            );
        }
        last.insert(key, (version, event_type));
    }

    // A replay changes nothing.
    let create = || {
        app.request(Method::POST, "/v1/settings")
            .header("idempotency-key", "replay-1")
            .json(&json!({"key": "replayed", "value": 1}))
    };
    assert_eq!(create().send().await.unwrap().status(), 201);
    let before = app.count("SELECT COALESCE(MAX(seq), 0) FROM events").await;
    let replay = create().send().await.unwrap();
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert!(
        written_since(&app, before).await.is_empty(),
        "a replay wrote an event"
    );
    app.stop().await;
}

/// Point an example body's references at the fixture.
fn fit_example(body: &mut Value, supplier: &str, duplicate: &str, manager: &str, customer: &str) {
    let Some(fields) = body.as_object_mut() else {
        return;
    };
    for (name, value) in fields.iter_mut() {
        match name.as_str() {
            "supplier_id" => *value = json!(supplier),
            "source_id" => *value = json!(duplicate),
            "manager_id" => *value = json!(manager),
            "customer_id" => *value = json!(customer),
            // In the test clock's past.
            "counted_at" | "occurred_at" => *value = json!("2026-11-23T07:00:00Z"),
            _ => {}
        }
    }
}

/// (type, resource type, customer id) of the events after `seq`.
async fn written_since(app: &TestApp, seq: i64) -> Vec<(String, String, Option<Uuid>)> {
    let db = app.raw_db().await;
    let backend = db.get_database_backend();
    let sql = match backend {
        sea_orm::DatabaseBackend::Postgres => {
            "SELECT event_type, resource_type, customer_id FROM events WHERE seq > $1 ORDER BY seq"
        }
        _ => "SELECT event_type, resource_type, customer_id FROM events WHERE seq > ? ORDER BY seq",
    };
    db.query_all_raw(Statement::from_sql_and_values(backend, sql, [seq.into()]))
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.try_get_by_index::<String>(0).unwrap(),
                r.try_get_by_index::<String>(1).unwrap(),
                r.try_get_by_index::<Option<Uuid>>(2).unwrap(),
            )
        })
        .collect()
}

/// Events about one resource reach the feed in the order their changes committed,
/// whichever transaction began first: a reservation that changed one SKU, then
/// waited for another's row while an adjustment of a third SKU committed, writes
/// its event about that third SKU after the adjustment's.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_about_one_resource_keep_their_commit_order() {
    if !postgres_available().await {
        return;
    }
    let app = TestApp::spawn(Engine::Postgres).await;
    let res = app
        .post("/v1/warehouses", &json!({"code": "SH-01", "name": "SH"}))
        .await;
    assert_eq!(res.status(), 201);
    for sku in ["SKU-X", "SKU-Y", "SKU-Z"] {
        let res = app
            .post(
                "/v1/products",
                &json!({"sku": sku, "name": sku, "list_price": {"amount": 1, "currency": "CNY"}}),
            )
            .await;
        assert_eq!(res.status(), 201);
        let res = app
            .post(
                "/v1/inventory/receipts",
                &json!({"sku": sku, "warehouse_code": "SH-01", "quantity": 100}),
            )
            .await;
        assert_eq!(res.status(), 201);
    }
    let res = app
        .patch(
            "/v1/inventory/levels/SKU-Z/SH-01",
            &json!({"reorder_point": 60}),
        )
        .await;
    assert_eq!(res.status(), 200);
    // Someone holds SKU-Y's level.
    let db = app.raw_db().await;
    let holder = db.begin().await.unwrap();
    holder
        .execute_raw(Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            "SELECT 1 FROM stock_levels WHERE product_id = \
             (SELECT id FROM products WHERE sku = 'SKU-Y') FOR UPDATE",
        ))
        .await
        .unwrap();
    // Takes SKU-X, waits for SKU-Y, then takes SKU-Z below its reorder point.
    let reserve = app
        .request(Method::POST, "/v1/inventory/reservations")
        .json(&json!({"lines": [
            {"sku": "SKU-X", "warehouse_code": "SH-01", "quantity": 1},
            {"sku": "SKU-Y", "warehouse_code": "SH-01", "quantity": 1},
            {"sku": "SKU-Z", "warehouse_code": "SH-01", "quantity": 50}]}))
        .send();
    let reserve = tokio::spawn(reserve);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let res = app
        .post(
            "/v1/inventory/adjustments",
            &json!({"sku": "SKU-Z", "warehouse_code": "SH-01", "quantity": -1, "reason": "damaged"}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    holder.commit().await.unwrap();
    assert_eq!(reserve.await.unwrap().unwrap().status(), 201);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while app
        .count("SELECT COUNT(*) FROM events WHERE position IS NULL")
        .await
        > 0
    {
        assert!(tokio::time::Instant::now() < deadline, "feed stalled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rows = db
        .query_all_raw(Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            "SELECT event_type, resource_version FROM events \
             WHERE resource_type = 'stock_level' AND resource_id LIKE 'SKU-Z%' ORDER BY position",
        ))
        .await
        .unwrap();
    let feed: Vec<(String, i64)> = rows
        .iter()
        .map(|r| {
            (
                r.try_get_by_index::<String>(0).unwrap(),
                r.try_get_by_index::<i64>(1).unwrap(),
            )
        })
        .collect();
    let types: Vec<&str> = feed.iter().map(|(t, _)| t.as_str()).collect();
    let adjusted = types.iter().position(|t| *t == "stock_level.adjusted");
    let low = types.iter().position(|t| *t == "stock_level.low");
    assert!(
        adjusted.is_some() && low.is_some() && adjusted < low,
        "SKU-Z's feed: {feed:?}"
    );
    let versions: Vec<i64> = feed.iter().map(|(_, v)| *v).collect();
    // Each event is a new version of the level (the alert's flip too), so a reader
    // that drops versions it has seen drops nothing new.
    assert!(
        versions.windows(2).all(|w| w[0] < w[1]),
        "SKU-Z's versions do not rise in the feed: {feed:?}"
    );
    app.stop().await;
}
