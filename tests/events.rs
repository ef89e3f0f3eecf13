//! The outbox: every event reaches the feed exactly once, in an order that never
//! changes, though writers take no lock and commit in any order.

use std::collections::HashSet;
use std::time::Duration;

use ordercrm_tests::{Engine, TestApp, postgres_available};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, Statement, TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

/// What a reader following the feed has seen: event ids in the order it read them.
async fn follow(db: &DatabaseConnection, seen: &mut Vec<Uuid>, last: &mut i64) {
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT id, position FROM events WHERE position > $1 ORDER BY position LIMIT 100",
            [(*last).into()],
        ))
        .await
        .unwrap();
    for row in rows {
        seen.push(row.try_get_by_index::<Uuid>(0).unwrap());
        *last = row.try_get_by_index::<i64>(1).unwrap();
    }
}

/// An event written by a transaction the test holds open: it takes its transaction
/// id now and commits when the test says.
async fn open_writer(db: &DatabaseConnection) -> (DatabaseTransaction, Uuid) {
    let txn = db.begin().await.unwrap();
    let id = Uuid::now_v7();
    txn.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        "INSERT INTO events (id, event_type, resource_type, resource_id, resource_version, \
         payload, actor, created_at) \
         VALUES ($1, 'setting.updated', 'setting', 'held', 1, '{}'::jsonb, 'test', now())",
        [id.into()],
    ))
    .await
    .unwrap();
    (txn, id)
}

async fn create_setting(app: &TestApp, key: &str) -> Uuid {
    let res = app
        .post("/v1/settings", &json!({"key": key, "value": 1}))
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let rows = app
        .raw_db()
        .await
        .query_all_raw(Statement::from_sql_and_values(
            sea_orm::DatabaseBackend::Postgres,
            "SELECT id FROM events WHERE resource_id = $1",
            [key.into()],
        ))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    rows[0].try_get_by_index::<Uuid>(0).unwrap()
}

async fn metric(app: &TestApp, name: &str) -> f64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

/// Two transactions write an event early and commit late (the second before the
/// first); requests write and commit events in between. A reader polling the feed
/// all along sees none of them skipped or repeated, and the order it saw is the
/// order the feed keeps. Meanwhile the lag is visible in `/metrics`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn feed_never_skips_an_event_that_commits_late() {
    if !postgres_available().await {
        return;
    }
    let app = TestApp::spawn(Engine::Postgres).await;
    let db = app.raw_db().await;
    let reader_db = app.raw_db().await;
    // What the setup wrote (the admin user) reaches the feed first.
    let sequenced = "SELECT COUNT(*) FROM events WHERE position IS NOT NULL";
    let base = app.count("SELECT COUNT(*) FROM events").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while app.count(sequenced).await < base {
        assert!(tokio::time::Instant::now() < deadline, "feed stalled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (stop_reading, mut stopped) = tokio::sync::watch::channel(false);
    let reader = tokio::spawn(async move {
        let (mut seen, mut last) = (Vec::new(), base);
        loop {
            follow(&reader_db, &mut seen, &mut last).await;
            if *stopped.borrow() {
                // One more read after everything committed and was sequenced.
                follow(&reader_db, &mut seen, &mut last).await;
                return seen;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(15)) => {}
                _ = stopped.changed() => {}
            }
        }
    });

    let mut written = Vec::new();
    let (early, early_id) = open_writer(&db).await;
    for i in 0..3 {
        written.push(create_setting(&app, &format!("first_{i}")).await);
    }
    let (middle, middle_id) = open_writer(&db).await;
    for i in 0..3 {
        written.push(create_setting(&app, &format!("second_{i}")).await);
    }
    // Writers did not wait for the open transactions (no global lock), but nothing
    // after the oldest open one may reach the feed yet.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        app.count(sequenced).await,
        base,
        "an event after an open transaction was sequenced"
    );
    assert!(metric(&app, "ordercrm_outbox_unsequenced_events").await >= 6.0);
    middle.commit().await.unwrap();
    for i in 0..2 {
        written.push(create_setting(&app, &format!("third_{i}")).await);
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        app.count(sequenced).await,
        base,
        "the oldest open transaction holds the feed back"
    );
    early.commit().await.unwrap();
    written.push(early_id);
    written.push(middle_id);

    // Everything reaches the feed.
    let all = base + i64::try_from(written.len()).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while app.count(sequenced).await < all {
        assert!(tokio::time::Instant::now() < deadline, "feed stalled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop_reading.send(true).unwrap();
    let seen = reader.await.unwrap();

    let unique: HashSet<Uuid> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "an event was read twice");
    assert_eq!(unique, written.iter().copied().collect(), "events missing");
    // The order the reader saw is the feed's order now, with no gaps.
    let rows = db
        .query_all_raw(Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            format!("SELECT id, position FROM events WHERE position > {base} ORDER BY position"),
        ))
        .await
        .unwrap();
    let order: Vec<Uuid> = rows
        .iter()
        .map(|r| r.try_get_by_index::<Uuid>(0).unwrap())
        .collect();
    let positions: Vec<i64> = rows
        .iter()
        .map(|r| r.try_get_by_index::<i64>(1).unwrap())
        .collect();
    assert_eq!(order, seen);
    assert_eq!(positions, (base + 1..=all).collect::<Vec<_>>());
    // Oldest transaction first.
    assert_eq!(seen[0], early_id);
    assert_eq!(
        metric(&app, "ordercrm_outbox_unsequenced_events").await,
        0.0
    );
    app.stop().await;
}
