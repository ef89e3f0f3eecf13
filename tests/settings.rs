//! `/v1/settings`: the demonstration resource for validation, ETags, filters,
//! cursor pagination and the outbox.

use chrono::Duration;
use futures_util::future::join_all;
use ordercrm_tests::{Engine, TestApp, both_engines, problem};
use reqwest::Method;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

both_engines!(
    create_read_update_delete_with_events,
    invalid_input_names_the_field_and_changes_nothing,
    stale_if_match_is_412,
    concurrent_edits_with_one_etag_let_exactly_one_through,
    cursor_pagination_walks_every_row_once,
    filters_and_search,
);

async fn events(app: &TestApp) -> Vec<(i64, String, String, i64)> {
    let db = app.raw_db().await;
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT seq, event_type, resource_id, resource_version FROM events \
             WHERE resource_type = 'setting' ORDER BY seq",
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| {
            (
                r.try_get::<i64>("", "seq").unwrap(),
                r.try_get::<String>("", "event_type").unwrap(),
                r.try_get::<String>("", "resource_id").unwrap(),
                r.try_get::<i64>("", "resource_version").unwrap(),
            )
        })
        .collect()
}

async fn create_read_update_delete_with_events(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let res = app
        .post(
            "/v1/settings",
            &json!({"key": "order_number_prefix", "value": "SO-", "description": "Sales orders"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(
        res.headers()["location"],
        "/v1/settings/order_number_prefix"
    );
    assert_eq!(res.headers()["etag"], "\"1\"");
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["value"], "SO-");
    assert_eq!(created["version"], 1);
    assert_eq!(
        created["created_at"], "2026-11-23T08:00:00Z",
        "timestamps come from the server clock"
    );

    let res = app.get("/v1/settings/order_number_prefix").await;
    assert_eq!(res.headers()["etag"], "\"1\"");
    assert_eq!(res.json::<Value>().await.unwrap(), created);

    app.clock.advance(Duration::minutes(5));
    let res = app
        .request(Method::PATCH, "/v1/settings/order_number_prefix")
        .header("if-match", "\"1\"")
        .json(&json!({"value": "SO2026-", "description": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["etag"], "\"2\"");
    let updated: Value = res.json().await.unwrap();
    assert_eq!(updated["value"], "SO2026-");
    assert_eq!(updated["description"], Value::Null);
    assert_eq!(updated["updated_at"], "2026-11-23T08:05:00Z");
    assert_eq!(updated["created_at"], "2026-11-23T08:00:00Z");

    let dup = app
        .post(
            "/v1/settings",
            &json!({"key": "order_number_prefix", "value": "X-"}),
        )
        .await;
    let body = problem(dup, 409).await;
    assert_eq!(body["type"], "/problems/already-exists");
    assert_eq!(body["existing"]["href"], "/v1/settings/order_number_prefix");

    let res = app
        .request(Method::DELETE, "/v1/settings/order_number_prefix")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    problem(app.get("/v1/settings/order_number_prefix").await, 404).await;
    let res = app
        .request(Method::DELETE, "/v1/settings/order_number_prefix")
        .send()
        .await
        .unwrap();
    problem(res, 404).await;

    let evts = events(&app).await;
    let kinds: Vec<_> = evts
        .iter()
        .map(|e| (e.1.as_str(), e.2.as_str(), e.3))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("setting.created", "order_number_prefix", 1),
            ("setting.updated", "order_number_prefix", 2),
            ("setting.deleted", "order_number_prefix", 3),
        ]
    );
    assert!(evts.windows(2).all(|w| w[0].0 < w[1].0), "seq is monotonic");
    app.stop().await;
}

async fn invalid_input_names_the_field_and_changes_nothing(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let cases = [
        (json!({"key": "Bad Key", "value": 1}), "key", "pattern"),
        (
            json!({"key": "default_currency", "value": "RMB"}),
            "value",
            "invalid_currency",
        ),
        (
            json!({"key": "default_currency", "value": 156}),
            "value",
            "invalid_currency",
        ),
        (
            json!({"key": "base_currency", "value": "usd"}),
            "value",
            "invalid_currency",
        ),
        (
            json!({"key": "prices_include_tax", "value": "yes"}),
            "value",
            "invalid_flag",
        ),
        (
            json!({"key": "order_number_prefix", "value": "so-"}),
            "value",
            "invalid_prefix",
        ),
        (
            json!({"key": "company_name", "value": "   "}),
            "value",
            "invalid_company_name",
        ),
        (
            json!({"key": "ui.theme", "value": null}),
            "value",
            "required",
        ),
        (
            json!({"key": "ui.blob", "value": "x".repeat(9000)}),
            "value",
            "length",
        ),
        (
            json!({"key": "ui.theme", "value": 1, "description": "d".repeat(501)}),
            "description",
            "length",
        ),
    ];
    for (body, field, code) in cases {
        let res = app.post("/v1/settings", &body).await;
        let p = problem(res, 400).await;
        assert_eq!(p["type"], "/problems/validation");
        assert!(
            p["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["field"] == field && e["code"] == code),
            "{body}: {p}"
        );
    }
    // Several problems at once are all reported.
    let p = problem(
        app.post(
            "/v1/settings",
            &json!({"key": "Bad", "value": null, "description": "d".repeat(501)}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(p["errors"].as_array().unwrap().len(), 3, "{p}");

    app.post(
        "/v1/settings",
        &json!({"key": "default_currency", "value": "CNY"}),
    )
    .await;
    let res = app
        .patch("/v1/settings/default_currency", &json!({"value": "ZZZ"}))
        .await;
    assert_eq!(problem(res, 400).await["errors"][0]["field"], "value");
    let res = app
        .patch("/v1/settings/default_currency", &json!({"version": 9}))
        .await;
    assert_eq!(
        problem(res, 400).await["errors"][0]["code"],
        "unknown_field"
    );

    let current: Value = app
        .get("/v1/settings/default_currency")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(current["value"], "CNY");
    assert_eq!(current["version"], 1);
    assert_eq!(
        events(&app).await.len(),
        1,
        "only the valid create wrote an event"
    );
    app.stop().await;
}

async fn stale_if_match_is_412(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.post(
        "/v1/settings",
        &json!({"key": "company_name", "value": "Acme"}),
    )
    .await;
    let edit = |etag: &'static str, name: &'static str| {
        app.request(Method::PATCH, "/v1/settings/company_name")
            .header("if-match", etag)
            .json(&json!({"value": name}))
            .send()
    };
    assert_eq!(edit("\"1\"", "Acme Ltd").await.unwrap().status(), 200);
    let p = problem(edit("\"1\"", "Acme GmbH").await.unwrap(), 412).await;
    assert_eq!(p["type"], "/problems/precondition-failed");
    let current: Value = app
        .get("/v1/settings/company_name")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        current["value"], "Acme Ltd",
        "the stale write changed nothing"
    );
    // `"value": null` is refused, not read as "leave it": a silent no-op would tell
    // the client its null was stored.
    let res = app
        .request(Method::PATCH, "/v1/settings/company_name")
        .json(&json!({"value": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(res, 400).await["errors"][0]["code"], "required");

    // If-None-Match with the current ETag: 304, no body.
    let res = app
        .request(Method::GET, "/v1/settings/company_name")
        .header("if-none-match", "\"2\"")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 304);
    let res = app
        .request(Method::GET, "/v1/settings/company_name")
        .header("if-none-match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let res = app
        .request(Method::DELETE, "/v1/settings/company_name")
        .header("if-match", "\"1\"")
        .send()
        .await
        .unwrap();
    problem(res, 412).await;
    assert_eq!(app.get("/v1/settings/company_name").await.status(), 200);
    app.stop().await;
}

async fn concurrent_edits_with_one_etag_let_exactly_one_through(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.post("/v1/settings", &json!({"key": "counter", "value": 0}))
        .await;
    let attempts = (0..16).map(|i| {
        app.request(Method::PATCH, "/v1/settings/counter")
            .header("if-match", "\"1\"")
            .json(&json!({"value": i + 1}))
            .send()
    });
    let results = join_all(attempts).await;
    let statuses: Vec<u16> = results
        .iter()
        .map(|r| r.as_ref().unwrap().status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 412).count(),
        15,
        "{statuses:?}"
    );
    for r in results {
        let r = r.unwrap();
        if r.status() == 412 {
            problem(r, 412).await;
        }
    }
    let current: Value = app.get("/v1/settings/counter").await.json().await.unwrap();
    assert_eq!(current["version"], 2);
    assert_eq!(events(&app).await.len(), 2, "one create, one update");
    app.stop().await;
}

async fn collect_keys(app: &TestApp, query: &str) -> (Vec<String>, usize) {
    let mut keys = Vec::new();
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("/v1/settings?{query}&cursor={c}"),
            None => format!("/v1/settings?{query}"),
        };
        let page: Value = app.get(&url).await.json().await.unwrap();
        pages += 1;
        for row in page["data"].as_array().unwrap() {
            keys.push(row["key"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => {
                assert_eq!(page["has_more"], true);
                cursor = Some(c.to_owned());
            }
            None => {
                assert_eq!(page["has_more"], false);
                break;
            }
        }
    }
    (keys, pages)
}

async fn cursor_pagination_walks_every_row_once(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    for i in 0..25 {
        // Two settings per clock tick, so updated_at ties and the key breaks them.
        if i % 2 == 0 {
            app.clock.advance(Duration::seconds(1));
        }
        let res = app
            .post(
                "/v1/settings",
                &json!({"key": format!("k.{i:02}"), "value": i}),
            )
            .await;
        assert_eq!(res.status(), 201);
    }
    let (keys, pages) = collect_keys(&app, "limit=10").await;
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..25).map(|i| format!("k.{i:02}")).collect();
    assert_eq!(keys, expected);

    let (keys, _) = collect_keys(&app, "limit=7&sort=-key").await;
    assert_eq!(keys, expected.iter().rev().cloned().collect::<Vec<_>>());

    let (keys, _) = collect_keys(&app, "limit=4&sort=-updated_at").await;
    let mut by_time = expected.clone();
    by_time.sort_by_key(|k| std::cmp::Reverse(k.clone()));
    assert_eq!(keys, by_time, "newest first, key descending within a tick");
    let (keys, _) = collect_keys(&app, "limit=3&sort=updated_at").await;
    assert_eq!(keys, expected);

    // A cursor stays valid while rows are inserted: the next page continues after
    // the last row seen, and a row inserted before it does not shift the page.
    let first: Value = app.get("/v1/settings?limit=10").await.json().await.unwrap();
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    app.post("/v1/settings", &json!({"key": "k.00a", "value": 0}))
        .await;
    let second: Value = app
        .get(&format!("/v1/settings?limit=10&cursor={cursor}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(second["data"][0]["key"], "k.10");

    let p = problem(
        app.get(&format!("/v1/settings?sort=-key&cursor={cursor}"))
            .await,
        400,
    )
    .await;
    assert_eq!(p["errors"][0]["code"], "cursor_sort_mismatch");
    let p = problem(app.get("/v1/settings?cursor=garbage").await, 400).await;
    assert_eq!(p["errors"][0]["field"], "cursor");
    let p = problem(app.get("/v1/settings?limit=201").await, 400).await;
    assert_eq!(p["errors"][0]["field"], "limit");
    app.stop().await;
}

async fn filters_and_search(engine: Engine) {
    let mut app = TestApp::spawn(engine).await;
    for (key, description) in [
        ("company_name_alt", "Legal name of 张伟's company"),
        ("ui.theme", "Dark MODE for the shop"),
        ("ui.lang", "Interface language"),
        ("percent_off", "Discount in 100% units"),
    ] {
        let res = app
            .post(
                "/v1/settings",
                &json!({"key": key, "value": 1, "description": description}),
            )
            .await;
        assert_eq!(res.status(), 201);
        if key == "company_name_alt" {
            app.clock.advance(Duration::hours(1));
            app.relogin().await;
        }
    }

    let keys = |v: Value| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["key"].as_str().unwrap().to_owned())
            .collect()
    };
    let appref = &app;
    let get = |q: &'static str| async move {
        appref
            .get(&format!("/v1/settings?{q}"))
            .await
            .json::<Value>()
            .await
            .unwrap()
    };
    assert_eq!(
        keys(get("q=%E4%BC%9F").await),
        vec!["company_name_alt"],
        "q=伟 finds 张伟"
    );
    assert_eq!(
        keys(get("q=mode").await),
        vec!["ui.theme"],
        "case-insensitive"
    );
    assert_eq!(
        keys(get("q=THEME").await),
        vec!["ui.theme"],
        "matches keys too"
    );
    assert_eq!(
        keys(get("key_prefix=ui.").await),
        vec!["ui.lang", "ui.theme"]
    );
    assert_eq!(
        keys(get("q=100%25").await),
        vec!["percent_off"],
        "% is literal"
    );
    assert_eq!(
        keys(get("q=_").await).len(),
        2,
        "_ is literal: company_name_alt, percent_off"
    );
    assert_eq!(
        keys(get("updated_after=2026-11-23T08:30:00Z").await),
        vec!["percent_off", "ui.lang", "ui.theme"]
    );
    assert_eq!(
        keys(get("updated_before=2026-11-23T08:30:00Z").await),
        vec!["company_name_alt"]
    );
    let p = problem(app.get("/v1/settings?updated_after=yesterday").await, 400).await;
    assert_eq!(p["errors"][0]["field"], "updated_after");
    app.stop().await;
}
