//! `Idempotency-Key` on POST: replay, mismatch, in flight, per-caller scope, expiry.
//! (Crashes, waiting duplicates and secrets are in `security.rs`.)

use chrono::Duration;
use futures_util::future::join_all;
use ordercrm_tests::{Engine, TestApp, both_engines, problem};
use reqwest::Method;
use serde_json::{Value, json};

both_engines!(
    retry_replays_and_other_body_is_422,
    concurrent_retries_create_once,
    keys_expire_after_a_day,
);

fn post_with_key(app: &TestApp, key: &str, body: &Value) -> reqwest::RequestBuilder {
    app.request(Method::POST, "/v1/settings")
        .header("idempotency-key", key)
        .json(body)
}

async fn retry_replays_and_other_body_is_422(engine: Engine) {
    let mut app = TestApp::spawn(engine).await;
    let body = json!({"key": "company_name", "value": "Acme"});
    let first = post_with_key(&app, "k-1", &body).send().await.unwrap();
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first_location = first.headers()["location"].clone();
    let first_body = first.text().await.unwrap();

    app.clock.advance(Duration::hours(23));
    // A new access token, the same user: the key belongs to the user, not the token.
    app.relogin().await;
    let again = post_with_key(&app, "k-1", &body).send().await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.headers()["location"], first_location);
    assert_eq!(again.headers()["etag"], "\"1\"");
    assert_eq!(
        again.text().await.unwrap(),
        first_body,
        "byte-for-byte the first answer"
    );

    let other = post_with_key(
        &app,
        "k-1",
        &json!({"key": "company_name", "value": "Other"}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(
        problem(other, 422).await["type"],
        "/problems/idempotency-key-reused"
    );

    // Errors are answers too: a retried 409 replays as a 409.
    let dup = post_with_key(&app, "k-2", &body).send().await.unwrap();
    assert_eq!(dup.status(), 409);
    let dup_again = post_with_key(&app, "k-2", &body).send().await.unwrap();
    assert_eq!(dup_again.status(), 409);
    assert_eq!(dup_again.headers()["idempotent-replayed"], "true");
    assert_eq!(
        dup_again.headers()["content-type"],
        "application/problem+json"
    );

    // Another caller's identical key is theirs alone.
    let (_, other_admin) = app.user("second.admin@example.com", "admin", None).await;
    let other_caller = app
        .request_as(&other_admin, Method::POST, "/v1/settings")
        .header("idempotency-key", "k-1")
        .json(&json!({"key": "ui.x", "value": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(other_caller.status(), 201);
    assert!(other_caller.headers().get("idempotent-replayed").is_none());

    let bad = post_with_key(&app, "has spaces", &body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(bad, 400).await["errors"][0]["field"],
        "Idempotency-Key"
    );
    let long = "x".repeat(256);
    let bad = post_with_key(&app, &long, &body).send().await.unwrap();
    problem(bad, 400).await;

    assert_eq!(
        app.count("SELECT COUNT(*) FROM events WHERE event_type = 'setting.created'")
            .await,
        2
    );
    app.stop().await;
}

async fn concurrent_retries_create_once(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let body = json!({"key": "ui.banner", "value": "hello"});
    let results = join_all((0..24).map(|_| post_with_key(&app, "storm", &body).send())).await;
    let mut original = 0;
    let mut replayed = 0;
    let mut in_flight = 0;
    for res in results {
        let res = res.unwrap();
        match (
            res.status().as_u16(),
            res.headers().contains_key("idempotent-replayed"),
        ) {
            (201, false) => original += 1,
            (201, true) => replayed += 1,
            (409, false) => {
                assert_eq!(res.headers()["retry-after"], "1");
                assert_eq!(
                    problem(res, 409).await["type"],
                    "/problems/idempotency-in-flight"
                );
                in_flight += 1;
            }
            (status, _) => panic!("unexpected {status}"),
        }
    }
    assert_eq!(original, 1, "exactly one request ran");
    assert_eq!(original + replayed + in_flight, 24);
    assert_eq!(app.count("SELECT COUNT(*) FROM settings").await, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM events WHERE resource_type = 'setting'")
            .await,
        1
    );
    app.stop().await;
}

async fn keys_expire_after_a_day(engine: Engine) {
    let mut app = TestApp::spawn(engine).await;
    let body = json!({"key": "ui.a", "value": 1});
    assert_eq!(
        post_with_key(&app, "day", &body)
            .send()
            .await
            .unwrap()
            .status(),
        201
    );
    app.clock
        .advance(Duration::hours(24) + Duration::seconds(1));
    app.relogin().await;
    // Not replayed: the request runs again and meets the existing setting.
    let res = post_with_key(&app, "day", &body).send().await.unwrap();
    assert!(res.headers().get("idempotent-replayed").is_none());
    assert_eq!(problem(res, 409).await["type"], "/problems/already-exists");

    let purged = ordercrm_api::middleware::idempotency::purge_expired(
        &ordercrm_server::database::connect(&ordercrm_tests::test_config(app.db.url.clone()))
            .await
            .unwrap(),
        app.clock_now() + Duration::days(2),
    )
    .await
    .unwrap();
    assert_eq!(purged, 1);
    app.stop().await;
}
