//! An order's history: every event about it (its reservation's too) and every
//! audit entry of its changes, oldest first, for the order screen and support.

use chrono::{DateTime, Utc};
use ordercrm_kernel::authz::{Action, Actor};
use ordercrm_kernel::{Result, audit, events};
use sea_orm::{ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::queries;

ordercrm_kernel::string_enum! {
    /// An event (what integrations received) or an audit entry (who did it, from where).
    pub TimelineKind {
        Event = "event",
        Audit = "audit",
    }
}

/// One happening in an order's life.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(example = json!({"at": "2026-11-23T08:00:00Z", "kind": "event", "name": "order.approved",
    "actor": "user:01937c4e-0000-7000-8000-000000000002", "event_id": "evt_01937c4e000070008000000000000009",
    "request_id": "4bf92f3577b34da6", "data": {"status": "approved"}}))]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    pub kind: TimelineKind,
    /// The event type (`order.approved`) or audit action (`order.approve`).
    pub name: String,
    /// `user:<id>`, `key:<id>` or `system`.
    pub actor: Option<String>,
    /// The event's id, as webhooks and the feed carry it.
    pub event_id: Option<String>,
    pub request_id: Option<String>,
    /// The event's `data`, or the audit entry's changes.
    pub data: Option<Value>,
}

/// An order's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Timeline {
    pub data: Vec<TimelineEntry>,
}

/// At most this many of each kind: an order's life is short; a runaway one is cut.
const MAX_ENTRIES: u64 = 1000;

pub async fn timeline(conn: &impl ConnectionTrait, actor: &Actor, id: Uuid) -> Result<Timeline> {
    actor.require(Action::OrdersRead)?;
    queries::find_visible(conn, actor, id).await?;
    let evs = events::entity::Entity::find()
        .filter(events::entity::COLUMN.order_id.eq(id))
        .order_by_asc(events::entity::Column::Seq)
        .limit(MAX_ENTRIES)
        .all(conn)
        .await?;
    let entries = audit::entity::Entity::find()
        .filter(audit::entity::COLUMN.entity_type.eq("order"))
        .filter(audit::entity::COLUMN.entity_id.eq(id.to_string()))
        .order_by_asc(audit::entity::Column::Seq)
        .limit(MAX_ENTRIES)
        .all(conn)
        .await?;
    let mut data: Vec<(DateTime<Utc>, u8, i64, TimelineEntry)> = Vec::new();
    for e in evs
        .into_iter()
        .filter(|e| actor.carrier_allows(&e.resource_type, &e.payload))
        // Money is for those who read payments (not the warehouse, not support).
        .filter(|e| {
            !matches!(e.resource_type.as_str(), "invoice" | "payment")
                || actor.may(Action::PaymentsRead)
        })
    {
        data.push((
            e.created_at,
            1,
            e.seq,
            TimelineEntry {
                at: e.created_at,
                kind: TimelineKind::Event,
                name: e.event_type,
                actor: Some(e.actor),
                event_id: Some(events::public_id(e.id)),
                request_id: e.request_id,
                data: Some(e.payload),
            },
        ));
    }
    for a in entries {
        let actor = match (a.actor_type.as_str(), a.actor_id) {
            ("user", Some(id)) => Some(format!("user:{id}")),
            ("api_key", Some(id)) => Some(format!("key:{id}")),
            (other, _) => Some(other.to_owned()),
        };
        data.push((
            a.occurred_at,
            0,
            a.seq,
            TimelineEntry {
                at: a.occurred_at,
                kind: TimelineKind::Audit,
                name: a.action,
                actor,
                event_id: None,
                request_id: a.request_id,
                data: a.changes,
            },
        ));
    }
    // Oldest first; within one moment (one transaction) the audit entry, then the
    // events in the order they were written.
    data.sort_by_key(|a| (a.0, a.1, a.2));
    Ok(Timeline {
        data: data.into_iter().map(|(_, _, _, e)| e).collect(),
    })
}
