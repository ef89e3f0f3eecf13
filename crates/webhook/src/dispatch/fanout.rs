//! From the outbox to deliveries: events are read in `position` order (the order
//! the outbox gives them once they are committed) past a cursor, and each becomes a
//! delivery for every endpoint that subscribes to its type and may read it: pending,
//! or paused while the endpoint is turned off (kept for it, never dropped). The cursor and the deliveries move in one transaction, so an event is
//! fanned out once or, if the transaction fails, again: never half, never twice
//! (deliveries are unique per endpoint and event). On PostgreSQL one server fans out
//! at a time (the cursor row is taken with `SKIP LOCKED`: the others go on sending).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use ordercrm_kernel::Actor;
use ordercrm_kernel::events::entity as event;
use ordercrm_kernel::id::new_id;
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Statement, TransactionTrait,
};
use uuid::Uuid;

use crate::access;
use crate::entity::{self as endpoint, delivery};
use crate::model::subscribed;

/// Events one fan-out transaction takes at most.
const BATCH: u64 = 500;

/// Fan out the events past the cursor. Returns how many events it took (0: none
/// new, or another server holds the cursor).
pub async fn run(
    conn: &DatabaseConnection,
    reader: &DatabaseConnection,
    now: DateTime<Utc>,
) -> Result<usize, DbErr> {
    let backend = conn.get_database_backend();
    // Idle most of the time: one read, no transaction and no lock, when nothing is new.
    let anything_new = reader
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT 1 FROM events WHERE position > \
             (SELECT position FROM webhook_cursors WHERE name = 'fanout') LIMIT 1",
        ))
        .await?
        .is_some();
    if !anything_new {
        return Ok(0);
    }
    let txn = conn.begin().await?;
    let lock = if backend == DatabaseBackend::Postgres {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let Some(cursor) = txn
        .query_one_raw(Statement::from_string(
            backend,
            format!("SELECT position FROM webhook_cursors WHERE name = 'fanout'{lock}"),
        ))
        .await?
        .map(|row| row.try_get_by_index::<i64>(0))
        .transpose()?
    else {
        txn.rollback().await?;
        return Ok(0);
    };
    let events = event::Entity::find()
        .filter(event::Column::Position.gt(cursor))
        .order_by_asc(event::Column::Position)
        .limit(BATCH)
        .all(&txn)
        .await?;
    let Some(last) = events.last().and_then(|e| e.position) else {
        txn.rollback().await?;
        return Ok(0);
    };
    let endpoints = Subscribers::load(&txn, now, &events).await?;
    let mut rows = Vec::new();
    for e in &events {
        for (ep, enabled) in endpoints.for_event(e) {
            let status = if enabled {
                super::Status::Pending
            } else {
                super::Status::Paused
            };
            rows.push(delivery::ActiveModel {
                id: Set(new_id()),
                endpoint_id: Set(ep),
                event_id: Set(e.id),
                event_position: Set(e.position.unwrap_or_default()),
                order_id: Set(e.order_id),
                status: Set(status.as_str().to_owned()),
                attempts: Set(0),
                // Due at once, on every server: not later than the event, whatever
                // this server's clock says.
                next_attempt_at: Set(std::cmp::min(now, e.created_at)),
                lease_until: Set(None),
                leased_by: Set(None),
                last_status_code: Set(None),
                error_kind: Set(None),
                last_error: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
                finished_at: Set(None),
            });
        }
    }
    // Bounded statements: 16 columns a row stays far below either engine's limit on
    // bound values.
    for chunk in rows.chunks(500) {
        delivery::Entity::insert_many(chunk.to_vec())
            .on_conflict_do_nothing()
            .exec_without_returning(&txn)
            .await?;
    }
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        super::numbered(
            backend,
            "UPDATE webhook_cursors SET position = ? WHERE name = 'fanout'",
        ),
        [last.into()],
    ))
    .await?;
    txn.commit().await?;
    Ok(events.len())
}

/// The endpoints and what each may read.
struct Subscribers {
    endpoints: Vec<Subscriber>,
    /// The channel and shop of each order the batch's events belong to.
    orders: access::OrderChannels,
}

