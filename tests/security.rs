//! Regression tests for the first security review (issue 9), one or more per defect,
//! named after it. Races are shown with the server's hook points (`TestApp::probe`),
//! never by hoping two requests interleave.

use std::time::Duration as StdDuration;

use chrono::Duration;
use futures_util::future::join_all;
use ordercrm_tests::{ADMIN_EMAIL, Engine, PASSWORD, TestApp, both_engines, problem};
use reqwest::Method;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

both_engines!(
    idempotency_store_keeps_no_secrets,
    idempotent_change_and_its_answer_commit_together,
    duplicate_waits_for_the_first_and_replays,
    duplicate_still_running_after_the_wait_is_409,
    import_above_the_json_limit_takes_a_key,
    overlong_email_is_refused_before_any_limiter,
    refused_source_charges_nothing_else,
    wrong_passwords_make_only_their_source_wait,
    unknown_email_is_answered_like_a_known_one,
    concurrent_guesses_get_at_most_the_allowed_checks,
    wrong_current_password_counts_like_a_sign_in,
    admins_unlock_an_account,
    anonymous_requests_store_nothing,
    forwarded_for_counts_only_from_trusted_proxies,
    made_up_credentials_count_against_the_address,
    nul_characters_are_refused_not_stored,
    retry_with_another_precondition_is_another_request,
);

/// A server whose clients can be told apart by `X-Forwarded-For` (the test client is
/// the trusted proxy).
async fn behind_proxy(engine: Engine) -> TestApp {
    TestApp::spawn_with(engine, |c| {
        c.trusted_proxies = ordercrm_api::client_addr::parse_trusted("127.0.0.1/32").unwrap();
    })
    .await
}

