//! Payments, part 1: invoices paid in parts (outstanding never below zero, one
//! `invoice.paid`), the order paid and completed by the completion rule, a
//! prepayment applied at issue, an instalment schedule that adds up exactly, and a
//! gateway's notification recorded once under concurrent resends.

use futures_util::future::join_all;
use ordercrm_tests::{Engine, TestApp, both_engines};
use reqwest::Method;
use serde_json::{Value, json};

both_engines!(
    an_invoice_paid_in_parts_completes_the_delivered_order,
    a_prepaid_marketplace_order_completes_on_delivery_with_no_further_payment,
    a_30_70_schedule_adds_up_exactly_and_each_row_has_its_day,
    one_gateway_notification_sent_ten_times_is_one_payment,
    random_invoices_payments_and_allocations_keep_the_books_balanced,
    who_may_do_what_and_bad_input_changes_nothing,
    credit_counts_open_invoices_and_uninvoiced_orders_once,
    edits_and_cancellations_undo_invoices_and_keep_the_money,
    the_invoice_policy_invoices_at_shipment_or_delivery,
    concurrent_invoices_never_bill_a_line_twice,
    prepayments_become_payments_in_the_migration,
    a_notification_used_in_part_pays_its_order_the_rest_and_merged_customers_pay_on,
    the_issuer_issues_what_orders_asked_for_or_leaves_it_to_finance,
);

