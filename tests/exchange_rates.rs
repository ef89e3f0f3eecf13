//! `/v1/exchange-rates`: exact decimal rates per pair and effective day, the one in
//! force on a day, and who may publish them.

use futures_util::future::join_all;
use ordercrm_tests::{Engine, TestApp, both_engines, problem};
use reqwest::Method;
use serde_json::{Value, json};

both_engines!(
    publish_look_up_and_withdraw,
    bad_rates_are_refused_and_change_nothing,
    only_finance_and_admins_publish,
    concurrent_publications_of_one_day_make_one_rate,
);

fn rate(from: &str, to: &str, rate: &str, on: &str) -> Value {
    json!({"from": from, "to": to, "rate": rate, "effective_on": on})
}

async fn publish(app: &TestApp, body: &Value) -> Value {
    let res = app.post("/v1/exchange-rates", body).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    res.json().await.unwrap()
}

async fn effective(app: &TestApp, query: &str) -> reqwest::Response {
    app.get(&format!("/v1/exchange-rates/effective?{query}"))
        .await
}

async fn publish_look_up_and_withdraw(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let early = publish(&app, &rate("USD", "CNY", "7.10000", "2026-11-01")).await;
    assert_eq!(early["rate"], "7.1", "stored and shown canonically");
    let res = app
        .post(
            "/v1/exchange-rates",
            &rate("USD", "CNY", "7.2", "2026-11-20"),
        )
        .await;
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let late: Value = res.json().await.unwrap();
    assert_eq!(
        location,
        format!("/v1/exchange-rates/{}", late["id"].as_str().unwrap())
    );
    publish(&app, &rate("EUR", "CNY", "7.8", "2026-11-01")).await;

    for (on, expected) in [
        ("2026-11-01", "7.1"),
        ("2026-11-19", "7.1"),
        ("2026-11-20", "7.2"),
    ] {
        let res = effective(&app, &format!("from=USD&to=CNY&on={on}")).await;
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["rate"], expected, "on {on}");
    }
    // Without `on`: today (the test clock says 2026-11-23).
    let body: Value = effective(&app, "from=USD&to=CNY")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["id"], late["id"]);
    let p = problem(effective(&app, "from=USD&to=CNY&on=2026-10-31").await, 404).await;
    assert!(p["detail"].as_str().unwrap().contains("USD"), "{p}");
    problem(effective(&app, "from=CNY&to=USD").await, 404).await;
    let p = problem(effective(&app, "from=USD&to=USD").await, 400).await;
    assert_eq!(p["errors"][0]["code"], "same_currency");

    // One pair and day has one rate: the second is 409 and points at the first.
    let p = problem(
        app.post(
            "/v1/exchange-rates",
            &rate("USD", "CNY", "7.3", "2026-11-20"),
        )
        .await,
        409,
    )
    .await;
    assert_eq!(p["type"], "/problems/already-exists");
    assert_eq!(p["existing"]["href"], location.as_str());

    let page: Value = app
        .get("/v1/exchange-rates?from=USD&limit=1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["data"][0]["effective_on"], "2026-11-20");
    let next = page["next_cursor"].as_str().unwrap();
    let page: Value = app
        .get(&format!(
            "/v1/exchange-rates?from=USD&limit=1&cursor={next}"
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["data"][0]["effective_on"], "2026-11-01");
    assert_eq!(page["has_more"], false);

    // Withdrawn: the earlier rate is in force again.
    let res = app.request(Method::DELETE, &location).send().await.unwrap();
    assert_eq!(res.status(), 204);
    problem(app.get(&location).await, 404).await;
    let body: Value = effective(&app, "from=USD&to=CNY")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["rate"], "7.1");
    problem(
        app.request(Method::DELETE, &location).send().await.unwrap(),
        404,
    )
    .await;

    let created = app
        .count("SELECT COUNT(*) FROM events WHERE event_type = 'exchange_rate.created'")
        .await;
    let deleted = app
        .count("SELECT COUNT(*) FROM events WHERE event_type = 'exchange_rate.deleted'")
        .await;
    assert_eq!((created, deleted), (3, 1));
}