async fn sign_in_from(
    app: &TestApp,
    source: &str,
    email: &str,
    password: &str,
) -> reqwest::Response {
    app.anonymous(Method::POST, "/v1/auth/token")
        .header("x-forwarded-for", source)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

/// Defect 1: tokens, key secrets and unmasked tax ids sent with an Idempotency-Key
/// ended up in `idempotency_keys`.
async fn idempotency_store_keeps_no_secrets(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let mut secrets = Vec::new();

    // Sign-in and refresh are anonymous: nothing is kept, so a retried refresh is a
    // second use of the token (and revokes it), never a replay of the first pair.
    let signed_in = app
        .anonymous(Method::POST, "/v1/auth/token")
        .header("idempotency-key", "sign-in-1")
        .json(&json!({"email": ADMIN_EMAIL, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 200);
    assert_eq!(signed_in.headers()["cache-control"], "no-store");
    let tokens: Value = signed_in.json().await.unwrap();
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();
    secrets.push(tokens["access_token"].as_str().unwrap().to_owned());
    secrets.push(refresh_token.clone());
    let refresh = || {
        app.anonymous(Method::POST, "/v1/auth/refresh")
            .header("idempotency-key", "refresh-1")
            .json(&json!({"refresh_token": refresh_token}))
            .send()
    };
    let first = refresh().await.unwrap();
    assert_eq!(first.status(), 200);
    let pair: Value = first.json().await.unwrap();
    secrets.push(pair["access_token"].as_str().unwrap().to_owned());
    secrets.push(pair["refresh_token"].as_str().unwrap().to_owned());
    let again = refresh().await.unwrap();
    assert!(again.headers().get("idempotent-replayed").is_none());
    problem(again, 401).await;

    // A new key's secret: the retry learns where the key is, not its secret, and no
    // second key is made.
    let create_key = || {
        app.request(Method::POST, "/v1/api-keys")
            .header("idempotency-key", "key-1")
            .json(&json!({"name": "Shop", "kind": "ecommerce", "scopes": ["settings:read"]}))
            .send()
    };
    let created = create_key().await.unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(created.headers()["cache-control"], "no-store");
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let key: Value = created.json().await.unwrap();
    secrets.push(key["secret"].as_str().unwrap().to_owned());
    let retry = create_key().await.unwrap();
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(retry.headers()["location"], location.as_str());
    let body = problem(retry, 409).await;
    assert_eq!(body["type"], "/problems/idempotency-response-withheld");
    assert_eq!(body["original_status"], 201);
    assert_eq!(body["location"], location.as_str());
    let keys: Value = app.get("/v1/api-keys").await.json().await.unwrap();
    assert_eq!(keys["data"].as_array().unwrap().len(), 1, "created once");

    // An admin sees tax ids unmasked: that answer is not kept either.
    let tax_id = "91310000MA1FL1234X";
    let create_customer = || {
        app.request(Method::POST, "/v1/customers")
            .header("idempotency-key", "customer-1")
            .json(&json!({"kind": "company", "name": "Acme", "tax_id": tax_id}))
            .send()
    };
    let created = create_customer().await.unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(created.headers()["cache-control"], "no-store");
    let customer: Value = created.json().await.unwrap();
    assert_eq!(customer["tax_id"], tax_id);
    let retry = create_customer().await.unwrap();
    assert_eq!(
        problem(retry, 409).await["type"],
        "/problems/idempotency-response-withheld"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM customers").await, 1);
    secrets.push(tax_id.to_owned());

    // A 400 may quote what was sent (here a tax id sent as a number): not kept, and a
    // corrected retry may use the same key.
    let typo = app
        .request(Method::POST, "/v1/customers")
        .header("idempotency-key", "customer-2")
        .json(&json!({"kind": "company", "name": "Typo", "tax_id": 987_654_321_012_u64}))
        .send()
        .await
        .unwrap();
    assert!(
        problem(typo, 400).await["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("987654321012")
    );
    let fixed = app
        .request(Method::POST, "/v1/customers")
        .header("idempotency-key", "customer-2")
        .json(&json!({"kind": "company", "name": "Typo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(fixed.status(), 201);
    secrets.push("987654321012".to_owned());

    // An answer without secrets is still kept and replayed.
    let settings = || {
        app.request(Method::POST, "/v1/settings")
            .header("idempotency-key", "setting-1")
            .json(&json!({"key": "company_name", "value": "Acme"}))
            .send()
    };
    assert_eq!(settings().await.unwrap().status(), 201);
    let replay = settings().await.unwrap();
    assert_eq!(replay.status(), 201);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");

    let stored = ordercrm_tests::everything_stored(&app).await;
    for secret in &secrets {
        assert!(
            !stored.contains(secret.as_str()),
            "{secret} is stored in the database"
        );
    }
    assert!(stored.contains("company_name"), "the dump is real");
    app.stop().await;
}

/// Defect 2: the answer was recorded after the change committed, so a crash in between
/// let a retry run the request a second time.
async fn idempotent_change_and_its_answer_commit_together(engine: Engine) {
    let mut app = TestApp::spawn(engine).await;
    let held = app.probe.hold("idempotency.before_commit");
    let body = json!({"kind": "person", "name": "Once Only"});
    let first = {
        let request = app
            .request(Method::POST, "/v1/customers")
            .header("idempotency-key", "crash-1")
            .json(&body);
        tokio::spawn(request.send())
    };
    held.reached().await;
    // The process dies between the command and the commit of its answer.
    app.crash_and_restart().await;
    assert!(
        first.await.unwrap().is_err(),
        "the first request got no answer"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM customers").await, 0);

    let retry = app
        .request(Method::POST, "/v1/customers")
        .header("idempotency-key", "crash-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(retry.status(), 201, "the key was not left claimed");
    assert!(retry.headers().get("idempotent-replayed").is_none());
    let again = app
        .request(Method::POST, "/v1/customers")
        .header("idempotency-key", "crash-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(app.count("SELECT COUNT(*) FROM customers").await, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM events WHERE event_type = 'customer.created'")
            .await,
        1
    );
    app.stop().await;
}

/// Defect 2: a duplicate that arrives while the first request runs waits for it and
/// replays its answer.
async fn duplicate_waits_for_the_first_and_replays(engine: Engine) {
    let app = TestApp::spawn_with(engine, |c| {
        c.limits.idempotency_wait = StdDuration::from_secs(20);
    })
    .await;
    let held = app.probe.hold("idempotency.claimed");
    let send = || {
        app.request(Method::POST, "/v1/customers")
            .header("idempotency-key", "dup-1")
            .json(&json!({"kind": "person", "name": "Wait For Me"}))
            .send()
    };
    let first = tokio::spawn(send());
    held.reached().await;
    let second = tokio::spawn(send());
    // The second is now waiting on the key (PostgreSQL) or the writer (SQLite).
    tokio::time::sleep(StdDuration::from_millis(300)).await;
    assert!(!second.is_finished(), "the duplicate waits");
    held.release();
    let first = first.await.unwrap().unwrap();
    let second = second.await.unwrap().unwrap();
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    assert_eq!(second.status(), 201);
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    assert_eq!(second.headers()["location"], first.headers()["location"]);
    assert_eq!(app.count("SELECT COUNT(*) FROM customers").await, 1);
    app.stop().await;
}

/// Defect 2: ... or is told 409 when the first is still running after the wait.
async fn duplicate_still_running_after_the_wait_is_409(engine: Engine) {
    let app = TestApp::spawn_with(engine, |c| {
        c.limits.idempotency_wait = StdDuration::from_millis(300);
    })
    .await;
    let held = app.probe.hold("idempotency.claimed");
    let send = || {
        app.request(Method::POST, "/v1/customers")
            .header("idempotency-key", "slow-1")
            .json(&json!({"kind": "person", "name": "Slow"}))
            .send()
    };
    let first = tokio::spawn(send());
    held.reached().await;
    let second = send().await.unwrap();
    assert_eq!(second.headers()["retry-after"], "1");
    assert_eq!(
        problem(second, 409).await["type"],
        "/problems/idempotency-in-flight"
    );
    held.release();
    assert_eq!(first.await.unwrap().unwrap().status(), 201);
    let third = send().await.unwrap();
    assert_eq!(third.headers()["idempotent-replayed"], "true");
    assert_eq!(app.count("SELECT COUNT(*) FROM customers").await, 1);
    app.stop().await;
}

/// Defect 2: the request was hashed from a body read whole within the JSON limit, so
/// an import larger than that could not carry a key.
async fn import_above_the_json_limit_takes_a_key(engine: Engine) {
    let app = TestApp::spawn_with(engine, |c| c.max_body_bytes = 16 * 1024).await;
    let mut csv = String::from("kind,name,email\n");
    let mut rows = 0;
    while csv.len() <= 48 * 1024 {
        rows += 1;
        csv.push_str(&format!("person,Customer {rows},c{rows}@example.com\n"));
    }
    let import = || {
        app.request(Method::POST, "/v1/customers/import")
            .header("idempotency-key", "import-1")
            .header("content-type", "text/csv")
            .body(csv.clone())
            .send()
    };
    let first = import().await.unwrap();
    assert_eq!(first.status(), 200);
    let report: Value = first.json().await.unwrap();
    assert_eq!(report["created"], rows);
    let again = import().await.unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap(), report);
    assert_eq!(app.count("SELECT COUNT(*) FROM customers").await, rows);

    // Only an upload may exceed the JSON limit, and a declared length beyond it is
    // refused before the body is read.
    let big = json!({"kind": "person", "name": "x".repeat(20 * 1024)});
    let res = app
        .request(Method::POST, "/v1/customers")
        .header("idempotency-key", "big-1")
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(res, 413).await["type"],
        "/problems/payload-too-large"
    );
    app.stop().await;
}

/// Audit of this fix: on SQLite a request with an unrelated key waiting for the
/// writer was told its key was "still being processed".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unrelated_keys_wait_for_the_writer_on_sqlite() {
    let app = TestApp::spawn_with(Engine::Sqlite, |c| {
        c.limits.idempotency_wait = StdDuration::from_millis(200);
    })
    .await;
    let held = app.probe.hold("idempotency.claimed");
    let send = |key: &'static str| {
        app.request(Method::POST, "/v1/customers")
            .header("idempotency-key", key)
            .json(&json!({"kind": "person", "name": key}))
            .send()
    };
    let first = tokio::spawn(send("writer-1"));
    held.reached().await;
    let second = tokio::spawn(send("writer-2"));
    tokio::time::sleep(StdDuration::from_millis(600)).await;
    assert!(
        !second.is_finished(),
        "waits for the writer, longer than the key wait"
    );
    held.release();
    assert_eq!(first.await.unwrap().unwrap().status(), 201);
    let second = second.await.unwrap().unwrap();
    assert_eq!(second.status(), 201);
    assert!(second.headers().get("idempotent-replayed").is_none());
    app.stop().await;
}

/// Defect 3: a 200 KB email was counted (and kept) by the per-account limiter.
async fn overlong_email_is_refused_before_any_limiter(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let audit_before = app.count("SELECT COUNT(*) FROM audit_events").await;
    let keys_before = app.rate_limits.sign_in.len();
    let email = format!("{}@example.com", "a".repeat(255 - 12));
    assert_eq!(email.len(), 255);
    let res = app
        .anonymous(Method::POST, "/v1/auth/token")
        .json(&json!({"email": email, "password": "whatever it is"}))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(res, 400).await["errors"][0]["field"], "email");
    assert_eq!(
        app.rate_limits.sign_in.len(),
        keys_before,
        "no sign-in limiter entry"
    );
    assert_eq!(
        app.rate_limits.sign_in.check("127.0.0.1").remaining,
        18,
        "not charged"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM sign_in_failures").await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events").await,
        audit_before
    );
    assert_eq!(
        app.probe.count("password.verify"),
        1,
        "only spawn()'s sign-in hashed"
    );
    app.stop().await;
}

/// Defect 3: the account was charged even when the source was refused, and a flood
/// of distinct keys grew the limiters without bound.
async fn refused_source_charges_nothing_else(engine: Engine) {
    let app = TestApp::spawn_with(engine, |c| {
        c.trusted_proxies = ordercrm_api::client_addr::parse_trusted("127.0.0.1/32").unwrap();
        c.limits.max_tracked_sources = 50;
    })
    .await;
    // One source: after its 20 sign-ins a minute it is refused before anything else.
    for i in 0..20 {
        let res = sign_in_from(
            &app,
            "198.51.100.1",
            &format!("u{i}@example.com"),
            "wrong password!",
        )
        .await;
        assert_eq!(res.status(), 401);
    }
    let hashes = app.probe.count("password.verify");
    let res = sign_in_from(
        &app,
        "198.51.100.1",
        "victim@example.com",
        "wrong password!",
    )
    .await;
    problem(res, 429).await;
    assert_eq!(app.probe.count("password.verify"), hashes, "no hash");
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM sign_in_failures WHERE email_normalized = 'victim@example.com'"
        )
        .await,
        0,
        "the account was not charged"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE CAST(changes AS TEXT) LIKE '%victim@example.com%'").await,
        0
    );

    // 1,000 sign-ins, each a new email from a new address: the limiters stay at their cap.
    let app_ref = &app;
    let results = join_all((0..1000).map(|i| {
        let app = app_ref;
        let source = format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256);
        async move {
            let res = sign_in_from(
                app,
                &source,
                &format!("flood{i}@example.com"),
                "wrong password!",
            )
            .await;
            res.status().as_u16()
        }
    }))
    .await;
    assert!(
        results.iter().all(|s| *s == 401 || *s == 429),
        "{results:?}"
    );
    assert!(
        app.rate_limits.sign_in.len() <= 50,
        "{}",
        app.rate_limits.sign_in.len()
    );
    assert!(
        app.rate_limits.anonymous.len() <= 50,
        "{}",
        app.rate_limits.anonymous.len()
    );
    let counted = app
        .count("SELECT COUNT(*) FROM sign_in_failures WHERE email_normalized LIKE 'flood%'")
        .await;
    let refused = results.iter().filter(|s| **s == 429).count();
    assert!(refused >= 900, "{refused} refused");
    assert_eq!(
        counted as usize,
        1000 - refused,
        "only attempts that got through are counted"
    );
    app.stop().await;
}

