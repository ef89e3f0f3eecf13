//! The customer-list benchmark: seed N customers straight into the database (the
//! import path would also write N audit rows and events, which is not what is
//! measured here), then time page 1, a deep page reached by cursor, and `q` searches.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, TimeZone, Utc};
use ordercrm_kernel::Cursor;
use sea_orm::{ConnectionTrait, Database, DatabaseBackend, Statement, Value};
use uuid::Uuid;

const SURNAMES: &[&str] = &[
    "张", "王", "李", "赵", "刘", "陈", "杨", "黄", "周", "吴", "徐", "孙", "马", "朱", "胡", "郭",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "强", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明", "超",
    "秀英", "华", "平", "刚",
];
const TAGS: &[&str] = &["vip", "east", "north", "wholesale", "retail", "new"];

pub async fn seed(url: &str, n: usize) -> anyhow::Result<(Duration, Vec<(DateTime<Utc>, Uuid)>)> {
    let db = Database::connect(url)
        .await
        .context("bench: connect to seed")?;
    let backend = db.get_database_backend();
    let start = Instant::now();
    let base = Utc
        .with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
        .single()
        .context("date")?;
    let mut keys = Vec::with_capacity(n);
    let columns = "id, number, kind, name, email, email_normalized, phone, phone_normalized, tags, marketing_consent, \
        attributes, archived, search_text, version, created_at, updated_at";
    let per_row = 16;
    let batch = 400;
    for chunk_start in (0..n).step_by(batch) {
        let rows = (chunk_start..(chunk_start + batch).min(n)).collect::<Vec<_>>();
        let mut values: Vec<Value> = Vec::with_capacity(rows.len() * per_row);
        let mut tuples = Vec::with_capacity(rows.len());
        for (j, &i) in rows.iter().enumerate() {
            let name = format!("{}{}", pick(SURNAMES, i), pick(GIVEN, i / SURNAMES.len()));
            let number = format!("C-{:06}", i + 1);
            let email = format!("customer{i}@example.com");
            let phone = format!("+86138{:08}", i);
            let tag = pick(TAGS, i);
            let created = base + chrono::Duration::seconds(i64::try_from(i)? * 7);
            let id = Uuid::now_v7();
            keys.push((created, id));
            let search = [
                name.as_str(),
                number.as_str(),
                email.as_str(),
                phone.as_str(),
                tag,
            ]
            .iter()
            .map(|s| s.to_lowercase())
            .collect::<Vec<_>>()
            .join("\u{1f}");
            values.extend([
                id.into(),
                number.clone().into(),
                "person".into(),
                name.into(),
                email.clone().into(),
                email.into(),
                phone.clone().into(),
                phone.into(),
                Value::Json(Some(Box::new(serde_json::json!([tag])))),
                false.into(),
                Value::Json(Some(Box::new(serde_json::json!({})))),
                false.into(),
                search.into(),
                1i64.into(),
                created.into(),
                created.into(),
            ]);
            let placeholders: Vec<String> = (0..per_row)
                .map(|k| match backend {
                    DatabaseBackend::Postgres => format!("${}", j * per_row + k + 1),
                    _ => "?".to_owned(),
                })
                .collect();
            tuples.push(format!("({})", placeholders.join(", ")));
        }
        let sql = format!(
            "INSERT INTO customers ({columns}) VALUES {}",
            tuples.join(", ")
        );
        db.execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    let counter = match backend {
        DatabaseBackend::Postgres => {
            "INSERT INTO counters (name, value) VALUES ('customer', $1) ON CONFLICT (name) DO UPDATE SET value = $1"
        }
        _ => {
            "INSERT INTO counters (name, value) VALUES ('customer', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value"
        }
    };
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        counter,
        [i64::try_from(n)?.into()],
    ))
    .await?;
    if backend == DatabaseBackend::Postgres {
        db.execute_unprepared("ANALYZE customers").await?;
    } else {
        db.execute_unprepared("ANALYZE").await?;
    }
    db.close().await?;
    // Newest first, the default order.
    keys.sort_by(|a, b| b.cmp(a));
    Ok((start.elapsed(), keys))
}

/// The cursor a client holds after reading `page - 1` pages of `limit`, newest first.
pub fn cursor_for_page(
    keys: &[(DateTime<Utc>, Uuid)],
    page: usize,
    limit: usize,
) -> Option<String> {
    let (created, id) = keys.get((page - 1) * limit - 1)?;
    Some(
        Cursor {
            sort: "-created_at".into(),
            key: vec![serde_json::json!(created), serde_json::json!(id)],
        }
        .encode(),
    )
}

/// The `i`th of a list, round and round.
fn pick<'a>(list: &[&'a str], i: usize) -> &'a str {
    list.get(i % list.len().max(1)).copied().unwrap_or_default()
}