async fn bad_rates_are_refused_and_change_nothing(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    for (body, field) in [
        (rate("USD", "CNY", "0", "2026-11-01"), "rate"),
        (rate("USD", "CNY", "0.00000000001", "2026-11-01"), "rate"),
        (rate("USD", "CNY", "-7.1", "2026-11-01"), "rate"),
        (rate("USD", "CNY", "7e3", "2026-11-01"), "rate"),
        (rate("USD", "CNY", "1000000000", "2026-11-01"), "rate"),
        (rate("USD", "CNY", " 7.1", "2026-11-01"), "rate"),
        (rate("USD", "USD", "1", "2026-11-01"), "to"),
        (rate("USX", "CNY", "7.1", "2026-11-01"), "from"),
    ] {
        let p = problem(app.post("/v1/exchange-rates", &body).await, 400).await;
        assert_eq!(p["errors"][0]["field"], field, "{body}: {p}");
    }
    // A number where text belongs, and a date that is not one: malformed.
    for body in [
        json!({"from": "USD", "to": "CNY", "rate": 7.1, "effective_on": "2026-11-01"}),
        json!({"from": "USD", "to": "CNY", "rate": "7.1", "effective_on": "2026-02-30"}),
        json!({"from": "USD", "to": "CNY", "rate": "7.1", "effective_on": "2026-11-01", "x": 1}),
    ] {
        problem(app.post("/v1/exchange-rates", &body).await, 400).await;
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM exchange_rates").await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM events WHERE event_type LIKE 'exchange_rate.%'")
            .await,
        0
    );
}

async fn only_finance_and_admins_publish(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (_, finance) = app.user("finance@example.com", "finance", None).await;
    let (_, sales) = app.user("sales@example.com", "sales", None).await;
    let body = rate("USD", "CNY", "7.1", "2026-11-01");
    let res = app
        .request_as(&sales, Method::POST, "/v1/exchange-rates")
        .json(&body)
        .send()
        .await
        .unwrap();
    problem(res, 403).await;
    let res = app
        .request_as(&finance, Method::POST, "/v1/exchange-rates")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    let path = format!("/v1/exchange-rates/{}", created["id"].as_str().unwrap());
    // Everyone signed in reads them; only finance withdraws.
    let res = app
        .request_as(&sales, Method::GET, &path)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = app
        .request_as(&sales, Method::DELETE, &path)
        .send()
        .await
        .unwrap();
    problem(res, 403).await;
    // A key with settings:read reads, and cannot publish.
    let res = app
        .post(
            "/v1/api-keys",
            &json!({"name": "erp", "kind": "erp", "scopes": ["settings:read"]}),
        )
        .await;
    let key: Value = res.json().await.unwrap();
    let secret = key["secret"].as_str().unwrap();
    let res = app
        .request_as(
            secret,
            Method::GET,
            "/v1/exchange-rates/effective?from=USD&to=CNY&on=2026-11-02",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = app
        .request_as(secret, Method::POST, "/v1/exchange-rates")
        .json(&rate("USD", "CNY", "7.2", "2026-11-02"))
        .send()
        .await
        .unwrap();
    problem(res, 403).await;
    assert_eq!(app.count("SELECT COUNT(*) FROM exchange_rates").await, 1);
}

async fn concurrent_publications_of_one_day_make_one_rate(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let answers = join_all((0..10).map(|i| {
        let body = rate("USD", "CNY", &format!("7.{i}"), "2026-11-01");
        let req = app.request(Method::POST, "/v1/exchange-rates").json(&body);
        async move { req.send().await.unwrap().status().as_u16() }
    }))
    .await;
    assert_eq!(
        answers.iter().filter(|s| **s == 201).count(),
        1,
        "{answers:?}"
    );
    assert_eq!(
        answers.iter().filter(|s| **s == 409).count(),
        9,
        "{answers:?}"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM exchange_rates").await, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM events WHERE event_type = 'exchange_rate.created'")
            .await,
        1
    );
}