/// Defect 4: five wrong passwords from anywhere locked the account for everyone.
async fn wrong_passwords_make_only_their_source_wait(engine: Engine) {
    let app = behind_proxy(engine).await;
    app.user("target@example.com", "sales", None).await;
    for _ in 0..5 {
        let res = sign_in_from(
            &app,
            "203.0.113.66",
            "target@example.com",
            "guessing guessing",
        )
        .await;
        problem(res, 401).await;
    }
    // The attacker's address waits, even with the right password ...
    let res = sign_in_from(&app, "203.0.113.66", "target@example.com", PASSWORD).await;
    assert_eq!(res.headers()["retry-after"], "60");
    let body = problem(res, 429).await;
    assert_eq!(body["type"], "/problems/rate-limited");
    // ... the owner does not.
    let res = sign_in_from(&app, "198.51.100.20", "target@example.com", PASSWORD).await;
    assert_eq!(res.status(), 200);

    // The wait grows with each further failure.
    app.clock.advance(Duration::seconds(60));
    problem(
        sign_in_from(
            &app,
            "203.0.113.66",
            "target@example.com",
            "guessing again!",
        )
        .await,
        401,
    )
    .await;
    let res = sign_in_from(&app, "203.0.113.66", "target@example.com", PASSWORD).await;
    assert_eq!(res.headers()["retry-after"], "120");
    app.clock.advance(Duration::seconds(120));
    assert_eq!(
        sign_in_from(&app, "203.0.113.66", "target@example.com", PASSWORD)
            .await
            .status(),
        200,
        "the right password clears the count"
    );
    problem(
        sign_in_from(
            &app,
            "203.0.113.66",
            "target@example.com",
            "one more guess!",
        )
        .await,
        401,
    )
    .await;
    app.stop().await;
}

