//! `/v1/webhook-endpoints`: registration with a secret shown once and sealed at
//! rest, the address guard at registration, event types and profiles, rotation,
//! changes and removal, and who sees which endpoint.

use base64::Engine;
use ordercrm_tests::{Engine as DbEngine, TestApp, both_engines, everything_stored, problem};
use reqwest::Method;
use serde_json::{Value, json};

both_engines!(
    an_endpoint_is_registered_with_a_secret_shown_once,
    addresses_inside_our_network_are_refused_in_any_spelling,
    event_types_are_known_types_patterns_or_a_profile,
    rotation_keeps_the_previous_secret_for_a_day,
    changes_and_removal_are_versioned_and_emitted,
    a_key_sees_and_changes_only_its_own_endpoints,
);

async fn create(app: &TestApp, body: &Value) -> Value {
    let res = app.post("/v1/webhook-endpoints", body).await;
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

/// A registration refused as invalid: the problem, with its field errors.
async fn refused(app: &TestApp, body: &Value) -> Value {
    problem(app.post("/v1/webhook-endpoints", body).await, 400).await
}

fn secret_bytes(secret: &str) -> Vec<u8> {
    let encoded = secret.strip_prefix("whsec_").expect("whsec_ prefix");
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap()
}

async fn an_endpoint_is_registered_with_a_secret_shown_once(engine: DbEngine) {
    let app = TestApp::spawn(engine).await;
    let res = app
        .post(
            "/v1/webhook-endpoints",
            &json!({"url": "https://shop.test/hooks/ordercrm", "description": "Storefront",
                "event_types": ["order.*", "order.approved"], "metadata": {"team": "web"}}),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(res.headers()["etag"], "\"1\"");
    let created: Value = res.json().await.unwrap();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert_eq!(secret_bytes(&secret).len(), 32);
    assert_eq!(created["url"], "https://shop.test/hooks/ordercrm");
    assert_eq!(created["event_types"], json!(["order.*", "order.approved"]));
    assert_eq!(created["enabled"], true);
    assert_eq!(created["owner_key_id"], Value::Null);
    assert_eq!(created["metadata"], json!({"team": "web"}));

    // Never again in a response, and nowhere in storage as it was shown.
    let got: Value = app.get(&location).await.json().await.unwrap();
    assert!(got.get("secret").is_none(), "{got}");
    assert_eq!(got["id"], created["id"]);
    let listed: Value = app.get("/v1/webhook-endpoints").await.json().await.unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert!(!listed.to_string().contains("whsec_"));
    let stored = everything_stored(&app).await;
    let encoded = secret.strip_prefix("whsec_").unwrap();
    assert!(
        !stored.contains(encoded),
        "the secret is stored in the clear"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM events WHERE event_type = 'webhook_endpoint.created'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE action = 'webhook_endpoint.create'")
            .await,
        1
    );

    // A secret of one's own: 24 to 64 bytes.
    let own = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode([7u8; 24])
    );
    let created = create(
        &app,
        &json!({"url": "https://shop.test/b", "event_types": ["*"], "secret": own}),
    )
    .await;
    assert_eq!(created["secret"], own);
    for bad in [
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned(),
        format!(
            "whsec_{}",
            base64::engine::general_purpose::STANDARD.encode([7u8; 16])
        ),
        "whsec_not base64!".to_owned(),
    ] {
        let p = refused(
            &app,
            &json!({"url": "https://shop.test/c", "event_types": ["*"], "secret": bad}),
        )
        .await;
        assert_eq!(p["errors"][0]["field"], "secret");
        assert!(
            !p.to_string().contains(&bad),
            "the refused secret is echoed: {p}"
        );
    }
    assert_eq!(app.count("SELECT count(*) FROM webhook_endpoints").await, 2);
    app.stop().await;
}

async fn addresses_inside_our_network_are_refused_in_any_spelling(engine: DbEngine) {
    let app = TestApp::spawn(engine).await;
    for url in [
        "http://127.0.0.1/hook",
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[fc00::1]/hook",
        "http://100.64.0.1/hook",
        "http://2130706433/hook",
        "http://0x7f.1/hook",
        "http://localhost.localdomain./hook",
        "http://internal.test/hook",
        "http://internal.test./hook",
        "http://metadata.test/hook",
        "http://localhost./hook",
        "http://api.localhost/hook",
    ] {
        let res = app
            .post(
                "/v1/webhook-endpoints",
                &json!({"url": url, "event_types": ["order.*"]}),
            )
            .await;
        if url.contains("localhost.localdomain") {
            // Not in the tests' resolver: it does not resolve now, and each delivery
            // will judge it again.
            assert_eq!(res.status(), 201, "{url}");
            continue;
        }
        let p = problem(res, 400).await;
        assert_eq!(p["errors"][0]["field"], "url", "{url}");
        assert_eq!(p["errors"][0]["code"], "blocked_address", "{url}: {p}");
    }
    for (url, code) in [
        ("ftp://shop.test/hook", "insecure_url"),
        ("https://user:pw@shop.test/hook", "credentials_in_url"),
        ("https://shop.test/hook#frag", "invalid_url"),
        ("shop.test/hook", "invalid_url"),
    ] {
        let p = refused(&app, &json!({"url": url, "event_types": ["order.*"]})).await;
        assert_eq!(p["errors"][0]["code"], code, "{url}: {p}");
        assert!(!p.to_string().contains("pw@"), "{p}");
    }
    assert_eq!(app.count("SELECT count(*) FROM webhook_endpoints").await, 1);

    // Changing the URL is judged the same way, and changes nothing when refused.
    let id = app
        .get("/v1/webhook-endpoints")
        .await
        .json::<Value>()
        .await
        .unwrap()["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let p = problem(
        app.patch(
            &format!("/v1/webhook-endpoints/{id}"),
            &json!({"url": "http://[::ffff:a00:1]/"}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(p["errors"][0]["code"], "blocked_address");
    let got: Value = app
        .get(&format!("/v1/webhook-endpoints/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["version"], 1);

    // https only, unless the operator allows http; the allowlist opens a network.
    let strict = TestApp::spawn_with(engine, |c| {
        c.webhooks.allow_http = false;
        c.webhooks.policy.allow = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    let p = refused(
        &strict,
        &json!({"url": "http://shop.test/hook", "event_types": ["order.*"]}),
    )
    .await;
    assert_eq!(p["errors"][0]["code"], "insecure_url");
    create(
        &strict,
        &json!({"url": "https://127.0.0.1:8443/hook", "event_types": ["order.*"]}),
    )
    .await;
    let p = refused(
        &strict,
        &json!({"url": "https://10.0.0.1/hook", "event_types": ["order.*"]}),
    )
    .await;
    assert_eq!(p["errors"][0]["code"], "blocked_address");
    strict.stop().await;
    app.stop().await;
}

async fn event_types_are_known_types_patterns_or_a_profile(engine: DbEngine) {
    let app = TestApp::spawn(engine).await;
    let created = create(
        &app,
        &json!({"url": "https://shop.test/a", "profile": "ecommerce"}),
    )
    .await;
    assert_eq!(created["profile"], "ecommerce");
    assert_eq!(
        created["event_types"],
        json!(["order.*", "shipment.*", "return.*", "payment.*", "refund.*"])
    );
    let created = create(
        &app,
        &json!({"url": "https://shop.test/b", "profile": "logistics", "event_types": ["order.approved"]}),
    )
    .await;
    assert_eq!(created["event_types"], json!(["order.approved"]));

    for (types, code) in [
        (json!(["order.aproved"]), "no_such_event_type"),
        (json!(["ordr.*"]), "no_such_event_type"),
        (json!(["Order.*"]), "invalid_event_type"),
        (json!(["order"]), "invalid_event_type"),
    ] {
        let p = refused(
            &app,
            &json!({"url": "https://shop.test/c", "event_types": types}),
        )
        .await;
        assert_eq!(p["errors"][0]["field"], "event_types[0]", "{types}");
        assert_eq!(p["errors"][0]["code"], code, "{types}: {p}");
    }
    let p = refused(&app, &json!({"url": "https://shop.test/c"})).await;
    assert_eq!(p["errors"][0]["field"], "event_types");
    let many: Vec<String> = (0..51).map(|_| "order.*".to_owned()).collect();
    let p = refused(
        &app,
        &json!({"url": "https://shop.test/c", "event_types": many}),
    )
    .await;
    assert_eq!(p["errors"][0]["code"], "too_many");
    assert_eq!(app.count("SELECT count(*) FROM webhook_endpoints").await, 2);
    app.stop().await;
}

async fn rotation_keeps_the_previous_secret_for_a_day(engine: DbEngine) {
    let app = TestApp::spawn(engine).await;
    let created = create(
        &app,
        &json!({"url": "https://shop.test/a", "event_types": ["order.*"]}),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    let first = created["secret"].as_str().unwrap();
    let res = app
        .post(
            &format!("/v1/webhook-endpoints/{id}/rotate-secret"),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let rotated: Value = res.json().await.unwrap();
    let second = rotated["secret"].as_str().unwrap();
    assert_ne!(first, second);
    assert_eq!(secret_bytes(second).len(), 32);
    assert_eq!(rotated["version"], 2);
    let until: chrono::DateTime<chrono::Utc> = rotated["previous_secret_expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(until - app.clock_now(), chrono::Duration::hours(24));
    let stored = everything_stored(&app).await;
    for s in [first, second] {
        assert!(!stored.contains(s.strip_prefix("whsec_").unwrap()));
    }
    assert_eq!(
        app.count(
            "SELECT count(*) FROM events WHERE event_type = 'webhook_endpoint.secret_rotated'"
        )
        .await,
        1
    );
    // A stale ETag is refused and changes nothing; a bad secret likewise.
    let res = app
        .request(
            Method::POST,
            &format!("/v1/webhook-endpoints/{id}/rotate-secret"),
        )
        .header("If-Match", "\"1\"")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    problem(res, 412).await;
    let p = problem(
        app.post(
            &format!("/v1/webhook-endpoints/{id}/rotate-secret"),
            &json!({"secret": "whsec_AAAA"}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(p["errors"][0]["code"], "invalid_secret");
    // Only a JSON object rotates: anything else is refused, not taken for "make one".
    for (content_type, body) in [
        (
            "text/plain",
            "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ),
        ("application/json", "{\"secret\": 123}"),
        ("application/json", "{\"secret\": \"whsec_x\""),
        ("application/json", "[]"),
    ] {
        let res = app
            .request(
                Method::POST,
                &format!("/v1/webhook-endpoints/{id}/rotate-secret"),
            )
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_client_error(), "{body}: {}", res.status());
        assert!(!res.text().await.unwrap().contains("whsec_AAAA"), "{body}");
    }
    let got: Value = app
        .get(&format!("/v1/webhook-endpoints/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["version"], 2);
    app.stop().await;
}

async fn changes_and_removal_are_versioned_and_emitted(engine: DbEngine) {
    let app = TestApp::spawn(engine).await;
    let created = create(
        &app,
        &json!({"url": "https://shop.test/a", "event_types": ["order.*"], "description": "x"}),
    )
    .await;
    let path = format!("/v1/webhook-endpoints/{}", created["id"].as_str().unwrap());
    let res = app
        .request(Method::PATCH, &path)
        .header("If-Match", "\"1\"")
        .json(&json!({"enabled": false, "description": null, "profile": "erp"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let changed: Value = res.json().await.unwrap();
    assert_eq!(changed["enabled"], false);
    assert_eq!(changed["description"], Value::Null);
    assert_eq!(
        changed["event_types"],
        json!([
            "order.*",
            "stock_level.*",
            "invoice.*",
            "payment.*",
            "refund.*"
        ])
    );
    assert_eq!(changed["version"], 2);
    // The same change again changes nothing and emits nothing.
    let res = app.patch(&path, &json!({"enabled": false})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["version"], 2);
    let res = app
        .request(Method::PATCH, &path)
        .header("If-Match", "\"1\"")
        .json(&json!({"enabled": true}))
        .send()
        .await
        .unwrap();
    problem(res, 412).await;
    assert_eq!(
        app.count("SELECT count(*) FROM events WHERE event_type = 'webhook_endpoint.updated'")
            .await,
        1
    );
    let res = app.request(Method::DELETE, &path).send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(app.get(&path).await.status(), 404);
    let res = app.request(Method::DELETE, &path).send().await.unwrap();
    problem(res, 404).await;
    assert_eq!(
        app.count("SELECT count(*) FROM events WHERE event_type = 'webhook_endpoint.deleted'")
            .await,
        1
    );
    app.stop().await;
}

async fn a_key_sees_and_changes_only_its_own_endpoints(engine: DbEngine) {
    let app = TestApp::spawn(engine).await;
    let key = |name: &'static str, scopes: Value| {
        let app = &app;
        async move {
            let key: Value = app
                .post(
                    "/v1/api-keys",
                    &json!({"name": name, "kind": "ecommerce", "scopes": scopes}),
                )
                .await
                .json()
                .await
                .unwrap();
            (
                key["id"].as_str().unwrap().to_owned(),
                key["secret"].as_str().unwrap().to_owned(),
            )
        }
    };
    let (a_id, a) = key("Shop A", json!(["webhooks:write", "orders:read"])).await;
    let (_, b) = key("Shop B", json!(["webhooks:write"])).await;
    // A key subscribes only to what its scopes let it read: never `*`, people or
    // keys; of endpoints' events (failing, disabled) it receives its own endpoints'
    // only; a profile keeps the patterns it may read.
    for types in [json!(["order.*"]), json!(["*"]), json!(["user.*"])] {
        let res = app
            .request_as(&b, Method::POST, "/v1/webhook-endpoints")
            .json(&json!({"url": "https://shop.test/b", "event_types": types}))
            .send()
            .await
            .unwrap();
        let p = problem(res, 400).await;
        assert_eq!(
            p["errors"][0]["code"], "event_type_not_permitted",
            "{types}"
        );
    }
    let res = app
        .request_as(&a, Method::POST, "/v1/webhook-endpoints")
        .json(&json!({"url": "https://shop.test/p", "profile": "ecommerce"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let profiled: Value = res.json().await.unwrap();
    assert_eq!(
        profiled["event_types"],
        json!(["order.*", "shipment.*", "return.*"])
    );
    let res = app
        .request(
            Method::DELETE,
            &format!("/v1/webhook-endpoints/{}", profiled["id"].as_str().unwrap()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let (_, reader) = key("Reader", json!(["orders:read"])).await;
    let res = app
        .request_as(&a, Method::POST, "/v1/webhook-endpoints")
        .json(&json!({"url": "https://shop.test/a", "event_types": ["order.*"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let mine: Value = res.json().await.unwrap();
    assert_eq!(mine["owner_key_id"], a_id.as_str());
    let path = format!("/v1/webhook-endpoints/{}", mine["id"].as_str().unwrap());
    create(
        &app,
        &json!({"url": "https://shop.test/admin", "event_types": ["*"]}),
    )
    .await;

    let listed = |token: String| {
        let app = &app;
        async move {
            let page: Value = app
                .request_as(&token, Method::GET, "/v1/webhook-endpoints")
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            page["data"].as_array().unwrap().len()
        }
    };
    assert_eq!(listed(a.clone()).await, 1);
    assert_eq!(listed(b.clone()).await, 0);
    assert_eq!(
        app.get("/v1/webhook-endpoints")
            .await
            .json::<Value>()
            .await
            .unwrap()["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Another key's endpoint does not exist for B, for reading or for changing.
    for method in [Method::GET, Method::DELETE] {
        let res = app.request_as(&b, method, &path).send().await.unwrap();
        problem(res, 404).await;
    }
    let res = app
        .request_as(&b, Method::PATCH, &path)
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap();
    problem(res, 404).await;
    let res = app
        .request_as(&b, Method::POST, &format!("{path}/rotate-secret"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    problem(res, 404).await;
    // Without the scope, or as a role that does not manage webhooks: 403.
    let res = app
        .request_as(&reader, Method::GET, "/v1/webhook-endpoints")
        .send()
        .await
        .unwrap();
    problem(res, 403).await;
    let (_, sales) = app.user("rep@example.com", "sales", None).await;
    let res = app
        .request_as(&sales, Method::POST, "/v1/webhook-endpoints")
        .json(&json!({"url": "https://shop.test/s", "event_types": ["order.*"]}))
        .send()
        .await
        .unwrap();
    problem(res, 403).await;
    let (_, auditor) = app.user("aud@example.com", "auditor", None).await;
    assert_eq!(listed(auditor).await, 2);
    // The owner changes its own.
    let res = app
        .request_as(&a, Method::PATCH, &path)
        .json(&json!({"event_types": ["order.approved"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(app.count("SELECT count(*) FROM webhook_endpoints").await, 2);

    // A key registers at most 20; an admin's endpoints do not count against it.
    for i in 1..20 {
        let res = app
            .request_as(&a, Method::POST, "/v1/webhook-endpoints")
            .json(&json!({"url": format!("https://shop.test/{i}"), "event_types": ["order.*"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201, "endpoint {i}");
    }
    let res = app
        .request_as(&a, Method::POST, "/v1/webhook-endpoints")
        .json(&json!({"url": "https://shop.test/21", "event_types": ["order.*"]}))
        .send()
        .await
        .unwrap();
    problem(res, 409).await;
    assert_eq!(
        app.count("SELECT count(*) FROM webhook_endpoints").await,
        21
    );
    app.stop().await;
}
