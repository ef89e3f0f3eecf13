//! How a handler writes: [`Writer`] begins the one transaction a request commits.
//! For a request with an `Idempotency-Key`, that transaction also claims the key, and
//! its commit is finished by the idempotency middleware after the answer is written
//! into it (see [`crate::middleware::idempotency`]). Handlers never begin a write
//! transaction any other way (clippy's `disallowed-methods` holds them to it).

use std::future::{Ready, ready};
use std::ops::Deref;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::web::Data;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use ordercrm_kernel::Error;
use ordercrm_kernel::error::problems;
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, ExecResult, QueryResult, Statement,
};

use crate::error::ApiError;
use crate::middleware::idempotency::{self, Claim, Slot};
use crate::state::AppState;

/// The request's way to begin its write transaction.
pub struct Writer {
    state: Data<AppState>,
    slot: Option<Arc<Slot>>,
}

impl FromRequest for Writer {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.app_data::<Data<AppState>>()
                .cloned()
                .map(|state| Writer {
                    state,
                    slot: req.extensions().get::<Arc<Slot>>().cloned(),
                })
                .ok_or_else(|| {
                    ApiError(Error::new(problems::INTERNAL, "application state missing"))
                }),
        )
    }
}

impl Writer {
    /// Begin the request's write transaction (IMMEDIATE on SQLite); with an
    /// `Idempotency-Key`, claim the key in it first.
    #[allow(clippy::disallowed_methods)] // the one place handlers' transactions begin
    pub async fn begin(&self) -> Result<Tx, ApiError> {
        let db = &self.state.db;
        let Some(slot) = &self.slot else {
            return Ok(Tx {
                txn: db.begin().await?,
                slot: None,
            });
        };
        if !slot.begin() {
            return Err(ApiError(Error::new(
                problems::INTERNAL,
                "an idempotent request begins one write transaction",
            )));
        }
        let limits = &self.state.limits;
        let txn = db.begin().await?;
        let now = self.state.clock.now();
        let ttl =
            chrono::Duration::from_std(limits.idempotency_ttl).unwrap_or(chrono::Duration::MAX);
        match idempotency::claim(&txn, &slot.key, now, ttl, limits.idempotency_wait).await? {
            Claim::Claimed => {}
            Claim::Answered => {
                slot.supersede();
                return Err(ApiError(idempotency::still_running()));
            }
            Claim::StillRunning => {
                slot.give_up();
                return Err(ApiError(idempotency::still_running()));
            }
        }
        self.state.hooks.at("idempotency.claimed").await;
        Ok(Tx {
            txn,
            slot: Some(slot.clone()),
        })
    }
}

/// A write transaction begun by [`Writer::begin`]. Commands take it as any
/// connection; `commit` makes the change (or, for an idempotent request, hands it
/// to the middleware, which commits it with the recorded answer).
pub struct Tx {
    txn: DatabaseTransaction,
    slot: Option<Arc<Slot>>,
}

impl Tx {
    pub async fn commit(self) -> Result<(), DbErr> {
        match self.slot {
            None => self.txn.commit().await,
            Some(slot) => {
                slot.park(self.txn);
                Ok(())
            }
        }
    }

    pub async fn rollback(self) -> Result<(), DbErr> {
        self.txn.rollback().await
    }
}

impl Deref for Tx {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Tx {
    fn get_database_backend(&self) -> DbBackend {
        self.txn.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.txn.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.txn.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.txn.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.txn.query_all_raw(stmt).await
    }
}