/// Defect 4: "locked" told an attacker the email exists.
async fn unknown_email_is_answered_like_a_known_one(engine: Engine) {
    let app = behind_proxy(engine).await;
    app.user("known@example.com", "sales", None).await;
    let mut answers = Vec::new();
    for email in ["known@example.com", "nobody@example.com"] {
        let mut seen = Vec::new();
        for _ in 0..6 {
            let res = sign_in_from(&app, "203.0.113.7", email, "guessing guessing").await;
            let status = res.status().as_u16();
            let retry = res
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            let mut body: Value = res.json().await.unwrap();
            body.as_object_mut().unwrap().remove("request_id");
            seen.push((status, retry, body));
        }
        answers.push(seen);
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0][5].0, 429);
    assert_eq!(answers[0][4].0, 401);
    app.stop().await;
}

/// Defect 4: every failure path runs exactly one hash; a burst of guesses gets no
/// more password checks than allowed.
async fn concurrent_guesses_get_at_most_the_allowed_checks(engine: Engine) {
    let app = behind_proxy(engine).await;
    let (inactive, _) = app.user("gone@example.com", "sales", None).await;
    app.request(Method::PATCH, &format!("/v1/users/{inactive}"))
        .json(&json!({"active": false}))
        .send()
        .await
        .unwrap();
    app.user("target@example.com", "sales", None).await;
    let hashes = || app.probe.count("password.verify");

    for (email, password) in [
        ("nobody@example.com", "guessing guessing"),
        ("target@example.com", "guessing guessing"),
        ("gone@example.com", PASSWORD),
    ] {
        let before = hashes();
        problem(sign_in_from(&app, "192.0.2.1", email, password).await, 401).await;
        assert_eq!(hashes() - before, 1, "{email}: one hash");
    }

    let before = hashes();
    let statuses: Vec<u16> = join_all((0..15).map(|_| async {
        sign_in_from(
            &app,
            "192.0.2.99",
            "target@example.com",
            "guessing guessing",
        )
        .await
        .status()
        .as_u16()
    }))
    .await;
    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert_eq!(checked, 5, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 10);
    assert_eq!(hashes() - before, 5, "refusals cost no hash");
    app.stop().await;
}

