//! The domain-event outbox. A domain records its events with [`record`] inside the
//! same transaction as the change they describe: no event without a commit, no
//! commit without its event. Readers (the webhook dispatcher and pull feed, still to
//! come) will follow `position`. Rows are written by [`record`], by an import's apply
//! (staged events, `crate::staging`) and by [`sequence`] (positions); the one change
//! to a written row is an erasure scrubbing its payload of the person's data.
//!
//! Writers take no lock here. On PostgreSQL transactions commit in any order, so
//! following the insert order (`seq`) would let a reader skip a row that commits
//! late. Instead [`sequence`] gives `position` to rows once they are committed
//! (visible), in `seq` order, each batch after every earlier one: a row that commits
//! late gets a later position, never one a reader has passed. Events about one
//! resource keep their order: a transaction that changes a row another has changed
//! waits for that one's commit, so its event is inserted, and so committed and
//! sequenced, after the other's. Nothing waits for long transactions elsewhere in
//! the cluster. SQLite has one writer, so its commit order is its insert order and
//! `position` is `seq`.

use sea_orm::entity::prelude::*;
use sea_orm::{
    ActiveValue::Set, DatabaseBackend, DatabaseTransaction, Statement, TransactionTrait,
};
use std::marker::PhantomData;

use serde::Serialize;
use utoipa::ToSchema;
use utoipa::openapi::{RefOr, Schema};

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
        /// Insert order (not delivery order: see `position`).
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
        /// The order this event belongs to, if any.
        pub order_id: Option<Uuid>,
        /// The customer it belongs to (an order's customer too), if any.
        pub customer_id: Option<Uuid>,
        /// Delivery order, gapless and stable once given; `None` until sequenced.
        pub position: Option<i64>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// An event type: its name, what it means, and the type of its `data`. A domain
/// declares each of its types once, as a constant, records events only through
/// them (so the payload's type is checked) and lists them in its catalogue (so
/// the OpenAPI document's `webhooks` map has every one).
pub struct EventType<T> {
    /// `resource.past_tense` (`order.approved`) or `resource.<condition>`.
    pub name: &'static str,
    /// When it is written, for the document.
    pub summary: &'static str,
    /// JSON merged into the example the document makes from the data schema, so it
    /// shows this event (a placed order is `ordered`, not the first status).
    pub example: Option<&'static str>,
    data: PhantomData<fn(&T)>,
}

impl<T> EventType<T> {
    pub const fn new(name: &'static str, summary: &'static str) -> Self {
        Self {
            name,
            summary,
            example: None,
            data: PhantomData,
        }
    }

    /// What this event's example shows that the data schema's does not (JSON, merged).
    pub const fn example(self, example: &'static str) -> Self {
        Self {
            example: Some(example),
            ..self
        }
    }
}

impl<T: ToSchema + 'static> EventType<T> {
    /// This type's entry in the catalogue.
    pub fn entry(&self) -> Catalogued {
        Catalogued {
            name: self.name,
            summary: self.summary,
            example: self.example,
            schema_name: T::name().into_owned(),
            schemas: schemas_of::<T>,
        }
    }
}

fn schemas_of<T: ToSchema>(into: &mut Vec<(String, RefOr<Schema>)>) {
    into.push((T::name().into_owned(), T::schema()));
    T::schemas(into);
}

/// An event type as the document lists it.
#[derive(Debug, Clone)]
pub struct Catalogued {
    pub name: &'static str,
    pub summary: &'static str,
    /// JSON merged into the example made from the schema.
    pub example: Option<&'static str>,
    /// The component schema of `data`.
    pub schema_name: String,
    /// Adds that schema and every schema it refers to.
    pub schemas: fn(&mut Vec<(String, RefOr<Schema>)>),
}

/// Something that happened to a resource, as a domain describes it.
#[derive(Debug)]
pub struct NewEvent<'a, P> {
    pub event_type: &'a EventType<P>,
    pub resource_type: &'a str,
    pub resource_id: String,
    pub resource_version: i64,
    /// The resource's event view (see the conventions: what a full-access reader
    /// sees, sensitive fields masked, nothing caller-specific).
    pub data: &'a P,
    /// The order the event belongs to, if any.
    pub order_id: Option<Uuid>,
    /// The customer it belongs to (an order's customer too), if any.
    pub customer_id: Option<Uuid>,
}

impl<'a, P> NewEvent<'a, P> {
    /// An event about `resource_type` `id` at `version`, belonging to no order or
    /// customer (add them with [`Self::customer`] / [`Self::order`]).
    pub fn about(
        event_type: &'a EventType<P>,
        resource_type: &'a str,
        (id, version): (impl ToString, i64),
        data: &'a P,
    ) -> Self {
        Self {
            event_type,
            resource_type,
            resource_id: id.to_string(),
            resource_version: version,
            data,
            order_id: None,
            customer_id: None,
        }
    }