/// SH-01 holding TEA (1000.00 CNY, no tax) and ODD (1000.01 CNY); a customer.
async fn world(app: &TestApp) -> String {
    let res = app
        .post(
            "/v1/warehouses",
            &json!({"code": "SH-01", "name": "Shanghai"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    for (sku, price) in [("TEA", 100_000), ("ODD", 100_001)] {
        let res = app
            .post(
                "/v1/products",
                &json!({"sku": sku, "name": sku, "tax_rate_bps": 0,
                    "list_price": {"amount": price, "currency": "CNY"}}),
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

async fn order(app: &TestApp, customer: &str, sku: &str, extra: Value) -> Value {
    let mut body = json!({"customer_id": customer, "currency": "CNY", "submit": true,
        "payment_terms": "net", "payment_terms_days": 30,
        "lines": [{"sku": sku, "quantity": 1, "warehouse_code": "SH-01"}]});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let res = app.post("/v1/orders", &body).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let order: Value = res.json().await.unwrap();
    assert_eq!(order["status"], "approved", "{order}");
    order
}

async fn deliver(app: &TestApp, order_id: &str, tracking: &str) {
    let res = app
        .post(
            &format!("/v1/orders/{order_id}/shipments"),
            &json!({"lines": [{"line_no": 1, "quantity": 1}], "carrier": "SF",
                "tracking_number": tracking}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let shipment: Value = res.json().await.unwrap();
    let res = app
        .post(
            &format!("/v1/shipments/{}/deliver", shipment["id"].as_str().unwrap()),
            &json!({"signed_by": "Li Lei"}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
}

async fn pay(app: &TestApp, customer: &str, amount: i64, extra: Value) -> Value {
    let mut body = json!({"customer_id": customer, "method": "bank_transfer",
        "amount": {"amount": amount, "currency": "CNY"}});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let res = app.post("/v1/payments", &body).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    res.json().await.unwrap()
}

async fn invoice(app: &TestApp, id: &str) -> Value {
    let res = app.get(&format!("/v1/invoices/{id}")).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn an_invoice_paid_in_parts_completes_the_delivered_order(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app).await;
    let o = order(&app, &customer, "TEA", json!({})).await;
    let order_id = o["id"].as_str().unwrap();
    deliver(&app, order_id, "SF-1").await;
    assert_eq!(
        app.order(order_id).await["status"],
        "approved",
        "delivered, not paid"
    );

    let res = app
        .post(
            &format!("/v1/orders/{order_id}/invoices"),
            &json!({"issue": true}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let inv: Value = res.json().await.unwrap();
    let inv_id = inv["id"].as_str().unwrap().to_owned();
    assert_eq!(inv["status"], "open");
    assert_eq!(inv["total"]["amount"], 100_000);
    assert_eq!(inv["outstanding"]["amount"], 100_000);
    assert!(inv["number"].as_str().unwrap().starts_with("INV-"));
    // Nothing is left to invoice.
    let res = app
        .post(&format!("/v1/orders/{order_id}/invoices"), &json!({}))
        .await;
    assert_eq!(res.status(), 409);

    pay(&app, &customer, 30_000, json!({})).await;
    let inv = invoice(&app, &inv_id).await;
    assert_eq!(inv["payment_status"], "partially_paid");
    assert_eq!(inv["outstanding"]["amount"], 70_000);
    assert_eq!(inv["paid"]["amount"], 30_000);
    assert_eq!(
        app.order(order_id).await["payment_status"],
        "partially_paid"
    );
    assert_eq!(app.events_of("invoice.partially_paid").await, 1);

    pay(&app, &customer, 70_000, json!({})).await;
    let inv = invoice(&app, &inv_id).await;
    assert_eq!(inv["payment_status"], "paid");
    assert_eq!(inv["outstanding"]["amount"], 0);
    assert_eq!(app.events_of("invoice.paid").await, 1);
    let done = app.order(order_id).await;
    assert_eq!(done["payment_status"], "paid");
    assert_eq!(done["paid"]["amount"], 100_000);
    assert_eq!(done["status"], "completed", "paid second: completed then");
    assert_eq!(app.events_of("order.paid").await, 1);
    assert_eq!(app.events_of("order.completed").await, 1);

    // A further 50.00 is credit; the invoice never goes below zero.
    let extra = pay(&app, &customer, 5_000, json!({})).await;
    assert_eq!(extra["unallocated"]["amount"], 5_000);
    assert_eq!(extra["allocations"].as_array().unwrap().len(), 0);
    let inv = invoice(&app, &inv_id).await;
    assert_eq!(inv["outstanding"]["amount"], 0);
    assert_eq!(inv["paid"]["amount"], 100_000);
    assert_eq!(app.events_of("invoice.paid").await, 1);
    let balance: Value = app
        .get(&format!("/v1/customers/{customer}/balance"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        balance["credit"],
        json!([{"amount": 5_000, "currency": "CNY"}])
    );
    assert_eq!(balance["outstanding"], json!([]));
    // Paying an invoice more than it owes is refused, and changes nothing.
    let res = app
        .post(
            "/v1/payments",
            &json!({"customer_id": customer, "method": "cash",
                "amount": {"amount": 100, "currency": "CNY"},
                "allocations": [{"invoice_id": inv_id, "amount": {"amount": 100, "currency": "CNY"}}]}),
        )
        .await;
    assert_eq!(res.status(), 409);
    assert_eq!(app.count("SELECT COUNT(*) FROM payments").await, 3);
    // The spreadsheet's view: one row per invoice and per payment.
    let csv = app
        .request(Method::GET, "/v1/invoices")
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 2, "{csv}");
    assert!(rows[0].starts_with("number,status,payment_status"));
    assert!(
        rows[1].contains(",open,paid,false,") && rows[1].contains(",1000.00,1000.00,0.00,"),
        "{csv}"
    );
    let csv = app
        .request(Method::GET, "/v1/payments?unallocated=true")
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        csv.lines().count(),
        2,
        "only the payment with credit left: {csv}"
    );
    // A paid invoice is not voided.
    let res = app
        .post(&format!("/v1/invoices/{inv_id}/void"), &json!({}))
        .await;
    assert_eq!(res.status(), 409);
    app.stop().await;
}

async fn a_prepaid_marketplace_order_completes_on_delivery_with_no_further_payment(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app).await;
    let o = order(
        &app,
        &customer,
        "TEA",
        json!({"channel": "marketplace", "external_id": "TM-1", "payment_terms": "prepaid",
            "payment_terms_days": null,
            "payment": {"amount": {"amount": 100_000, "currency": "CNY"}, "method": "online",
                "provider": "tmall", "reference": "TM-PAY-1", "paid_at": "2026-11-20T08:00:00Z"}}),
    )
    .await;
    let order_id = o["id"].as_str().unwrap();
    assert_eq!(o["payment_status"], "paid");
    // Invoiced at approval (the issuer issues it moments after), the prepayment
    // applied to it.
    app.invoices_issued().await;
    let list: Value = app
        .get(&format!("/v1/orders/{order_id}/invoices"))
        .await
        .json()
        .await
        .unwrap();
    let invoices = list["data"].as_array().unwrap();
    assert_eq!(invoices.len(), 1, "{list}");
    assert_eq!(invoices[0]["status"], "open");
    assert_eq!(invoices[0]["payment_status"], "paid");
    assert_eq!(invoices[0]["outstanding"]["amount"], 0);
    assert_eq!(app.events_of("payment.allocated").await, 1);
    assert_eq!(app.events_of("payment.received").await, 1);
    deliver(&app, order_id, "SF-2").await;
    let done = app.order(order_id).await;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["prepayments"][0]["reference"], "TM-PAY-1");
    // The order's events carry no payments (readers of orders are not all readers
    // of money); the payment's own events do.
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM events WHERE event_type LIKE 'order.%' \
             AND CAST(payload AS TEXT) LIKE '%TM-PAY-1%'"
        )
        .await,
        0
    );
    assert!(
        app.count(
            "SELECT COUNT(*) FROM events WHERE event_type = 'payment.received' \
             AND CAST(payload AS TEXT) LIKE '%TM-PAY-1%'"
        )
        .await
            == 1
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM payments").await, 1);
    app.stop().await;
}

async fn a_30_70_schedule_adds_up_exactly_and_each_row_has_its_day(engine: Engine) {
    let mut app = TestApp::spawn(engine).await;
    let customer = world(&app).await;
    let o = order(&app, &customer, "ODD", json!({})).await;
    let order_id = o["id"].as_str().unwrap();
    let res = app
        .post(
            &format!("/v1/orders/{order_id}/invoices"),
            &json!({"issue": true, "schedule": [{"share_bps": 3000, "due_days": 0},
                {"share_bps": 7000, "due_days": 30}]}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let inv: Value = res.json().await.unwrap();
    assert_eq!(inv["total"]["amount"], 100_001);
    let rows = inv["instalments"].as_array().unwrap();
    assert_eq!(rows[0]["amount"]["amount"], 30_000);
    assert_eq!(rows[1]["amount"]["amount"], 70_001);
    let today = app.clock_now().date_naive();
    assert_eq!(rows[0]["due_on"], json!(today.to_string()));
    let later = today + chrono::Days::new(30);
    assert_eq!(rows[1]["due_on"], json!(later.to_string()));
    assert_eq!(inv["due_on"], json!(later.to_string()));
    // A draft's schedule changes until it is issued; the same change again is none.
    let o2 = order(&app, &customer, "ODD", json!({})).await;
    let res = app
        .post(
            &format!("/v1/orders/{}/invoices", o2["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    let draft: Value = res.json().await.unwrap();
    let path = format!("/v1/invoices/{}", draft["id"].as_str().unwrap());
    let change = json!({"notes": "PO 4711", "schedule": [{"share_bps": 5000, "due_days": 0},
        {"share_bps": 5000, "due_days": 10}]});
    let res = app.patch(&path, &change).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let etag = res.headers()["etag"].clone();
    let edited: Value = res.json().await.unwrap();
    let amounts: Vec<i64> = edited["instalments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["amount"]["amount"].as_i64().unwrap())
        .collect();
    assert_eq!(amounts, [50_000, 50_001]);
    assert_eq!(edited["notes"], "PO 4711");
    let res = app.patch(&path, &change).await;
    assert_eq!(
        res.headers()["etag"],
        etag,
        "the same change again moves nothing"
    );
    assert_eq!(app.events_of("invoice.updated").await, 1);
    // The schedule alone changes too.
    let res = app
        .patch(
            &path,
            &json!({"schedule": [{"share_bps": 10000, "due_days": 7}]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_ne!(res.headers()["etag"], etag);
    let edited: Value = res.json().await.unwrap();
    assert_eq!(edited["instalments"].as_array().unwrap().len(), 1);
    assert_eq!(app.events_of("invoice.updated").await, 2);
    let res = app.post(&format!("{path}/issue"), &json!({})).await;
    assert_eq!(res.status(), 200);
    let res = app.patch(&path, &json!({"notes": "later"})).await;
    assert_eq!(res.status(), 409);
    // A schedule that does not add up to the whole is refused.
    let res = app
        .post(
            &format!("/v1/orders/{order_id}/invoices"),
            &json!({"schedule": [{"share_bps": 3000, "due_days": 0}]}),
        )
        .await;
    assert_eq!(res.status(), 400);
    // The first row paid: the second still owes all of its own.
    pay(
        &app,
        &customer,
        30_000,
        json!({"allocations": [{"invoice_id": inv["id"], "amount": {"amount": 30_000, "currency": "CNY"}}]}),
    )
    .await;
    let inv = invoice(&app, inv["id"].as_str().unwrap()).await;
    let rows = inv["instalments"].as_array().unwrap();
    assert_eq!(rows[0]["outstanding"]["amount"], 0);
    assert_eq!(rows[1]["outstanding"]["amount"], 70_001);
    assert_eq!(inv["next_due_on"], json!(later.to_string()));
    // Overdue is read against the clock: not yet, and a day past row 2's date, yes.
    let page: Value = app
        .get("/v1/invoices?overdue=true")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["id"] != inv["id"]),
        "{page}"
    );
    app.clock.advance(chrono::Duration::days(31));
    app.relogin().await;
    let page: Value = app
        .get("/v1/invoices?overdue=true")
        .await
        .json()
        .await
        .unwrap();
    let late = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == inv["id"])
        .expect("overdue a day past its second row")
        .clone();
    assert_eq!(late["overdue"], true);
    assert_eq!(late["instalments"][0]["overdue"], false);
    assert_eq!(late["instalments"][1]["overdue"], true);
    let page: Value = app
        .get("/v1/invoices?overdue=false")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["id"] != inv["id"])
    );
    app.stop().await;
}

async fn one_gateway_notification_sent_ten_times_is_one_payment(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app).await;
    let body = json!({"customer_id": customer, "method": "online", "provider": "Alipay",
        "reference": "2026113022001", "amount": {"amount": 12_345, "currency": "CNY"}});
    let answers = join_all((0..10).map(|_| app.post("/v1/payments", &body))).await;
    let mut created = 0;
    let mut ids = Vec::new();
    for res in answers {
        let status = res.status().as_u16();
        assert!(status == 201 || status == 200, "{status}");
        if status == 201 {
            created += 1;
        }
        let p: Value = res.json().await.unwrap();
        ids.push(p["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(created, 1);
    ids.dedup();
    assert_eq!(ids.len(), 1, "every answer names the one payment");
    assert_eq!(app.count("SELECT COUNT(*) FROM payments").await, 1);
    assert_eq!(app.events_of("payment.received").await, 1);
    // The notification came before the order: the order's intake adopts it.
    let early = json!({"customer_id": customer, "method": "online", "provider": "alipay",
        "reference": "EARLY-1", "amount": {"amount": 100_000, "currency": "CNY"}});
    let res = app.post("/v1/payments", &early).await;
    assert_eq!(res.status(), 201);
    let early: Value = res.json().await.unwrap();
    let res = app
        .post(
            "/v1/orders",
            &json!({"customer_id": customer, "currency": "CNY", "submit": true,
                "channel": "web", "external_id": "WEB-EARLY",
                "lines": [{"sku": "TEA", "quantity": 1, "warehouse_code": "SH-01"}],
                "payment": {"amount": {"amount": 100_000, "currency": "CNY"}, "method": "online",
                    "provider": "alipay", "reference": "EARLY-1", "paid_at": "2026-11-20T08:00:00Z"}}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let o: Value = res.json().await.unwrap();
    assert_eq!(o["payment_status"], "paid");
    assert_eq!(o["prepayments"][0]["id"], early["id"]);
    let adopted: Value = app
        .get(&format!("/v1/payments/{}", early["id"].as_str().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(adopted["order_id"], o["id"]);
    assert_eq!(adopted["unallocated"]["amount"], 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM payments").await, 2);
    // The same reference for another amount is not the same payment.
    let mut other = body.clone();
    other["amount"]["amount"] = json!(1);
    let res = app.post("/v1/payments", &other).await;
    assert_eq!(res.status(), 409);
    app.stop().await;
}

/// SplitMix64: small, seeded, the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

async fn all(app: &TestApp, path: &str) -> Vec<Value> {
    // Invoices orders asked for are issued moments after the order's change.
    app.invoices_issued().await;
    all_now(app, path).await
}

/// Without waiting for the issuer.
async fn all_now(app: &TestApp, path: &str) -> Vec<Value> {
    let page: Value = app
        .get(&format!(
            "{path}{}limit=200",
            if path.contains('?') { '&' } else { '?' }
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["has_more"], false);
    page["data"].as_array().unwrap().clone()
}

/// Every invoice: total = paid + outstanding, outstanding never below zero, and
/// paid = what the payments' ledgers put on it; every payment: its ledger adds up
/// to its allocated amount, never above its amount; every order: what its
/// invoices (not void) bill never passes its grand total, and its paid amount is
/// what the ledger puts on it.
async fn books_balance(app: &TestApp, context: &str) {
    let invoices = all(app, "/v1/invoices").await;
    let payments = all(app, "/v1/payments").await;
    let notes = all(app, "/v1/credit-notes").await;
    let refunds = all(app, "/v1/refunds").await;
    // Every credit note adds up; what those not void credit is what their
    // invoices say; what refunds not failed took is what their payments say.
    let mut credited: std::collections::HashMap<String, i64> = Default::default();
    for n in &notes {
        let a = |f: &str| n[f]["amount"].as_i64().unwrap();
        assert_eq!(
            a("amount"),
            a("applied") + a("refund") + a("credit") + a("outside"),
            "{context}: credit note {n}"
        );
        if n["status"] == "issued" {
            *credited
                .entry(n["invoice_id"].as_str().unwrap().to_owned())
                .or_default() += a("amount");
        }
    }
    let mut refunded: std::collections::HashMap<String, i64> = Default::default();
    for r in &refunds {
        if r["status"] != "failed" {
            *refunded
                .entry(r["payment_id"].as_str().unwrap().to_owned())
                .or_default() += r["amount"]["amount"].as_i64().unwrap();
        }
    }
    let mut applied: std::collections::HashMap<String, i64> = Default::default();
    let mut per_order: std::collections::HashMap<String, i64> = Default::default();
    for p in &payments {
        let amount = p["amount"]["amount"].as_i64().unwrap();
        let allocated = p["allocated"]["amount"].as_i64().unwrap();
        let ledger: i64 = p["allocations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["amount"]["amount"].as_i64().unwrap())
            .sum();
        assert_eq!(ledger, allocated, "{context}: payment {p}");
        assert!(
            allocated <= amount && allocated >= 0,
            "{context}: payment {p}"
        );
        let refunded_here = p["refunded"]["amount"].as_i64().unwrap();
        let reversed = p["reversed"]["amount"].as_i64().unwrap();
        assert_eq!(
            refunded
                .get(p["id"].as_str().unwrap())
                .copied()
                .unwrap_or(0),
            refunded_here,
            "{context}: payment {p}"
        );
        assert_eq!(
            p["unallocated"]["amount"].as_i64().unwrap(),
            amount - allocated - refunded_here - reversed,
            "{context}: payment {p}"
        );
        assert!(
            p["unallocated"]["amount"].as_i64().unwrap() >= 0,
            "{context}: payment {p}"
        );
        if p["status"] == "reversed" {
            assert_eq!(allocated, 0, "{context}: payment {p}");
        }
        for a in p["allocations"].as_array().unwrap() {
            let amount = a["amount"]["amount"].as_i64().unwrap();
            if let Some(inv) = a["invoice_id"].as_str() {
                *applied.entry(inv.to_owned()).or_default() += amount;
            }
            if let Some(order) = a["order_id"].as_str() {
                *per_order.entry(order.to_owned()).or_default() += amount;
            }
        }
    }
    let mut billed: std::collections::HashMap<String, i64> = Default::default();
    for i in &invoices {
        let total = i["total"]["amount"].as_i64().unwrap();
        let paid = i["paid"]["amount"].as_i64().unwrap();
        let outstanding = i["outstanding"]["amount"].as_i64().unwrap();
        let credited_here = i["credited"]["amount"].as_i64().unwrap();
        assert_eq!(
            credited
                .get(i["id"].as_str().unwrap())
                .copied()
                .unwrap_or(0),
            credited_here,
            "{context}: invoice {i}"
        );
        let credited = credited_here;
        assert_eq!(
            total,
            paid + credited + outstanding,
            "{context}: invoice {i}"
        );
        assert!(outstanding >= 0 && paid >= 0, "{context}: invoice {i}");
        let id = i["id"].as_str().unwrap();
        assert_eq!(
            applied.get(id).copied().unwrap_or(0),
            paid,
            "{context}: invoice {i}"
        );
        let rows: i64 = i["instalments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["amount"]["amount"].as_i64().unwrap())
            .sum();
        assert_eq!(rows, total, "{context}: instalments of {i}");
        if i["status"] != "void" {
            *billed
                .entry(i["order_id"].as_str().unwrap().to_owned())
                .or_default() += total;
        }
    }
    receivables_agree(app, context, &invoices, &payments, &refunds).await;
    for (order_id, billed) in billed {
        let o = app.order(&order_id).await;
        let grand = o["grand_total"]["amount"].as_i64().unwrap();
        assert!(
            billed <= grand,
            "{context}: order {order_id} billed {billed} of {grand}"
        );
    }
    for (order_id, paid) in per_order {
        let o = app.order(&order_id).await;
        assert_eq!(
            o["paid"]["amount"].as_i64().unwrap(),
            paid,
            "{context}: order {o}"
        );
    }
}

/// Today's aging owes what the open invoices owe, per currency and customer; each
/// customer's statement closes on that less their credit, what is held for their
/// orders and what refunds not yet paid out will pay them.
async fn receivables_agree(
    app: &TestApp,
    context: &str,
    invoices: &[Value],
    payments: &[Value],
    refunds: &[Value],
) {
    type Key = (String, String);
    let mut owed: std::collections::BTreeMap<Key, i64> = Default::default();
    for i in invoices.iter().filter(|i| i["status"] == "open") {
        *owed
            .entry((
                i["customer"]["id"].as_str().unwrap().to_owned(),
                i["total"]["currency"].as_str().unwrap().to_owned(),
            ))
            .or_default() += i["outstanding"]["amount"].as_i64().unwrap();
    }
    let mut held: std::collections::BTreeMap<Key, i64> = Default::default();
    for p in payments {
        let key = (
            p["customer"]["id"].as_str().unwrap().to_owned(),
            p["amount"]["currency"].as_str().unwrap().to_owned(),
        );
        let mut h = p["unallocated"]["amount"].as_i64().unwrap();
        for a in p["allocations"].as_array().unwrap() {
            if a["invoice_id"].is_null() {
                h += a["amount"]["amount"].as_i64().unwrap();
            }
        }
        *held.entry(key).or_default() += h;
    }
    for r in refunds
        .iter()
        .filter(|r| r["status"] == "pending" || r["status"] == "pending_approval")
    {
        *held
            .entry((
                r["customer"]["id"].as_str().unwrap().to_owned(),
                r["amount"]["currency"].as_str().unwrap().to_owned(),
            ))
            .or_default() += r["amount"]["amount"].as_i64().unwrap();
    }
    let aging = app.get("/v1/receivables/aging").await;
    assert_eq!(aging.status(), 200, "{context}");
    let aging: Value = aging.json().await.unwrap();
    let mut aged: std::collections::BTreeMap<Key, i64> = Default::default();
    for c in aging["customers"].as_array().unwrap() {
        for b in c["by_currency"].as_array().unwrap() {
            aged.insert(
                (
                    c["customer_id"].as_str().unwrap().to_owned(),
                    b["currency"].as_str().unwrap().to_owned(),
                ),
                b["total"].as_i64().unwrap(),
            );
        }
    }
    owed.retain(|_, v| *v != 0);
    assert_eq!(aged, owed, "{context}: aging today {aging}");
    let mut keys: std::collections::BTreeSet<&Key> = owed.keys().collect();
    keys.extend(held.keys());
    for (customer, currency) in keys {
        let path = format!("/v1/customers/{customer}/statement?currency={currency}");
        let res = app.get(&path).await;
        assert_eq!(res.status(), 200, "{context}: {path}");
        let s: Value = res.json().await.unwrap();
        let key = (customer.clone(), currency.clone());
        assert_eq!(
            s["closing_balance"].as_i64().unwrap(),
            owed.get(&key).copied().unwrap_or(0) - held.get(&key).copied().unwrap_or(0),
            "{context}: statement {s}"
        );
    }
}

async fn random_invoices_payments_and_allocations_keep_the_books_balanced(engine: Engine) {
    let seeds: Vec<u64> = match std::env::var("PAYMENTS_MODEL_SEED") {
        Ok(s) => vec![s.parse().unwrap()],
        Err(_) => vec![20261130],
    };
    for seed in seeds {
        // Hundreds of steps, each reading the books back: past the rate limit of a
        // clock that does not move.
        let app = TestApp::spawn_with(engine, |c| c.rate_limit_per_minute = 1_000_000).await;
        let mut rng = Rng(seed);
        let res = app
            .post(
                "/v1/warehouses",
                &json!({"code": "SH-01", "name": "Shanghai"}),
            )
            .await;
        assert_eq!(res.status(), 201);
        for (sku, price, tax) in [("P-A", 333, 1300), ("P-B", 1999, 600), ("P-C", 7, 0)] {
            let res = app
                .post(
                    "/v1/products",
                    &json!({"sku": sku, "name": sku, "tax_rate_bps": tax,
                        "list_price": {"amount": price, "currency": "CNY"}}),
                )
                .await;
            assert_eq!(res.status(), 201);
            let res = app
                .post(
                    "/v1/inventory/receipts",
                    &json!({"sku": sku, "warehouse_code": "SH-01", "quantity": 1000}),
                )
                .await;
            assert_eq!(res.status(), 201);
        }
        let customer = app.customer("Model Co").await;
        let mut orders = Vec::new();
        for n in 0..4 {
            let lines: Vec<Value> = ["P-A", "P-B", "P-C"]
                .iter()
                .map(|sku| {
                    json!({"sku": sku, "quantity": 1 + rng.below(5), "warehouse_code": "SH-01",
                        "discount": {"amount": rng.below(5), "currency": "CNY"}})
                })
                .collect();
            let o = order(
                &app,
                &customer,
                "P-A",
                json!({"lines": lines, "order_discount": {"amount": rng.below(50), "currency": "CNY"},
                    "shipping_fee": {"amount": 100 * n, "currency": "CNY"}}),
            )
            .await;
            orders.push(o);
        }
        let mut payments: Vec<String> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for step in 0..100 {
            let context = format!("seed {seed}, step {step}");
            let invoices = all(&app, "/v1/invoices").await;
            for i in &invoices {
                seen.insert(format!("{}/{}", i["status"], i["payment_status"]));
            }
            let pick = |rng: &mut Rng, status: &str| -> Option<String> {
                let of: Vec<&Value> = invoices.iter().filter(|i| i["status"] == status).collect();
                (!of.is_empty()).then(|| {
                    of[rng.below(of.len() as u64) as usize]["id"]
                        .as_str()
                        .unwrap()
                        .to_owned()
                })
            };
            let res = match rng.below(10) {
                0 | 1 => {
                    let o = &orders[rng.below(orders.len() as u64) as usize];
                    let id = o["id"].as_str().unwrap();
                    let mut lines: Vec<Value> = Vec::new();
                    for n in 1..=3 {
                        if rng.below(2) == 0 {
                            lines.push(json!({"line_no": n, "quantity": 1 + rng.below(3)}));
                        }
                    }
                    let mut body = json!({"issue": rng.below(3) > 0});
                    if !lines.is_empty() {
                        body["lines"] = json!(lines);
                    }
                    if rng.below(3) == 0 {
                        body["schedule"] = json!([{"share_bps": 3333, "due_days": 0},
                            {"share_bps": 6667, "due_days": 30}]);
                    }
                    app.post(&format!("/v1/orders/{id}/invoices"), &body).await
                }
                2 => match pick(&mut rng, "draft") {
                    Some(id) => {
                        let action = if rng.below(2) == 0 { "issue" } else { "void" };
                        app.post(&format!("/v1/invoices/{id}/{action}"), &json!({}))
                            .await
                    }
                    None => continue,
                },
                3 => {
                    let mut body = json!({"customer_id": customer, "method": "bank_transfer",
                        "amount": {"amount": 1 + rng.below(12_000), "currency": "CNY"}});
                    match rng.below(3) {
                        0 => {
                            if let Some(inv) = pick(&mut rng, "open") {
                                body["allocations"] = json!([{"invoice_id": inv,
                                    "amount": {"amount": 1 + rng.below(1500), "currency": "CNY"}}]);
                            }
                        }
                        1 => {
                            let o = &orders[rng.below(orders.len() as u64) as usize];
                            body["order_id"] = o["id"].clone();
                        }
                        _ => {}
                    }
                    let res = app.post("/v1/payments", &body).await;
                    if res.status() == 201 {
                        let p: Value = res.json().await.unwrap();
                        payments.push(p["id"].as_str().unwrap().to_owned());
                        books_balance(&app, &context).await;
                        continue;
                    }
                    res
                }
                4 => match payments.get(rng.below(payments.len().max(1) as u64) as usize) {
                    Some(p) => {
                        app.post(&format!("/v1/payments/{p}/allocate"), &json!({}))
                            .await
                    }
                    None => continue,
                },
                5 => match pick(&mut rng, "open") {
                    Some(id) => {
                        app.post(&format!("/v1/invoices/{id}/void"), &json!({}))
                            .await
                    }
                    None => continue,
                },
                // A credit note: what is left of the invoice's worth, the part
                // beyond what it owes split at random (now and then not exactly).
                6 | 7 => match pick(&mut rng, "open") {
                    Some(id) => {
                        let inv = invoices.iter().find(|i| i["id"] == id.as_str()).unwrap();
                        let a = |f: &str| inv[f]["amount"].as_i64().unwrap();
                        let worth = a("total") - a("credited");
                        if worth <= 0 {
                            continue;
                        }
                        let amount = 1 + rng.below(worth as u64) as i64;
                        let to_split = amount - std::cmp::min(amount, a("outstanding"));
                        let refund = rng.below(to_split as u64 + 1) as i64;
                        let credit = rng.below((to_split - refund) as u64 + 1) as i64;
                        let mut outside = to_split - refund - credit;
                        if rng.below(6) == 0 {
                            outside += 1;
                        }
                        let cny = |v: i64| json!({"amount": v, "currency": "CNY"});
                        app.post(
                            &format!("/v1/invoices/{id}/credit-notes"),
                            &json!({"amount": cny(amount), "reason": "model",
                                "refund": cny(refund), "credit": cny(credit),
                                "outside": cny(outside)}),
                        )
                        .await
                    }
                    None => continue,
                },
                // Void a credit note, settle a refund, or reverse a payment.
                _ => match rng.below(4) {
                    0 => {
                        let notes = all(&app, "/v1/credit-notes?status=issued").await;
                        if notes.is_empty() {
                            continue;
                        }
                        let n = &notes[rng.below(notes.len() as u64) as usize];
                        app.post(
                            &format!("/v1/credit-notes/{}/void", n["id"].as_str().unwrap()),
                            &json!({}),
                        )
                        .await
                    }
                    1 | 2 => {
                        let refunds = all(&app, "/v1/refunds?status=pending").await;
                        if refunds.is_empty() {
                            continue;
                        }
                        let r = &refunds[rng.below(refunds.len() as u64) as usize];
                        let action = if rng.below(2) == 0 { "succeed" } else { "fail" };
                        app.post(
                            &format!("/v1/refunds/{}/{action}", r["id"].as_str().unwrap()),
                            &json!({}),
                        )
                        .await
                    }
                    _ => match payments.get(rng.below(payments.len().max(1) as u64) as usize) {
                        Some(p) => {
                            app.post(
                                &format!("/v1/payments/{p}/reverse"),
                                &json!({"reason": "model"}),
                            )
                            .await
                        }
                        None => continue,
                    },
                },
            };
            let status = res.status().as_u16();
            assert!(
                [200, 201, 400, 409].contains(&status),
                "{context}: {status} {}",
                res.text().await.unwrap()
            );
            books_balance(&app, &context).await;
        }
        // Money applied never exceeds what was received.
        let invoiced: Vec<Value> = all(&app, "/v1/invoices").await;
        let paid: i64 = invoiced
            .iter()
            .map(|i| i["paid"]["amount"].as_i64().unwrap())
            .sum();
        let received: i64 = all(&app, "/v1/payments")
            .await
            .iter()
            .map(|p| p["amount"]["amount"].as_i64().unwrap())
            .sum();
        assert!(paid <= received);
        // The walk did what it set out to: invoices issued, paid in part and in
        // full, voided; payments allocated and left as credit.
        let count = |status: &str| invoiced.iter().filter(|i| i["status"] == status).count();
        assert!(count("open") >= 3 && count("void") >= 1, "{invoiced:?}");
        for state in [
            "\"open\"/\"paid\"",
            "\"open\"/\"partially_paid\"",
            "\"draft\"/\"unpaid\"",
        ] {
            assert!(seen.contains(state), "{state} never seen: {seen:?}");
        }
        assert!(payments.len() >= 5);
        // And credited, voided credit notes, refunded and reversed.
        let notes = all(&app, "/v1/credit-notes").await;
        let refunds = all(&app, "/v1/refunds").await;
        let reversed = all(&app, "/v1/payments")
            .await
            .iter()
            .filter(|p| p["status"] == "reversed")
            .count();
        let void = notes.iter().filter(|n| n["status"] == "void").count();
        let split = notes
            .iter()
            .filter(|n| n["applied"]["amount"] != n["amount"]["amount"])
            .count();
        println!(
            "seed {seed}: {} credit notes ({void} void, {split} split), {} refunds, {reversed} reversed",
            notes.len(),
            refunds.len()
        );
        assert!(
            notes.len() >= 3 && void >= 1 && split >= 1 && reversed >= 1 && !refunds.is_empty(),
            "{notes:?} {refunds:?}"
        );
        app.stop().await;
    }
}

async fn who_may_do_what_and_bad_input_changes_nothing(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    world(&app).await;
    let (rep_id, rep) = app.user("rep@example.com", "sales", None).await;
    let (_, other_rep) = app.user("other@example.com", "sales", None).await;
    let (_, finance) = app.user("finance@example.com", "finance", None).await;
    let (_, support) = app.user("support@example.com", "support", None).await;
    let (_, auditor) = app.user("auditor@example.com", "auditor", None).await;
    let (_, warehouse) = app.user("wh@example.com", "warehouse", None).await;
    let res = app
        .post(
            "/v1/customers",
            &json!({"kind": "company", "name": "Rep's", "owner_id": rep_id}),
        )
        .await;
    let customer = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let o = order(&app, &customer, "TEA", json!({})).await;
    let order_id = o["id"].as_str().unwrap();
    let path = format!("/v1/orders/{order_id}/invoices");
    // Only finance (and admins) invoice.
    for token in [&rep, &support, &auditor, &warehouse] {
        let res = app
            .request_as(token, Method::POST, &path)
            .json(&json!({"issue": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403);
    }
    let res = app
        .request_as(&finance, Method::POST, &path)
        .json(&json!({"issue": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let inv: Value = res.json().await.unwrap();
    let inv_path = format!("/v1/invoices/{}", inv["id"].as_str().unwrap());
    // The rep reads their customer's invoice; another rep does not see it; support
    // and the warehouse may not read money; the auditor reads.
    for (token, status) in [
        (&rep, 200),
        (&other_rep, 404),
        (&support, 403),
        (&warehouse, 403),
        (&auditor, 200),
    ] {
        let res = app
            .request_as(token, Method::GET, &inv_path)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), status);
    }
    let listed: Value = app
        .request_as(&other_rep, Method::GET, "/v1/invoices")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"], json!([]));
    // The warehouse's view of the order's timeline leaves the money out.
    let timeline: Value = app
        .request_as(
            &warehouse,
            Method::GET,
            &format!("/v1/orders/{order_id}/timeline"),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        !timeline.to_string().contains("invoice."),
        "the warehouse saw invoices: {timeline}"
    );
    // A gateway key posts payments (and reads what it posted); without the scope, no.
    let key: Value = app
        .post(
            "/v1/api-keys",
            &json!({"name": "Gateway", "kind": "erp", "scopes": ["payments:write"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let gateway = key["secret"].as_str().unwrap();
    let body = json!({"customer_id": customer, "method": "online", "provider": "stripe",
        "reference": "ch_1", "amount": {"amount": 100, "currency": "CNY"}});
    let res = app
        .request_as(gateway, Method::POST, "/v1/payments")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let res = app
        .request_as(gateway, Method::GET, "/v1/payments")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "payments:write does not read the list");
    let res = app
        .request_as(&rep, Method::POST, "/v1/payments")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // A key bound to a channel names its channel's order; it pays only what it sees.
    let shop: Value = app
        .post(
            "/v1/api-keys",
            &json!({"name": "Shop", "kind": "ecommerce", "scopes": ["payments:write", "payments:read"],
                "channel": "web", "channel_name": "shop"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let shop = shop["secret"].as_str().unwrap().to_owned();
    let res = app
        .request_as(&shop, Method::POST, "/v1/payments")
        .json(&json!({"customer_id": customer, "method": "online",
            "amount": {"amount": 100, "currency": "CNY"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400, "a channel key names the order");
    let res = app
        .request_as(&shop, Method::POST, "/v1/payments")
        .json(
            &json!({"customer_id": customer, "method": "online", "order_id": order_id,
            "amount": {"amount": 100, "currency": "CNY"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404, "another channel's order");
    let balance = app
        .request_as(
            &shop,
            Method::GET,
            &format!("/v1/customers/{customer}/balance"),
        )
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        balance["outstanding"],
        json!([]),
        "not its channel's invoices: {balance}"
    );
    let carrier: Value = app
        .post(
            "/v1/api-keys",
            &json!({"name": "SF", "kind": "logistics", "scopes": ["payments:read", "orders:read"],
                "carriers": ["sf"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let carrier = carrier["secret"].as_str().unwrap().to_owned();
    let res = app
        .request_as(
            &carrier,
            Method::GET,
            &format!("/v1/customers/{customer}/balance"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    // Support sees that the order is paid, not the payments themselves.
    let seen: Value = app
        .request_as(&support, Method::GET, &format!("/v1/orders/{order_id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen["prepayments"], json!([]));
    assert!(seen["paid"].is_object());
    // Bad input: each refused with its field, nothing recorded.
    let payments = app.count("SELECT COUNT(*) FROM payments").await;
    for (bad, field) in [
        (
            json!({"amount": {"amount": 0, "currency": "CNY"}}),
            "amount.amount",
        ),
        (
            json!({"amount": {"amount": -5, "currency": "CNY"}}),
            "amount.amount",
        ),
        (
            json!({"amount": {"amount": 100_000_000_000_000_001_i64, "currency": "CNY"}}),
            "amount.amount",
        ),
        (json!({"method": "barter"}), "method"),
        (json!({"provider": "x", "reference": null}), "reference"),
        (json!({"received_on": "2999-01-01"}), "received_on"),
        (
            json!({"allocations": [{"invoice_id": inv["id"], "amount": {"amount": 1, "currency": "USD"}}]}),
            "allocations[0].amount.currency",
        ),
    ] {
        let mut body = json!({"customer_id": customer, "method": "cash",
            "amount": {"amount": 100, "currency": "CNY"}});
        for (k, v) in bad.as_object().unwrap() {
            body[k] = v.clone();
        }
        let res = app.post("/v1/payments", &body).await;
        assert_eq!(res.status(), 400, "{bad}");
        let problem: Value = res.json().await.unwrap();
        assert!(
            problem["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["field"] == field),
            "{bad}: {problem}"
        );
    }
    let res = app
        .post(
            "/v1/payments",
            &json!({"customer_id": uuid::Uuid::now_v7(), "method": "cash",
                "amount": {"amount": 100, "currency": "CNY"}}),
        )
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(app.count("SELECT COUNT(*) FROM payments").await, payments);
    // An invoice of more than is left, or of a line that does not exist.
    let o = order(&app, &customer, "TEA", json!({})).await;
    let path = format!("/v1/orders/{}/invoices", o["id"].as_str().unwrap());
    let res = app
        .post(&path, &json!({"lines": [{"line_no": 1, "quantity": 2}]}))
        .await;
    assert_eq!(res.status(), 409);
    assert_eq!(
        res.json::<Value>().await.unwrap()["type"],
        "/problems/over-invoice"
    );
    let res = app
        .post(&path, &json!({"lines": [{"line_no": 9, "quantity": 1}]}))
        .await;
    assert_eq!(res.status(), 404);
    let res = app
        .post(
            &path,
            &json!({"schedule": [{"share_bps": 5000, "due_days": 30},
            {"share_bps": 5000, "due_days": 10}]}),
        )
        .await;
    assert_eq!(res.status(), 400);
    app.stop().await;
}

async fn credit_counts_open_invoices_and_uninvoiced_orders_once(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    world(&app).await;
    let res = app
        .post(
            "/v1/customers",
            &json!({"kind": "company", "name": "On credit", "payment_terms_days": 30,
                "credit_limit": {"amount": 150_000, "currency": "CNY"}}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let customer = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let first = order(&app, &customer, "TEA", json!({})).await;
    let res = app
        .post(
            &format!("/v1/orders/{}/invoices", first["id"].as_str().unwrap()),
            &json!({"issue": true}),
        )
        .await;
    assert_eq!(res.status(), 201);
    // 1000.00 invoiced and unpaid, and 1000.00 more: 2000.00, counted once each.
    let res = app
        .post(
            "/v1/orders",
            &json!({"customer_id": customer, "currency": "CNY", "submit": true,
                "lines": [{"sku": "TEA", "quantity": 1, "warehouse_code": "SH-01"}]}),
        )
        .await;
    let second: Value = res.json().await.unwrap();
    assert_eq!(second["status"], "on_hold", "{second}");
    let credit = second["review"]["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["rule"] == "credit")
        .unwrap()
        .clone();
    assert_eq!(credit["code"], "credit_limit_exceeded");
    assert_eq!(credit["inputs"]["exposure"]["amount"], 200_000);
    // The first paid: the second fits.
    pay(&app, &customer, 100_000, json!({})).await;
    let res = app
        .post(
            &format!("/v1/orders/{}/release", second["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    let released: Value = res.json().await.unwrap();
    assert_eq!(released["status"], "approved", "{released}");
    app.stop().await;
}

async fn edits_and_cancellations_undo_invoices_and_keep_the_money(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app).await;
    // Prepaid with 1000.00 of 2000.00 paid: invoiced at approval, half paid.
    let o = order(
        &app,
        &customer,
        "TEA",
        json!({"payment_terms": "prepaid", "payment_terms_days": null,
            "lines": [{"sku": "TEA", "quantity": 2, "warehouse_code": "SH-01"}],
            "payment": {"amount": {"amount": 100_000, "currency": "CNY"}, "method": "online",
                "provider": "alipay", "reference": "AP-EDIT", "paid_at": "2026-11-20T08:00:00Z"}}),
    )
    .await;
    let id = o["id"].as_str().unwrap();
    let first = all(&app, &format!("/v1/orders/{id}/invoices")).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["paid"]["amount"], 100_000);
    // An edit to 1 unit would take the total to what was paid: allowed, the invoice
    // made again for 1000.00, paid by the same money.
    let etag = app.get(&format!("/v1/orders/{id}")).await.headers()["etag"].clone();
    let res = app
        .request(Method::POST, &format!("/v1/orders/{id}/edits"))
        .header("if-match", etag)
        .json(&json!({"change_lines": [{"line_no": 1, "quantity": 1}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let invoices = all(&app, &format!("/v1/orders/{id}/invoices")).await;
    let open: Vec<&Value> = invoices.iter().filter(|i| i["status"] == "open").collect();
    assert_eq!(invoices.len(), 2, "{invoices:?}");
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["total"]["amount"], 100_000);
    assert_eq!(open[0]["payment_status"], "paid");
    let now = app.order(id).await;
    assert_eq!(now["payment_status"], "paid");
    books_balance(&app, "after the edit").await;
    // Below what was paid: refused.
    let etag = app.get(&format!("/v1/orders/{id}")).await.headers()["etag"].clone();
    let res = app
        .request(Method::POST, &format!("/v1/orders/{id}/edits"))
        .header("if-match", etag)
        .json(&json!({"change_lines": [{"line_no": 1, "unit_price": {"amount": 50_000, "currency": "CNY"}}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    // Cancelled: the invoice is voided and the 1000.00 is the customer's credit.
    let res = app
        .post(
            &format!("/v1/orders/{id}/cancel"),
            &json!({"reason": "changed mind"}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let cancelled: Value = res.json().await.unwrap();
    assert_eq!(cancelled["payment_status"], "unpaid");
    let invoices = all(&app, &format!("/v1/orders/{id}/invoices")).await;
    assert!(
        invoices.iter().all(|i| i["status"] == "void"),
        "{invoices:?}"
    );
    let balance: Value = app
        .get(&format!("/v1/customers/{customer}/balance"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        balance["credit"],
        json!([{"amount": 100_000, "currency": "CNY"}])
    );
    books_balance(&app, "after the cancellation").await;
    // An ended order is invoiced no more, and takes no payments.
    let res = app
        .post(
            &format!("/v1/orders/{id}/invoices"),
            &json!({"issue": true}),
        )
        .await;
    assert_eq!(res.status(), 409);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "order_ended");
    let res = app
        .post(
            "/v1/payments",
            &json!({"customer_id": customer, "method": "cash", "order_id": id,
                "amount": {"amount": 100, "currency": "CNY"}}),
        )
        .await;
    assert_eq!(res.status(), 409);

    // Money for an order whose invoice was written off is not held for it: it is
    // the customer's credit (nothing of the order is left to invoice).
    let o = order(&app, &customer, "TEA", json!({})).await;
    let written_off = o["id"].as_str().unwrap();
    let res = app
        .post(
            &format!("/v1/orders/{written_off}/invoices"),
            &json!({"issue": true}),
        )
        .await;
    let inv: Value = res.json().await.unwrap();
    let res = app
        .post(
            &format!(
                "/v1/invoices/{}/mark-uncollectible",
                inv["id"].as_str().unwrap()
            ),
            &json!({"reason": "customer insolvent"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let p = pay(&app, &customer, 100_000, json!({"order_id": written_off})).await;
    assert_eq!(p["allocated"]["amount"], 0, "{p}");
    assert_eq!(app.order(written_off).await["paid"]["amount"], 0);
    // With `"allocations": []` a payment for an order holds nothing either.
    let o = order(&app, &customer, "TEA", json!({})).await;
    let p = pay(
        &app,
        &customer,
        100,
        json!({"order_id": o["id"], "allocations": []}),
    )
    .await;
    assert_eq!(p["unallocated"]["amount"], 100);
    // A draft is an invoice to come: money paid for its order is held for it, and
    // applied when it is issued.
    let res = app
        .post(
            &format!("/v1/orders/{}/invoices", o["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    let draft: Value = res.json().await.unwrap();
    let p = pay(&app, &customer, 100_000, json!({"order_id": o["id"]})).await;
    assert_eq!(p["allocated"]["amount"], 100_000, "{p}");
    let res = app
        .post(
            &format!("/v1/invoices/{}/issue", draft["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    let issued: Value = res.json().await.unwrap();
    assert_eq!(issued["payment_status"], "paid", "{issued}");
    let res = app
        .post(
            &format!("/v1/orders/{written_off}/cancel"),
            &json!({"reason": "try"}),
        )
        .await;
    assert_eq!(res.status(), 409, "a written-off invoice stays");
    books_balance(&app, "after the write-off").await;
    app.stop().await;
}

async fn the_invoice_policy_invoices_at_shipment_or_delivery(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app).await;
    let res = app
        .post(
            "/v1/settings",
            &json!({"key": "invoice_policy", "value": "shipment"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let o = order(
        &app,
        &customer,
        "TEA",
        json!({"lines": [{"sku": "TEA", "quantity": 3, "warehouse_code": "SH-01"}],
            "shipping_fee": {"amount": 1_000, "currency": "CNY"}}),
    )
    .await;
    let id = o["id"].as_str().unwrap();
    assert!(
        all(&app, &format!("/v1/orders/{id}/invoices"))
            .await
            .is_empty()
    );
    for (n, q) in [(1, 1), (2, 2)] {
        let res = app
            .post(
                &format!("/v1/orders/{id}/shipments"),
                &json!({"lines": [{"line_no": 1, "quantity": q}], "carrier": "SF",
                    "tracking_number": format!("SF-P{n}")}),
            )
            .await;
        assert_eq!(res.status(), 201);
    }
    let invoices = all(&app, &format!("/v1/orders/{id}/invoices")).await;
    let mut totals: Vec<i64> = invoices
        .iter()
        .map(|i| i["total"]["amount"].as_i64().unwrap())
        .collect();
    totals.sort();
    // One per shipment, the first carrying the shipping fee; together the order.
    assert_eq!(totals, [101_000, 200_000]);
    assert!(invoices.iter().all(|i| i["status"] == "open"));
    let res = app
        .post(
            "/v1/settings",
            &json!({"key": "invoice_policy", "value": "nightly"}),
        )
        .await;
    assert_eq!(res.status(), 400);
    let res = app
        .patch("/v1/settings/invoice_policy", &json!({"value": "delivery"}))
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let o = order(&app, &customer, "ODD", json!({})).await;
    let id = o["id"].as_str().unwrap();
    deliver(&app, id, "SF-D1").await;
    let invoices = all(&app, &format!("/v1/orders/{id}/invoices")).await;
    assert_eq!(invoices.len(), 1);
    assert_eq!(invoices[0]["total"]["amount"], 100_001);
    app.stop().await;
}

async fn concurrent_invoices_never_bill_a_line_twice(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app).await;
    let o = order(
        &app,
        &customer,
        "TEA",
        json!({"lines": [{"sku": "TEA", "quantity": 5, "warehouse_code": "SH-01"}]}),
    )
    .await;
    let path = format!("/v1/orders/{}/invoices", o["id"].as_str().unwrap());
    let body = json!({"lines": [{"line_no": 1, "quantity": 1}], "issue": true});
    let answers = join_all((0..8).map(|_| app.post(&path, &body))).await;
    let made = answers.iter().filter(|r| r.status() == 201).count();
    assert_eq!(made, 5);
    assert!(
        answers
            .iter()
            .all(|r| r.status() == 201 || r.status() == 409)
    );
    let invoices = all(&app, &path).await;
    assert_eq!(invoices.len(), 5);
    let total: i64 = invoices
        .iter()
        .map(|i| i["total"]["amount"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 500_000);
    let mut numbers: Vec<&str> = invoices
        .iter()
        .map(|i| i["number"].as_str().unwrap())
        .collect();
    numbers.sort();
    assert_eq!(
        numbers,
        [
            "INV-000001",
            "INV-000002",
            "INV-000003",
            "INV-000004",
            "INV-000005"
        ]
    );
    app.stop().await;
}

/// The order prepayments taken before payments existed become payments held for
/// their orders: numbered in the order they were taken, the numbering moved past
/// them, each order paid what was prepaid.
async fn prepayments_become_payments_in_the_migration(engine: Engine) {
    use ordercrm_migrations::{Migrator, MigratorTrait};
    use sea_orm::{ConnectionTrait, Statement, Value as V};
    let db = ordercrm_tests::TestDb::new_unmigrated(engine).await;
    let url = match engine {
        Engine::Sqlite => format!("{}?mode=rwc", db.url),
        Engine::Postgres => db.url.clone(),
    };
    let conn = sea_orm::Database::connect(url.as_str()).await.unwrap();
    let before = Migrator::migrations()
        .iter()
        .position(|m| m.name() == "m20261205_000029_payments")
        .unwrap();
    Migrator::up(&conn, Some(u32::try_from(before).unwrap()))
        .await
        .unwrap();
    let backend = conn.get_database_backend();
    let now = ordercrm_tests::start_time();
    let exec = |sql: &str, values: Vec<V>| {
        let sql = match backend {
            sea_orm::DatabaseBackend::Postgres => {
                let mut n = 0;
                sql.chars()
                    .map(|c| {
                        if c == '?' {
                            n += 1;
                            format!("${n}")
                        } else {
                            c.to_string()
                        }
                    })
                    .collect()
            }
            _ => sql.to_owned(),
        };
        conn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
    };
    let customer = uuid::Uuid::now_v7();
    exec(
        "INSERT INTO customers (id, number, kind, name, tags, marketing_consent, attributes, archived, \
         search_text, version, created_at, updated_at) VALUES (?, 'C-000001', 'company', 'Old Shop', ?, \
         false, ?, false, 'old shop', 1, ?, ?)",
        vec![
            customer.into(),
            json!([]).into(),
            json!({}).into(),
            now.into(),
            now.into(),
        ],
    )
    .await
    .unwrap();
    let mut orders = Vec::new();
    for (n, paid) in [(1, 3000i64), (2, 1000)] {
        let order = uuid::Uuid::now_v7();
        exec(
            "INSERT INTO orders (id, number, status, fulfillment_status, payment_status, channel, \
             channel_name, customer_id, customer_name, currency, prices_include_tax, subtotal_amount, \
             discount_amount, order_discount_amount, tax_amount, shipping_amount, grand_total_amount, \
             payment_terms, tags, metadata, search_text, created_by, prepaid_amount, version, created_at, \
             updated_at) VALUES (?, ?, 'approved', 'unfulfilled', ?, 'web', '', ?, 'Old Shop', 'CNY', false, \
             3000, 0, 0, 0, 0, 3000, 'prepaid', ?, ?, 'old', 'system', ?, 1, ?, ?)",
            vec![
                order.into(),
                format!("SO-00000{n}").into(),
                (if paid == 3000 { "paid" } else { "partially_paid" }).into(),
                customer.into(),
                json!([]).into(),
                json!({}).into(),
                paid.into(),
                now.into(),
                now.into(),
            ],
        )
        .await
        .unwrap();
        exec(
            "INSERT INTO order_prepayments (id, order_id, amount, currency, method, provider, reference, \
             paid_at, created_at) VALUES (?, ?, ?, 'CNY', 'online', 'alipay', ?, ?, ?)",
            vec![
                uuid::Uuid::now_v7().into(),
                order.into(),
                paid.into(),
                format!("AP-OLD-{n}").into(),
                now.into(),
                now.into(),
            ],
        )
        .await
        .unwrap();
        orders.push(order);
    }
    Migrator::up(&conn, None).await.unwrap();
    let one = |sql: &str| {
        let conn = &conn;
        let sql = sql.to_owned();
        async move {
            conn.query_one_raw(Statement::from_string(backend, sql))
                .await
                .unwrap()
                .unwrap()
        }
    };
    let row = one("SELECT COUNT(*), SUM(amount), SUM(allocated_amount), MIN(number), MAX(number) FROM payments").await;
    assert_eq!(row.try_get_by_index::<i64>(0).unwrap(), 2);
    assert_eq!(row.try_get_by_index::<String>(3).unwrap(), "PAY-000001");
    assert_eq!(row.try_get_by_index::<String>(4).unwrap(), "PAY-000002");
    let row = one(
        "SELECT COUNT(*), CAST(SUM(amount) AS BIGINT) FROM payment_allocations \
         WHERE invoice_id IS NULL AND order_id IS NOT NULL",
    )
    .await;
    assert_eq!(row.try_get_by_index::<i64>(0).unwrap(), 2);
    assert_eq!(row.try_get_by_index::<i64>(1).unwrap(), 4000);
    let row = one("SELECT CAST(SUM(paid_amount) AS BIGINT) FROM orders").await;
    assert_eq!(row.try_get_by_index::<i64>(0).unwrap(), 4000);
    let row = one(
        "SELECT COUNT(*) FROM payments p JOIN payment_allocations a ON a.payment_id = p.id \
         WHERE a.amount = p.amount AND a.order_id = p.order_id AND p.reference LIKE 'AP-OLD-%'",
    )
    .await;
    assert_eq!(row.try_get_by_index::<i64>(0).unwrap(), 2);
    // The next payment is number 3.
    let txn = sea_orm::TransactionTrait::begin(&conn).await.unwrap();
    let next = ordercrm_kernel::numbers::next(&txn, ordercrm_payment::payments::NUMBERS)
        .await
        .unwrap();
    assert_eq!(next, 3);
    txn.rollback().await.unwrap();
    conn.close().await.unwrap();
}

async fn a_notification_used_in_part_pays_its_order_the_rest_and_merged_customers_pay_on(
    engine: Engine,
) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app).await;
    // An open invoice of 1000.00 (net terms, invoiced by hand).
    let first = order(&app, &customer, "TEA", json!({})).await;
    let res = app
        .post(
            &format!("/v1/orders/{}/invoices", first["id"].as_str().unwrap()),
            &json!({"issue": true}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let older: Value = res.json().await.unwrap();
    // The gateway's notification of 1300.00 comes first and, allocated
    // automatically, pays the older invoice (1000.00): 300.00 stays credit.
    let note = pay(
        &app,
        &customer,
        130_000,
        json!({"method": "online", "provider": "alipay", "reference": "EARLY-PART"}),
    )
    .await;
    assert_eq!(note["unallocated"]["amount"], 30_000);
    assert_eq!(
        invoice(&app, older["id"].as_str().unwrap()).await["payment_status"],
        "paid"
    );
    // The order it was for arrives naming it: taken in, paid what is left of it.
    let res = app
        .post(
            "/v1/orders",
            &json!({"customer_id": customer, "currency": "CNY", "submit": true,
                "channel": "web", "external_id": "WEB-PART", "payment_terms": "prepaid",
                "payment_terms_days": null,
                "lines": [{"sku": "TEA", "quantity": 1, "warehouse_code": "SH-01"}],
                "payment": {"amount": {"amount": 130_000, "currency": "CNY"}, "method": "online",
                    "provider": "alipay", "reference": "EARLY-PART",
                    "paid_at": "2026-11-20T08:00:00Z"}}),
        )
        .await;
    assert_eq!(res.status(), 400, "more than the order's total");
    let res = app
        .post(
            "/v1/orders",
            &json!({"customer_id": customer, "currency": "CNY", "submit": true,
                "channel": "web", "external_id": "WEB-PART", "payment_terms": "prepaid",
                "payment_terms_days": null,
                "lines": [{"sku": "TEA", "quantity": 2, "warehouse_code": "SH-01"}],
                "payment": {"amount": {"amount": 130_000, "currency": "CNY"}, "method": "online",
                    "provider": "alipay", "reference": "EARLY-PART",
                    "paid_at": "2026-11-20T08:00:00Z"}}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let o: Value = res.json().await.unwrap();
    let id = o["id"].as_str().unwrap();
    assert_eq!(o["prepaid"]["amount"], 130_000, "what the channel said");
    assert_eq!(o["paid"]["amount"], 30_000, "what of it was left");
    assert_eq!(o["payment_status"], "partially_paid");
    assert_eq!(o["prepayments"].as_array().unwrap().len(), 1);
    assert_eq!(o["prepayments"][0]["id"], note["id"]);
    assert_eq!(o["prepayments"][0]["amount"]["amount"], 130_000);
    assert_eq!(o["prepayments"][0]["applied"]["amount"], 30_000);
    // Issued moments later, the 300.00 held applied to it.
    let invoices = all(&app, &format!("/v1/orders/{id}/invoices")).await;
    assert_eq!(invoices.len(), 1);
    assert_eq!(invoices[0]["status"], "open");
    assert_eq!(invoices[0]["paid"]["amount"], 30_000);
    assert_eq!(invoices[0]["outstanding"]["amount"], 170_000);
    let p: Value = app
        .get(&format!("/v1/payments/{}", note["id"].as_str().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(p["order_id"], o["id"]);
    assert_eq!(p["unallocated"]["amount"], 0);
    // The first order shows the payment that paid its invoice, though made for another.
    let f = app.order(first["id"].as_str().unwrap()).await;
    assert_eq!(f["prepayments"][0]["id"], note["id"]);
    assert_eq!(f["prepayments"][0]["applied"]["amount"], 100_000);

    // A customer merged into this one: money sent to it is this one's.
    let res = app
        .post(
            "/v1/customers",
            &json!({"kind": "company", "name": "Duplicate Co"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let dup: Value = res.json().await.unwrap();
    let dup = dup["id"].as_str().unwrap();
    let res = app
        .post(
            &format!("/v1/customers/{customer}/merge"),
            &json!({"source_id": dup}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let late = pay(&app, dup, 170_000, json!({})).await;
    assert_eq!(late["customer"]["id"], customer.as_str());
    let inv = invoice(&app, invoices[0]["id"].as_str().unwrap()).await;
    assert_eq!(inv["payment_status"], "paid", "{inv}");

    // A key bound to the channel sees the payments made for its order, not the
    // customer's others; it cannot take a payment finance recorded as its prepayment.
    let key: Value = app
        .post(
            "/v1/api-keys",
            &json!({"name": "Web", "kind": "ecommerce", "channel": "web",
                "scopes": ["orders:read", "orders:write", "payments:read"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let key = key["secret"].as_str().unwrap().to_owned();
    let seen: Value = app
        .request_as(&key, Method::GET, &format!("/v1/orders/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed: Vec<&str> = seen["prepayments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        [note["id"].as_str().unwrap()],
        "not the merged one's"
    );
    let wire = pay(
        &app,
        &customer,
        100_000,
        json!({"provider": "icbc", "reference": "FIN-1"}),
    )
    .await;
    let res = app
        .request_as(&key, Method::POST, "/v1/orders")
        .json(
            &json!({"customer_id": customer, "currency": "CNY", "submit": true,
            "external_id": "WEB-TAKE", "payment_terms": "prepaid", "payment_terms_days": null,
            "lines": [{"sku": "TEA", "quantity": 1, "warehouse_code": "SH-01"}],
            "payment": {"amount": {"amount": 100_000, "currency": "CNY"},
                "method": "bank_transfer", "provider": "icbc", "reference": "FIN-1",
                "paid_at": "2026-11-20T08:00:00Z"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    let problem = res.text().await.unwrap();
    assert!(problem.contains("already recorded"), "{problem}");
    let wire: Value = app
        .get(&format!("/v1/payments/{}", wire["id"].as_str().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(wire["order_id"], Value::Null);
    // Nor a key that does not read payments, bound to no channel.
    let erp: Value = app
        .post(
            "/v1/api-keys",
            &json!({"name": "ERP", "kind": "erp", "scopes": ["orders:read", "orders:write"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let erp = erp["secret"].as_str().unwrap().to_owned();
    let take = json!({"customer_id": customer, "currency": "CNY", "submit": true,
        "channel": "web", "external_id": "ERP-TAKE", "payment_terms": "prepaid",
        "payment_terms_days": null,
        "lines": [{"sku": "TEA", "quantity": 1, "warehouse_code": "SH-01"}],
        "payment": {"amount": {"amount": 100_000, "currency": "CNY"},
            "method": "bank_transfer", "provider": "icbc", "reference": "FIN-1",
            "paid_at": "2026-11-20T08:00:00Z"}});
    let res = app
        .request_as(&erp, Method::POST, "/v1/orders")
        .json(&take)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    // Finance itself may.
    let res = app.post("/v1/orders", &take).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'payment.adopt'")
            .await,
        2
    );
    app.stop().await;
}

async fn the_issuer_issues_what_orders_asked_for_or_leaves_it_to_finance(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app).await;
    // An invoice in USD, asked for while a USD rate was published; the rate is
    // withdrawn before the issuer gets to it: the draft is left to finance, with
    // the reason in the audit log.
    let res = app
        .post(
            "/v1/settings",
            &json!({"key": "base_currency", "value": "CNY"}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let res = app
        .post(
            "/v1/exchange-rates",
            &json!({"from": "USD", "to": "CNY", "rate": "7.1", "effective_on": "2026-01-01"}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let rate: Value = res.json().await.unwrap();
    let held = app.probe.hold("issuer.picked");
    let res = app
        .post(
            "/v1/orders",
            &json!({"customer_id": customer, "currency": "USD", "submit": true,
                "payment_terms": "prepaid", "payment_terms_days": null,
                "lines": [{"sku": "TEA", "quantity": 1, "warehouse_code": "SH-01",
                    "unit_price": {"amount": 10_000, "currency": "USD"}}]}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let o: Value = res.json().await.unwrap();
    held.reached().await;
    let waiting = all_now(
        &app,
        &format!("/v1/orders/{}/invoices", o["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0]["status"], "draft");
    assert!(
        waiting[0]["issue_requested_at"].is_string(),
        "{}",
        waiting[0]
    );
    let res = app
        .request(
            Method::DELETE,
            &format!("/v1/exchange-rates/{}", rate["id"].as_str().unwrap()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    held.release();
    let left = all(
        &app,
        &format!("/v1/orders/{}/invoices", o["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(left[0]["status"], "draft");
    assert_eq!(left[0]["issue_requested_at"], Value::Null);
    assert_eq!(
        left[0]["version"],
        waiting[0]["version"].as_i64().unwrap() + 1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'invoice.issue_refused'")
            .await,
        1
    );
    assert_eq!(app.events_of("invoice.issued").await, 0);
    // Orders asking for invoices at once, a prepaid one each, with two servers'
    // issuers: every invoice is issued once, numbered without a gap.
    let _sibling = app.sibling().await;
    let bodies: Vec<Value> = (0..6)
        .map(|i| {
            json!({"customer_id": customer, "currency": "CNY", "submit": true,
                "payment_terms": "prepaid", "payment_terms_days": null,
                "channel": "web", "external_id": format!("ISSUE-{i}"),
                "lines": [{"sku": "TEA", "quantity": 1, "warehouse_code": "SH-01"}]})
        })
        .collect();
    let made = join_all(bodies.iter().map(|b| app.post("/v1/orders", b))).await;
    for res in made {
        assert_eq!(res.status(), 201);
    }
    let invoices: Vec<Value> = all(&app, "/v1/invoices")
        .await
        .into_iter()
        .filter(|i| i["currency"] == "CNY")
        .collect();
    assert_eq!(invoices.len(), 6);
    let mut numbers: Vec<String> = invoices
        .iter()
        .map(|i| {
            assert_eq!(i["status"], "open");
            assert_eq!(i["issue_requested_at"], Value::Null);
            assert_eq!(i["issued_by"], "system");
            i["number"].as_str().unwrap().to_owned()
        })
        .collect();
    numbers.sort();
    assert_eq!(
        numbers,
        (1..=6).map(|n| format!("INV-{n:06}")).collect::<Vec<_>>()
    );
    assert_eq!(app.events_of("invoice.issued").await, 6);

    app.stop().await;
}