/// Defect 4: `POST /v1/me/password` let anyone holding a session guess the password
/// without limit.
async fn wrong_current_password_counts_like_a_sign_in(engine: Engine) {
    let app = behind_proxy(engine).await;
    let (_, token) = app.user("rep@example.com", "sales", None).await;
    let change = |current: &str| {
        app.request_as(&token, Method::POST, "/v1/me/password")
            .header("x-forwarded-for", "203.0.113.9")
            .json(&json!({"current_password": current, "new_password": "a brand new passphrase"}))
            .send()
    };
    for _ in 0..5 {
        let res = change("not my password").await.unwrap();
        let body = problem(res, 403).await;
        assert_eq!(body["type"], "/problems/wrong-password");
        assert_eq!(body["errors"][0]["code"], "mismatch");
    }
    let res = change(PASSWORD).await.unwrap();
    assert_eq!(res.headers()["retry-after"], "60");
    problem(res, 429).await;
    // One count for the account from that address, whichever door is knocked on.
    problem(
        sign_in_from(&app, "203.0.113.9", "rep@example.com", PASSWORD).await,
        429,
    )
    .await;
    assert_eq!(
        sign_in_from(&app, "198.51.100.3", "rep@example.com", PASSWORD)
            .await
            .status(),
        200
    );
    app.stop().await;
}

