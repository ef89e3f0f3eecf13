//! The `idempotency_keys` table. A key is claimed by inserting its row inside the
//! request's own write transaction, and the response is written into that row before
//! the same commit: the change and its recorded answer exist together or not at all.
//! A duplicate that arrives meanwhile waits on the row (PostgreSQL's unique index, or
//! SQLite's single writer) and then finds the answer.

use chrono::{DateTime, Utc};
use ordercrm_kernel::Error;
use ordercrm_kernel::error::problems;
use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;
use sea_orm::{DatabaseBackend, DatabaseTransaction, EntityTrait, QueryFilter};

mod entity {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "idempotency_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub scope: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        pub request_hash: String,
        /// `claimed` (only ever seen inside the claiming transaction), `response`, or
        /// `withheld` (the answer carried a secret and was not kept).
        pub outcome: String,
        pub status_code: Option<i32>,
        pub response_headers: Option<Json>,
        pub response_body: Option<Vec<u8>>,
        pub created_at: DateTimeUtc,
        pub expires_at: DateTimeUtc,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

use entity::{COLUMN, Column, Entity};

const CLAIMED: &str = "claimed";
const RESPONSE: &str = "response";
const WITHHELD: &str = "withheld";

/// An answer to keep: status, the headers worth replaying, and the body (`None`
/// when it carried a secret).
#[derive(Debug, Clone)]
pub struct Stored {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

/// What the store holds for a key.
pub enum Found {
    Answer {
        fingerprint: String,
        stored: Stored,
    },
    /// Claimed by a transaction that has not finished: cannot be seen from outside
    /// it, so this only appears if something committed a bare claim.
    Unfinished,
}

/// The key's identity: whose it is and what it is.
#[derive(Debug, Clone)]
pub struct KeyRef {
    pub scope: String,
    pub key: String,
    pub fingerprint: String,
}

pub async fn find(
    conn: &impl ConnectionTrait,
    k: &KeyRef,
    now: DateTime<Utc>,
) -> Result<Option<Found>, Error> {
    let row = Entity::find_by_id((k.scope.clone(), k.key.clone()))
        .filter(COLUMN.expires_at.gt(now))
        .one(conn)
        .await?;
    Ok(row.map(|row| {
        if row.outcome == CLAIMED {
            return Found::Unfinished;
        }
        let stored = Stored {
            status: row
                .status_code
                .and_then(|s| u16::try_from(s).ok())
                .unwrap_or(200),
            headers: row
                .response_headers
                .and_then(|h| serde_json::from_value(h).ok())
                .unwrap_or_default(),
            body: if row.outcome == WITHHELD {
                None
            } else {
                Some(row.response_body.unwrap_or_default())
            },
        };
        Found::Answer {
            fingerprint: row.request_hash,
            stored,
        }
    }))
}

fn row(
    k: &KeyRef,
    outcome: &str,
    stored: Option<&Stored>,
    now: DateTime<Utc>,
    ttl: chrono::Duration,
) -> entity::ActiveModel {
    entity::ActiveModel {
        scope: Set(k.scope.clone()),
        key: Set(k.key.clone()),
        request_hash: Set(k.fingerprint.clone()),
        outcome: Set(outcome.to_owned()),
        status_code: Set(stored.map(|s| i32::from(s.status))),
        response_headers: Set(stored.map(|s| serde_json::to_value(&s.headers).unwrap_or_default())),
        response_body: Set(stored.and_then(|s| s.body.clone())),
        created_at: Set(now),
        expires_at: Set(now + ttl),
    }
}

/// Insert the row, or replace one that has expired; `false` when a live row holds
/// the key (its transaction committed first).
async fn upsert(
    conn: &impl ConnectionTrait,
    model: entity::ActiveModel,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let done = Entity::insert(model)
        .on_conflict(
            OnConflict::columns([COLUMN.scope, COLUMN.key])
                .update_columns([
                    Column::RequestHash,
                    Column::Outcome,
                    Column::StatusCode,
                    Column::ResponseHeaders,
                    Column::ResponseBody,
                    Column::CreatedAt,
                    Column::ExpiresAt,
                ])
                .action_and_where(COLUMN.expires_at.lte(now))
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(done == 1)
}

/// How a claim came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The key is this transaction's.
    Claimed,
    /// A request with the key committed its answer first.
    Answered,
    /// A request with the key was still running after the wait.
    StillRunning,
}

/// Claim the key inside `txn`. Waits at most `wait` for a transaction holding the
/// same key (PostgreSQL; on SQLite the writer was already ours).
pub async fn claim(
    txn: &DatabaseTransaction,
    k: &KeyRef,
    now: DateTime<Utc>,
    ttl: chrono::Duration,
    wait: std::time::Duration,
) -> Result<Claim, Error> {
    let pg = txn.get_database_backend() == DatabaseBackend::Postgres;
    if pg {
        txn.execute_unprepared(&format!(
            "SET LOCAL lock_timeout = {}",
            wait.as_millis().max(1)
        ))
        .await?;
    }
    let claimed = match upsert(txn, row(k, CLAIMED, None, now, ttl), now).await {
        Err(err) if pg && ordercrm_kernel::db::error_code(&err).as_deref() == Some("55P03") => {
            return Ok(Claim::StillRunning);
        }
        other => other?,
    };
    if !claimed {
        return Ok(Claim::Answered);
    }
    if pg {
        txn.execute_unprepared("SET LOCAL lock_timeout TO DEFAULT")
            .await?;
    }
    Ok(Claim::Claimed)
}

/// Put the answer into the row this transaction claimed.
pub async fn answer(txn: &DatabaseTransaction, k: &KeyRef, stored: &Stored) -> Result<(), Error> {
    Entity::update_many()
        .col_expr(
            COLUMN.outcome,
            Expr::value(if stored.body.is_some() {
                RESPONSE
            } else {
                WITHHELD
            }),
        )
        .col_expr(COLUMN.status_code, Expr::value(i32::from(stored.status)))
        .col_expr(
            COLUMN.response_headers,
            Expr::value(serde_json::to_value(&stored.headers).unwrap_or_default()),
        )
        .col_expr(COLUMN.response_body, Expr::value(stored.body.clone()))
        .filter(COLUMN.scope.eq(&k.scope))
        .filter(COLUMN.key.eq(&k.key))
        .exec(txn)
        .await?;
    Ok(())
}

/// Give up this transaction's claim: its answer is not one to keep.
pub async fn unclaim(txn: &DatabaseTransaction, k: &KeyRef) -> Result<(), Error> {
    Entity::delete_many()
        .filter(COLUMN.scope.eq(&k.scope))
        .filter(COLUMN.key.eq(&k.key))
        .exec(txn)
        .await?;
    Ok(())
}

/// Keep an answer that changed nothing (an error, a dry run), on its own. A request
/// with the same key may hold the row meanwhile; then this waits at most `wait` and
/// keeps nothing (that request's answer will be the one kept).
pub async fn answer_alone(
    db: &ordercrm_kernel::Db,
    k: &KeyRef,
    stored: &Stored,
    now: DateTime<Utc>,
    ttl: chrono::Duration,
    wait: std::time::Duration,
) -> Result<(), Error> {
    let outcome = if stored.body.is_some() {
        RESPONSE
    } else {
        WITHHELD
    };
    #[allow(clippy::disallowed_methods)] // the store's own short transaction
    let txn = db.begin().await?;
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        txn.execute_unprepared(&format!(
            "SET LOCAL lock_timeout = {}",
            wait.as_millis().max(1)
        ))
        .await?;
    }
    match upsert(&txn, row(k, outcome, Some(stored), now, ttl), now).await {
        Err(err) if ordercrm_kernel::db::error_code(&err).as_deref() == Some("55P03") => Ok(()),
        Err(err) => Err(err.into()),
        Ok(_) => Ok(txn.commit().await?),
    }
}

/// Drop every kept answer that mentions one of `ids` (in its body or its `Location`):
/// after a customer is erased, no replay may bring their data back.
pub async fn forget_mentions(
    conn: &impl ConnectionTrait,
    ids: &[uuid::Uuid],
) -> Result<u64, Error> {
    let backend = conn.get_database_backend();
    let mut forgotten = 0;
    for id in ids {
        let id = id.to_string();
        let (sql, values): (&str, Vec<sea_orm::Value>) = match backend {
            DatabaseBackend::Postgres => (
                "DELETE FROM idempotency_keys WHERE position(convert_to($1, 'UTF8') in response_body) > 0 \
                 OR response_headers::text LIKE $2",
                vec![id.clone().into(), format!("%{id}%").into()],
            ),
            _ => (
                "DELETE FROM idempotency_keys WHERE instr(CAST(response_body AS TEXT), ?) > 0 \
                 OR CAST(response_headers AS TEXT) LIKE ?",
                vec![id.clone().into(), format!("%{id}%").into()],
            ),
        };
        forgotten += conn
            .execute_raw(sea_orm::Statement::from_sql_and_values(
                backend, sql, values,
            ))
            .await?
            .rows_affected();
    }
    Ok(forgotten)
}

/// Forget keys past their 24 hours; run periodically by the server.
pub async fn purge_expired(db: &ordercrm_kernel::Db, now: DateTime<Utc>) -> Result<u64, Error> {
    let done = Entity::delete_many()
        .filter(COLUMN.expires_at.lte(now))
        .exec(db.writer())
        .await?;
    Ok(done.rows_affected)
}

pub fn still_running() -> Error {
    Error::new(
        problems::IDEMPOTENCY_IN_FLIGHT,
        "a request with this Idempotency-Key is still being processed",
    )
    .with_extension("retry_after", serde_json::json!(1))
}
