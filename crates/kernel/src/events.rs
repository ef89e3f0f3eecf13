//! The domain-event outbox. A domain records its events with [`record`] inside the
//! same transaction as the change they describe: no event without a commit, no
//! commit without its event. The webhook dispatcher reads this table in `seq` order;
//! nothing else writes to it.

use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, DatabaseBackend, DatabaseTransaction, Statement};
use serde::Serialize;

use crate::context::Ctx;
use crate::id::new_id;

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(
        Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize,
    )]
    #[sea_orm(table_name = "events")]
    pub struct Model {
        /// Global, monotonic delivery order.
        #[sea_orm(primary_key)]
        pub seq: i64,
        #[sea_orm(unique)]
        pub id: Uuid,
        pub event_type: String,
        pub resource_type: String,
        pub resource_id: String,
        /// The resource's version after the change, so consumers can drop stale events.
        pub resource_version: i64,
        pub payload: Json,
        pub actor: String,
        pub request_id: Option<String>,
        pub created_at: DateTimeUtc,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// Something that happened to a resource, as a domain describes it.
#[derive(Debug, Clone)]
pub struct NewEvent<'a, P: Serialize> {
    /// `resource.past_tense`, e.g. `setting.updated`.
    pub event_type: &'a str,
    pub resource_type: &'a str,
    pub resource_id: String,
    pub resource_version: i64,
    /// The resource as the API would return it.
    pub data: &'a P,
}

/// Record an event in the outbox as part of `txn`. Returns the event id.
///
/// Takes a transaction, not any connection, so an event can only ever be written
/// together with the change it describes.
pub async fn record<P: Serialize>(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    event: NewEvent<'_, P>,
) -> Result<Uuid, DbErr> {
    lock_outbox(txn).await?;
    let payload = serde_json::to_value(event.data)
        .map_err(|e| DbErr::Custom(format!("event payload does not serialize: {e}")))?;
    let id = new_id();
    entity::ActiveModel {
        id: Set(id),
        event_type: Set(event.event_type.to_owned()),
        resource_type: Set(event.resource_type.to_owned()),
        resource_id: Set(event.resource_id),
        resource_version: Set(event.resource_version),
        payload: Set(payload),
        actor: Set(ctx.actor.principal()),
        request_id: Set(Some(ctx.request_id.clone()).filter(|r| !r.is_empty())),
        created_at: Set(ctx.now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(id)
}

/// The public id of an event: `evt_` and the UUID without dashes.
/// Take the outbox's order lock (PostgreSQL) until this transaction ends.
pub async fn lock_outbox(txn: &DatabaseTransaction) -> Result<(), DbErr> {
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        // A sequence hands out numbers in insert order but transactions commit in any
        // order, so a reader polling "seq > last seen" could skip a row that commits
        // late. Holding this lock from the insert to commit makes commit order equal
        // seq order. SQLite has a single writer and needs nothing.
        txn.execute_raw(Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT pg_advisory_xact_lock(7324010001)",
        ))
        .await?;
    }
    Ok(())
}

pub fn public_id(id: Uuid) -> String {
    format!("evt_{}", id.simple())
}
