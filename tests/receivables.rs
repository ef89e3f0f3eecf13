//! Receivables aging and customer statements. Aging counts every document by the
//! day it was booked, row by instalment row, so a past day asked about later gives
//! the answer it gave then; a statement runs the balance from the opening one and
//! closes on what the customer owes less what they hold.

use chrono::Duration;
use ordercrm_tests::{Engine, TestApp, both_engines};
use serde_json::{Value, json};

use crate::credit_notes::{cny, get, invoiced, pay, scheduled_invoice, world};

both_engines!(
    aging_counts_by_booked_days_and_a_past_day_keeps_its_answer,
    a_statement_runs_the_balance_from_opening_to_closing,
);

fn bucket(v: &Value, name: &str) -> i64 {
    v[name]
        .as_i64()
        .unwrap_or_else(|| panic!("no {name} in {v}"))
}

/// Today's aging, or as of `as_of`, of everyone (`customer` None) or one customer.
async fn aging(app: &TestApp, as_of: Option<chrono::NaiveDate>, customer: Option<&str>) -> Value {
    let mut q = Vec::new();
    if let Some(d) = as_of {
        q.push(format!("as_of={d}"));
    }
    if let Some(c) = customer {
        q.push(format!("customer_id={c}"));
    }
    get(app, &format!("/v1/receivables/aging?{}", q.join("&"))).await
}