/// Defect 4: admins needed SQL to let a user back in.
async fn admins_unlock_an_account(engine: Engine) {
    let app = behind_proxy(engine).await;
    let (id, rep_token) = app.user("rep@example.com", "sales", None).await;
    for _ in 0..5 {
        sign_in_from(&app, "203.0.113.50", "rep@example.com", "guessing guessing").await;
    }
    problem(
        sign_in_from(&app, "203.0.113.50", "rep@example.com", PASSWORD).await,
        429,
    )
    .await;
    let res = app
        .request_as(&rep_token, Method::POST, &format!("/v1/users/{id}/unlock"))
        .send()
        .await
        .unwrap();
    problem(res, 403).await;
    let res = app
        .request(Method::POST, &format!("/v1/users/{id}/unlock"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["id"], id.as_str());
    assert_eq!(
        sign_in_from(&app, "203.0.113.50", "rep@example.com", PASSWORD)
            .await
            .status(),
        200
    );
    let unknown = uuid::Uuid::now_v7();
    problem(
        app.request(Method::POST, &format!("/v1/users/{unknown}/unlock"))
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    app.stop().await;
}

/// Defect 5: anonymous POSTs with a key wrote rows on any path, 404s included.
async fn anonymous_requests_store_nothing(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    for path in [
        "/v1/auth/token",
        "/v1/nowhere",
        "/v1/customers",
        "/v1/auth/logout",
    ] {
        let res = app
            .anonymous(Method::POST, path)
            .header("idempotency-key", "anon-1")
            .json(&json!({"email": "x@example.com", "password": "guessing guessing"}))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_client_error(), "{path}: {}", res.status());
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM idempotency_keys").await, 0);
    app.stop().await;
}

/// Defect 6: behind a proxy every caller was one source, and audit rows named the proxy.
async fn forwarded_for_counts_only_from_trusted_proxies(engine: Engine) {
    // Not trusted (the default): the header is ignored.
    let app = TestApp::spawn_with(engine, |c| c.anonymous_rate_limit_per_minute = 3).await;
    let app_ref = &app;
    let statuses: Vec<u16> = join_all((0..5).map(|i| async move {
        app_ref
            .anonymous(Method::GET, "/openapi.json")
            .header("x-forwarded-for", format!("203.0.113.{i}"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }))
    .await;
    // One source: spawn()'s sign-in spent one of its three.
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        3,
        "{statuses:?}"
    );
    for _ in 0..10 {
        assert_eq!(
            app.anonymous(Method::GET, "/healthz")
                .send()
                .await
                .unwrap()
                .status(),
            200,
            "health checks are never limited"
        );
    }
    app.request(Method::POST, "/v1/settings")
        .header("x-forwarded-for", "203.0.113.1")
        .json(&json!({"key": "ui.a", "value": 1}))
        .send()
        .await
        .unwrap();
    let audit: Value = app
        .get("/v1/audit-events?action=setting.create")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(audit["data"][0]["ip"], "127.0.0.1");
    app.stop().await;

    // Trusted: each forwarded client is its own source, and the audit names it.
    let app = TestApp::spawn_with(engine, |c| {
        c.anonymous_rate_limit_per_minute = 3;
        c.trusted_proxies = ordercrm_api::client_addr::parse_trusted("127.0.0.0/8").unwrap();
    })
    .await;
    for i in 0..5 {
        let res = app
            .anonymous(Method::GET, "/openapi.json")
            .header("x-forwarded-for", format!("6.6.6.6, 203.0.113.{i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    app.request(Method::POST, "/v1/settings")
        .header("x-forwarded-for", "203.0.113.1")
        .json(&json!({"key": "ui.a", "value": 1}))
        .send()
        .await
        .unwrap();
    let audit: Value = app
        .get("/v1/audit-events?action=setting.create")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(audit["data"][0]["ip"], "203.0.113.1");
    app.stop().await;
}

/// Defect 5: a garbage refresh token or sign-out opened the database's writer.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn garbage_refresh_and_logout_never_open_the_writer() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    // Hold SQLite's only write lock: anything that begins a write now waits.
    let mut opts = sea_orm::ConnectOptions::new(app.db.url.as_str());
    opts.max_connections(1);
    let blocker = sea_orm::Database::connect(opts).await.unwrap();
    blocker.execute_unprepared("BEGIN IMMEDIATE").await.unwrap();
    let well_formed = format!("ocrm_rt_{}", "A".repeat(43));
    for token in ["garbage", well_formed.as_str()] {
        let refresh = app
            .anonymous(Method::POST, "/v1/auth/refresh")
            .json(&json!({"refresh_token": token}))
            .timeout(StdDuration::from_secs(3))
            .send()
            .await
            .unwrap();
        problem(refresh, 401).await;
        let logout = app
            .anonymous(Method::POST, "/v1/auth/logout")
            .json(&json!({"refresh_token": token}))
            .timeout(StdDuration::from_secs(3))
            .send()
            .await
            .unwrap();
        assert_eq!(logout.status(), 204);
    }
    blocker.execute_unprepared("ROLLBACK").await.unwrap();
    app.stop().await;
}

/// Audit of this fix: a made-up credential skipped the per-address limit.
async fn made_up_credentials_count_against_the_address(engine: Engine) {
    let app = TestApp::spawn_with(engine, |c| c.anonymous_rate_limit_per_minute = 3).await;
    let mut statuses = Vec::new();
    for token in ["ocrm_live_madeup", "not.a.jwt", "ocrm_live_other"] {
        let res = app
            .request_as(token, Method::GET, "/v1/customers")
            .send()
            .await
            .unwrap();
        statuses.push(res.status().as_u16());
    }
    // spawn()'s sign-in spent one of the address's three.
    assert_eq!(statuses, vec![401, 401, 429]);
    app.stop().await;
}

/// Audit of this fix: a NUL character reached PostgreSQL, which cannot store it (500).
async fn nul_characters_are_refused_not_stored(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let res = app
        .anonymous(Method::POST, "/v1/auth/token")
        .header("content-type", "application/json")
        .body(r#"{"email": "ad\u0000min@example.com", "password": "whatever it is"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(res, 400).await["type"],
        "/problems/malformed-request"
    );
    let res = app
        .request(Method::POST, "/v1/customers")
        .header("content-type", "application/json")
        .body(r#"{"kind": "person", "name": "a\u0000b"}"#)
        .send()
        .await
        .unwrap();
    problem(res, 400).await;
    problem(app.get("/v1/customers?q=%00").await, 400).await;
    problem(app.get("/v1/settings/a%00b").await, 400).await;
    let res = app
        .request(Method::POST, "/v1/customers/import")
        .header("content-type", "text/csv")
        .body("kind,name\nperson,a\0b\n")
        .send()
        .await
        .unwrap();
    problem(res, 400).await;
    assert_eq!(app.count("SELECT COUNT(*) FROM customers").await, 0);
    app.stop().await;
}

/// Audit of this fix: a 412 was replayed to a retry that sent another `If-Match`.
async fn retry_with_another_precondition_is_another_request(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let created: Value = app
        .post(
            "/v1/customers",
            &json!({"kind": "person", "name": "Archived Soon"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let archive = |etag: &'static str| {
        app.request(
            Method::POST,
            &format!("/v1/customers/{}/archive", created["id"].as_str().unwrap()),
        )
        .header("idempotency-key", "arch-1")
        .header("if-match", etag)
        .send()
    };
    problem(archive("\"99\"").await.unwrap(), 412).await;
    let res = archive("\"1\"").await.unwrap();
    assert_eq!(
        problem(res, 422).await["type"],
        "/problems/idempotency-key-reused"
    );
    app.stop().await;
}
