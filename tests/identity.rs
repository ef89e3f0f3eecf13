//! Identity and security: sign-in, tokens, API keys, object-level access, the audit
//! log, brute-force limits.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use ordercrm_tests::{
    ADMIN_EMAIL, Engine as Db, PASSWORD, TEST_JWT_SECRET, TestApp, both_engines, problem,
};
use reqwest::Method;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

both_engines!(
    sign_in_and_bad_credentials,
    forged_and_expired_tokens_are_401,
    refresh_rotates_and_reuse_revokes_the_family,
    api_keys_authenticate_within_their_scopes,
    an_api_key_gives_what_it_creates_to_its_default_owner,
    reps_see_their_own_and_managers_their_team,
    auditor_cannot_mutate_anything,
    every_mutation_is_audited,
);

async fn sign_in(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.anonymous(Method::POST, "/v1/auth/token")
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

async fn sign_in_and_bad_credentials(engine: Db) {
    let app = TestApp::spawn(engine).await;
    let res = sign_in(&app, "ADMIN@example.com ", PASSWORD).await;
    assert_eq!(
        res.status(),
        200,
        "emails match regardless of case and spaces"
    );
    assert_eq!(res.headers()["cache-control"], "no-store");
    let tokens: Value = res.json().await.unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    assert!(
        tokens["refresh_token"]
            .as_str()
            .unwrap()
            .starts_with("ocrm_rt_")
    );

    let me: Value = app.get("/v1/me").await.json().await.unwrap();
    assert_eq!(me["email"], ADMIN_EMAIL);
    assert_eq!(me["role"], "admin");
    assert!(me.get("password_hash").is_none());

    let wrong = problem(
        sign_in(&app, ADMIN_EMAIL, "not the password at all").await,
        401,
    )
    .await;
    let unknown = problem(sign_in(&app, "nobody@example.com", PASSWORD).await, 401).await;
    assert_eq!(
        wrong["detail"], unknown["detail"],
        "no hint which emails exist"
    );

    let res = app.anonymous(Method::GET, "/v1/me").send().await.unwrap();
    assert_eq!(
        res.headers()["www-authenticate"],
        "Bearer realm=\"ordercrm\""
    );
    problem(res, 401).await;
    let res = app
        .anonymous(Method::GET, "/v1/me")
        .header("authorization", "Basic YTpi")
        .send()
        .await
        .unwrap();
    problem(res, 401).await;

    // A disabled user cannot sign in, and their open session ends at once.
    let (rep, rep_token) = app.user("rep@example.com", "sales", None).await;
    assert_eq!(
        app.request_as(&rep_token, Method::GET, "/v1/me")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let res = app
        .patch(&format!("/v1/users/{rep}"), &json!({"active": false}))
        .await;
    assert_eq!(res.status(), 200);
    problem(
        app.request_as(&rep_token, Method::GET, "/v1/me")
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    problem(sign_in(&app, "rep@example.com", PASSWORD).await, 401).await;
    app.stop().await;
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

async fn forged_and_expired_tokens_are_401(engine: Db) {
    let app = TestApp::spawn(engine).await;
    let good = app.token.clone();
    let parts: Vec<&str> = good.split('.').collect();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(header["alg"], "HS256");
    assert!(header["kid"].is_string());

    let (other_id, _) = app.user("other@example.com", "admin", None).await;
    let mut forged_claims = claims.clone();
    forged_claims["sub"] = json!(other_id);
    let tampered = format!("{}.{}.{}", parts[0], b64(&forged_claims), parts[2]);

    let alg_none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT", "kid": header["kid"]})),
        parts[1]
    );

    let sign = |claims: &Value, secret: &str, kid: &Value| {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        h.kid = kid.as_str().map(str::to_owned);
        jsonwebtoken::encode(
            &h,
            claims,
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    };
    let mut wrong_aud = claims.clone();
    wrong_aud["aud"] = json!("some-other-api");
    let wrong_aud = sign(&wrong_aud, TEST_JWT_SECRET, &header["kid"]);
    let mut wrong_iss = claims.clone();
    wrong_iss["iss"] = json!("evil");
    let wrong_iss = sign(&wrong_iss, TEST_JWT_SECRET, &header["kid"]);
    let wrong_key = sign(
        &claims,
        "another-secret-another-secret-another-secret",
        &header["kid"],
    );
    let unknown_kid = sign(
        &claims,
        TEST_JWT_SECRET,
        &json!("https://evil.example/jwks"),
    );
    let mut no_exp = claims.clone();
    no_exp.as_object_mut().unwrap().remove("exp");
    let no_exp = sign(&no_exp, TEST_JWT_SECRET, &header["kid"]);

    for (name, token) in [
        ("tampered", tampered),
        ("alg none", alg_none),
        ("wrong aud", wrong_aud),
        ("wrong iss", wrong_iss),
        ("wrong key", wrong_key),
        ("unknown kid", unknown_kid),
        ("no exp", no_exp),
        ("garbage", "not.a.jwt".to_owned()),
    ] {
        let res = app
            .request_as(&token, Method::GET, "/v1/me")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{name} token accepted");
        assert_eq!(problem(res, 401).await["type"], "/problems/unauthenticated");
    }
    assert_eq!(
        app.get("/v1/me").await.status(),
        200,
        "the genuine token still works"
    );

    app.clock.advance(Duration::minutes(16));
    let res = app.get("/v1/me").await;
    assert_eq!(
        problem(res, 401).await["type"],
        "/problems/unauthenticated",
        "expired"
    );
    app.stop().await;
}

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.anonymous(Method::POST, "/v1/auth/refresh")
        .json(&json!({"refresh_token": token}))
        .send()
        .await
        .unwrap()
}

async fn refresh_rotates_and_reuse_revokes_the_family(engine: Db) {
    let mut app = TestApp::spawn(engine).await;
    let first: Value = sign_in(&app, ADMIN_EMAIL, PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let r1 = first["refresh_token"].as_str().unwrap().to_owned();

    app.clock.advance(Duration::minutes(20));
    // A client that attaches its (now expired) access token to every request can still
    // refresh: the operations for anonymous callers ignore any credential.
    let stale = first["access_token"].as_str().unwrap();
    problem(
        app.request_as(stale, Method::GET, "/v1/me")
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    let res = app
        .request_as(stale, Method::POST, "/v1/auth/refresh")
        .json(&json!({"refresh_token": r1}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let second: Value = res.json().await.unwrap();
    let r2 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2, "rotated");
    let access = second["access_token"].as_str().unwrap();
    assert_eq!(
        app.request_as(access, Method::GET, "/v1/me")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // r1 again: it leaked. The family (r2 too) is revoked.
    problem(refresh(&app, &r1).await, 401).await;
    problem(refresh(&app, &r2).await, 401).await;

    // Another sign-in is another family, unaffected; logout ends it.
    let other: Value = sign_in(&app, ADMIN_EMAIL, PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let r3 = other["refresh_token"].as_str().unwrap().to_owned();
    let res = app
        .anonymous(Method::POST, "/v1/auth/logout")
        .json(&json!({"refresh_token": r3}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    problem(refresh(&app, &r3).await, 401).await;

    // Concurrent use of one token: one winner at most, and the family dies.
    let fresh: Value = sign_in(&app, ADMIN_EMAIL, PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let r4 = fresh["refresh_token"].as_str().unwrap().to_owned();
    let results = futures_util::future::join_all((0..6).map(|_| refresh(&app, &r4))).await;
    let ok = results.iter().filter(|r| r.status() == 200).count();
    assert!(ok <= 1, "{ok} concurrent refreshes succeeded");

    // A password change revokes every refresh token.
    app.relogin().await;
    let fresh: Value = sign_in(&app, ADMIN_EMAIL, PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let r5 = fresh["refresh_token"].as_str().unwrap().to_owned();
    let res = app
        .post(
            "/v1/me/password",
            &json!({"current_password": PASSWORD, "new_password": "an even longer new passphrase"}),
        )
        .await;
    assert_eq!(res.status(), 204);
    problem(refresh(&app, &r5).await, 401).await;
    problem(app.get("/v1/me").await, 401).await;
    assert_eq!(
        sign_in(&app, ADMIN_EMAIL, "an even longer new passphrase")
            .await
            .status(),
        200
    );
    app.stop().await;
}

/// An integration's customers belong to the key's default owner (an active user), so
/// that rep sees them; a request that names an owner keeps it.
async fn an_api_key_gives_what_it_creates_to_its_default_owner(engine: Db) {
    let app = TestApp::spawn(engine).await;
    let (rep, rep_token) = app.user("rep@example.com", "sales", None).await;
    let key = |owner: Value| {
        let body = json!({"name": "Storefront", "kind": "ecommerce", "scopes": ["customers:write"],
            "default_owner_id": owner});
        let app = &app;
        async move { app.post("/v1/api-keys", &body).await }
    };
    // A user who does not exist, or cannot sign in, owns nothing; no key is made.
    let missing = problem(
        key(json!("0193a6f2-7c1e-7d2a-9b8e-2f0c7b1d4e5f")).await,
        404,
    )
    .await;
    assert_eq!(missing["errors"][0]["field"], "default_owner_id");
    assert_eq!(missing["errors"][0]["code"], "unknown_user");
    let (gone, _) = app.user("gone@example.com", "sales", None).await;
    let res = app
        .patch(&format!("/v1/users/{gone}"), &json!({"active": false}))
        .await;
    assert_eq!(res.status(), 200);
    let inactive = problem(key(json!(gone)).await, 409).await;
    assert_eq!(inactive["errors"][0]["code"], "inactive_user");
    assert_eq!(app.count("SELECT COUNT(*) FROM api_keys").await, 0);

    let res = key(json!(rep)).await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["default_owner_id"], rep.as_str());
    let secret = created["secret"].as_str().unwrap();
    let res = app
        .request_as(secret, Method::POST, "/v1/customers")
        .json(&json!({"kind": "company", "name": "Shop Customer Ltd"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let customer: Value = res.json().await.unwrap();
    assert_eq!(customer["owner_id"], rep.as_str());
    let path = format!("/v1/customers/{}", customer["id"].as_str().unwrap());
    let seen = app
        .request_as(&rep_token, Method::GET, &path)
        .send()
        .await
        .unwrap();
    assert_eq!(
        seen.status(),
        200,
        "the rep sees the integration's customer"
    );
    // Naming an owner overrides the default.
    let (other, _) = app.user("other@example.com", "sales", None).await;
    let res = app
        .request_as(secret, Method::POST, "/v1/customers")
        .json(&json!({"kind": "company", "name": "Other Ltd", "owner_id": other}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let customer: Value = res.json().await.unwrap();
    assert_eq!(customer["owner_id"], other.as_str());
    // When the default owner has left, the error names the default, not a field the
    // caller never sent.
    let res = app
        .patch(&format!("/v1/users/{rep}"), &json!({"active": false}))
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .request_as(secret, Method::POST, "/v1/customers")
        .json(&json!({"kind": "company", "name": "Orphan Ltd"}))
        .send()
        .await
        .unwrap();
    let orphan = problem(res, 409).await;
    assert_eq!(orphan["errors"][0]["field"], "default_owner_id");
    assert_eq!(orphan["errors"][0]["code"], "inactive_user");
    app.stop().await;
}

async fn api_keys_authenticate_within_their_scopes(engine: Db) {
    let app = TestApp::spawn(engine).await;
    let res = app
        .post(
            "/v1/api-keys",
            &json!({"name": "Storefront", "kind": "ecommerce", "scopes": ["settings:read", "orders:write"]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    let secret = created["secret"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("ocrm_live_"));
    assert!(secret.starts_with(created["prefix"].as_str().unwrap()));

    let listed: Value = app.get("/v1/api-keys").await.json().await.unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert!(
        !listed.to_string().contains(&secret),
        "the secret is shown once"
    );

    let key_get = |path: &str| app.request_as(&secret, Method::GET, path).send();
    assert_eq!(key_get("/v1/settings").await.unwrap().status(), 200);
    let res = app
        .request_as(&secret, Method::POST, "/v1/settings")
        .json(&json!({"key": "ui.x", "value": 1}))
        .send()
        .await
        .unwrap();
    let p = problem(res, 403).await;
    assert!(p["detail"].as_str().unwrap().contains("settings:write"));
    problem(key_get("/v1/users").await.unwrap(), 403).await;
    problem(key_get("/v1/api-keys").await.unwrap(), 403).await;

    let bad = app
        .post(
            "/v1/api-keys",
            &json!({"name": "", "kind": "toaster", "scopes": ["everything"], "extra": 1}),
        )
        .await;
    assert_eq!(
        problem(bad, 400).await["errors"][0]["code"],
        "unknown_field"
    );
    let bad = app
        .post(
            "/v1/api-keys",
            &json!({"name": "", "kind": "toaster", "scopes": ["everything"]}),
        )
        .await;
    let p = problem(bad, 400).await;
    let fields: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["name", "kind", "scopes[0]"]);

    let res = app
        .request(Method::DELETE, &format!("/v1/api-keys/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    problem(key_get("/v1/settings").await.unwrap(), 401).await;

    let expiring: Value = app
        .post(
            "/v1/api-keys",
            &json!({"name": "Courier", "kind": "logistics", "scopes": ["settings:read"], "expires_at": "2026-11-24T08:00:00Z"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let courier = expiring["secret"].as_str().unwrap().to_owned();
    assert_eq!(
        app.request_as(&courier, Method::GET, "/v1/settings")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    app.clock.advance(Duration::days(2));
    let res = app
        .request_as(&courier, Method::GET, "/v1/settings")
        .send()
        .await
        .unwrap();
    problem(res, 401).await;
    app.stop().await;
}

async fn reps_see_their_own_and_managers_their_team(engine: Db) {
    let app = TestApp::spawn(engine).await;
    let (manager, manager_token) = app.user("mgr@example.com", "manager", None).await;
    let (rep_a, a_token) = app.user("a@example.com", "sales", Some(&manager)).await;
    let (rep_b, b_token) = app.user("b@example.com", "sales", None).await;

    // Rep A cannot see or change rep B: 404, as if B did not exist.
    let res = app
        .request_as(&a_token, Method::GET, &format!("/v1/users/{rep_b}"))
        .send()
        .await
        .unwrap();
    problem(res, 404).await;
    let res = app
        .request_as(&a_token, Method::PATCH, &format!("/v1/users/{rep_b}"))
        .json(&json!({"display_name": "Hacked"}))
        .send()
        .await
        .unwrap();
    problem(res, 404).await;
    let listed: Value = app
        .request_as(&a_token, Method::GET, "/v1/users")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec![rep_a.as_str()],
        "a rep's list holds only themselves"
    );
    // Seeing yourself is not changing yourself.
    let res = app
        .request_as(&a_token, Method::PATCH, &format!("/v1/users/{rep_a}"))
        .json(&json!({"role": "admin"}))
        .send()
        .await
        .unwrap();
    problem(res, 403).await;

    // Their manager sees and changes A, but not B (another team).
    let res = app
        .request_as(&manager_token, Method::GET, &format!("/v1/users/{rep_a}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = app
        .request_as(&manager_token, Method::PATCH, &format!("/v1/users/{rep_a}"))
        .json(&json!({"display_name": "Anna"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["display_name"], "Anna");
    let res = app
        .request_as(&manager_token, Method::PATCH, &format!("/v1/users/{rep_a}"))
        .json(&json!({"role": "admin"}))
        .send()
        .await
        .unwrap();
    problem(res, 403).await;
    let res = app
        .request_as(&manager_token, Method::GET, &format!("/v1/users/{rep_b}"))
        .send()
        .await
        .unwrap();
    problem(res, 404).await;
    let listed: Value = app
        .request_as(&manager_token, Method::GET, "/v1/users")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut ids: Vec<String> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    let mut expected = vec![manager.clone(), rep_a.clone()];
    expected.sort();
    assert_eq!(ids, expected);

    // Rep B, unchanged; B cannot create users.
    let b: Value = app
        .get(&format!("/v1/users/{rep_b}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(b["display_name"], "b@example.com");
    let res = app
        .request_as(&b_token, Method::POST, "/v1/users")
        .json(&json!({"email": "c@example.com", "display_name": "C", "role": "admin", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    problem(res, 403).await;
    app.stop().await;
}

/// Every mutating operation in the OpenAPI document, tried by an auditor.
async fn auditor_cannot_mutate_anything(engine: Db) {
    let app = TestApp::spawn(engine).await;
    let (auditor, token) = app.user("auditor@example.com", "auditor", None).await;
    app.post(
        "/v1/settings",
        &json!({"key": "company_name", "value": "Acme"}),
    )
    .await;
    let doc: Value =
        serde_json::from_str(&ordercrm_api::openapi::to_json(&ordercrm_api::openapi())).unwrap();
    let mut tried = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        // Signing in and out and one's own password are not changes to the business.
        if path.starts_with("/v1/auth/") || path == "/v1/me/password" {
            continue;
        }
        for method in ["post", "patch", "put", "delete"] {
            if item.get(method).is_none() {
                continue;
            }
            let concrete =
                crate::openapi::concrete_path(&path.replace("{key}", "company_name"), &auditor);
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            // The documented example body: what a client would actually send.
            let schema =
                &item[method]["requestBody"]["content"]["application/json"]["schema"]["$ref"];
            let body = schema
                .as_str()
                .map(|r| ordercrm_tests::schema_example(&doc, r));
            if let Some(example) = &body {
                assert!(
                    example.is_object(),
                    "{method} {path}: request body without an example"
                );
            }
            let mut req = app.request_as(&token, m, &concrete);
            if let Some(example) = body {
                req = req.json(&example);
            }
            let res = req.send().await.unwrap();
            assert_eq!(res.status(), 403, "auditor {method} {path}");
            tried += 1;
        }
    }
    assert!(tried >= 7, "only {tried} mutating operations tried");
    // ... and reads everything.
    for path in [
        "/v1/settings",
        "/v1/users",
        "/v1/audit-events",
        "/v1/settings/company_name",
    ] {
        assert_eq!(
            app.request_as(&token, Method::GET, path)
                .send()
                .await
                .unwrap()
                .status(),
            200,
            "{path}"
        );
    }
    let value: Value = app
        .get("/v1/settings/company_name")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(value["version"], 1);
    app.stop().await;
}

async fn audit_rows(app: &TestApp) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("/v1/audit-events?sort=seq&limit=200&cursor={c}"),
            None => "/v1/audit-events?sort=seq&limit=200".to_owned(),
        };
        let page: Value = app.get(&url).await.json().await.unwrap();
        rows.extend(page["data"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return rows,
        }
    }
}

async fn every_mutation_is_audited(engine: Db) {
    let app = TestApp::spawn(engine).await;
    let mut mutations: Vec<(String, String)> = Vec::new();
    let mut track = |res: &reqwest::Response, what: &str| {
        assert!(res.status().is_success(), "{what}: {}", res.status());
        mutations.push((
            res.headers()["x-request-id"].to_str().unwrap().to_owned(),
            what.to_owned(),
        ));
    };
    let res = app
        .post(
            "/v1/settings",
            &json!({"key": "company_name", "value": "Acme"}),
        )
        .await;
    track(&res, "setting.create");
    let res = app
        .patch("/v1/settings/company_name", &json!({"value": "Acme Ltd"}))
        .await;
    track(&res, "setting.update");
    let res = app
        .request(Method::DELETE, "/v1/settings/company_name")
        .send()
        .await
        .unwrap();
    track(&res, "setting.delete");
    let res = app
        .post("/v1/users", &json!({"email": "u@example.com", "display_name": "U", "role": "support", "password": PASSWORD}))
        .await;
    let user: Value = {
        let r = res;
        track(&r, "user.create");
        r.json().await.unwrap()
    };
    let res = app
        .patch(
            &format!("/v1/users/{}", user["id"].as_str().unwrap()),
            &json!({"display_name": "Ursula"}),
        )
        .await;
    track(&res, "user.update");
    let res = app
        .post(
            "/v1/api-keys",
            &json!({"name": "ERP", "kind": "erp", "scopes": ["settings:read"]}),
        )
        .await;
    let key: Value = {
        let r = res;
        track(&r, "api_key.create");
        r.json().await.unwrap()
    };
    let res = app
        .request(
            Method::DELETE,
            &format!("/v1/api-keys/{}", key["id"].as_str().unwrap()),
        )
        .send()
        .await
        .unwrap();
    track(&res, "api_key.revoke");
    let res = sign_in(&app, "u@example.com", PASSWORD).await;
    let tokens: Value = {
        let r = res;
        track(&r, "auth.login");
        r.json().await.unwrap()
    };
    let res = refresh(&app, tokens["refresh_token"].as_str().unwrap()).await;
    let tokens: Value = {
        let r = res;
        track(&r, "auth.refresh");
        r.json().await.unwrap()
    };
    let res = app
        .request_as(
            tokens["access_token"].as_str().unwrap(),
            Method::POST,
            "/v1/me/password",
        )
        .json(&json!({"current_password": PASSWORD, "new_password": "another long passphrase"}))
        .send()
        .await
        .unwrap();
    track(&res, "user.password_change");
    let failed = sign_in(&app, "u@example.com", "wrong wrong wrong").await;
    let failed_id = failed.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();

    let rows = audit_rows(&app).await;
    for (request_id, action) in &mutations {
        let row = rows
            .iter()
            .find(|r| r["request_id"] == request_id.as_str() && r["action"] == action.as_str());
        let row = row.unwrap_or_else(|| panic!("no audit row for {action} ({request_id})"));
        assert_eq!(row["outcome"], "success");
        assert_eq!(row["ip"], "127.0.0.1");
        assert!(row["occurred_at"].is_string());
        assert!(row["actor_type"] == "user" || row["actor_type"] == "system");
    }
    let fail = rows
        .iter()
        .find(|r| r["request_id"] == failed_id.as_str())
        .expect("failed sign-in audited");
    assert_eq!(fail["action"], "auth.login_failed");
    assert_eq!(fail["outcome"], "failure");
    let update = rows
        .iter()
        .find(|r| r["action"] == "setting.update")
        .unwrap();
    assert_eq!(
        update["changes"],
        json!({"value": {"from": "Acme", "to": "Acme Ltd"}})
    );
    let user_row = rows.iter().find(|r| r["action"] == "user.create").unwrap();
    assert!(
        !user_row.to_string().contains("argon2"),
        "hashes stay out of the log"
    );
    let all = serde_json::to_string(&rows).unwrap();
    assert!(!all.contains(PASSWORD) && !all.contains("another long passphrase"));

    // Filters.
    let page: Value = app
        .get("/v1/audit-events?action=auth.login_failed")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    let page: Value = app
        .get("/v1/audit-events?outcome=failure&limit=1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    problem(app.get("/v1/audit-events?sort=sideways").await, 400).await;
    // Read-only: no route changes audit rows.
    let res = app
        .request(Method::DELETE, "/v1/audit-events")
        .send()
        .await
        .unwrap();
    problem(res, 405).await;

    // No response body in this test leaked a hash: spot-check the user views.
    let users: Value = app.get("/v1/users").await.json().await.unwrap();
    assert!(!users.to_string().contains("$argon2"));
    let db = app.raw_db().await;
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT password_hash FROM users LIMIT 1",
        ))
        .await
        .unwrap()
        .unwrap();
    assert!(
        row.try_get::<String>("", "password_hash")
            .unwrap()
            .starts_with("$argon2id$")
    );
    app.stop().await;
}

#[tokio::test]
async fn general_rate_limit_answers_429_with_headers() {
    let app = TestApp::spawn_with(Db::Sqlite, |c| c.rate_limit_per_minute = 5).await;
    let mut statuses = Vec::new();
    for _ in 0..7 {
        let res = app.get("/v1/me").await;
        assert_eq!(res.headers()["ratelimit-limit"], "5");
        statuses.push(res.status().as_u16());
        if res.status() == 429 {
            assert!(res.headers().contains_key("retry-after"));
            assert_eq!(res.headers()["ratelimit-remaining"], "0");
            problem(res, 429).await;
        }
    }
    // The admin's sign-in in spawn() did not count: only authenticated requests do.
    assert_eq!(statuses, vec![200, 200, 200, 200, 200, 429, 429]);
    app.clock.advance(Duration::seconds(13));
    assert_eq!(
        app.get("/v1/me").await.status(),
        200,
        "refilled over the minute"
    );
    app.stop().await;
}

#[tokio::test]
async fn cors_allows_only_configured_origins() {
    let app = TestApp::spawn_with(Db::Sqlite, |c| {
        c.cors_origins = vec!["https://shop.example.com".into()]
    })
    .await;
    let preflight = |origin: &'static str| {
        app.anonymous(Method::OPTIONS, "/v1/settings")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type, idempotency-key",
            )
            .send()
    };
    let ok = preflight("https://shop.example.com").await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://shop.example.com"
    );
    let no = preflight("https://evil.example.com").await.unwrap();
    assert!(no.headers().get("access-control-allow-origin").is_none());
    app.stop().await;

    let closed = TestApp::spawn(Db::Sqlite).await;
    let res = closed
        .anonymous(Method::GET, "/healthz")
        .header("origin", "https://shop.example.com")
        .send()
        .await
        .unwrap();
    assert!(
        res.headers().get("access-control-allow-origin").is_none(),
        "no origins by default"
    );
    closed.stop().await;
}