/// A server with CNY as the base currency and the tea-house world: its customer.
async fn with_cny_base(engine: Engine) -> (TestApp, String) {
    let app = TestApp::spawn(engine).await;
    let customer = world(&app).await;
    let res = app
        .post(
            "/v1/settings",
            &json!({"key": "base_currency", "value": "CNY"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    (app, customer)
}

async fn aging_counts_by_booked_days_and_a_past_day_keeps_its_answer(engine: Engine) {
    let (mut app, customer) = with_cny_base(engine).await;
    let issued = app.clock_now().date_naive();
    let due = issued + Duration::days(30);
    // 1000 due on D (net 30).
    let (_, inv) = invoiced(&app, &customer, 1).await;
    let before = aging(&app, Some(issued - Duration::days(1)), None).await;
    assert_eq!(before["customers"], json!([]), "not issued yet then");
    assert_eq!(bucket(&before["total"], "total"), 0);
    let on_due = aging(&app, Some(due), None).await;
    assert_eq!(bucket(&on_due["total"], "current"), 100_000, "{on_due}");

    // D+10: 1000 in 1–30.
    app.clock.advance(Duration::days(40));
    app.relogin().await;
    let d10 = aging(&app, None, None).await;
    assert_eq!(d10["as_of"], (due + Duration::days(10)).to_string());
    assert_eq!(bucket(&d10["total"], "days_1_30"), 100_000, "{d10}");
    assert_eq!(bucket(&d10["total"], "total"), 100_000);
    assert_eq!(d10["customers"][0]["customer_id"], customer.as_str());
    assert_eq!(d10["customers"][0]["invoices"], 1);
    assert_eq!(bucket(&d10["customers"][0]["base"], "days_1_30"), 100_000);
    assert_eq!(d10["by_currency"][0]["currency"], "CNY");
    assert_eq!(d10["rows"], Value::Null, "rows only for one customer");

    // D+35: 300 paid; 700 in 31–60.
    app.clock.advance(Duration::days(25));
    app.relogin().await;
    pay(&app, &customer, &inv, 30_000).await;
    let d35 = aging(&app, None, Some(&customer)).await;
    assert_eq!(bucket(&d35["total"], "days_31_60"), 70_000, "{d35}");
    assert_eq!(bucket(&d35["total"], "total"), 70_000);
    let rows = d35["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["invoice_id"], inv.as_str());
    assert_eq!(rows[0]["days_past_due"], 35);
    assert_eq!(rows[0]["bucket"], "31-60");
    assert_eq!(rows[0]["outstanding"], 70_000);
    assert_eq!(rows[0]["outstanding_base"], 70_000);
    // D+20, asked afterwards: still 1000 in 1–30.
    let d20 = aging(&app, Some(due + Duration::days(20)), None).await;
    assert_eq!(bucket(&d20["total"], "days_1_30"), 100_000, "{d20}");
    assert_eq!(bucket(&d20["total"], "days_31_60"), 0);

    // A 30/70 schedule whose first row a credit note settles: only row 2 is owed
    // from that day; a day before, both rows were.
    let (_, split) = invoiced(&app, &customer, 1).await;
    let res = app
        .post(
            &format!("/v1/invoices/{split}/void"),
            &json!({"reason": "reissued on a schedule"}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let scheduled_id = scheduled_invoice(&app, &customer).await;
    let issued_scheduled = app.clock_now().date_naive();
    app.clock.advance(Duration::days(5));
    app.relogin().await;
    let res = app
        .post(
            &format!("/v1/invoices/{scheduled_id}/credit-notes"),
            &json!({"amount": cny(30_000), "reason": "first instalment waived"}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let rows_of = |report: &Value| -> Vec<(i64, i64, String)> {
        report["rows"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["invoice_id"] == scheduled_id.as_str())
            .map(|r| {
                (
                    r["row_no"].as_i64().unwrap(),
                    r["outstanding"].as_i64().unwrap(),
                    r["bucket"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let now = aging(&app, None, Some(&customer)).await;
    assert_eq!(rows_of(&now), vec![(2, 70_000, "current".to_owned())]);
    let then = aging(
        &app,
        Some(issued_scheduled + Duration::days(4)),
        Some(&customer),
    )
    .await;
    assert_eq!(
        rows_of(&then),
        vec![
            (1, 30_000, "1-30".to_owned()),
            (2, 70_000, "current".to_owned())
        ]
    );
    // Voided the day it was issued, the other invoice never counted.
    assert_eq!(bucket(&now["total"], "total"), 70_000 + 70_000, "{now}");

    // CSV: one line per customer and the total, amounts in major units.
    let res = app
        .request(reqwest::Method::GET, "/v1/receivables/aging")
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
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[0].starts_with("customer_id,customer_name,invoices,currency,current"));
    assert!(
        lines[1].contains("Tea House") && lines[1].ends_with(",1400.00"),
        "{csv}"
    );
    assert!(lines[2].contains("TOTAL"), "{csv}");

    // Bad input changes nothing and says why; another's customer is not found.
    for (query, status) in [
        ("as_of=2026-02-30", 400),
        ("as_of=yesterday", 400),
        ("as_of=2026-1-1", 400),
        ("colour=red", 400),
        ("customer_id=nope", 400),
        ("customer_id=0190f0f0-0000-7000-8000-000000000000", 404),
    ] {
        let res = app.get(&format!("/v1/receivables/aging?{query}")).await;
        assert_eq!(res.status(), status, "{query}");
        assert_eq!(
            res.headers()["content-type"],
            "application/problem+json",
            "{query}"
        );
    }
    // The far ends of the calendar answer: nothing yet, and all of it 91+ (the
    // voided invoice stays out).
    let first = aging(&app, chrono::NaiveDate::from_ymd_opt(1, 1, 1), None).await;
    assert_eq!(bucket(&first["total"], "total"), 0);
    let last = aging(&app, chrono::NaiveDate::from_ymd_opt(9999, 12, 31), None).await;
    assert_eq!(bucket(&last["total"], "days_over_90"), 140_000, "{last}");
    assert_eq!(bucket(&last["total"], "total"), 140_000);
    // A sales rep sees only their own customers: none here.
    let (_, rep) = app.user("rep@example.com", "sales", None).await;
    let res = app
        .request_as(&rep, reqwest::Method::GET, "/v1/receivables/aging")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let theirs: Value = res.json().await.unwrap();
    assert_eq!(theirs["customers"], json!([]));
    assert_eq!(bucket(&theirs["total"], "total"), 0);
    let res = app
        .request_as(
            &rep,
            reqwest::Method::GET,
            &format!("/v1/receivables/aging?customer_id={customer}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    app.stop().await;
}

async fn a_statement_runs_the_balance_from_opening_to_closing(engine: Engine) {
    let (mut app, customer) = with_cny_base(engine).await;
    let start = app.clock_now().date_naive();
    // Day 0: invoice A 1000, 300 paid.
    let (_, a) = invoiced(&app, &customer, 1).await;
    pay(&app, &customer, &a, 30_000).await;
    // Day 5: invoice B 1000 paid in full; a credit note of 600 on it: 400 paid
    // back, 200 kept as credit; the refund goes out.
    app.clock.advance(Duration::days(5));
    app.relogin().await;
    let (_, b) = invoiced(&app, &customer, 1).await;
    pay(&app, &customer, &b, 100_000).await;
    let res = app
        .post(
            &format!("/v1/invoices/{b}/credit-notes"),
            &json!({"amount": cny(60_000), "reason": "damaged",
                "refund": cny(40_000), "credit": cny(20_000)}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let note: Value = res.json().await.unwrap();
    let refunds = get(
        &app,
        &format!(
            "/v1/refunds?credit_note_id={}",
            note["id"].as_str().unwrap()
        ),
    )
    .await;
    let refund = refunds["data"][0]["id"].as_str().unwrap().to_owned();
    let res = app
        .post(&format!("/v1/refunds/{refund}/succeed"), &json!({}))
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    // Day 10: 50 on account, then taken back (a bounced transfer).
    app.clock.advance(Duration::days(5));
    app.relogin().await;
    let res = app
        .post(
            "/v1/payments",
            &json!({"customer_id": customer, "method": "bank_transfer", "amount": cny(5_000),
                "allocations": []}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let on_account: Value = res.json().await.unwrap();
    let res = app
        .post(
            &format!(
                "/v1/payments/{}/reverse",
                on_account["id"].as_str().unwrap()
            ),
            &json!({"reason": "bounced"}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());

    let from = start + Duration::days(3);
    let to = start + Duration::days(10);
    let s = get(
        &app,
        &format!("/v1/customers/{customer}/statement?from={from}&to={to}"),
    )
    .await;
    assert_eq!(s["currency"], "CNY");
    assert_eq!(s["opening_balance"], 70_000, "{s}");
    let kinds: Vec<(&str, i64, i64)> = s["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap(),
                e["debit"].as_i64().unwrap(),
                e["credit"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("invoice", 100_000, 0),
            ("payment", 0, 100_000),
            ("credit_note", 0, 60_000),
            ("refund", 40_000, 0),
            ("payment", 0, 5_000),
            ("payment_reversed", 5_000, 0),
        ],
        "{s}"
    );
    assert_eq!(s["total_debit"], 145_000);
    assert_eq!(s["total_credit"], 165_000);
    assert_eq!(s["closing_balance"], 50_000);
    assert_eq!(s["entries"][5]["balance"], 50_000);
    assert_eq!(s["entries"][0]["balance"], 170_000);
    // Closing today = owed on open invoices − credit.
    let balance = get(&app, &format!("/v1/customers/{customer}/balance")).await;
    assert_eq!(balance["outstanding"], json!([cny(70_000)]), "{balance}");
    assert_eq!(balance["credit"], json!([cny(20_000)]), "{balance}");
    let whole = get(
        &app,
        &format!("/v1/customers/{customer}/statement?from={start}"),
    )
    .await;
    assert_eq!(whole["opening_balance"], 0);
    assert_eq!(whole["closing_balance"], 70_000 - 20_000);
    assert_eq!(whole["entries"].as_array().unwrap().len(), 8);

    // CSV: opening line, the entries, closing line.
    let res = app
        .request(
            reqwest::Method::GET,
            &format!("/v1/customers/{customer}/statement?from={from}&to={to}"),
        )
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let csv = res.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + 1 + 6 + 1, "{csv}");
    assert_eq!(
        lines[0],
        "date,kind,number,description,currency,debit,credit,balance"
    );
    assert!(
        lines[1].starts_with(&format!("{from},opening_balance,")) && lines[1].ends_with(",700.00"),
        "{csv}"
    );
    assert!(
        lines[8].starts_with(&format!("{to},closing_balance,"))
            && lines[8].ends_with(",1450.00,1650.00,500.00"),
        "{csv}"
    );

    // Another currency: nothing in it.
    let usd = get(
        &app,
        &format!("/v1/customers/{customer}/statement?currency=USD&from={start}"),
    )
    .await;
    assert_eq!(usd["entries"], json!([]));
    assert_eq!(usd["closing_balance"], 0);
    // Bad input.
    for (query, field) in [
        (format!("from={to}&to={from}"), "from"),
        (format!("from=2024-01-01&to={to}"), "to"),
        ("currency=XYZ".to_owned(), "currency"),
        ("from=2026-13-01".to_owned(), "from"),
    ] {
        let res = app
            .get(&format!("/v1/customers/{customer}/statement?{query}"))
            .await;
        assert_eq!(res.status(), 400, "{query}");
        let problem: Value = res.json().await.unwrap();
        assert!(
            problem["errors"]
                .as_array()
                .is_some_and(|e| e.iter().any(|e| e["field"] == field)),
            "{query}: {problem}"
        );
    }
    let res = app
        .get("/v1/customers/0190f0f0-0000-7000-8000-000000000000/statement")
        .await;
    assert_eq!(res.status(), 404);
    // A key bound to a channel sees part of a customer's books at most: it gets
    // no statement and no one customer's aging.
    let shop: Value = app
        .post(
            "/v1/api-keys",
            &json!({"name": "Shop", "kind": "ecommerce", "scopes": ["payments:read"],
                "channel": "web", "channel_name": "shop"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let shop = shop["secret"].as_str().unwrap();
    for path in [
        format!("/v1/customers/{customer}/statement"),
        format!("/v1/receivables/aging?customer_id={customer}"),
    ] {
        let res = app
            .request_as(shop, reqwest::Method::GET, &path)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{path}");
    }

    // A write-off shows what was owed that day, whatever a reversal moves later.
    let (_, c) = invoiced(&app, &customer, 1).await;
    let paid = pay(&app, &customer, &c, 30_000).await;
    let res = app
        .post(
            &format!("/v1/invoices/{c}/mark-uncollectible"),
            &json!({"reason": "gone bust"}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let res = app
        .post(
            &format!("/v1/payments/{}/reverse", paid["id"].as_str().unwrap()),
            &json!({"reason": "bounced"}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let today = get(&app, &format!("/v1/customers/{customer}/statement")).await;
    let of_c: Vec<(String, i64, i64)> = today["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["document_id"] == c.as_str() || e["document_id"] == paid["id"])
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_owned(),
                e["debit"].as_i64().unwrap(),
                e["credit"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        of_c,
        vec![
            ("invoice".to_owned(), 100_000, 0),
            ("write_off".to_owned(), 0, 70_000),
            ("payment".to_owned(), 0, 30_000),
            ("payment_reversed".to_owned(), 30_000, 0),
        ],
        "{today}"
    );

    // A merged duplicate's invoices, credit notes and refunds are the survivor's.
    let dup = app.customer("Tea House (duplicate)").await;
    let (_, d) = invoiced(&app, &dup, 1).await;
    let res = app
        .post(
            &format!("/v1/invoices/{d}/credit-notes"),
            &json!({"amount": cny(10_000), "reason": "discount"}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let before = get(&app, &format!("/v1/customers/{customer}/statement")).await;
    let res = app
        .post(
            &format!("/v1/customers/{customer}/merge"),
            &json!({"source_id": dup}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let after = get(&app, &format!("/v1/customers/{customer}/statement")).await;
    assert_eq!(
        after["closing_balance"].as_i64().unwrap(),
        before["closing_balance"].as_i64().unwrap() + 90_000,
        "{after}"
    );
    let balance = get(&app, &format!("/v1/customers/{customer}/balance")).await;
    let credit: i64 = balance["credit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["amount"].as_i64().unwrap())
        .sum();
    let owed: i64 = balance["outstanding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["amount"].as_i64().unwrap())
        .sum();
    // The reversal took back 300.00 that had paid the written-off invoice: owed
    // again, on an invoice that no longer counts as open.
    assert_eq!(
        after["closing_balance"].as_i64().unwrap(),
        owed - credit + 30_000
    );
    let gone = get(&app, &format!("/v1/customers/{dup}/statement")).await;
    assert_eq!(gone["closing_balance"], 0, "{gone}");
    app.stop().await;
}