    pub fn customer(self, customer_id: Uuid) -> Self {
        Self {
            customer_id: Some(customer_id),
            ..self
        }
    }

    pub fn order(self, order_id: Uuid) -> Self {
        Self {
            order_id: Some(order_id),
            ..self
        }
    }
}

impl<T> std::fmt::Debug for EventType<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
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
    let payload = serde_json::to_value(event.data)
        .map_err(|e| DbErr::Custom(format!("event payload does not serialize: {e}")))?;
    let id = new_id();
    let row = entity::ActiveModel {
        id: Set(id),
        event_type: Set(event.event_type.name.to_owned()),
        resource_type: Set(event.resource_type.to_owned()),
        resource_id: Set(event.resource_id),
        resource_version: Set(event.resource_version),
        payload: Set(payload),
        actor: Set(ctx.actor.principal()),
        request_id: Set(Some(ctx.request_id.clone()).filter(|r| !r.is_empty())),
        created_at: Set(ctx.now),
        order_id: Set(event.order_id),
        customer_id: Set(event.customer_id),
        ..Default::default()
    };
    // Nothing to read back: the row is exactly what was set (and its database
    // defaults are the outbox's business).
    entity::Entity::insert(row)
        .exec_without_returning(txn)
        .await?;
    Ok(id)
}

/// The public id of an event: `evt_` and the UUID without dashes.
pub fn public_id(id: Uuid) -> String {
    format!("evt_{}", id.simple())
}

/// Rows one [`sequence`] statement stamps at most, so a backlog is worked off in
/// bounded transactions.
const SEQUENCE_BATCH: i64 = 5_000;

/// Give `position` to every committed event that has none, in insert order, after
/// every position given so far (PostgreSQL; SQLite's position is its `seq` and this
/// does nothing). Returns how many rows it stamped. Safe to run from several
/// servers at once: one stamps, the others return 0.
pub async fn sequence(conn: &DatabaseConnection) -> Result<u64, DbErr> {
    if conn.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(0);
    }
    let mut total = 0;
    loop {
        // READ COMMITTED whatever the server's default: the statement below must see
        // what committed after the lock was taken.
        let txn = conn
            .begin_with_config(Some(sea_orm::IsolationLevel::ReadCommitted), None)
            .await?;
        let mine = txn
            .query_one_raw(Statement::from_string(
                DatabaseBackend::Postgres,
                "SELECT pg_try_advisory_xact_lock(7324010001)",
            ))
            .await?
            .map(|row| row.try_get_by_index::<bool>(0))
            .transpose()?
            .unwrap_or(false);
        if !mine {
            txn.rollback().await?;
            return Ok(total);
        }
        let stamped = txn
            .execute_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "WITH ready AS (
                     SELECT seq, row_number() OVER (ORDER BY seq) AS n
                     FROM events
                     WHERE position IS NULL
                     ORDER BY seq
                     LIMIT $1
                 ), base AS (
                     SELECT COALESCE(MAX(position), 0) AS last FROM events
                 )
                 UPDATE events SET position = base.last + ready.n
                 FROM ready, base
                 WHERE events.seq = ready.seq",
                [SEQUENCE_BATCH.into()],
            ))
            .await?
            .rows_affected();
        txn.commit().await?;
        total += stamped;
        if i64::try_from(stamped).unwrap_or(i64::MAX) < SEQUENCE_BATCH {
            return Ok(total);
        }
    }
}

/// How far the feed is behind the outbox: committed events not yet given a
/// position, and the age in seconds of the oldest of them (0 when none).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Lag {
    pub unsequenced: i64,
    pub oldest_seconds: f64,
}

pub async fn lag(conn: &impl ConnectionTrait, now: DateTimeUtc) -> Result<Lag, DbErr> {
    if conn.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(Lag::default());
    }
    let row = conn
        .query_one_raw(Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT COUNT(*), MIN(created_at) FROM events WHERE position IS NULL",
        ))
        .await?;
    let Some(row) = row else {
        return Ok(Lag::default());
    };
    let unsequenced = row.try_get_by_index::<i64>(0)?;
    let oldest = row.try_get_by_index::<Option<DateTimeUtc>>(1)?;
    Ok(Lag {
        unsequenced,
        oldest_seconds: oldest
            .and_then(|t| (now - t).to_std().ok())
            .map_or(0.0, |age| age.as_secs_f64()),
    })
}
