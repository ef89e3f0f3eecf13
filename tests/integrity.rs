//! Regression tests for the second security review (issue 10): data integrity. One
//! or more per case, named after it; races held at the server's hook points.

use futures_util::future::join_all;
use ordercrm_tests::{Engine, TestApp, both_engines, everything_stored, problem};
use reqwest::Method;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

both_engines!(
    erase_scrubs_follow_ups_merged_duplicates_and_kept_answers,
    erased_customer_cannot_be_brought_back,
    concurrent_merges_of_one_source_one_wins,
    merges_back_and_forth_are_refused,
    sales_rep_cannot_leave_a_customer_unowned,
    owners_and_assignees_are_active_users,
    managers_change_only_users_below_them,
    birthdays_are_paged,
    import_errors_never_name_customers_the_importer_cannot_see,
    lost_updates_are_impossible,
    overflowing_quantities_are_refused,
    impossible_rows_stop_the_migration,
    csv_export_cannot_run_formulas,
    csv_absent_column_leaves_the_field_alone,
    csv_import_takes_a_browser_upload,
    import_lets_other_writers_in_between_batches,
    import_is_all_or_nothing_across_batches,
    change_during_an_import_refuses_it,
    duplicate_created_during_an_import_refuses_it,
    product_deleted_during_an_import_is_not_brought_back,
    erase_while_rows_are_checked_keeps_no_copy,
    import_numbers_replace_only_the_number,
    erase_during_an_import_leaves_no_staged_copy,
    import_events_carry_the_request_id_of_the_import,
    import_limits_follow_the_role,
    idempotent_import_does_not_wait_for_itself,
    forged_cursors_are_refused_not_failed,
);

