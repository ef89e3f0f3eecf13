//! The `idempotency_keys` table.

use chrono::{DateTime, Utc};
use ordercrm_kernel::Error;
use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;
use sea_orm::{EntityTrait, QueryFilter};

use crate::state::AppState;

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
        pub state: String,
        pub status_code: Option<i32>,
        pub response_headers: Option<Json>,
        pub response_body: Option<Vec<u8>>,
        pub created_at: DateTimeUtc,
        pub locked_until: DateTimeUtc,
        pub expires_at: DateTimeUtc,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

use entity::{COLUMN, Entity};

const IN_FLIGHT: &str = "in_flight";
const COMPLETED: &str = "completed";

pub struct Stored {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

pub enum Begin {
    /// The key is ours: run the request.
    Proceed,
    Replay(Stored),
    InFlight,
    Mismatch,
}

fn chrono_dur(d: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// Claim `key` for this request, or say why not.
pub async fn begin(
    state: &AppState,
    scope: &str,
    key: &str,
    fingerprint: &str,
    now: DateTime<Utc>,
) -> Result<Begin, Error> {
    let db = state.db.writer();
    // Two rounds at most: the second after clearing an expired row.
    for _ in 0..2 {
        let inserted = Entity::insert(entity::ActiveModel {
            scope: Set(scope.to_owned()),
            key: Set(key.to_owned()),
            request_hash: Set(fingerprint.to_owned()),
            state: Set(IN_FLIGHT.to_owned()),
            status_code: Set(None),
            response_headers: Set(None),
            response_body: Set(None),
            created_at: Set(now),
            locked_until: Set(now + chrono_dur(state.limits.idempotency_lease)),
            expires_at: Set(now + chrono_dur(state.limits.idempotency_ttl)),
        })
        .on_conflict(
            OnConflict::columns([COLUMN.scope, COLUMN.key])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
        if inserted == 1 {
            return Ok(Begin::Proceed);
        }

        let Some(row) = Entity::find_by_id((scope.to_owned(), key.to_owned()))
            .one(db)
            .await?
        else {
            continue;
        };
        if row.expires_at <= now {
            Entity::delete_many()
                .filter(COLUMN.scope.eq(scope))
                .filter(COLUMN.key.eq(key))
                .filter(COLUMN.expires_at.lte(now))
                .exec(db)
                .await?;
            continue;
        }
        // In flight wins over a body mismatch: until the first request answers, a
        // client learns nothing about it but "wait".
        if row.state == IN_FLIGHT && row.locked_until > now {
            return Ok(Begin::InFlight);
        }
        if row.request_hash != fingerprint {
            return Ok(Begin::Mismatch);
        }
        if row.state == COMPLETED {
            return Ok(Begin::Replay(stored(row)));
        }
        // The request holding the key stopped without an answer (the process died):
        // take the lease over, but only if nobody else did first.
        let taken = Entity::update_many()
            .col_expr(
                COLUMN.locked_until,
                Expr::value(now + chrono_dur(state.limits.idempotency_lease)),
            )
            .filter(COLUMN.scope.eq(scope))
            .filter(COLUMN.key.eq(key))
            .filter(COLUMN.state.eq(IN_FLIGHT))
            .filter(COLUMN.locked_until.eq(row.locked_until))
            .exec(db)
            .await?;
        return Ok(if taken.rows_affected == 1 {
            Begin::Proceed
        } else {
            Begin::InFlight
        });
    }
    Ok(Begin::InFlight)
}

pub async fn complete(state: &AppState, scope: &str, key: &str, res: &Stored) -> Result<(), Error> {
    let headers = serde_json::to_value(&res.headers).unwrap_or_default();
    Entity::update_many()
        .col_expr(COLUMN.state, Expr::value(COMPLETED))
        .col_expr(COLUMN.status_code, Expr::value(i32::from(res.status)))
        .col_expr(COLUMN.response_headers, Expr::value(headers))
        .col_expr(COLUMN.response_body, Expr::value(res.body.clone()))
        .filter(COLUMN.scope.eq(scope))
        .filter(COLUMN.key.eq(key))
        .exec(state.db.writer())
        .await?;
    Ok(())
}

pub async fn release(state: &AppState, scope: &str, key: &str) -> Result<(), Error> {
    Entity::delete_many()
        .filter(COLUMN.scope.eq(scope))
        .filter(COLUMN.key.eq(key))
        .filter(COLUMN.state.eq(IN_FLIGHT))
        .exec(state.db.writer())
        .await?;
    Ok(())
}

/// Forget keys past their 24 hours; run periodically by the server.
pub async fn purge_expired(db: &ordercrm_kernel::Db, now: DateTime<Utc>) -> Result<u64, Error> {
    let done = Entity::delete_many()
        .filter(COLUMN.expires_at.lte(now))
        .exec(db.writer())
        .await?;
    Ok(done.rows_affected)
}

fn stored(row: entity::Model) -> Stored {
    Stored {
        status: row
            .status_code
            .and_then(|s| u16::try_from(s).ok())
            .unwrap_or(200),
        headers: row
            .response_headers
            .and_then(|h| serde_json::from_value(h).ok())
            .unwrap_or_default(),
        body: row.response_body.unwrap_or_default(),
    }
}