struct Subscriber {
    id: Uuid,
    /// Its deliveries go at once (`pending`), or wait (`paused`) while it is off.
    enabled: bool,
    entries: Vec<String>,
    /// The position of its `webhook_endpoint.created` event: it gets the events
    /// after it. `None` while that event has none yet (it gets none of these).
    since: Option<i64>,
    /// `None`: an admin's endpoint, which receives everything. `Some(None)`: its
    /// key is revoked or expired, and it receives nothing.
    key: Option<Option<Actor>>,
}

impl Subscribers {
    async fn load(
        conn: &impl ConnectionTrait,
        now: DateTime<Utc>,
        events: &[event::Model],
    ) -> Result<Self, DbErr> {
        // Turning an endpoint on or off (which resumes or pauses its deliveries) waits
        // for this fan-out on PostgreSQL, and this one for it: a delivery made paused
        // is never left paused behind an endpoint turned on meanwhile. (SQLite's one
        // writer takes them in turn.)
        let mut select = endpoint::Entity::find();
        if conn.get_database_backend() == DatabaseBackend::Postgres {
            select = select.lock_shared();
        }
        // A receiver that answered 410 Gone wants nothing more: nothing is kept for it.
        let rows: Vec<endpoint::Model> = select
            .all(conn)
            .await?
            .into_iter()
            .filter(|r| r.enabled || r.disabled_reason.as_deref() != Some(crate::commands::GONE))
            .collect();
        // Where each endpoint's life begins in the outbox's order: positions, not
        // clocks, which may disagree between servers.
        let mut since: HashMap<String, i64> = HashMap::new();
        if !rows.is_empty() {
            let created: Vec<(String, Option<i64>)> = event::Entity::find()
                .select_only()
                .columns([event::Column::ResourceId, event::Column::Position])
                .filter(event::Column::ResourceType.eq("webhook_endpoint"))
                .filter(event::Column::ResourceId.is_in(rows.iter().map(|r| r.id.to_string())))
                .filter(event::Column::EventType.eq(crate::events::CREATED.name))
                .into_tuple()
                .all(conn)
                .await?;
            for (endpoint, position) in created {
                if let Some(position) = position {
                    since.insert(endpoint, position);
                }
            }
        }
        let mut keys: HashMap<Uuid, Option<Actor>> = HashMap::new();
        let mut endpoints = Vec::with_capacity(rows.len());
        for row in rows {
            let key = match row.owner_key_id {
                None => None,
                Some(id) => {
                    let actor = match keys.get(&id) {
                        Some(known) => known.clone(),
                        None => {
                            let actor = ordercrm_identity::authenticate::key_by_id(conn, id, now)
                                .await
                                .map_err(|e| DbErr::Custom(e.to_string()))?;
                            keys.insert(id, actor.clone());
                            actor
                        }
                    };
                    Some(actor)
                }
            };
            endpoints.push(Subscriber {
                id: row.id,
                enabled: row.enabled,
                entries: serde_json::from_value(row.event_types).unwrap_or_default(),
                since: since.get(&row.id.to_string()).copied(),
                key,
            });
        }
        let bound = endpoints
            .iter()
            .any(|s| matches!(&s.key, Some(Some(a)) if a.channel().is_some()));
        let orders = if bound {
            access::order_channels(conn, events).await?
        } else {
            access::OrderChannels::new()
        };
        Ok(Self { endpoints, orders })
    }

    /// The endpoints `e` goes to, and whether each is on.
    fn for_event<'a>(&'a self, e: &'a event::Model) -> impl Iterator<Item = (Uuid, bool)> + 'a {
        self.endpoints
            .iter()
            .filter(move |s| {
                // An endpoint gets what committed after its registration did.
                s.since
                    .zip(e.position)
                    .is_some_and(|(since, at)| at > since)
                    && subscribed(&s.entries, &e.event_type)
                    && self.may_read(s, e)
            })
            .map(|s| (s.id, s.enabled))
    }

    /// What the endpoint's key could read through the API.
    fn may_read(&self, s: &Subscriber, e: &event::Model) -> bool {
        match &s.key {
            None => true,
            Some(None) => false,
            Some(Some(actor)) => access::may_read(actor, e, &self.orders),
        }
    }
}
