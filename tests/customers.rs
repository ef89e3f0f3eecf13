//! `/v1/customers`: the first business domain.

use chrono::Duration;
use ordercrm_tests::{Engine, TestApp, both_engines, problem};
use reqwest::Method;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

both_engines!(
    create_read_update_archive,
    invalid_input_names_every_field,
    duplicates_are_409_unless_allowed,
    concurrent_duplicates_are_409_too,
    reps_never_see_each_others_customers,
    tax_ids_are_encrypted_and_masked,
    search_filters_and_pages,
);

fn company(name: &str, email: &str) -> Value {
    json!({"kind": "company", "name": name, "email": email, "tags": ["east"]})
}

async fn create(app: &TestApp, token: &str, body: &Value) -> Value {
    let res = app
        .request_as(token, Method::POST, "/v1/customers")
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        201,
        "{}",
        res.text().await.unwrap_or_default()
    );
    res.json().await.unwrap()
}

async fn create_read_update_archive(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.post(
        "/v1/settings",
        &json!({"key": "customer_number_prefix", "value": "CU-"}),
    )
    .await;
    let res = app
        .post(
            "/v1/customers",
            &json!({"kind": "person", "name": "张伟", "email": " Zhang.Wei@Example.com ", "phone": "+86 138-0013-8000",
                "birthday": "1990-05-17", "preferred_currency": "CNY", "tags": ["vip", "north"],
                "credit_limit": {"amount": 500000, "currency": "CNY"}, "payment_terms_days": 30,
                "marketing_consent": true, "attributes": {"wechat": "zw1990"},
                "external_refs": [{"channel": "tmall", "external_id": "TM-1"}]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["etag"], "\"1\"");
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = res.json().await.unwrap();
    assert_eq!(
        created["number"], "CU-000001",
        "numbered with the configured prefix"
    );
    assert_eq!(created["email"], "Zhang.Wei@Example.com");
    assert_eq!(created["marketing_consent_at"], "2026-11-23T08:00:00Z");
    assert_eq!(
        created["credit_limit"],
        json!({"amount": 500000, "currency": "CNY"})
    );
    assert_eq!(
        created["external_refs"],
        json!([{"channel": "tmall", "external_id": "TM-1"}])
    );
    assert_eq!(
        location,
        format!("/v1/customers/{}", created["id"].as_str().unwrap())
    );

    let second: Value = app
        .post("/v1/customers", &company("Acme", "buy@acme.example"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(second["number"], "CU-000002");

    let got: Value = app.get(&location).await.json().await.unwrap();
    assert_eq!(got, created);

    app.clock.advance(Duration::minutes(1));
    let res = app
        .request(Method::PATCH, &location)
        .header("if-match", "\"1\"")
        .json(&json!({"phone": null, "tags": ["vip"], "marketing_consent": false, "name": "张伟 (Wei)"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["etag"], "\"2\"");
    let updated: Value = res.json().await.unwrap();
    assert_eq!(updated["phone"], Value::Null);
    assert_eq!(updated["tags"], json!(["vip"]));
    assert_eq!(updated["marketing_consent_at"], Value::Null);
    assert_eq!(
        updated["email"], "Zhang.Wei@Example.com",
        "untouched fields stay"
    );

    let stale = app
        .request(Method::PATCH, &location)
        .header("if-match", "\"1\"")
        .json(&json!({"name": "Someone else's edit"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(stale, 412).await["type"],
        "/problems/precondition-failed"
    );

    let res = app
        .request(Method::POST, &format!("{location}/archive"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let archived: Value = res.json().await.unwrap();
    assert_eq!(archived["archived"], true);
    let active: Value = app.get("/v1/customers").await.json().await.unwrap();
    assert_eq!(
        active["data"].as_array().unwrap().len(),
        1,
        "archived customers leave the list"
    );
    let gone: Value = app
        .get("/v1/customers?archived=true")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(gone["data"][0]["id"], created["id"]);

    let db = app.raw_db().await;
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT event_type, resource_version FROM events WHERE resource_type = 'customer' ORDER BY seq",
        ))
        .await
        .unwrap();
    let events: Vec<(String, i64)> = rows
        .iter()
        .map(|r| {
            (
                r.try_get("", "event_type").unwrap(),
                r.try_get("", "resource_version").unwrap(),
            )
        })
        .collect();
    assert_eq!(
        events,
        vec![
            ("customer.created".to_owned(), 1),
            ("customer.created".to_owned(), 1),
            ("customer.updated".to_owned(), 2),
            ("customer.archived".to_owned(), 3),
        ]
    );
    let audit: Value = app
        .get("/v1/audit-events?entity_type=customer")
        .await
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec![
            "customer.archive",
            "customer.update",
            "customer.create",
            "customer.create"
        ]
    );
    app.stop().await;
}

async fn invalid_input_names_every_field(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let res = app
        .post(
            "/v1/customers",
            &json!({"kind": "robot", "name": "", "email": "not-an-email", "phone": "12", "size_band": "huge",
                "preferred_currency": "RMB", "tags": [""], "attributes": [1], "payment_terms_days": 999,
                "credit_limit": {"amount": -1, "currency": "CNY"}}),
        )
        .await;
    let p = problem(res, 400).await;
    let mut fields: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        vec![
            "attributes",
            "credit_limit.amount",
            "email",
            "kind",
            "name",
            "payment_terms_days",
            "phone",
            "preferred_currency",
            "size_band",
            "tags[0]"
        ]
    );
    let p = problem(
        app.post(
            "/v1/customers",
            &json!({"kind": "company", "name": "X", "birthday": "2000-01-01"}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "birthday");
    let p = problem(app.post("/v1/customers", &json!({"kind": "person", "name": "X", "credit_limit": {"amount": 1, "currency": "XYZ"}})).await, 400).await;
    assert_eq!(p["errors"][0]["field"], "credit_limit.currency");
    let p = problem(
        app.post(
            "/v1/customers",
            &json!({"kind": "person", "name": "X", "id": "mine"}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(p["errors"][0]["code"], "unknown_field");
    let p = problem(
        app.post(
            "/v1/customers",
            &json!({"kind": "person", "name": "X", "version": 7}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(
        p["errors"][0]["field"], "version",
        "read-only fields cannot be set"
    );
    let list: Value = app.get("/v1/customers").await.json().await.unwrap();
    assert_eq!(list["data"], json!([]), "nothing was created");

    // The same rules on PATCH, and a failed PATCH changes nothing.
    let c: Value = app
        .post(
            "/v1/customers",
            &json!({"kind": "company", "name": "Valid Co"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let url = format!("/v1/customers/{}", c["id"].as_str().unwrap());
    let res = app
        .patch(
            &url,
            &json!({"name": "", "email": "nope", "phone": "x", "size_band": "huge", "preferred_currency": "RMB",
                "tags": ["ok", ""], "attributes": "text", "payment_terms_days": -1, "birthday": "2000-01-01",
                "credit_limit": {"amount": -5, "currency": "CNY"}}),
        )
        .await;
    let p = problem(res, 400).await;
    let mut fields: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        vec![
            "attributes",
            "birthday",
            "credit_limit.amount",
            "email",
            "name",
            "payment_terms_days",
            "phone",
            "preferred_currency",
            "size_band",
            "tags[1]"
        ]
    );
    let p = problem(app.patch(&url, &json!({"number": "C-999999"})).await, 400).await;
    assert_eq!(
        p["errors"][0]["code"], "unknown_field",
        "the number is read-only"
    );
    let unchanged: Value = app.get(&url).await.json().await.unwrap();
    assert_eq!(unchanged["version"], 1);
    assert_eq!(unchanged["name"], "Valid Co");
    app.stop().await;
}

/// The duplicate check holds under concurrency: of ten requests for one email (and
/// ten for one phone), one creates and nine are told of it (on PostgreSQL six of ten
/// got through before the check took a lock per value).
async fn concurrent_duplicates_are_409_too(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    for (field, value) in [
        ("email", "race@example.com"),
        ("phone", "+86 138 0000 0042"),
    ] {
        let body = json!({"kind": "person", "name": "Em Race", field: value});
        let answers = futures_util::future::join_all((0..10).map(|_| {
            app.request(Method::POST, "/v1/customers")
                .json(&body)
                .send()
        }))
        .await;
        let mut statuses: Vec<u16> = answers
            .into_iter()
            .map(|r| r.unwrap().status().as_u16())
            .collect();
        statuses.sort_unstable();
        assert_eq!(
            statuses,
            [201, 409, 409, 409, 409, 409, 409, 409, 409, 409],
            "{field}"
        );
    }
    let listed: Value = app
        .get("/v1/customers?q=Em%20Race")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);
    app.stop().await;
}

async fn duplicates_are_409_unless_allowed(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let first: Value = app
        .post("/v1/customers", &json!({"kind": "person", "name": "Li Na", "email": "li.na@example.com", "phone": "+86 138 0000 0001"}))
        .await
        .json()
        .await
        .unwrap();
    for body in [
        json!({"kind": "person", "name": "Na Li", "email": "LI.NA@example.com"}),
        json!({"kind": "person", "name": "Na Li", "phone": "+8613800000001"}),
    ] {
        let p = problem(app.post("/v1/customers", &body).await, 409).await;
        assert_eq!(p["type"], "/problems/duplicate-customer");
        assert_eq!(p["existing"]["id"], first["id"]);
    }
    let res = app
        .request(Method::POST, "/v1/customers?allow_duplicate=true")
        .json(&json!({"kind": "person", "name": "Na Li", "email": "li.na@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let dups: Value = app
        .get(&format!(
            "/v1/customers/{}/possible-duplicates",
            first["id"].as_str().unwrap()
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(dups["data"].as_array().unwrap().len(), 1);
    assert_eq!(dups["data"][0]["name"], "Na Li");

    let taken = app
        .post("/v1/customers", &json!({"kind": "person", "name": "A", "external_refs": [{"channel": "jd", "external_id": "J1"}]}))
        .await;
    assert_eq!(taken.status(), 201);
    let p = problem(
        app.post("/v1/customers", &json!({"kind": "person", "name": "B", "external_refs": [{"channel": "jd", "external_id": "J1"}]})).await,
        409,
    )
    .await;
    assert_eq!(p["type"], "/problems/already-exists");
    app.stop().await;
}

async fn reps_never_see_each_others_customers(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (manager, manager_token) = app.user("mgr@example.com", "manager", None).await;
    let (rep_a, a) = app.user("a@example.com", "sales", Some(&manager)).await;
    let (_, b) = app.user("b@example.com", "sales", None).await;
    let (_, warehouse) = app.user("wh@example.com", "warehouse", None).await;
    let (_, support) = app.user("support@example.com", "support", None).await;

    let mine = create(&app, &a, &company("A's client", "client@a.example")).await;
    assert_eq!(
        mine["owner_id"],
        rep_a.as_str(),
        "a rep owns what they create"
    );
    let id = mine["id"].as_str().unwrap();
    let url = format!("/v1/customers/{id}");

    problem(
        app.request_as(&b, Method::GET, &url).send().await.unwrap(),
        404,
    )
    .await;
    let res = app
        .request_as(&b, Method::PATCH, &url)
        .json(&json!({"name": "Stolen"}))
        .send()
        .await
        .unwrap();
    problem(res, 404).await;
    problem(
        app.request_as(&b, Method::POST, &format!("{url}/archive"))
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    let b_list: Value = app
        .request_as(&b, Method::GET, "/v1/customers")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        b_list["data"],
        json!([]),
        "B's list never shows A's customer"
    );
    let b_search: Value = app
        .request_as(&b, Method::GET, "/v1/customers?q=client")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(b_search["data"], json!([]));
    // B may not even learn the id through a duplicate check.
    let res = app
        .request_as(&b, Method::POST, "/v1/customers")
        .json(&company("Copy", "client@a.example"))
        .send()
        .await
        .unwrap();
    let p = problem(res, 409).await;
    assert_eq!(p["existing"]["id"], Value::Null);
    // Nor hand a customer to someone else.
    let res = app
        .request_as(&b, Method::POST, "/v1/customers")
        .json(&json!({"kind": "person", "name": "X", "owner_id": rep_a}))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(res, 400).await["errors"][0]["field"], "owner_id");

    // A's manager sees and edits it; support reads it; warehouse may not read customers.
    assert_eq!(
        app.request_as(&manager_token, Method::GET, &url)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let res = app
        .request_as(&manager_token, Method::PATCH, &url)
        .json(&json!({"name": "Renamed by mgr"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.request_as(&support, Method::GET, &url)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let res = app
        .request_as(&support, Method::PATCH, &url)
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    problem(res, 403).await;
    problem(
        app.request_as(&warehouse, Method::GET, "/v1/customers")
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;

    // Integration keys by scope.
    let key: Value = app
        .post(
            "/v1/api-keys",
            &json!({"name": "Shop", "kind": "ecommerce", "scopes": ["customers:read"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let secret = key["secret"].as_str().unwrap();
    assert_eq!(
        app.request_as(secret, Method::GET, &url)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let res = app
        .request_as(secret, Method::POST, "/v1/customers")
        .json(&company("K", "k@k.example"))
        .send()
        .await
        .unwrap();
    problem(res, 403).await;
    app.stop().await;
}

async fn tax_ids_are_encrypted_and_masked(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (_, finance) = app.user("fin@example.com", "finance", None).await;
    let (_, support) = app.user("sup@example.com", "support", None).await;
    let created: Value = app
        .post(
            "/v1/customers",
            &json!({"kind": "company", "name": "Tax Co", "tax_id": "91310000MA1FL1234X"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        created["tax_id"], "91310000MA1FL1234X",
        "admins see it in full"
    );
    let url = format!("/v1/customers/{}", created["id"].as_str().unwrap());
    let as_finance: Value = app
        .request_as(&finance, Method::GET, &url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(as_finance["tax_id"], "91310000MA1FL1234X");
    let as_support: Value = app
        .request_as(&support, Method::GET, &url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(as_support["tax_id"], "••••••••••••••234X");

    let db = app.raw_db().await;
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT * FROM customers",
        ))
        .await
        .unwrap()
        .unwrap();
    let stored: String = row.try_get("", "tax_id_encrypted").unwrap();
    assert!(stored.starts_with("v1:"), "{stored}");
    assert!(!stored.contains("1234X"), "ciphertext only");
    let dump = format!("{row:?}");
    assert!(
        !dump.contains("91310000MA1FL1234X"),
        "no plain copy anywhere in the row"
    );
    let events = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT payload FROM events WHERE resource_type = 'customer'",
        ))
        .await
        .unwrap()
        .unwrap();
    assert!(
        !format!("{events:?}").contains("91310000MA1FL1234X"),
        "nor in the event feed"
    );
    let audit: Value = app
        .get("/v1/audit-events?entity_type=customer")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        !audit.to_string().contains("91310000MA1FL1234X"),
        "nor in the audit log"
    );
    // A rep who sees it masked may still change it, even to a value whose mask
    // reads the same (same length, same last four): that is a change, not a no-op.
    let (rep_id, rep) = app.user("rep@example.com", "sales", None).await;
    let res = app.patch(&url, &json!({"owner_id": rep_id})).await;
    assert_eq!(res.status(), 200);
    let res = app
        .request_as(&rep, Method::PATCH, &url)
        .json(&json!({"tax_id": "91310000ZZZZZ1234X"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let as_admin: Value = app.get(&url).await.json().await.unwrap();
    assert_eq!(
        as_admin["tax_id"], "91310000ZZZZZ1234X",
        "the change was kept"
    );
    app.stop().await;
}

async fn search_filters_and_pages(engine: Engine) {
    let mut app = TestApp::spawn(engine).await;
    let names = [
        "张伟",
        "王伟",
        "李娜",
        "Acme Trading",
        "acme retail",
        "Zhou Bo",
    ];
    for (i, name) in names.iter().enumerate() {
        app.clock.advance(Duration::seconds(1));
        let kind = if name.contains("cme") {
            "company"
        } else {
            "person"
        };
        let tags = if i % 2 == 0 {
            json!(["vip"])
        } else {
            json!([])
        };
        let body = json!({"kind": kind, "name": name, "phone": format!("+86 138 0000 00{i:02}"), "tags": tags, "industry": if kind == "company" { Some("retail") } else { None }});
        assert_eq!(app.post("/v1/customers", &body).await.status(), 201);
    }
    app.relogin().await;
    let names_of = |v: &Value| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let get = |q: String| {
        let app = &app;
        async move {
            app.get(&format!("/v1/customers?{q}"))
                .await
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let mut found = names_of(&get("q=%E4%BC%9F".into()).await);
    found.sort();
    assert_eq!(found, vec!["张伟", "王伟"], "q=伟 finds 张伟");
    assert_eq!(
        names_of(&get("q=ACME&sort=name".into()).await),
        vec!["Acme Trading", "acme retail"]
    );
    assert_eq!(
        names_of(&get("q=8613800000005".into()).await),
        vec!["Zhou Bo"],
        "phones by digits"
    );
    assert_eq!(
        names_of(&get("q=c-000003".into()).await),
        vec!["李娜"],
        "by number"
    );
    let vip = names_of(&get("tag=vip&sort=created_at".into()).await);
    assert_eq!(vip, vec!["张伟", "李娜", "acme retail"]);
    assert_eq!(
        names_of(&get("kind=company&sort=-name".into()).await),
        vec!["acme retail", "Acme Trading"]
    );
    assert_eq!(
        names_of(&get("industry=retail&sort=created_at".into()).await).len(),
        2
    );
    assert_eq!(
        names_of(&get("created_after=2026-11-23T08:00:05Z&sort=created_at".into()).await),
        vec!["acme retail", "Zhou Bo"]
    );

    // Pages of two, newest first, every row once.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = get(format!("limit=2{cursor}")).await;
        seen.extend(names_of(&page));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    let mut expected: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    expected.reverse();
    assert_eq!(seen, expected);
    let p = problem(app.get("/v1/customers?sort=email").await, 400).await;
    assert_eq!(p["errors"][0]["field"], "sort");
    app.stop().await;
}

both_engines!(contacts_and_addresses);

async fn contacts_and_addresses(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let company: Value = app
        .post("/v1/customers", &company("Xingchen", "p@xc.example"))
        .await
        .json()
        .await
        .unwrap();
    let base = format!("/v1/customers/{}", company["id"].as_str().unwrap());
    let person: Value = app
        .post("/v1/customers", &json!({"kind": "person", "name": "Solo"}))
        .await
        .json()
        .await
        .unwrap();

    let res = app
        .post(
            &format!("{base}/contacts"),
            &json!({"name": "王芳", "title": "采购经理", "email": "wf@xc.example"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let first: Value = res.json().await.unwrap();
    assert_eq!(first["is_primary"], true, "the first contact is primary");
    let second: Value = app
        .post(
            &format!("{base}/contacts"),
            &json!({"name": "Li Lei", "phone": "+86 139 0000 0000", "is_primary": true}),
        )
        .await
        .json()
        .await
        .unwrap();
    let list: Value = app
        .get(&format!("{base}/contacts"))
        .await
        .json()
        .await
        .unwrap();
    let primaries: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["is_primary"] == true)
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(primaries, vec!["Li Lei"], "exactly one primary");
    let p = problem(
        app.post(
            &format!("{base}/contacts"),
            &json!({"name": "", "email": "nope", "phone": "1", "ext": 1}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(p["errors"][0]["code"], "unknown_field");
    let p = problem(
        app.post(
            &format!("{base}/contacts"),
            &json!({"name": "", "email": "nope", "phone": "1"}),
        )
        .await,
        400,
    )
    .await;
    let fields: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["name", "email", "phone"]);
    let p = problem(
        app.post(
            &format!("/v1/customers/{}/contacts", person["id"].as_str().unwrap()),
            &json!({"name": "Nobody"}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(p["errors"][0]["code"], "not_a_company");

    let contact_url = format!("{base}/contacts/{}", second["id"].as_str().unwrap());
    let res = app
        .request(Method::PATCH, &contact_url)
        .header("if-match", "\"1\"")
        .json(&json!({"title": "CEO"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = app
        .request(Method::PATCH, &contact_url)
        .header("if-match", "\"1\"")
        .json(&json!({"title": "CTO"}))
        .send()
        .await
        .unwrap();
    problem(res, 412).await;
    let res = app
        .request(Method::DELETE, &contact_url)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let list: Value = app
        .get(&format!("{base}/contacts"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(list["data"][0]["id"], first["id"]);
    assert_eq!(
        list["data"][0]["is_primary"], true,
        "the remaining contact became primary"
    );
    problem(
        app.request(Method::DELETE, &contact_url)
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;

    let address = |kind: &str, line1: &str, default: bool| json!({"kind": kind, "line1": line1, "city": "上海", "country": "CN", "is_default": default});
    let a1: Value = app
        .post(
            &format!("{base}/addresses"),
            &address("shipping", "A road 1", false),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        a1["is_default"], true,
        "the first of its kind is the default"
    );
    let a2: Value = app
        .post(
            &format!("{base}/addresses"),
            &address("shipping", "B road 2", true),
        )
        .await
        .json()
        .await
        .unwrap();
    let b1: Value = app
        .post(
            &format!("{base}/addresses"),
            &address("billing", "C road 3", false),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(a2["is_default"], true);
    assert_eq!(b1["is_default"], true, "defaults are per kind");
    let list: Value = app
        .get(&format!("{base}/addresses"))
        .await
        .json()
        .await
        .unwrap();
    let defaults: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["is_default"] == true)
        .map(|a| a["line1"].as_str().unwrap())
        .collect();
    assert_eq!(defaults, vec!["C road 3", "B road 2"]);
    let p = problem(
        app.post(
            &format!("{base}/addresses"),
            &json!({"kind": "home", "line1": "", "city": "", "country": "China"}),
        )
        .await,
        400,
    )
    .await;
    let fields: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["kind", "line1", "city", "country"]);

    // Another rep cannot reach the customer's details at all.
    let (_, rep) = app.user("rep@example.com", "sales", None).await;
    problem(
        app.request_as(&rep, Method::GET, &format!("{base}/contacts"))
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    let res = app
        .request_as(&rep, Method::POST, &format!("{base}/addresses"))
        .json(&address("billing", "Sneaky 1", true))
        .send()
        .await
        .unwrap();
    problem(res, 404).await;
    app.stop().await;
}

both_engines!(timeline_follow_ups_and_birthdays);

async fn timeline_follow_ups_and_birthdays(engine: Engine) {
    let mut app = TestApp::spawn(engine).await;
    let (manager, manager_token) = app.user("mgr@example.com", "manager", None).await;
    let (rep, rep_token) = app.user("rep@example.com", "sales", Some(&manager)).await;
    let (other, other_token) = app.user("other@example.com", "sales", None).await;
    let client = create(
        &app,
        &rep_token,
        &json!({"kind": "person", "name": "生日客户", "birthday": "1988-11-25"}),
    )
    .await;
    let base = format!("/v1/customers/{}", client["id"].as_str().unwrap());

    for (kind, body, at) in [
        ("call", "first call", "2026-11-20T09:00:00Z"),
        ("visit", "visited the shop", "2026-11-22T09:00:00Z"),
        ("email", "sent the catalogue", "2026-11-21T09:00:00Z"),
    ] {
        let res = app
            .request_as(&rep_token, Method::POST, &format!("{base}/notes"))
            .json(&json!({"kind": kind, "body": body, "occurred_at": at}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let note: Value = res.json().await.unwrap();
        assert_eq!(note["author"], format!("user:{rep}"));
    }
    let page: Value = app
        .request_as(&rep_token, Method::GET, &format!("{base}/notes?limit=2"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bodies: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["body"].as_str().unwrap())
        .collect();
    assert_eq!(
        bodies,
        vec!["visited the shop", "sent the catalogue"],
        "newest first"
    );
    assert_eq!(page["has_more"], true);
    let p = problem(
        app.post(
            &format!("{base}/notes"),
            &json!({"kind": "telepathy", "body": ""}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(p["errors"].as_array().unwrap().len(), 2);
    problem(
        app.request_as(&other_token, Method::GET, &format!("{base}/notes"))
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;

    // Follow-ups: a rep's to-do list.
    let res = app
        .request_as(&rep_token, Method::POST, &format!("{base}/follow-ups"))
        .json(&json!({"title": "Send quote", "due_at": "2026-11-24T08:00:00Z"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let due_soon: Value = res.json().await.unwrap();
    assert_eq!(due_soon["assignee_id"], rep.as_str());
    app.request_as(&rep_token, Method::POST, &format!("{base}/follow-ups"))
        .json(&json!({"title": "Quarterly review", "due_at": "2027-02-01T08:00:00Z"}))
        .send()
        .await
        .unwrap();
    let res = app
        .request_as(&rep_token, Method::POST, &format!("{base}/follow-ups"))
        .json(&json!({"title": "Not mine to give", "due_at": "2026-11-24T08:00:00Z", "assignee_id": other}))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(res, 400).await["errors"][0]["field"], "assignee_id");

    let mine = todo(
        &app,
        &rep_token,
        "assignee=me&due_before=2026-12-01T00:00:00Z",
    )
    .await;
    let titles: Vec<&str> = mine["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, vec!["Send quote"]);
    assert_eq!(mine["data"][0]["overdue"], false);
    let team = todo(&app, &manager_token, "").await;
    assert_eq!(
        team["data"].as_array().unwrap().len(),
        2,
        "the manager sees the team's follow-ups"
    );
    let none = todo(&app, &other_token, "").await;
    assert_eq!(none["data"], json!([]), "another rep sees none of them");

    app.clock.advance(Duration::days(2));
    app.relogin().await;
    let rep_token = app.login("rep@example.com", ordercrm_tests::PASSWORD).await;
    let overdue = todo(&app, &rep_token, "assignee=me").await;
    assert_eq!(
        overdue["data"][0]["overdue"], true,
        "overdue is computed when read"
    );
    let url = format!("/v1/follow-ups/{}", due_soon["id"].as_str().unwrap());
    let res = app
        .request_as(&rep_token, Method::PATCH, &url)
        .header("if-match", "\"1\"")
        .json(&json!({"status": "done"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let done: Value = res.json().await.unwrap();
    assert_eq!(done["status"], "done");
    assert_eq!(done["closed_at"], "2026-11-25T08:00:00Z");
    assert_eq!(done["overdue"], false);
    let open = todo(&app, &rep_token, "assignee=me").await;
    assert_eq!(open["data"].as_array().unwrap().len(), 1);
    // The other rep's token was issued before the clock moved: sign in again.
    let other_token = app
        .login("other@example.com", ordercrm_tests::PASSWORD)
        .await;
    let res = app
        .request_as(&other_token, Method::PATCH, &url)
        .json(&json!({"status": "open"}))
        .send()
        .await
        .unwrap();
    problem(res, 404).await;
    problem(todo_status(&app, &rep_token, "status=finished").await, 400).await;

    // Birthdays: today is 2026-11-25, the client's birthday.
    let b: Value = app
        .request_as(
            &rep_token,
            Method::GET,
            "/v1/customers/birthdays?within_days=0",
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(b["data"][0]["name"], "生日客户");
    assert_eq!(b["data"][0]["next_birthday"], "2026-11-25");
    assert_eq!(b["data"][0]["days_until"], 0);
    let none: Value = app
        .request_as(
            &other_token,
            Method::GET,
            "/v1/customers/birthdays?within_days=30",
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(none["data"], json!([]), "only visible customers");
    problem(
        app.get("/v1/customers/birthdays?within_days=999").await,
        400,
    )
    .await;
    app.stop().await;
}

async fn todo(app: &TestApp, token: &str, q: &str) -> Value {
    todo_status(app, token, q).await.json().await.unwrap()
}

async fn todo_status(app: &TestApp, token: &str, q: &str) -> reqwest::Response {
    app.request_as(token, Method::GET, &format!("/v1/follow-ups?{q}"))
        .send()
        .await
        .unwrap()
}

both_engines!(merge_moves_every_child_row, erase_removes_personal_data);

async fn merge_moves_every_child_row(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let keep: Value = app
        .post("/v1/customers", &company("Keep Co", "keep@co.example"))
        .await
        .json()
        .await
        .unwrap();
    let dup: Value = app
        .post(
            "/v1/customers",
            &json!({"kind": "company", "name": "Keep Company", "email": "other@co.example",
                "external_refs": [{"channel": "jd", "external_id": "JD-7"}]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let keep_url = format!("/v1/customers/{}", keep["id"].as_str().unwrap());
    let dup_url = format!("/v1/customers/{}", dup["id"].as_str().unwrap());
    app.post(&format!("{keep_url}/contacts"), &json!({"name": "Keeper"}))
        .await;
    app.post(
        &format!("{dup_url}/contacts"),
        &json!({"name": "Dup contact"}),
    )
    .await;
    app.post(
        &format!("{dup_url}/addresses"),
        &json!({"kind": "billing", "line1": "L1", "city": "C", "country": "CN"}),
    )
    .await;
    app.post(
        &format!("{dup_url}/notes"),
        &json!({"kind": "call", "body": "called dup"}),
    )
    .await;
    app.post(
        &format!("{dup_url}/follow-ups"),
        &json!({"title": "Dup task", "due_at": "2026-12-01T00:00:00Z"}),
    )
    .await;

    let p = problem(
        app.post(
            &format!("{keep_url}/merge"),
            &json!({"source_id": keep["id"]}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(p["errors"][0]["code"], "same_customer");

    let res = app
        .post(
            &format!("{keep_url}/merge"),
            &json!({"source_id": dup["id"]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let merged: Value = res.json().await.unwrap();
    assert_eq!(
        merged["external_refs"],
        json!([{"channel": "jd", "external_id": "JD-7"}])
    );
    let kid = keep["id"].as_str().unwrap();
    let did = dup["id"].as_str().unwrap();
    let db = app.raw_db().await;
    let backend = db.get_database_backend();
    let rows_of = |table: &str, id: &str| {
        let sql = match backend {
            sea_orm::DatabaseBackend::Postgres => {
                format!("SELECT COUNT(*) FROM {table} WHERE customer_id = $1")
            }
            _ => format!("SELECT COUNT(*) FROM {table} WHERE customer_id = ?"),
        };
        let id: uuid::Uuid = id.parse().unwrap();
        let db = &db;
        async move {
            let row = db
                .query_one_raw(Statement::from_sql_and_values(backend, sql, [id.into()]))
                .await
                .unwrap()
                .unwrap();
            row.try_get_by_index::<i64>(0).unwrap()
        }
    };
    for table in [
        "customer_contacts",
        "customer_addresses",
        "customer_notes",
        "customer_follow_ups",
        "customer_external_refs",
    ] {
        assert_eq!(rows_of(table, did).await, 0, "{table} left behind");
        assert!(rows_of(table, kid).await >= 1, "{table} not moved");
    }
    let contacts: Value = app
        .get(&format!("{keep_url}/contacts"))
        .await
        .json()
        .await
        .unwrap();
    let primaries = contacts["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["is_primary"] == true)
        .count();
    assert_eq!(primaries, 1, "still exactly one primary contact");
    let gone: Value = app.get(&dup_url).await.json().await.unwrap();
    assert_eq!(gone["archived"], true);
    assert_eq!(gone["merged_into_id"], keep["id"]);
    let p = problem(
        app.post(
            &format!("{keep_url}/merge"),
            &json!({"source_id": dup["id"]}),
        )
        .await,
        // The request is well formed; the source's state refuses it.
        409,
    )
    .await;
    assert_eq!(p["type"], "/problems/conflict");
    assert_eq!(p["errors"][0]["code"], "already_merged");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM events WHERE event_type = 'customer.merged'")
            .await,
        1
    );
    let audit: Value = app
        .get("/v1/audit-events?action=customer.merge")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(audit["data"][0]["changes"]["moved"]["contacts"], 1);
    app.stop().await;
}

async fn erase_removes_personal_data(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (_, manager) = app.user("mgr@example.com", "manager", None).await;
    let c: Value = app
        .post(
            "/v1/customers",
            &json!({"kind": "person", "name": "Forget Me", "email": "forget@me.example", "phone": "+86 138 1111 2222",
                "tax_id": "ID-SECRET-1234", "birthday": "1990-01-01", "external_refs": [{"channel": "web", "external_id": "w-1"}]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let url = format!("/v1/customers/{}", c["id"].as_str().unwrap());
    app.post(
        &format!("{url}/notes"),
        &json!({"kind": "call", "body": "She said her address is 1 Secret Street"}),
    )
    .await;
    let address: Value = app
        .post(
            &format!("{url}/addresses"),
            &json!({"kind": "shipping", "line1": "1 Secret Street", "city": "Shanghai", "country": "CN",
                "recipient": "Forget Me"}),
        )
        .await
        .json()
        .await
        .unwrap();
    problem(
        app.request_as(&manager, Method::POST, &format!("{url}/erase"))
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;
    let res = app
        .request(Method::POST, &format!("{url}/erase"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let erased: Value = res.json().await.unwrap();
    assert_eq!(
        erased["name"],
        format!("Erased customer {}", c["number"].as_str().unwrap())
    );
    for field in ["email", "phone", "tax_id", "birthday"] {
        assert_eq!(erased[field], Value::Null, "{field}");
    }
    assert_eq!(
        erased["number"], c["number"],
        "the number stays for accounting"
    );
    assert!(erased["erased_at"].is_string());
    let db = app.raw_db().await;
    for (table, sql) in [
        ("customers", "SELECT * FROM customers"),
        ("notes", "SELECT * FROM customer_notes"),
        ("audit", "SELECT * FROM audit_events"),
        ("events", "SELECT * FROM events"),
        ("refs", "SELECT * FROM customer_external_refs"),
    ] {
        let rows = db
            .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
            .await
            .unwrap();
        let dump = format!("{rows:?}");
        for secret in [
            "Forget Me",
            "forget@me.example",
            "13811112222",
            "Secret Street",
            "w-1",
        ] {
            assert!(!dump.contains(secret), "{secret} survives in {table}");
        }
    }
    // The address's events keep their shape (its own id, version, required text),
    // its personal data gone, and its removal is an event of its own.
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT event_type, payload FROM events WHERE resource_type = 'address' ORDER BY seq",
        ))
        .await
        .unwrap();
    let feed: Vec<(String, Value)> = rows
        .iter()
        .map(|r| {
            (
                r.try_get_by_index::<String>(0).unwrap(),
                r.try_get_by_index::<Value>(1).unwrap(),
            )
        })
        .collect();
    let types: Vec<&str> = feed.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(types, ["address.created", "address.deleted"]);
    for (_, data) in &feed {
        assert_eq!(data["id"], address["id"]);
        assert_eq!(data["customer_id"], c["id"]);
        assert_eq!(data["line1"], "[erased]");
        assert_eq!(data["recipient"], Value::Null);
        assert_eq!(data["country"], "CN");
    }
    let search: Value = app
        .get("/v1/customers?archived=true&q=forget")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(search["data"], json!([]));
    app.stop().await;
}

both_engines!(csv_import_is_all_or_nothing_and_round_trips);

async fn import_csv(app: &TestApp, query: &str, body: &str) -> reqwest::Response {
    app.request(Method::POST, &format!("/v1/customers/import{query}"))
        .header("content-type", "text/csv")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

async fn csv_import_is_all_or_nothing_and_round_trips(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let good = "\u{feff}kind,name,email,phone,tags,credit_limit_amount,credit_limit_currency,external_refs,birthday\n\
        company,Acme Trading,buy@acme.example,+86 21 5555 0001,vip;east,100000,CNY,shopify:1001,\n\
        person,张伟,zhang.wei@example.com,,,,,,1990-05-17\n\
        person,\"Smith, Jane\",jane@example.com,,north,,,tmall:T-9,\n";
    let res = import_csv(&app, "?dry_run=true", good).await;
    assert_eq!(res.status(), 200);
    let report: Value = res.json().await.unwrap();
    assert_eq!(
        report,
        json!({"dry_run": true, "applied": false, "rows": 3, "created": 3, "updated": 0, "unchanged": 0, "failed": 0, "errors": []})
    );
    let list: Value = app.get("/v1/customers").await.json().await.unwrap();
    assert_eq!(list["data"], json!([]), "a dry run writes nothing");

    let bad = "kind,name,email,birthday,credit_limit_amount\n\
        company,Fine Co,fine@co.example,,\n\
        robot,,not-an-email,someday,12\n\
        person,Also Fine,also@fine.example,,\n";
    let res = import_csv(&app, "?dry_run=true", bad).await;
    let report: Value = res.json().await.unwrap();
    assert_eq!(report["failed"], 1);
    let fields: Vec<(u64, &str)> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["row"].as_u64().unwrap(), e["field"].as_str().unwrap()))
        .collect();
    assert_eq!(
        fields,
        vec![(3, "birthday"), (3, "credit_limit_amount")],
        "row numbers count the header as line 1"
    );
    let res = import_csv(&app, "", bad).await;
    let p = problem(res, 400).await;
    assert_eq!(p["type"], "/problems/import-failed");
    assert_eq!(p["report"]["applied"], false);
    assert!(
        p["errors"][0]["field"]
            .as_str()
            .unwrap()
            .starts_with("row 3: ")
    );
    let list: Value = app.get("/v1/customers").await.json().await.unwrap();
    assert_eq!(list["data"], json!([]), "one bad row: nothing applied");

    let res = import_csv(&app, "", good).await;
    assert_eq!(res.status(), 200);
    let report: Value = res.json().await.unwrap();
    assert_eq!(report["applied"], true);
    assert_eq!(report["created"], 3);

    // Export, then import the export: every row updates its customer, nothing changes.
    let before: Value = app
        .get("/v1/customers?sort=name")
        .await
        .json()
        .await
        .unwrap();
    let res = app
        .request(Method::GET, "/v1/customers?sort=name")
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
    let exported = res.text().await.unwrap();
    assert_eq!(exported.lines().count(), 4, "{exported}");
    assert!(exported.starts_with("number,kind,name,email"));
    assert!(exported.contains("\"Smith, Jane\""));
    let report: Value = import_csv(&app, "", &exported).await.json().await.unwrap();
    // A lossless round trip changes nothing: no version moves, no event.
    assert_eq!(
        (
            report["created"].as_u64(),
            report["updated"].as_u64(),
            report["unchanged"].as_u64()
        ),
        (Some(0), Some(0), Some(3)),
        "{report}"
    );
    let after: Value = app
        .get("/v1/customers?sort=name")
        .await
        .json()
        .await
        .unwrap();
    let strip = |v: &Value| -> Vec<Value> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let mut c = c.clone();
                for volatile in ["version", "updated_at"] {
                    c.as_object_mut().unwrap().remove(volatile);
                }
                c
            })
            .collect()
    };
    assert_eq!(strip(&before), strip(&after), "the round trip is lossless");
    assert_eq!(before["data"], after["data"], "and moves no version");

    // Rows naming a known external reference update that customer.
    let report: Value = import_csv(
        &app,
        "",
        "kind,name,external_refs\ncompany,Acme Trading Ltd,shopify:1001\n",
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(report["updated"], 1);
    let acme: Value = app.get("/v1/customers?q=acme").await.json().await.unwrap();
    assert_eq!(acme["data"][0]["name"], "Acme Trading Ltd");

    let res = app
        .request(Method::POST, "/v1/customers/import")
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    problem(res, 415).await;
    let p = problem(import_csv(&app, "", "colour,name\nred,x\n").await, 400).await;
    assert_eq!(p["errors"][0]["field"], "header");

    // An export shows only what the caller may see.
    let (_, rep) = app.user("rep@example.com", "sales", None).await;
    let csv = app
        .request_as(&rep, Method::GET, "/v1/customers")
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(csv.lines().count(), 1, "only the header: {csv}");
    app.stop().await;
}