async fn customer(app: &TestApp, token: &str, body: Value) -> Value {
    let res = app
        .request_as(token, Method::POST, "/v1/customers?allow_duplicate=true")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

async fn merge(app: &TestApp, target: &str, source: &str) -> reqwest::Response {
    app.request(Method::POST, &format!("/v1/customers/{target}/merge"))
        .json(&json!({"source_id": source}))
        .send()
        .await
        .unwrap()
}

/// Erase left follow-ups, the duplicates merged into the customer, and the answers
/// kept for Idempotency-Key replays.
async fn erase_scrubs_follow_ups_merged_duplicates_and_kept_answers(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let keep = customer(
        &app,
        &app.token,
        json!({"kind": "person", "name": "Jane Keeper"}),
    )
    .await;
    let dup = app
        .request(Method::POST, "/v1/customers?allow_duplicate=true")
        .header("idempotency-key", "dup-create")
        .json(&json!({"kind": "person", "name": "Jane Duplicate", "email": "jane@dup.example"}))
        .send()
        .await
        .unwrap();
    assert_eq!(dup.status(), 201);
    let dup: Value = dup.json().await.unwrap();
    let res = app
        .request(
            Method::POST,
            &format!("/v1/customers/{}/follow-ups", id(&keep)),
        )
        .json(
            &json!({"title": "Call Jane about the divorce", "details": "she asked for discretion",
            "due_at": "2026-12-01T09:00:00Z"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(merge(&app, id(&keep), id(&dup)).await.status(), 200);

    let res = app
        .request(Method::POST, &format!("/v1/customers/{}/erase", id(&keep)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let stored = everything_stored(&app).await;
    for secret in [
        "Jane Keeper",
        "Jane Duplicate",
        "jane@dup.example",
        "divorce",
        "discretion",
    ] {
        assert!(!stored.contains(secret), "{secret} survived the erasure");
    }
    let dup_now: Value = app
        .get(&format!("/v1/customers/{}", id(&dup)))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        dup_now["erased_at"].is_string(),
        "the merged duplicate is erased too"
    );
    // The kept answer is gone: the retry runs again (and creates a new customer).
    let retry = app
        .request(Method::POST, "/v1/customers?allow_duplicate=true")
        .header("idempotency-key", "dup-create")
        .json(&json!({"kind": "person", "name": "Jane Duplicate", "email": "jane@dup.example"}))
        .send()
        .await
        .unwrap();
    assert!(retry.headers().get("idempotent-replayed").is_none());
    app.stop().await;
}

/// An erased customer could be updated, or re-imported, back to life.
async fn erased_customer_cannot_be_brought_back(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let c = customer(
        &app,
        &app.token,
        json!({"kind": "company", "name": "Gone Forever"}),
    )
    .await;
    let other = customer(
        &app,
        &app.token,
        json!({"kind": "person", "name": "Someone Else"}),
    )
    .await;
    let url = format!("/v1/customers/{}", id(&c));
    let created = |path: String, body: Value| {
        let app = &app;
        async move {
            let res = app.post(&path, &body).await;
            let status = res.status();
            let body: Value = res.json().await.unwrap();
            assert_eq!(status, 201, "{path}: {body}");
            body
        }
    };
    let contact = created(
        format!("{url}/contacts"),
        json!({"name": "Her Brother", "email": "bro@example.com"}),
    )
    .await;
    let address = created(
        format!("{url}/addresses"),
        json!({"kind": "shipping", "line1": "A road 1", "city": "上海", "country": "CN"}),
    )
    .await;
    let follow_up = created(
        format!("{url}/follow-ups"),
        json!({"title": "Call back", "due_at": "2026-11-24T08:00:00Z"}),
    )
    .await;
    app.request(Method::POST, &format!("{url}/erase"))
        .send()
        .await
        .unwrap();

    let res = app
        .patch(
            &url,
            &json!({"name": "Back Again", "email": "back@again.example"}),
        )
        .await;
    assert_eq!(problem(res, 409).await["type"], "/problems/erased");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM customer_follow_ups WHERE status = 'open'")
            .await,
        0,
        "erase cancels the erased customer's open follow-ups"
    );
    // Nothing under it can be written either: what erase kept stays as erase left it.
    let contact_url = format!("{url}/contacts/{}", id(&contact));
    let address_url = format!("{url}/addresses/{}", id(&address));
    let follow_up_url = format!("/v1/follow-ups/{}", id(&follow_up));
    for (method, path, body) in [
        (Method::PATCH, &contact_url, json!({"name": "Back"})),
        (Method::DELETE, &contact_url, Value::Null),
        (Method::PATCH, &address_url, json!({"line1": "Back road"})),
        (Method::DELETE, &address_url, Value::Null),
        (Method::PATCH, &follow_up_url, json!({"title": "Back"})),
        (
            Method::POST,
            &format!("{url}/addresses"),
            json!({"kind": "billing", "line1": "B road", "city": "上海", "country": "CN"}),
        ),
        (
            Method::POST,
            &format!("{url}/follow-ups"),
            json!({"title": "Again", "due_at": "2026-11-24T08:00:00Z"}),
        ),
    ] {
        let mut req = app.request(method.clone(), path);
        if !body.is_null() {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        assert_eq!(
            problem(res, 409).await["type"],
            "/problems/erased",
            "{method} {path}"
        );
    }
    let res = app
        .post(&format!("{url}/contacts"), &json!({"name": "Her Sister"}))
        .await;
    assert_eq!(problem(res, 409).await["type"], "/problems/erased");
    let res = app
        .post(
            &format!("{url}/notes"),
            &json!({"kind": "call", "body": "she called"}),
        )
        .await;
    assert_eq!(problem(res, 409).await["type"], "/problems/erased");
    assert_eq!(
        problem(merge(&app, id(&other), id(&c)).await, 409).await["type"],
        "/problems/erased"
    );
    assert_eq!(
        problem(merge(&app, id(&c), id(&other)).await, 409).await["type"],
        "/problems/erased"
    );

    let csv = format!(
        "number,name,email\n{},Back Again,back@again.example\n",
        c["number"].as_str().unwrap()
    );
    let res = app
        .request(Method::POST, "/v1/customers/import")
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    let body = problem(res, 400).await;
    assert_eq!(body["type"], "/problems/import-failed");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("erased"),
        "{body}"
    );
    let now: Value = app.get(&url).await.json().await.unwrap();
    assert_eq!(
        now["name"],
        format!("Erased customer {}", c["number"].as_str().unwrap())
    );
    assert_eq!(now["email"], Value::Null);
    app.stop().await;
}

/// Two concurrent merges of one source both succeeded.
async fn concurrent_merges_of_one_source_one_wins(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let source = customer(
        &app,
        &app.token,
        json!({"kind": "person", "name": "Source"}),
    )
    .await;
    let t1 = customer(
        &app,
        &app.token,
        json!({"kind": "person", "name": "Target One"}),
    )
    .await;
    let t2 = customer(
        &app,
        &app.token,
        json!({"kind": "person", "name": "Target Two"}),
    )
    .await;
    app.post(
        &format!("/v1/customers/{}/notes", id(&source)),
        &json!({"kind": "call", "body": "moves once"}),
    )
    .await;
    let held = app.probe.hold("customer.merge.checked");
    let first = {
        let req = app
            .request(Method::POST, &format!("/v1/customers/{}/merge", id(&t1)))
            .json(&json!({"source_id": id(&source)}));
        tokio::spawn(req.send())
    };
    held.reached().await;
    let second = {
        let req = app
            .request(Method::POST, &format!("/v1/customers/{}/merge", id(&t2)))
            .json(&json!({"source_id": id(&source)}));
        tokio::spawn(req.send())
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    held.release();
    let mut statuses = vec![
        first.await.unwrap().unwrap().status().as_u16(),
        second.await.unwrap().unwrap().status().as_u16(),
    ];
    statuses.sort_unstable();
    assert_eq!(statuses, vec![200, 409], "exactly one merge");
    let merged_into: Value = app
        .get(&format!("/v1/customers/{}", id(&source)))
        .await
        .json()
        .await
        .unwrap();
    let winner = merged_into["merged_into_id"].as_str().unwrap().to_owned();
    assert!(winner == id(&t1) || winner == id(&t2));
    let winner_name = if winner == id(&t1) {
        "Target One"
    } else {
        "Target Two"
    };
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM customer_notes n JOIN customers c ON c.id = n.customer_id \
                 WHERE c.name = '{winner_name}'"
        ))
        .await,
        1
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM customer_notes").await, 1);
    app.stop().await;
}

/// A→B then B→A archived both customers.
async fn merges_back_and_forth_are_refused(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let a = customer(&app, &app.token, json!({"kind": "person", "name": "A"})).await;
    let b = customer(&app, &app.token, json!({"kind": "person", "name": "B"})).await;
    assert_eq!(merge(&app, id(&b), id(&a)).await.status(), 200);
    let res = merge(&app, id(&a), id(&b)).await;
    assert_eq!(problem(res, 409).await["type"], "/problems/conflict");
    let b_now: Value = app
        .get(&format!("/v1/customers/{}", id(&b)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(b_now["archived"], false, "the survivor survives");

    // The same two merges at once: one of them.
    let c = customer(&app, &app.token, json!({"kind": "person", "name": "C"})).await;
    let d = customer(&app, &app.token, json!({"kind": "person", "name": "D"})).await;
    let held = app.probe.hold("customer.merge.checked");
    let first = {
        let req = app
            .request(Method::POST, &format!("/v1/customers/{}/merge", id(&d)))
            .json(&json!({"source_id": id(&c)}));
        tokio::spawn(req.send())
    };
    held.reached().await;
    let second = {
        let req = app
            .request(Method::POST, &format!("/v1/customers/{}/merge", id(&c)))
            .json(&json!({"source_id": id(&d)}));
        tokio::spawn(req.send())
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    held.release();
    let statuses = [
        first.await.unwrap().unwrap().status().as_u16(),
        second.await.unwrap().unwrap().status().as_u16(),
    ];
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM customers WHERE archived = false AND name IN ('C', 'D')")
            .await,
        1,
        "one of the two stays live"
    );
    app.stop().await;
}

/// A sales rep could set `owner_id: null` and hide a customer from everyone.
async fn sales_rep_cannot_leave_a_customer_unowned(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (manager_id, manager) = app.user("mgr@example.com", "manager", None).await;
    let (_, rep) = app
        .user("rep@example.com", "sales", Some(&manager_id))
        .await;
    for token in [&rep, &manager] {
        let c = customer(&app, token, json!({"kind": "person", "name": "Mine"})).await;
        let res = app
            .request_as(token, Method::PATCH, &format!("/v1/customers/{}", id(&c)))
            .json(&json!({"owner_id": null}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            problem(res, 400).await["errors"][0]["code"],
            "invalid_owner"
        );
    }
    let c = customer(&app, &rep, json!({"kind": "person", "name": "Reassigned"})).await;
    let res = app
        .patch(
            &format!("/v1/customers/{}", id(&c)),
            &json!({"owner_id": null}),
        )
        .await;
    assert_eq!(res.status(), 200, "an admin may");
    app.stop().await;
}

/// An unknown owner or assignee was a foreign-key 409 naming nothing; a deactivated
/// one took work nobody would see again.
async fn owners_and_assignees_are_active_users(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (gone_id, _) = app.user("gone@example.com", "sales", None).await;
    let res = app
        .patch(&format!("/v1/users/{gone_id}"), &json!({"active": false}))
        .await;
    assert_eq!(res.status(), 200);
    let nobody = "0193a6f2-7c1e-7d2a-9b8e-2f0c7b1d4e5f";
    let res = app
        .post(
            "/v1/customers",
            &json!({"kind": "person", "name": "A", "owner_id": nobody}),
        )
        .await;
    let body = problem(res, 404).await;
    assert_eq!(body["errors"][0]["code"], "unknown_user");
    assert_eq!(body["errors"][0]["field"], "owner_id");
    let res = app
        .post(
            "/v1/customers",
            &json!({"kind": "person", "name": "A", "owner_id": gone_id}),
        )
        .await;
    // Well formed, naming someone who exists: their state refuses it.
    assert_eq!(
        problem(res, 409).await["errors"][0]["code"],
        "inactive_user"
    );

    let c = app
        .post("/v1/customers", &json!({"kind": "person", "name": "B"}))
        .await
        .json::<Value>()
        .await
        .unwrap();
    let url = format!("/v1/customers/{}", id(&c));
    let res = app.patch(&url, &json!({"owner_id": nobody})).await;
    assert_eq!(problem(res, 404).await["errors"][0]["code"], "unknown_user");
    let res = app
        .post(
            &format!("{url}/follow-ups"),
            &json!({"title": "Call", "due_at": "2026-12-01T09:00:00Z", "assignee_id": gone_id}),
        )
        .await;
    // Well formed, naming someone who exists: their state refuses it.
    assert_eq!(
        problem(res, 409).await["errors"][0]["code"],
        "inactive_user"
    );
    let res = app
        .post(
            &format!("{url}/follow-ups"),
            &json!({"title": "Call", "due_at": "2026-12-01T09:00:00Z", "assignee_id": nobody}),
        )
        .await;
    assert_eq!(problem(res, 404).await["errors"][0]["code"], "unknown_user");
    let res = app.get(&url).await.json::<Value>().await.unwrap();
    assert_eq!(res["version"], c["version"], "nothing changed");
    app.stop().await;
}

/// A manager could deactivate an admin.
async fn managers_change_only_users_below_them(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (manager_id, _) = app.user("mgr@example.com", "manager", None).await;
    let (admin_id, _) = app
        .user("admin2@example.com", "admin", Some(&manager_id))
        .await;
    let (peer_id, _) = app
        .user("mgr2@example.com", "manager", Some(&manager_id))
        .await;
    let (rep_id, _) = app
        .user("rep@example.com", "sales", Some(&manager_id))
        .await;
    let manager = app.login("mgr@example.com", ordercrm_tests::PASSWORD).await;
    for target in [&admin_id, &peer_id] {
        let res = app
            .request_as(&manager, Method::PATCH, &format!("/v1/users/{target}"))
            .json(&json!({"active": false}))
            .send()
            .await
            .unwrap();
        problem(res, 403).await;
    }
    let res = app
        .request_as(&manager, Method::PATCH, &format!("/v1/users/{rep_id}"))
        .json(&json!({"active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let admin: Value = app
        .get(&format!("/v1/users/{admin_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(admin["active"], true);
    app.stop().await;
}

/// `/v1/customers/birthdays` read every match into memory and returned one page.
async fn birthdays_are_paged(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    // Today is 2026-11-23.
    for (name, birthday) in [
        ("Today", "1980-11-23"),
        ("Soon", "1990-11-25"),
        ("New Year's Eve", "1985-12-31"),
        ("January", "1970-01-02"),
        ("Leap Day", "1996-02-29"),
        ("Yesterday", "1999-11-22"),
        ("Also Today", "2001-11-23"),
    ] {
        customer(
            &app,
            &app.token,
            json!({"kind": "person", "name": name, "birthday": birthday}),
        )
        .await;
    }
    let mut names = Vec::new();
    let mut days = Vec::new();
    let mut url = "/v1/customers/birthdays?within_days=366&limit=2".to_owned();
    loop {
        let page: Value = app.get(&url).await.json().await.unwrap();
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= 2);
        for b in data {
            names.push(b["name"].as_str().unwrap().to_owned());
            days.push(b["days_until"].as_i64().unwrap());
        }
        match page["next_cursor"].as_str() {
            Some(c) => url = format!("/v1/customers/birthdays?within_days=366&limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(
        names,
        [
            "Also Today",
            "Today",
            "Soon",
            "New Year's Eve",
            "January",
            "Leap Day",
            "Yesterday"
        ]
    );
    assert_eq!(days, [0, 0, 2, 38, 40, 97, 364]);
    let week: Value = app
        .get("/v1/customers/birthdays")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        week["data"].as_array().unwrap().len(),
        3,
        "7 days by default"
    );
    let leap: Value = app
        .get("/v1/customers/birthdays?within_days=97&limit=200")
        .await
        .json()
        .await
        .unwrap();
    let last = leap["data"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["name"], "Leap Day");
    assert_eq!(last["next_birthday"], "2027-02-28");
    problem(
        app.get("/v1/customers/birthdays?cursor=nonsense").await,
        400,
    )
    .await;
    app.stop().await;
}

/// Import row errors named the ids of customers the importer may not see.
async fn import_errors_never_name_customers_the_importer_cannot_see(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (_, rep_a) = app.user("a@example.com", "sales", None).await;
    let (_, rep_b) = app.user("b@example.com", "sales", None).await;
    let hidden = customer(
        &app,
        &rep_b,
        json!({"kind": "person", "name": "B's", "external_refs": [{"channel": "shop", "external_id": "77"}]}),
    )
    .await;
    for csv in [
        format!(
            "number,name\n{},Taken Over\n",
            hidden["number"].as_str().unwrap()
        ),
        "kind,name,external_refs\nperson,Taken Over,shop:77\n".to_owned(),
    ] {
        let res = app
            .request_as(&rep_a, Method::POST, "/v1/customers/import")
            .header("content-type", "text/csv")
            .body(csv)
            .send()
            .await
            .unwrap();
        let text = res.text().await.unwrap();
        assert!(text.contains("import-failed"), "{text}");
        assert!(!text.contains(id(&hidden)), "{text}");
    }
    let still: Value = app
        .get(&format!("/v1/customers/{}", id(&hidden)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(still["name"], "B's");
    app.stop().await;
}

/// A made-up HTTP method became a new Prometheus label.
#[tokio::test]
async fn made_up_methods_share_one_metrics_label() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let results = join_all((0..3).map(|i| {
        let method = Method::from_bytes(format!("BOGUS{i}").as_bytes()).unwrap();
        app.anonymous(method, "/v1/customers").send()
    }))
    .await;
    assert!(
        results
            .iter()
            .all(|r| r.as_ref().unwrap().status().is_client_error())
    );
    let metrics = app
        .anonymous(Method::GET, "/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!metrics.contains("BOGUS"), "{metrics}");
    assert!(metrics.contains("method=\"OTHER\""));
    app.stop().await;
}

async fn created(app: &TestApp, path: &str, body: Value) -> Value {
    let res = app.post(path, &body).await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 201, "{path}: {body}");
    body
}

/// Products, warehouses and suppliers checked If-Match, then updated without a
/// version condition: 8 concurrent PATCHes carrying one ETag, 3 answered 200.
async fn lost_updates_are_impossible(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let w = created(
        &app,
        "/v1/warehouses",
        json!({"code": "SH-01", "name": "Shanghai"}),
    )
    .await;
    let s = created(
        &app,
        "/v1/suppliers",
        json!({"name": "Tea Co-op", "email": "orders@tea.example", "lead_time_days": 10, "currency": "CNY"}),
    )
    .await;
    let p = created(
        &app,
        "/v1/products",
        json!({"sku": "TEA-1", "name": "Tea", "list_price": {"amount": 1000, "currency": "CNY"}}),
    )
    .await;
    let c = customer(
        &app,
        &app.token,
        json!({"kind": "company", "name": "Edited"}),
    )
    .await;
    let contact = created(
        &app,
        &format!("/v1/customers/{}/contacts", id(&c)),
        json!({"name": "Li"}),
    )
    .await;
    let (user_id, _) = app.user("rep@example.com", "sales", None).await;
    created(
        &app,
        "/v1/settings",
        json!({"key": "company_name", "value": "Acme"}),
    )
    .await;
    created(
        &app,
        "/v1/inventory/receipts",
        json!({"sku": "TEA-1", "warehouse_code": "SH-01", "quantity": 5}),
    )
    .await;
    let targets = [
        (format!("/v1/warehouses/{}", id(&w)), json!({"name": "N"})),
        (format!("/v1/suppliers/{}", id(&s)), json!({"name": "N"})),
        (format!("/v1/products/{}", id(&p)), json!({"name": "N"})),
        (format!("/v1/customers/{}", id(&c)), json!({"name": "N"})),
        (
            format!("/v1/customers/{}/contacts/{}", id(&c), id(&contact)),
            json!({"name": "N"}),
        ),
        (format!("/v1/users/{user_id}"), json!({"display_name": "N"})),
        (
            "/v1/settings/company_name".to_owned(),
            json!({"value": "N"}),
        ),
        (
            "/v1/inventory/levels/TEA-1/SH-01".to_owned(),
            json!({"reorder_point": 3}),
        ),
    ];
    for (path, body) in &targets {
        // Contacts have no GET of their own; their version came with the create.
        let etag = match app.get(path).await {
            res if res.status() == 200 => res.headers()["etag"].to_str().unwrap().to_owned(),
            _ => format!("\"{}\"", contact["version"]),
        };
        let statuses: Vec<u16> = join_all((0..8).map(|_| {
            app.request(Method::PATCH, path)
                .header("if-match", etag.as_str())
                .json(body)
                .send()
        }))
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "{path}: {statuses:?}"
        );
        assert_eq!(
            statuses.iter().filter(|s| **s == 412).count(),
            7,
            "{path}: {statuses:?}"
        );
    }
    // Without If-Match nobody is refused, and every change counts once.
    let path = format!("/v1/warehouses/{}", id(&w));
    let before: i64 = app.get(&path).await.json::<Value>().await.unwrap()["version"]
        .as_i64()
        .unwrap();
    let statuses: Vec<u16> = join_all((0..8).map(|i| {
        app.request(Method::PATCH, &path)
            .json(&json!({"name": format!("W{i}")}))
            .send()
    }))
    .await
    .into_iter()
    .map(|r| r.unwrap().status().as_u16())
    .collect();
    assert_eq!(statuses, vec![200; 8]);
    let after: i64 = app.get(&path).await.json::<Value>().await.unwrap()["version"]
        .as_i64()
        .unwrap();
    assert_eq!(after, before + 8);
    app.stop().await;
}

/// A reservation of 5 consumed with lines summing past i64::MAX answered 200 with
/// `consumed: -1000` and minted 1000 units; receipts summed the same way.
async fn overflowing_quantities_are_refused(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    created(
        &app,
        "/v1/warehouses",
        json!({"code": "SH-01", "name": "Shanghai"}),
    )
    .await;
    created(
        &app,
        "/v1/products",
        json!({"sku": "TEA-1", "name": "Tea", "list_price": {"amount": 1000, "currency": "CNY"}}),
    )
    .await;
    created(
        &app,
        "/v1/inventory/receipts",
        json!({"sku": "TEA-1", "warehouse_code": "SH-01", "quantity": 10}),
    )
    .await;
    let r = created(
        &app,
        "/v1/inventory/reservations",
        json!({"lines": [{"sku": "TEA-1", "warehouse_code": "SH-01", "quantity": 5}]}),
    )
    .await;
    let consume = |lines: Value| {
        app.request(
            Method::POST,
            &format!("/v1/inventory/reservations/{}/consume", id(&r)),
        )
        .json(&json!({"lines": lines}))
        .send()
    };
    for lines in [
        json!([{"line_no": 1, "quantity": 1}, {"line_no": 1, "quantity": i64::MAX},
               {"line_no": 1, "quantity": i64::MAX - 999}]),
        json!([{"line_no": 1, "quantity": 3}, {"line_no": 1, "quantity": 3}]),
        json!([{"line_no": 1, "quantity": 0}]),
        json!([{"line_no": 1, "quantity": -1}]),
        json!([{"line_no": 1, "quantity": 1_000_000_001}]),
    ] {
        let res = consume(lines.clone()).await.unwrap();
        assert_eq!(
            problem(res, 400).await["errors"][0]["field"],
            "lines[1].quantity".replace(
                "[1]",
                if lines.as_array().unwrap().len() == 1 {
                    "[0]"
                } else {
                    "[1]"
                },
            ),
            "{lines}"
        );
    }
    for quantity in [i64::MIN, -1_000_000_001, 0, 1_000_000_001, i64::MAX] {
        let res = app
            .post(
                "/v1/inventory/adjustments",
                &json!({"sku": "TEA-1", "warehouse_code": "SH-01", "quantity": quantity, "reason": "x"}),
            )
            .await;
        problem(res, 400).await;
        let res = app
            .post(
                "/v1/inventory/receipts",
                &json!({"sku": "TEA-1", "warehouse_code": "SH-01", "quantity": quantity}),
            )
            .await;
        problem(res, 400).await;
    }
    let level: Value = app
        .get("/v1/inventory/levels/TEA-1/SH-01")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (level["on_hand"].as_i64(), level["reserved"].as_i64()),
        (Some(10), Some(5))
    );
    // Two lines naming the same line add up: 2 + 3 of 5 held is fine.
    let res = consume(json!([{"line_no": 1, "quantity": 2}, {"line_no": 1, "quantity": 3}]))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let level: Value = app
        .get("/v1/inventory/levels/TEA-1/SH-01")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (level["on_hand"].as_i64(), level["reserved"].as_i64()),
        (Some(5), Some(0))
    );

    // Purchase-order receipts sum per line the same way.
    let supplier = created(
        &app,
        "/v1/suppliers",
        json!({"name": "Co-op", "email": "o@coop.example", "lead_time_days": 3, "currency": "CNY"}),
    )
    .await;
    let po = created(
        &app,
        "/v1/purchase-orders",
        json!({"supplier_id": id(&supplier), "warehouse_code": "SH-01",
            "lines": [{"sku": "TEA-1", "quantity": 5, "unit_cost": 550}]}),
    )
    .await;
    let ordered = app
        .post(
            &format!("/v1/purchase-orders/{}/order", id(&po)),
            &json!({}),
        )
        .await;
    assert_eq!(ordered.status(), 200);
    let res = app
        .post(
            &format!("/v1/purchase-orders/{}/receipts", id(&po)),
            &json!({"lines": [{"line_no": 1, "quantity": 1}, {"line_no": 1, "quantity": i64::MAX},
                {"line_no": 1, "quantity": i64::MAX - 999}]}),
        )
        .await;
    problem(res, 400).await;
    let level: Value = app
        .get("/v1/inventory/levels/TEA-1/SH-01")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(level["on_hand"].as_i64(), Some(5));
    app.stop().await;
}

/// A database holding an impossible row (the overflowed reservation line) must stop
/// the new migration with a message naming the row, not fail obscurely.
async fn impossible_rows_stop_the_migration(engine: Engine) {
    use ordercrm_migrations::{Migrator, MigratorTrait};
    use sea_orm::Value as V;
    let db = ordercrm_tests::TestDb::new_unmigrated(engine).await;
    let url = match engine {
        Engine::Sqlite => format!("{}?mode=rwc", db.url),
        Engine::Postgres => db.url.clone(),
    };
    let conn = sea_orm::Database::connect(url.as_str()).await.unwrap();
    let before_checks = Migrator::migrations()
        .iter()
        .position(|m| m.name() == "m20261128_000009_quantity_checks")
        .unwrap();
    Migrator::up(&conn, Some(u32::try_from(before_checks).unwrap()))
        .await
        .unwrap();
    let backend = conn.get_database_backend();
    let now = ordercrm_tests::start_time();
    let (w, p, r, line) = (
        uuid::Uuid::now_v7(),
        uuid::Uuid::now_v7(),
        uuid::Uuid::now_v7(),
        uuid::Uuid::now_v7(),
    );
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
    exec(
        "INSERT INTO warehouses (id, code, code_normalized, name, active, version, created_at, updated_at) \
         VALUES (?, 'SH-01', 'sh-01', 'Shanghai', true, 1, ?, ?)",
        vec![w.into(), now.into(), now.into()],
    )
    .await
    .unwrap();
    exec(
        "INSERT INTO products (id, sku, sku_normalized, name, unit, list_price_amount, list_price_currency, \
         tax_rate_bps, tracks_inventory, active, attributes, search_text, version, created_at, updated_at) \
         VALUES (?, 'TEA-1', 'tea-1', 'Tea', 'pcs', 1000, 'CNY', 0, true, true, ?, 'tea-1 tea', 1, ?, ?)",
        vec![p.into(), serde_json::json!({}).into(), now.into(), now.into()],
    )
    .await
    .unwrap();
    exec(
        "INSERT INTO reservations (id, status, actor, version, created_at, updated_at) \
         VALUES (?, 'partially_consumed', 'system', 2, ?, ?)",
        vec![r.into(), now.into(), now.into()],
    )
    .await
    .unwrap();
    exec(
        "INSERT INTO reservation_lines (id, reservation_id, line_no, product_id, warehouse_id, quantity, consumed, released) \
         VALUES (?, ?, 1, ?, ?, 5, -1000, 0)",
        vec![line.into(), r.into(), p.into(), w.into()],
    )
    .await
    .unwrap();
    // `verify` names it too.
    let report = ordercrm_inventory::queries::verify::run(&conn)
        .await
        .unwrap();
    assert_eq!(report.impossible.len(), 1, "{report:?}");
    assert!(report.impossible.iter().all(
        |i| i.table == "reservation_lines" && i.row == format!("reservation_id={r}, line_no=1")
    ));
    conn.close().await.unwrap();

    let config = ordercrm_tests::test_config(db.url.clone());
    let handle = ordercrm_server::database::connect(&config).await.unwrap();
    let err = ordercrm_server::database::migrate(&handle)
        .await
        .unwrap_err();
    let message = format!("{err:#}");
    let shown = match engine {
        Engine::Sqlite => r.simple().to_string(),
        Engine::Postgres => r.to_string(),
    };
    assert!(message.contains("reservation_lines"), "{message}");
    assert!(
        message.contains(&format!("reservation_id={shown}, line_no=1")),
        "{message}"
    );
    assert!(message.contains("consumed >= 0"), "{message}");
    handle.close().await.unwrap();
}

async fn export_csv(app: &TestApp, path: &str) -> String {
    let res = app
        .request(Method::GET, path)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.text().await.unwrap()
}

/// Start an import of `csv` that runs on while the test acts (it stops at a held hook).
fn spawn_import(
    app: &TestApp,
    path: &str,
    csv: String,
) -> tokio::task::JoinHandle<reqwest::Result<reqwest::Response>> {
    let req = app
        .request(Method::POST, path)
        .header("content-type", "text/csv")
        .body(csv);
    tokio::spawn(req.send())
}

/// Import `csv` and wait for the answer.
async fn import_csv(app: &TestApp, path: &str, csv: String) -> reqwest::Response {
    app.request(Method::POST, path)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap()
}

/// A customer named `=HYPERLINK("http://evil","x")` came out of the export as a live
/// formula.
async fn csv_export_cannot_run_formulas(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let evil = "=HYPERLINK(\"http://evil\",\"x\")";
    let c = customer(
        &app,
        &app.token,
        json!({"kind": "person", "name": evil, "tags": ["@admin", "-1", "+x"]}),
    )
    .await;
    created(
        &app,
        "/v1/products",
        json!({"sku": "TEA-1", "name": "@SUM(A1:A9)", "list_price": {"amount": 1000, "currency": "CNY"}}),
    )
    .await;
    let csv = export_csv(&app, "/v1/customers").await;
    for line in csv.lines().skip(1) {
        for cell in line.split(',') {
            let cell = cell.trim_start_matches('"');
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "live cell {cell:?} in {line}"
            );
        }
    }
    assert!(csv.contains("'=HYPERLINK"), "{csv}");
    let products = export_csv(&app, "/v1/products").await;
    assert!(products.contains("'@SUM(A1:A9)"), "{products}");
    // Importing the export gives back exactly what was there.
    let res = import_csv(&app, "/v1/customers/import", csv).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let again: Value = app
        .get(&format!("/v1/customers/{}", id(&c)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["name"], evil);
    assert_eq!(again["tags"], json!(["@admin", "-1", "+x"]));
    let res = import_csv(&app, "/v1/products/import", products).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let p: Value = app.get("/v1/products?q=tea-1").await.json().await.unwrap();
    assert_eq!(p["data"][0]["name"], "@SUM(A1:A9)");
    app.stop().await;
}

/// Importing `number,name` for an existing customer wiped its email and tags
/// (products lost cost, barcode and supplier the same way).
async fn csv_absent_column_leaves_the_field_alone(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let c = customer(
        &app,
        &app.token,
        json!({"kind": "person", "name": "Kept", "email": "kept@example.com", "tags": ["vip"], "birthday": "1990-01-01"}),
    )
    .await;
    let number = c["number"].as_str().unwrap();
    let res = import_csv(
        &app,
        "/v1/customers/import",
        format!("number,name\n{number},Renamed\n"),
    )
    .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let now: Value = app
        .get(&format!("/v1/customers/{}", id(&c)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(now["name"], "Renamed");
    assert_eq!(now["email"], "kept@example.com");
    assert_eq!(now["tags"], json!(["vip"]));
    assert_eq!(now["birthday"], "1990-01-01");
    // An empty cell in a column the file has clears the field.
    let res = import_csv(
        &app,
        "/v1/customers/import",
        format!("number,email,tags\n{number},,\n"),
    )
    .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let now: Value = app
        .get(&format!("/v1/customers/{}", id(&c)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(now["email"], Value::Null);
    assert_eq!(now["tags"], json!([]));
    assert_eq!(now["birthday"], "1990-01-01");

    let supplier = created(
        &app,
        "/v1/suppliers",
        json!({"name": "Co-op", "email": "o@coop.example", "lead_time_days": 3, "currency": "CNY"}),
    )
    .await;
    created(
        &app,
        "/v1/products",
        json!({"sku": "TEA-1", "name": "Tea", "barcode": "6901234567892", "supplier_id": id(&supplier),
            "list_price": {"amount": 1000, "currency": "CNY"}, "cost": {"amount": 600, "currency": "CNY"}}),
    )
    .await;
    let res = import_csv(
        &app,
        "/v1/products/import",
        "sku,name\nTEA-1,Green tea\n".to_owned(),
    )
    .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let p: Value = app.get("/v1/products?q=tea-1").await.json().await.unwrap();
    let p = &p["data"][0];
    assert_eq!(p["name"], "Green tea");
    assert_eq!(p["barcode"], "6901234567892");
    assert_eq!(p["cost"], json!({"amount": 600, "currency": "CNY"}));
    assert_eq!(p["supplier_id"], id(&supplier));
    app.stop().await;
}

/// Imports took only `text/csv`; a browser's file input sends `multipart/form-data`.
async fn csv_import_takes_a_browser_upload(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let form = |parts: &[(&str, &str)]| {
        let mut body = String::new();
        for (name, value) in parts {
            body.push_str(&format!(
                "--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"c.csv\"\r\n\
                 Content-Type: text/csv\r\n\r\n{value}\r\n"
            ));
        }
        body.push_str("--XyZ--\r\n");
        body
    };
    let send = |body: String| {
        app.request(Method::POST, "/v1/customers/import")
            .header("content-type", "multipart/form-data; boundary=XyZ")
            .header("idempotency-key", format!("upload-{}", body.len()))
            .body(body)
            .send()
    };
    let res = send(form(&[
        ("note", "ignored"),
        ("file", "kind,name\nperson,Uploaded\n"),
    ]))
    .await
    .unwrap();
    let status = res.status();
    let report: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["created"], 1);
    let res = send(form(&[("other", "kind,name\nperson,Nobody\n")]))
        .await
        .unwrap();
    assert_eq!(problem(res, 400).await["errors"][0]["field"], "file");
    assert_eq!(app.count("SELECT COUNT(*) FROM customers").await, 1);
    let res = app
        .request(Method::POST, "/v1/customers/import")
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    problem(res, 415).await;
    app.stop().await;
}

fn people(n: usize, from: usize) -> String {
    let mut csv = String::from("kind,name,email\n");
    for i in from..from + n {
        csv.push_str(&format!("person,Imported {i},imported{i}@example.com\n"));
    }
    csv
}

/// Any import ran in one transaction holding SQLite's only writer for minutes.
async fn import_lets_other_writers_in_between_batches(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let held = app.probe.hold("import.batch_checked");
    let import = spawn_import(&app, "/v1/customers/import", people(1200, 0));
    held.reached().await;
    // The import waits between its first and second batch: others may write.
    let single = app
        .request(Method::POST, "/v1/customers")
        .json(&json!({"kind": "person", "name": "Walk-in"}))
        .timeout(std::time::Duration::from_secs(5))
        .send()
        .await
        .unwrap();
    assert_eq!(single.status(), 201);
    held.release();
    let res = import.await.unwrap().unwrap();
    let status = res.status();
    let report: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        (report["created"].as_i64(), report["applied"].as_bool()),
        (Some(1200), Some(true))
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM customers").await, 1201);
    assert_eq!(
        app.count("SELECT COUNT(DISTINCT number) FROM customers")
            .await,
        1201
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM events WHERE event_type = 'customer.created'")
            .await,
        1201,
        "one event per imported row"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'customer.create'")
            .await,
        1201
    );
    nothing_staged(&app).await;
    // What an imported customer's event says is what the customer is.
    let found: Value = app
        .get("/v1/customers?q=imported1199")
        .await
        .json()
        .await
        .unwrap();
    let number = found["data"][0]["number"].as_str().unwrap().to_owned();
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM events WHERE event_type = 'customer.created' \
                 AND CAST(payload AS TEXT) LIKE '%\"{number}\"%'"
        ))
        .await,
        1
    );
    app.stop().await;
}

/// All or nothing still holds when the failing row is in a later batch.
async fn import_is_all_or_nothing_across_batches(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let mut csv = people(1100, 0);
    csv.push_str("person,,missing-name@example.com\n");
    csv.push_str(&people(100, 2000).replacen("kind,name,email\n", "", 1));
    // The same email in two batches is a duplicate the database alone could not see.
    csv.push_str("person,Twice,imported5@example.com\n");
    let res = import_csv(&app, "/v1/customers/import", csv).await;
    let body = problem(res, 400).await;
    assert_eq!(body["type"], "/problems/import-failed");
    assert_eq!(body["report"]["failed"], 2, "{body}");
    assert_eq!(app.count("SELECT COUNT(*) FROM customers").await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM events WHERE resource_type <> 'user'")
            .await,
        0
    );
    nothing_staged(&app).await;
    app.stop().await;
}

/// A customer changed by someone else between the check and the apply must not be
/// overwritten with what the import saw.
async fn change_during_an_import_refuses_it(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let c = customer(
        &app,
        &app.token,
        json!({"kind": "person", "name": "Before"}),
    )
    .await;
    let held = app.probe.hold("import.batch_checked");
    let mut csv = format!(
        "number,kind,name\n{},,From the file\n",
        c["number"].as_str().unwrap()
    );
    for i in 0..600 {
        csv.push_str(&format!(",person,Imported {i}\n"));
    }
    let import = spawn_import(&app, "/v1/customers/import", csv);
    held.reached().await;
    let res = app
        .patch(
            &format!("/v1/customers/{}", id(&c)),
            &json!({"name": "Meanwhile"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    held.release();
    let res = import.await.unwrap().unwrap();
    assert_eq!(problem(res, 409).await["type"], "/problems/conflict");
    let now: Value = app
        .get(&format!("/v1/customers/{}", id(&c)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(now["name"], "Meanwhile");
    assert_eq!(app.count("SELECT COUNT(*) FROM customers").await, 1);
    nothing_staged(&app).await;
    app.stop().await;
}

/// A create with the email of a row already checked (but not yet written) must not
/// end in two customers with one email: the rule holds at the apply too.
async fn duplicate_created_during_an_import_refuses_it(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let held = app.probe.hold("import.batch_checked");
    let mut csv = String::from("kind,name,email\n");
    for i in 0..600 {
        csv.push_str(&format!("person,Imported {i},import{i}@file.example\n"));
    }
    let import = spawn_import(&app, "/v1/customers/import", csv);
    held.reached().await;
    let res = app
        .post(
            "/v1/customers",
            &json!({"kind": "person", "name": "Meanwhile", "email": "Import7@file.example"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    held.release();
    let res = import.await.unwrap().unwrap();
    let body = problem(res, 409).await;
    assert_eq!(body["type"], "/problems/conflict");
    assert!(body["detail"].as_str().unwrap().contains("email"), "{body}");
    assert_eq!(app.count("SELECT COUNT(*) FROM customers").await, 1);
    nothing_staged(&app).await;
    app.stop().await;
}

/// Erasing a customer while an import that holds a copy of them is being checked
/// leaves no copy in the import's mirrors, and the import is refused.
async fn erase_during_an_import_leaves_no_staged_copy(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let c = customer(
        &app,
        &app.token,
        json!({"kind": "person", "name": "Forget Me", "email": "forget@me.example"}),
    )
    .await;
    let held = app.probe.hold("import.batch_checked");
    let mut csv = format!(
        "number,kind,name,phone\n{},,Forget Me,+44 20 7946 0000\n",
        c["number"].as_str().unwrap()
    );
    for i in 0..600 {
        csv.push_str(&format!(",person,Imported {i},\n"));
    }
    let import = spawn_import(&app, "/v1/customers/import", csv);
    held.reached().await;
    assert_eq!(app.count("SELECT COUNT(*) FROM import_batches").await, 1);
    // The first batch's rows, each with its event and audit entry, wait in the mirrors.
    for mirror in ["customers", "events", "audit_events"] {
        let kept = format!("SELECT COUNT(*) FROM import_staged_{mirror}");
        assert_eq!(app.count(&kept).await, 500, "{mirror}");
    }
    let staged = STAGED;
    let res = app
        .request(Method::POST, &format!("/v1/customers/{}/erase", id(&c)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(app.count(staged).await, 0);
    held.release();
    let res = import.await.unwrap().unwrap();
    assert_eq!(problem(res, 409).await["type"], "/problems/conflict");
    nothing_staged(&app).await;
    assert_eq!(app.count("SELECT COUNT(*) FROM customers").await, 1);
    let stored = everything_stored(&app).await;
    assert!(!stored.contains("forget@me.example"), "a copy remains");
    app.stop().await;
}

/// A check finds the events it wrote by a request id of the server's own: a caller
/// who sends another request's `X-Request-Id` cannot get that request's events
/// copied into their import, and the imported events carry the import's own id.
async fn import_events_carry_the_request_id_of_the_import(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let res = app
        .request(Method::POST, "/v1/customers/import")
        .header("content-type", "text/csv")
        .header("x-request-id", "import-by-hand-1")
        .body("kind,name\nperson,One\nperson,Two\n")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM events WHERE request_id = 'import-by-hand-1'")
            .await,
        2
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM events WHERE request_id LIKE 'import-check-%'")
            .await,
        0
    );
    app.stop().await;
}

/// Imports had no limit on rows, bytes or cell size for any role.
async fn import_limits_follow_the_role(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (_, rep) = app.user("rep@example.com", "sales", None).await;
    let long = "x".repeat(10_001);
    let res = app
        .request_as(&rep, Method::POST, "/v1/customers/import")
        .header("content-type", "text/csv")
        .body(format!("kind,name\nperson,{long}\n"))
        .send()
        .await
        .unwrap();
    let body = problem(res, 400).await;
    assert_eq!(body["errors"][0]["field"], "row 2: name");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("10000 characters")
    );
    // 16 MiB for a sales rep: a larger body is refused while it streams in.
    let res = app
        .request_as(&rep, Method::POST, "/v1/customers/import")
        .header("content-type", "text/csv")
        .body(format!("kind,name\n{}", "person,Bulk\n".repeat(1_400_000)))
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(res, 413).await["type"],
        "/problems/payload-too-large"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM customers").await, 0);
    app.stop().await;
}

/// An import that updates a product someone deletes meanwhile is refused: the
/// product stays deleted, not inserted back as if it were new.
async fn product_deleted_during_an_import_is_not_brought_back(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let p = created(
        &app,
        "/v1/products",
        json!({"sku": "DEL-1", "name": "Doomed", "list_price": {"amount": 100, "currency": "CNY"}}),
    )
    .await;
    let held = app.probe.hold("import.batch_checked");
    let mut csv = String::from(
        "sku,name,list_price_amount,list_price_currency\nDEL-1,Renamed by the file,100,CNY\n",
    );
    for i in 0..600 {
        csv.push_str(&format!("BULK-{i},Bulk {i},100,CNY\n"));
    }
    let import = spawn_import(&app, "/v1/products/import", csv);
    held.reached().await;
    let res = app
        .request(Method::DELETE, &format!("/v1/products/{}", id(&p)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    held.release();
    let res = import.await.unwrap().unwrap();
    assert_eq!(problem(res, 409).await["type"], "/problems/conflict");
    let res = app.get(&format!("/v1/products/{}", id(&p))).await;
    assert_eq!(res.status(), 404);
    assert_eq!(app.count("SELECT COUNT(*) FROM products").await, 0);
    nothing_staged(&app).await;
    app.stop().await;
}

/// A customer erased while the import still holds its checked row in memory (not
/// yet kept) is never kept: the import is refused when it would keep the batch.
async fn erase_while_rows_are_checked_keeps_no_copy(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let c = customer(
        &app,
        &app.token,
        json!({"kind": "person", "name": "Zed", "email": "zed.private@example.com"}),
    )
    .await;
    let held = app.probe.hold("import.rows_checked");
    let mut csv = format!(
        "number,kind,name,phone\n{},,Zed Zapped,+44 20 7946 0001\n",
        c["number"].as_str().unwrap()
    );
    for i in 0..600 {
        csv.push_str(&format!(",person,Imported {i},\n"));
    }
    let import = spawn_import(&app, "/v1/customers/import", csv);
    held.reached().await;
    assert_eq!(app.count("SELECT COUNT(*) FROM import_batches").await, 0);
    let res = app
        .request(Method::POST, &format!("/v1/customers/{}/erase", id(&c)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    held.release();
    let res = import.await.unwrap().unwrap();
    assert_eq!(problem(res, 409).await["type"], "/problems/conflict");
    nothing_staged(&app).await;
    assert_eq!(app.count("SELECT COUNT(*) FROM customers").await, 1);
    let stored = everything_stored(&app).await;
    assert!(
        !stored.contains("zed.private@example.com"),
        "a copy remains"
    );
    assert!(!stored.contains("Zed Zapped"), "a copy remains");
    app.stop().await;
}

/// New customers get their numbers when a batch is kept; the number they had while
/// checked is replaced where it is the number, not in a name that reads the same.
async fn import_numbers_replace_only_the_number(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let first = customer(&app, &app.token, json!({"kind": "person", "name": "First"})).await;
    let number = |n: u64| {
        let first = first["number"].as_str().unwrap();
        let digits = first.trim_start_matches(|c: char| !c.is_ascii_digit());
        let prefix = &first[..first.len() - digits.len()];
        let base: u64 = digits.parse().unwrap();
        format!("{prefix}{:0width$}", base + n, width = digits.len())
    };
    // Every check of four rows gives the next number again (it is rolled back):
    // the fifth row is checked with the same number as the first.
    let lookalike = number(1);
    let mut csv = String::from("kind,name,tags\n");
    for i in 0..4 {
        csv.push_str(&format!("person,Filler {i},\n"));
    }
    csv.push_str(&format!("person,{lookalike},{lookalike}\n"));
    let res = import_csv(&app, "/v1/customers/import", csv).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let fifth = number(5);
    let row = format!("SELECT COUNT(*) FROM customers WHERE number = '{fifth}'");
    assert_eq!(
        app.count(&format!("{row} AND name = '{lookalike}'")).await,
        1
    );
    let lower = lookalike.to_lowercase();
    assert_eq!(
        app.count(&format!("{row} AND search_text LIKE '{lower}%'"))
            .await,
        1,
        "the name part of search_text was renumbered"
    );
    let payload = match engine {
        Engine::Sqlite => "payload",
        Engine::Postgres => "CAST(payload AS TEXT)",
    };
    let found: Value = app
        .get(&format!("/v1/customers?q={fifth}"))
        .await
        .json()
        .await
        .unwrap();
    let fifth_id = found["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["number"] == fifth.as_str())
        .map(|c| id(c).to_owned())
        .unwrap();
    let events = format!(
        "SELECT COUNT(*) FROM events WHERE resource_id = '{fifth_id}' \
         AND event_type = 'customer.created'"
    );
    assert_eq!(app.count(&events).await, 1, "{events}");
    assert_eq!(
        app.count(&format!(
            "{events} AND {payload} LIKE '%{lookalike}%' AND {payload} LIKE '%{fifth}%'"
        ))
        .await,
        1,
        "the event's name was renumbered"
    );
    app.stop().await;
}

/// An import sent with an `Idempotency-Key` waited, before answering, for the writer
/// its own parked transaction held: every writer stalled until the pool gave up after
/// 30 s (found by `make fuzz`).
async fn idempotent_import_does_not_wait_for_itself(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let patience = std::time::Duration::from_secs(5);
    let res = app
        .request(Method::POST, "/v1/customers/import")
        .header("content-type", "text/csv")
        .header("idempotency-key", "import-once")
        .timeout(patience)
        .body("kind,name\nperson,Keyed Import\n")
        .send()
        .await
        .expect("the import answers without waiting for the writer it holds");
    assert_eq!(res.status(), 200);
    let res = app
        .request(Method::POST, "/v1/customers")
        .timeout(patience)
        .json(&json!({"kind": "person", "name": "Right After"}))
        .send()
        .await
        .expect("the next writer is not held up");
    assert_eq!(res.status(), 201);
    nothing_staged(&app).await;
    let replay = app
        .request(Method::POST, "/v1/customers/import")
        .header("content-type", "text/csv")
        .header("idempotency-key", "import-once")
        .timeout(patience)
        .body("kind,name\nperson,Keyed Import\n")
        .send()
        .await
        .unwrap();
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM customers WHERE name = 'Keyed Import'")
            .await,
        1
    );
    app.stop().await;
}

/// A cursor holding NUL or a year PostgreSQL cannot store reached the database: 500
/// (found by an audit of the typed seek keys).
async fn forged_cursors_are_refused_not_failed(engine: Engine) {
    use base64::Engine as _;
    let app = TestApp::spawn(engine).await;
    let id = "0193a6f2-7c1e-7d2a-9b8e-2f0c7b1d4e5f";
    for (path, sort, key) in [
        ("/v1/customers", "name", json!(["a\u{0}b", id])),
        (
            "/v1/customers",
            "-created_at",
            json!(["-5000-01-01T00:00:00Z", id]),
        ),
        ("/v1/settings", "key", json!(["a\u{0}"])),
        ("/v1/products", "sku", json!(["A\u{0}", id])),
        // The birthday list's keyset is computed, not columns: the same refusal.
        (
            "/v1/customers/birthdays",
            "days_until",
            json!([0, 101, "a\u{0}b", id]),
        ),
    ] {
        let cursor = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(json!({"s": sort, "k": key}).to_string());
        // The birthday list has one order and no `sort` parameter.
        let query = if path.ends_with("birthdays") {
            format!("cursor={cursor}")
        } else {
            format!("sort={sort}&cursor={cursor}")
        };
        let res = app.get(&format!("{path}?{query}")).await;
        let body = problem(res, 400).await;
        assert_eq!(body["errors"][0]["code"], "invalid_cursor", "{path} {sort}");
    }
    app.stop().await;
}

/// An import forgets what it kept once its transaction commits, in the background
/// (an idempotent request commits after answering): wait for it, within reason.
async fn nothing_staged(app: &TestApp) {
    let mut left = app.count(STAGED).await;
    for _ in 0..100 {
        if left == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        left = app.count(STAGED).await;
    }
    assert_eq!(left, 0, "an import's kept rows were not forgotten");
}

/// Everything imports keep while they run: their batches and every mirror's rows.
const STAGED: &str = "SELECT (SELECT COUNT(*) FROM import_batches) \
    + (SELECT COUNT(*) FROM import_staged_customers) \
    + (SELECT COUNT(*) FROM import_staged_customer_external_refs) \
    + (SELECT COUNT(*) FROM import_staged_products) \
    + (SELECT COUNT(*) FROM import_staged_product_external_refs) \
    + (SELECT COUNT(*) FROM import_staged_events) \
    + (SELECT COUNT(*) FROM import_staged_audit_events)";
