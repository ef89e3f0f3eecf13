//! Payments, part 2: credit notes lower what an invoice owes, split what was paid
//! beyond it exactly (refund, credit, settled outside), and voiding one puts the
//! invoice, its order and its payments back as they were; a return's refund due
//! becomes a credit note and a refund; a refund above the threshold waits for a
//! manager who did not ask for it; a reversed payment re-opens what it settled;
//! a payment at another rate than the invoice's realises an exchange difference
//! in the base currency and leaves the invoice's outstanding alone; overdue rows
//! and reminders are announced once each, naming only the rows still open.

use ordercrm_tests::{Engine, TestApp, both_engines};
use serde_json::{Value, json};

both_engines!(
    a_credit_note_lowers_what_is_owed_and_the_part_paid_is_split_exactly,
    a_returns_refund_due_becomes_a_credit_note_and_a_refund,
    a_refund_above_the_threshold_waits_for_another_manager,
    a_reversed_payment_reopens_what_it_settled,
    a_usd_invoice_paid_at_another_rate_records_the_difference_in_cny,
    overdue_rows_are_announced_once_per_level_by_two_servers,
);

/// SH-01 holding TEA (1000.00 CNY, no tax); a customer.
pub(crate) async fn world(app: &TestApp) -> String {
    let res = app
        .post(
            "/v1/warehouses",
            &json!({"code": "SH-01", "name": "Shanghai"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let res = app
        .post(
            "/v1/products",
            &json!({"sku": "TEA", "name": "Tea", "tax_rate_bps": 0,
                "list_price": {"amount": 100_000, "currency": "CNY"}}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let res = app
        .post(
            "/v1/inventory/receipts",
            &json!({"sku": "TEA", "warehouse_code": "SH-01", "quantity": 50}),
        )
        .await;
    assert_eq!(res.status(), 201);
    app.customer("Tea House").await
}

/// An approved order of `quantity` TEA on 30 days' credit, invoiced and issued:
/// (order id, invoice id).
pub(crate) async fn invoiced(app: &TestApp, customer: &str, quantity: i64) -> (String, String) {
    let res = app
        .post(
            "/v1/orders",
            &json!({"customer_id": customer, "currency": "CNY", "submit": true,
                "payment_terms": "net", "payment_terms_days": 30,
                "lines": [{"sku": "TEA", "quantity": quantity, "warehouse_code": "SH-01"}]}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let order: Value = res.json().await.unwrap();
    let order_id = order["id"].as_str().unwrap().to_owned();
    let res = app
        .post(
            &format!("/v1/orders/{order_id}/invoices"),
            &json!({"issue": true}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let inv: Value = res.json().await.unwrap();
    (order_id, inv["id"].as_str().unwrap().to_owned())
}

/// An order of one TEA (1000.00) invoiced and issued on a 30/70 schedule, due
/// today and in 10 days: the invoice's id.
pub(crate) async fn scheduled_invoice(app: &TestApp, customer: &str) -> String {
    let res = app
        .post(
            "/v1/orders",
            &json!({"customer_id": customer, "currency": "CNY", "submit": true,
                "payment_terms": "net", "payment_terms_days": 30,
                "lines": [{"sku": "TEA", "quantity": 1, "warehouse_code": "SH-01"}]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let order: Value = res.json().await.unwrap();
    let res = app
        .post(
            &format!("/v1/orders/{}/invoices", order["id"].as_str().unwrap()),
            &json!({"issue": true, "schedule": [{"share_bps": 3000, "due_days": 0},
                {"share_bps": 7000, "due_days": 10}]}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let inv: Value = res.json().await.unwrap();
    inv["id"].as_str().unwrap().to_owned()
}

pub(crate) async fn pay(app: &TestApp, customer: &str, invoice: &str, amount: i64) -> Value {
    let cny = json!({"amount": amount, "currency": "CNY"});
    let res = app
        .post(
            "/v1/payments",
            &json!({"customer_id": customer, "method": "bank_transfer", "amount": cny,
                "allocations": [{"invoice_id": invoice, "amount": cny}]}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    res.json().await.unwrap()
}

pub(crate) async fn get(app: &TestApp, path: &str) -> Value {
    let res = app.get(path).await;
    assert_eq!(res.status(), 200, "{path}");
    res.json().await.unwrap()
}

pub(crate) fn cny(amount: i64) -> Value {
    json!({"amount": amount, "currency": "CNY"})
}

fn amount(v: &Value, field: &str) -> i64 {
    v[field]["amount"]
        .as_i64()
        .unwrap_or_else(|| panic!("no {field} in {v}"))
}

/// total = paid + credited + outstanding on the invoice; paid + credited on
/// its order as on the invoice (one invoice per order here).
async fn invoice_adds_up(app: &TestApp, invoice: &str) -> Value {
    let inv = get(app, &format!("/v1/invoices/{invoice}")).await;
    assert_eq!(
        amount(&inv, "total"),
        amount(&inv, "paid") + amount(&inv, "credited") + amount(&inv, "outstanding"),
        "{inv}"
    );
    let order = app.order(inv["order_id"].as_str().unwrap()).await;
    assert_eq!(amount(&order, "paid"), amount(&inv, "paid"), "{order}");
    assert_eq!(
        amount(&order, "credited"),
        amount(&inv, "credited"),
        "{order}"
    );
    inv
}

async fn a_credit_note_lowers_what_is_owed_and_the_part_paid_is_split_exactly(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app).await;

    // Invoice 1000 with 300 paid: a credit note of 200 leaves 500 owed.
    let (first_order, first) = invoiced(&app, &customer, 1).await;
    pay(&app, &customer, &first, 30_000).await;
    let res = app
        .post(
            &format!("/v1/invoices/{first}/credit-notes"),
            &json!({"amount": cny(20_000), "reason": "price adjusted"}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let small: Value = res.json().await.unwrap();
    assert_eq!(small["number"], "CN-000001");
    assert_eq!(small["status"], "issued");
    assert_eq!(amount(&small, "applied"), 20_000);
    for part in ["refund", "credit", "outside"] {
        assert_eq!(amount(&small, part), 0);
    }
    let inv = invoice_adds_up(&app, &first).await;
    assert_eq!(amount(&inv, "outstanding"), 50_000);
    assert_eq!(amount(&inv, "paid"), 30_000);
    assert_eq!(amount(&inv, "credited"), 20_000);
    assert_eq!(inv["payment_status"], "partially_paid");
    assert_eq!(
        app.order(&first_order).await["payment_status"],
        "partially_paid"
    );

    // A paid 1000 invoice: 600 credited must be split exactly.
    let (second_order, second) = invoiced(&app, &customer, 1).await;
    let payment = pay(&app, &customer, &second, 100_000).await;
    let payment_id = payment["id"].as_str().unwrap();
    assert_eq!(app.order(&second_order).await["payment_status"], "paid");
    let events_before = app.count("SELECT COUNT(*) FROM events").await;
    let url = format!("/v1/invoices/{second}/credit-notes");
    for (split, given) in [
        (json!({}), 0),
        (
            json!({"refund": cny(40_000), "credit": cny(10_000)}),
            50_000,
        ),
        (
            json!({"refund": cny(40_000), "credit": cny(10_000), "outside": cny(10_001)}),
            60_001,
        ),
    ] {
        let mut body = json!({"amount": cny(60_000), "reason": "damaged in transit"});
        for (k, v) in split.as_object().unwrap() {
            body[k] = v.clone();
        }
        let res = app.post(&url, &body).await;
        assert_eq!(res.status(), 409, "{body}");
        let problem: Value = res.json().await.unwrap();
        assert_eq!(problem["type"], "/problems/credit-note-split", "{problem}");
        assert_eq!(problem["applied"], 0);
        assert_eq!(problem["to_split"], 60_000);
        assert_eq!(problem["split"], given);
    }
    // Bad input: 400, naming the field.
    for (body, field) in [
        (json!({"amount": cny(0), "reason": "x"}), "amount.amount"),
        (
            json!({"amount": {"amount": 100, "currency": "USD"}, "reason": "x"}),
            "amount.currency",
        ),
        (json!({"amount": cny(100)}), "reason"),
        (json!({"reason": "no amount"}), "amount"),
        (
            json!({"amount": cny(100), "reason": "x", "refund": cny(-1)}),
            "refund.amount",
        ),
        (
            json!({"amount": cny(100), "reason": "x", "refund_method": "barter"}),
            "refund_method",
        ),
    ] {
        let res = app.post(&url, &body).await;
        assert_eq!(res.status(), 400, "{body}");
        let problem: Value = res.json().await.unwrap();
        assert!(
            problem["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["field"] == field),
            "{body}: {problem}"
        );
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM credit_notes").await, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM events").await,
        events_before
    );

    let res = app
        .post(
            &url,
            &json!({"amount": cny(60_000), "reason": "damaged in transit",
                "refund": cny(30_000), "credit": cny(20_000), "outside": cny(10_000)}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let big: Value = res.json().await.unwrap();
    let big_id = big["id"].as_str().unwrap().to_owned();
    assert_eq!(big["number"], "CN-000002");
    assert_eq!(amount(&big, "applied"), 0);
    assert_eq!(
        amount(&big, "applied")
            + amount(&big, "refund")
            + amount(&big, "credit")
            + amount(&big, "outside"),
        60_000
    );
    assert_eq!(big["allowed_actions"], json!(["void"]));
    let inv = invoice_adds_up(&app, &second).await;
    assert_eq!(amount(&inv, "paid"), 40_000);
    assert_eq!(amount(&inv, "credited"), 60_000);
    assert_eq!(amount(&inv, "outstanding"), 0);
    assert_eq!(inv["payment_status"], "paid");
    assert_eq!(app.order(&second_order).await["payment_status"], "paid");
    let pay_now = get(&app, &format!("/v1/payments/{payment_id}")).await;
    assert_eq!(amount(&pay_now, "allocated"), 40_000);
    assert_eq!(amount(&pay_now, "refunded"), 40_000);
    assert_eq!(amount(&pay_now, "unallocated"), 20_000);
    let refunds: Value = get(&app, &format!("/v1/refunds?credit_note_id={big_id}")).await;
    let refunds = refunds["data"].as_array().unwrap().clone();
    assert_eq!(refunds.len(), 2, "{refunds:?}");
    let paid_back = refunds.iter().find(|r| r["outside"] == false).unwrap();
    assert_eq!(paid_back["status"], "pending");
    assert_eq!(amount(paid_back, "amount"), 30_000);
    assert_eq!(paid_back["method"], "bank_transfer");
    assert_eq!(paid_back["payment_id"], payment_id);
    let outside = refunds.iter().find(|r| r["outside"] == true).unwrap();
    assert_eq!(outside["status"], "succeeded");
    assert_eq!(amount(outside, "amount"), 10_000);
    let balance = get(&app, &format!("/v1/customers/{customer}/balance")).await;
    assert_eq!(balance["credit"], json!([cny(20_000)]), "{balance}");
    assert_eq!(balance["outstanding"], json!([cny(50_000)]), "{balance}");
    assert_eq!(app.events_of("credit_note.issued").await, 2);
    assert_eq!(app.events_of("refund.requested").await, 1);
    assert_eq!(app.events_of("refund.succeeded").await, 1);

    // Never more than the invoice is still worth: 400 is left of the 1000.
    let res = app
        .post(
            &url,
            &json!({"amount": cny(40_001), "reason": "too much", "credit": cny(40_001)}),
        )
        .await;
    assert_eq!(res.status(), 409);
    let problem: Value = res.json().await.unwrap();
    assert_eq!(problem["type"], "/problems/over-credit");
    assert_eq!(problem["available"], 40_000);

    // Voiding puts the invoice, the order and the payment back as they were, and
    // the refunds not paid out fail.
    let res = app
        .post(
            &format!("/v1/credit-notes/{big_id}/void"),
            &json!({"reason": "entered twice"}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let voided: Value = res.json().await.unwrap();
    assert_eq!(voided["status"], "void");
    assert_eq!(voided["number"], "CN-000002");
    assert_eq!(voided["allowed_actions"], json!([]));
    let inv = invoice_adds_up(&app, &second).await;
    assert_eq!(amount(&inv, "paid"), 100_000);
    assert_eq!(amount(&inv, "credited"), 0);
    assert_eq!(amount(&inv, "outstanding"), 0);
    let pay_now = get(&app, &format!("/v1/payments/{payment_id}")).await;
    assert_eq!(amount(&pay_now, "allocated"), 100_000);
    assert_eq!(amount(&pay_now, "refunded"), 0);
    assert_eq!(amount(&pay_now, "unallocated"), 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM refunds WHERE status = 'failed'")
            .await,
        2
    );
    assert_eq!(app.events_of("credit_note.voided").await, 1);
    assert_eq!(app.events_of("refund.failed").await, 2);
    let res = app
        .post(&format!("/v1/credit-notes/{big_id}/void"), &json!({}))
        .await;
    assert_eq!(res.status(), 409);

    // Void the small one: 700 owed again, as before it.
    let res = app
        .post(
            &format!("/v1/credit-notes/{}/void", small["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let inv = invoice_adds_up(&app, &first).await;
    assert_eq!(amount(&inv, "outstanding"), 70_000);
    assert_eq!(amount(&inv, "credited"), 0);

    // Credit a credit note released that was spent since: its void is refused.
    let res = app
        .post(
            &url,
            &json!({"amount": cny(10_000), "reason": "goodwill", "credit": cny(10_000)}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let goodwill: Value = res.json().await.unwrap();
    assert_eq!(goodwill["number"], "CN-000003");
    let res = app
        .post(&format!("/v1/payments/{payment_id}/allocate"), &json!({}))
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let res = app
        .post(
            &format!("/v1/credit-notes/{}/void", goodwill["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 409);
    let problem: Value = res.json().await.unwrap();
    assert_eq!(problem["code"], "credit_used", "{problem}");
    invoice_adds_up(&app, &second).await;
    invoice_adds_up(&app, &first).await;
    let first_now = get(&app, &format!("/v1/invoices/{first}")).await;
    assert_eq!(
        amount(&first_now, "outstanding"),
        60_000,
        "the credit paid it"
    );

    // An invoice with credit notes is not voided; its order's edits that would
    // re-bill it are refused.
    let res = app
        .post(&format!("/v1/invoices/{second}/void"), &json!({}))
        .await;
    assert_eq!(res.status(), 409);
    let listed = get(&app, &format!("/v1/credit-notes?invoice_id={second}")).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);
    let listed = get(&app, "/v1/credit-notes?status=void").await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);
    let res = app.get("/v1/credit-notes?status=torn").await;
    assert_eq!(res.status(), 400);
    app.stop().await;
}

async fn a_returns_refund_due_becomes_a_credit_note_and_a_refund(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app).await;
    let (order_id, inv) = invoiced(&app, &customer, 2).await;
    pay(&app, &customer, &inv, 200_000).await;
    let res = app
        .post(
            &format!("/v1/orders/{order_id}/shipments"),
            &json!({"lines": [{"line_no": 1, "quantity": 2}], "carrier": "SF",
                "tracking_number": "SF-1"}),
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
    assert_eq!(res.status(), 200);
    assert_eq!(app.order(&order_id).await["status"], "completed");
    let res = app
        .post(
            &format!("/v1/orders/{order_id}/returns"),
            &json!({"lines": [{"line_no": 1, "quantity": 1}], "reason": "arrived damaged",
                "resolution": "refund"}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let ret: Value = res.json().await.unwrap();
    let rid = ret["id"].as_str().unwrap().to_owned();
    let url = format!("/v1/invoices/{inv}/credit-notes");
    // Not closed yet: its refund due is not final.
    let res = app
        .post(&url, &json!({"return_id": rid, "refund": cny(100_000)}))
        .await;
    assert_eq!(res.status(), 409);
    assert_eq!(
        res.json::<Value>().await.unwrap()["code"],
        "return_not_closed"
    );
    for (step, body) in [
        ("approve", json!({})),
        (
            "receive",
            json!({"lines": [{"line_no": 1, "quantity": 1, "disposition": "restock"}]}),
        ),
        ("close", json!({})),
    ] {
        let res = app.post(&format!("/v1/returns/{rid}/{step}"), &body).await;
        assert_eq!(res.status(), 200, "{step}: {}", res.text().await.unwrap());
    }
    let closed = get(&app, &format!("/v1/returns/{rid}")).await;
    assert_eq!(amount(&closed, "refund_due"), 100_000);

    // Refunds of 500.00 or more wait for a manager.
    let res = app
        .post(
            "/v1/settings",
            &json!({"key": "refund_approval_threshold", "value": 50_000}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    // A return of another order is not this invoice's.
    let (_, other_inv) = invoiced(&app, &customer, 1).await;
    let res = app
        .post(
            &format!("/v1/invoices/{other_inv}/credit-notes"),
            &json!({"return_id": rid, "credit": cny(100_000)}),
        )
        .await;
    assert_eq!(res.status(), 404);
    let problem: Value = res.json().await.unwrap();
    assert_eq!(problem["errors"][0]["field"], "return_id", "{problem}");
    // The amount defaults to the refund due, the reason to the return.
    let res = app
        .post(&url, &json!({"return_id": rid, "refund": cny(100_000)}))
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let note: Value = res.json().await.unwrap();
    assert_eq!(amount(&note, "amount"), 100_000);
    assert_eq!(amount(&note, "refund"), 100_000);
    assert_eq!(note["return_id"], rid.as_str());
    assert_eq!(
        note["reason"],
        format!("return {}", closed["number"].as_str().unwrap())
    );
    let refund_id = note["refunds"][0].as_str().unwrap();
    let refund = get(&app, &format!("/v1/refunds/{refund_id}")).await;
    assert_eq!(refund["status"], "pending_approval");
    assert_eq!(amount(&refund, "amount"), 100_000);
    assert_eq!(refund["credit_note_id"], note["id"]);
    let waiting = get(&app, "/v1/refunds?status=pending_approval").await;
    assert_eq!(waiting["data"].as_array().unwrap().len(), 1);
    let inv_now = invoice_adds_up(&app, &inv).await;
    assert_eq!(amount(&inv_now, "paid"), 100_000);
    assert_eq!(amount(&inv_now, "credited"), 100_000);
    let order = app.order(&order_id).await;
    assert_eq!(order["payment_status"], "paid");
    assert_eq!(order["status"], "completed");
    // The return is credited in full: nothing more for it.
    let res = app
        .post(&url, &json!({"return_id": rid, "credit": cny(1)}))
        .await;
    assert_eq!(res.status(), 409);
    let problem: Value = res.json().await.unwrap();
    assert_eq!(problem["type"], "/problems/over-credit");
    assert_eq!(problem["available"], 0);
    app.stop().await;
}

async fn a_refund_above_the_threshold_waits_for_another_manager(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app).await;
    let res = app
        .post(
            "/v1/settings",
            &json!({"key": "refund_approval_threshold", "value": 50_000}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let (_, finance) = app.user("finance@example.com", "finance", None).await;
    let (manager_id, manager) = app.user("manager@example.com", "manager", None).await;
    // The manager's customer: managers decide for the customers they see.
    let res = app
        .patch(
            &format!("/v1/customers/{customer}"),
            &json!({"owner_id": manager_id}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let res = app
        .post(
            "/v1/payments",
            &json!({"customer_id": customer, "method": "card", "amount": cny(100_000),
                "allocations": []}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let payment: Value = res.json().await.unwrap();
    let payment_id = payment["id"].as_str().unwrap().to_owned();
    let url = format!("/v1/payments/{payment_id}/refunds");

    // Finance asks for 600.00: above the threshold, it waits.
    let res = app
        .request_as(&finance, reqwest::Method::POST, &url)
        .json(&json!({"amount": cny(60_000), "reason": "overpaid"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let big: Value = res.json().await.unwrap();
    let big_id = big["id"].as_str().unwrap().to_owned();
    assert_eq!(big["status"], "pending_approval");
    assert_eq!(big["method"], "card", "the payment's own method");
    assert_eq!(big["allowed_actions"], json!(["fail"]));
    assert!(big["number"].as_str().unwrap().starts_with("RF-"));
    let approve = format!("/v1/refunds/{big_id}/approve");
    // Finance may not approve; nor is it paid out before approval.
    let res = app
        .request_as(&finance, reqwest::Method::POST, &approve)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = app
        .post(&format!("/v1/refunds/{big_id}/succeed"), &json!({}))
        .await;
    assert_eq!(res.status(), 409);
    let problem: Value = res.json().await.unwrap();
    assert_eq!(problem["current_status"], "pending_approval");
    // A manager who did not ask approves it.
    let res = app
        .request_as(&manager, reqwest::Method::POST, &approve)
        .json(&json!({"reason": "checked the bank statement"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let approved: Value = res.json().await.unwrap();
    assert_eq!(approved["status"], "pending");
    assert_eq!(approved["approved_by"], format!("user:{manager_id}"));
    let res = app
        .post(
            &format!("/v1/refunds/{big_id}/succeed"),
            &json!({"provider": "unionpay", "reference": "RF-BANK-1"}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let done: Value = res.json().await.unwrap();
    assert_eq!(done["status"], "succeeded");
    assert_eq!(done["reference"], "RF-BANK-1");
    let pay = get(&app, &format!("/v1/payments/{payment_id}")).await;
    assert_eq!(amount(&pay, "refunded"), 60_000);
    assert_eq!(amount(&pay, "unallocated"), 40_000);

    // Whoever asked may not approve their own request, even as an admin.
    let res = app
        .post(&url, &json!({"amount": cny(50_000), "reason": "x"}))
        .await;
    assert_eq!(res.status(), 409, "more than is left");
    let res = app.post(&url, &json!({"amount": cny(0)})).await;
    assert_eq!(res.status(), 400);
    let res = app
        .post(&url, &json!({"amount": {"amount": 100, "currency": "USD"}}))
        .await;
    assert_eq!(res.status(), 400);
    let res = app
        .patch(
            "/v1/settings/refund_approval_threshold",
            &json!({"value": 10_000}),
        )
        .await;
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    let res = app.post(&url, &json!({"amount": cny(10_000)})).await;
    assert_eq!(res.status(), 201);
    let own: Value = res.json().await.unwrap();
    assert_eq!(own["status"], "pending_approval");
    assert_eq!(
        own["allowed_actions"],
        json!(["fail"]),
        "not approve: own request"
    );
    let res = app
        .post(
            &format!("/v1/refunds/{}/approve", own["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 403);
    // It fails: the money is credit again.
    let res = app
        .post(
            &format!("/v1/refunds/{}/fail", own["id"].as_str().unwrap()),
            &json!({"reason": "the account is closed"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let failed: Value = res.json().await.unwrap();
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["failure_reason"], "the account is closed");
    let res = app
        .post(
            &format!("/v1/refunds/{}/fail", own["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 409);

    // Five refunds of 100.00 at once from the 400.00 left: four, never more.
    let answers = futures_util::future::join_all((0..5).map(|_| {
        app.request(reqwest::Method::POST, &url)
            .json(&json!({"amount": cny(10_000)}))
            .send()
    }))
    .await;
    let created = answers
        .iter()
        .filter(|r| r.as_ref().unwrap().status() == 201)
        .count();
    let refused = answers
        .iter()
        .filter(|r| r.as_ref().unwrap().status() == 409)
        .count();
    assert_eq!((created, refused), (4, 1));
    let pay = get(&app, &format!("/v1/payments/{payment_id}")).await;
    assert_eq!(amount(&pay, "refunded"), 100_000);
    assert_eq!(amount(&pay, "unallocated"), 0);
    assert_eq!(app.events_of("refund.requested").await, 6);
    assert_eq!(app.events_of("refund.approved").await, 1);
    assert_eq!(app.events_of("refund.succeeded").await, 1);
    assert_eq!(app.events_of("refund.failed").await, 1);
    let waiting = get(&app, "/v1/refunds?status=pending_approval").await;
    assert_eq!(waiting["data"].as_array().unwrap().len(), 4);
    let res = app.get("/v1/refunds?status=lost").await;
    assert_eq!(res.status(), 400);
    app.stop().await;
}

async fn a_reversed_payment_reopens_what_it_settled(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app).await;
    let (order_id, inv) = invoiced(&app, &customer, 1).await;
    let res = app
        .post(
            &format!("/v1/orders/{order_id}/shipments"),
            &json!({"lines": [{"line_no": 1, "quantity": 1}], "carrier": "SF",
                "tracking_number": "SF-9"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let shipment: Value = res.json().await.unwrap();
    let res = app
        .post(
            &format!("/v1/shipments/{}/deliver", shipment["id"].as_str().unwrap()),
            &json!({"signed_by": "Li Lei"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    // 1100.00 arrives: 1000.00 pays the invoice, 100.00 is credit, 50.00 of it
    // asked back.
    let res = app
        .post(
            "/v1/payments",
            &json!({"customer_id": customer, "method": "bank_transfer",
                "amount": cny(110_000)}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let payment: Value = res.json().await.unwrap();
    let payment_id = payment["id"].as_str().unwrap().to_owned();
    assert_eq!(app.order(&order_id).await["status"], "completed");
    let res = app
        .post(
            &format!("/v1/payments/{payment_id}/refunds"),
            &json!({"amount": cny(5_000)}),
        )
        .await;
    assert_eq!(res.status(), 201);

    let url = format!("/v1/payments/{payment_id}/reverse");
    let res = app.post(&url, &json!({})).await;
    assert_eq!(res.status(), 400, "a reason is required");
    assert_eq!(app.events_of("payment.reversed").await, 0);
    let res = app
        .post(&url, &json!({"reason": "charge-back CB-77"}))
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let reversed: Value = res.json().await.unwrap();
    assert_eq!(reversed["status"], "reversed");
    assert_eq!(amount(&reversed, "allocated"), 0);
    assert_eq!(amount(&reversed, "refunded"), 0);
    assert_eq!(amount(&reversed, "reversed"), 110_000);
    assert_eq!(amount(&reversed, "unallocated"), 0);
    assert_eq!(reversed["reversal_reason"], "charge-back CB-77");
    let inv_now = invoice_adds_up(&app, &inv).await;
    assert_eq!(amount(&inv_now, "paid"), 0);
    assert_eq!(amount(&inv_now, "outstanding"), 100_000);
    assert_eq!(inv_now["payment_status"], "unpaid");
    let order = app.order(&order_id).await;
    assert_eq!(order["status"], "approved", "delivered, no longer paid");
    assert_eq!(order["payment_status"], "unpaid");
    assert_eq!(order["completed_at"], Value::Null);
    assert_eq!(app.events_of("payment.reversed").await, 1);
    assert_eq!(app.events_of("order.reopened").await, 1);
    assert_eq!(app.events_of("refund.failed").await, 1);
    let balance = get(&app, &format!("/v1/customers/{customer}/balance")).await;
    assert_eq!(balance["credit"], json!([]), "{balance}");
    assert_eq!(balance["outstanding"], json!([cny(100_000)]), "{balance}");
    // Once; and it allocates nothing any more.
    let res = app.post(&url, &json!({"reason": "again"})).await;
    assert_eq!(res.status(), 409);
    let res = app
        .post(&format!("/v1/payments/{payment_id}/allocate"), &json!({}))
        .await;
    assert_eq!(res.status(), 409);
    let res = app
        .post(
            &format!("/v1/payments/{payment_id}/refunds"),
            &json!({"amount": cny(100_000)}),
        )
        .await;
    assert_eq!(
        res.status(),
        409,
        "nothing to refund: the bank took it back"
    );
    assert_eq!(
        res.json::<Value>().await.unwrap()["code"],
        "payment_reversed"
    );
    // Paid again: completed again.
    pay(&app, &customer, &inv, 100_000).await;
    let order = app.order(&order_id).await;
    assert_eq!(order["status"], "completed");
    assert_eq!(app.events_of("order.completed").await, 2);
    app.stop().await;
}

async fn a_usd_invoice_paid_at_another_rate_records_the_difference_in_cny(engine: Engine) {
    let mut app = TestApp::spawn(engine).await;
    let customer = world(&app).await;
    let today = app.clock_now().date_naive();
    let tomorrow = today.succ_opt().unwrap();
    let res = app
        .post(
            "/v1/settings",
            &json!({"key": "base_currency", "value": "CNY"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    for (rate, on) in [("7.10", today), ("7.20", tomorrow)] {
        let res = app
            .post(
                "/v1/exchange-rates",
                &json!({"from": "USD", "to": "CNY", "rate": rate, "effective_on": on}),
            )
            .await;
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    }
    let usd = |amount: i64| json!({"amount": amount, "currency": "USD"});
    let res = app
        .post(
            "/v1/orders",
            &json!({"customer_id": customer, "currency": "USD", "submit": true,
                "payment_terms": "net", "payment_terms_days": 30,
                "lines": [{"sku": "TEA", "quantity": 1, "warehouse_code": "SH-01",
                    "unit_price": usd(10_000)}]}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let order: Value = res.json().await.unwrap();
    assert_eq!(order["status"], "approved", "{order}");
    let res = app
        .post(
            &format!("/v1/orders/{}/invoices", order["id"].as_str().unwrap()),
            &json!({"issue": true}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let inv: Value = res.json().await.unwrap();
    let inv_id = inv["id"].as_str().unwrap().to_owned();
    assert_eq!(inv["base_rate"], "7.1");
    assert_eq!(inv["total_base"], cny(71_000));
    assert_eq!(inv["exchange_difference"], Value::Null);

    // Paid in full the next day, at 7.20.
    app.clock.advance(chrono::Duration::days(1));
    app.relogin().await;
    let res = app
        .post(
            "/v1/payments",
            &json!({"customer_id": customer, "method": "bank_transfer", "amount": usd(10_000),
                "allocations": [{"invoice_id": inv_id, "amount": usd(10_000)}]}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let payment: Value = res.json().await.unwrap();
    assert_eq!(payment["allocations"][0]["exchange_difference"], cny(1_000));
    let inv = get(&app, &format!("/v1/invoices/{inv_id}")).await;
    assert_eq!(inv["outstanding"], usd(0));
    assert_eq!(inv["paid"], usd(10_000));
    assert_eq!(inv["payment_status"], "paid");
    assert_eq!(inv["exchange_difference"], cny(1_000));
    // A CNY invoice realises none.
    let (_, cny_inv) = invoiced(&app, &customer, 1).await;
    let paid = pay(&app, &customer, &cny_inv, 100_000).await;
    assert_eq!(paid["allocations"][0]["exchange_difference"], Value::Null);
    app.stop().await;
}

/// The events of `event_type` in the feed, oldest first.
async fn feed(app: &TestApp, event_type: &str) -> Vec<Value> {
    let page = get(app, &format!("/v1/events?type={event_type}&limit=500")).await;
    page["data"].as_array().unwrap().clone()
}

/// Wait until the feed holds `n` events of `event_type` (the sweep runs every
/// 100 ms on both servers), then a little longer, so a duplicate would show.
async fn until_events(app: &TestApp, event_type: &str, n: usize) -> Vec<Value> {
    for _ in 0..200 {
        if app.events_of(event_type).await >= n as i64 {
            tokio::time::sleep(std::time::Duration::from_millis(400)).await;
            let events = feed(app, event_type).await;
            assert_eq!(events.len(), n, "{event_type}: {events:?}");
            return events;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!(
        "{event_type}: {} events, not {n}",
        app.events_of(event_type).await
    );
}

async fn overdue_rows_are_announced_once_per_level_by_two_servers(engine: Engine) {
    let mut app = TestApp::spawn_with(engine, |c| {
        c.maintenance_interval = std::time::Duration::from_millis(100);
    })
    .await;
    let _second = app.sibling().await;
    let customer = world(&app).await;
    let res = app
        .post(
            "/v1/settings",
            &json!({"key": "reminder_days", "value": [3, 10]}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let res = app
        .post(
            "/v1/settings",
            &json!({"key": "reminder_days_typo", "value": [3, 10]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let res = app
        .patch("/v1/settings/reminder_days", &json!({"value": [10, 3]}))
        .await;
    assert_eq!(res.status(), 400, "ascending");
    // 1000.00: 300.00 due today, 700.00 in 10 days.
    let inv_id = scheduled_invoice(&app, &customer).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        app.events_of("invoice.overdue").await,
        0,
        "due today: not yet"
    );

    // The day after: row 1 is overdue, once, though two servers sweep.
    app.clock.advance(chrono::Duration::days(1));
    app.relogin().await;
    let overdue = until_events(&app, "invoice.overdue", 1).await;
    assert_eq!(overdue[0]["data"]["notice"]["row_no"], 1);
    assert_eq!(overdue[0]["data"]["notice"]["overdue_rows"], json!([1]));
    assert_eq!(overdue[0]["data"]["id"], inv_id.as_str());
    // Three days past due: the first reminder, for row 1.
    app.clock.advance(chrono::Duration::days(2));
    app.relogin().await;
    let reminders = until_events(&app, "invoice.reminder_due", 1).await;
    assert_eq!(reminders[0]["data"]["notice"]["level_days"], 3);
    assert_eq!(reminders[0]["data"]["notice"]["overdue_rows"], json!([1]));

    // A credit note settles row 1: its 10-day reminder never comes; row 2 is
    // overdue the day after its due date, and its reminder names it alone.
    let res = app
        .post(
            &format!("/v1/invoices/{inv_id}/credit-notes"),
            &json!({"amount": cny(30_000), "reason": "first instalment waived"}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let now = get(&app, &format!("/v1/invoices/{inv_id}")).await;
    assert_eq!(now["instalments"][0]["outstanding"], cny(0));
    assert_eq!(now["overdue"], false);
    app.clock.advance(chrono::Duration::days(8));
    app.relogin().await;
    let overdue = until_events(&app, "invoice.overdue", 2).await;
    assert_eq!(overdue[1]["data"]["notice"]["row_no"], 2);
    assert_eq!(overdue[1]["data"]["notice"]["overdue_rows"], json!([2]));
    assert_eq!(app.events_of("invoice.reminder_due").await, 1);
    app.clock.advance(chrono::Duration::days(2));
    app.relogin().await;
    let reminders = until_events(&app, "invoice.reminder_due", 2).await;
    let last = &reminders[1]["data"]["notice"];
    assert_eq!(last["row_no"], 2);
    assert_eq!(last["level_days"], 3);
    assert_eq!(last["days_past_due"], 3);
    assert_eq!(last["overdue_rows"], json!([2]), "row 1 was settled");
    // Paid: nothing more, at any level.
    pay(&app, &customer, &inv_id, 70_000).await;
    app.clock.advance(chrono::Duration::days(30));
    app.relogin().await;
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(app.events_of("invoice.reminder_due").await, 2);
    assert_eq!(app.events_of("invoice.overdue").await, 2);
    assert_eq!(app.count("SELECT COUNT(*) FROM invoice_notices").await, 4);

    // After a pause of 15 days past due (the servers were down): the overdue
    // notice and the 10-day reminder, not the 3-day one as well.
    let (_, late) = invoiced(&app, &customer, 1).await;
    app.clock.advance(chrono::Duration::days(45));
    app.relogin().await;
    let overdue = until_events(&app, "invoice.overdue", 3).await;
    assert_eq!(overdue[2]["data"]["id"], late.as_str());
    let reminders = until_events(&app, "invoice.reminder_due", 3).await;
    assert_eq!(reminders[2]["data"]["id"], late.as_str());
    assert_eq!(reminders[2]["data"]["notice"]["level_days"], 10);
    assert_eq!(reminders[2]["data"]["notice"]["days_past_due"], 15);
    assert_eq!(app.count("SELECT COUNT(*) FROM invoice_notices").await, 7);
    app.stop().await;
}
