//! Which events a caller may read: one rule for the endpoints a key registers and
//! for the feed it reads. People who may read events read all of them; a key reads
//! the resources its scopes let it read, only its carriers' shipments when it is
//! bound to carriers, only its channel's orders when it is bound to a channel, and
//! of webhook endpoints only those it registered.

use std::collections::{HashMap, HashSet};

use ordercrm_kernel::Actor;
use ordercrm_kernel::events::entity as event;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DbErr};
use uuid::Uuid;

use crate::model::permitted;

/// The channel and shop of each order some events belong to.
pub type OrderChannels = HashMap<Uuid, (String, String)>;

/// Whether `actor` may read `e` (`orders`: from [`order_channels`] when the actor
/// is bound to a channel).
pub fn may_read(actor: &Actor, e: &event::Model, orders: &OrderChannels) -> bool {
    if !permitted(actor, &e.event_type) {
        return false;
    }
    if !actor.carrier_allows(&e.resource_type, &e.payload) {
        return false;
    }
    // A key reads the events of the endpoints it registered, no one else's.
    if e.resource_type == "webhook_endpoint"
        && let Actor::ApiKey(key) = actor
        && e.payload.get("owner_key_id").and_then(|v| v.as_str())
            != Some(key.id.to_string().as_str())
    {
        return false;
    }
    match (actor.channel(), e.order_id) {
        (Some(binding), Some(order)) => orders
            .get(&order)
            .is_some_and(|(channel, name)| binding.covers(channel, name)),
        // Money not for one of its channel's orders is not a channel's business.
        (Some(_), None) => !matches!(e.resource_type.as_str(), "invoice" | "payment"),
        _ => true,
    }
}

/// The channels of the orders `events` belong to.
pub async fn order_channels(
    conn: &impl ConnectionTrait,
    events: &[event::Model],
) -> Result<OrderChannels, DbErr> {
    let ids: HashSet<Uuid> = events.iter().filter_map(|e| e.order_id).collect();
    let mut orders = HashMap::new();
    if ids.is_empty() {
        return Ok(orders);
    }
    let mut select = Query::select();
    select
        .columns([
            Alias::new("id"),
            Alias::new("channel"),
            Alias::new("channel_name"),
        ])
        .from(Alias::new("orders"))
        .and_where(Expr::col(Alias::new("id")).is_in(ids));
    for row in conn.query_all(&select).await? {
        orders.insert(
            row.try_get::<Uuid>("", "id")?,
            (
                row.try_get::<String>("", "channel")?,
                row.try_get::<String>("", "channel_name")?,
            ),
        );
    }
    Ok(orders)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(event_type: &str, resource_type: &str, payload: serde_json::Value) -> event::Model {
        event::Model {
            seq: 1,
            id: Uuid::nil(),
            event_type: event_type.into(),
            resource_type: resource_type.into(),
            resource_id: "r".into(),
            resource_version: 1,
            payload,
            actor: "system".into(),
            request_id: None,
            created_at: chrono::Utc::now(),
            order_id: None,
            customer_id: None,
            position: Some(1),
        }
    }

    fn key(id: u128, scopes: &[&str]) -> Actor {
        Actor::ApiKey(ordercrm_kernel::authz::KeyActor {
            id: Uuid::from_u128(id),
            name: "k".into(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            default_owner: None,
            channel: None,
            carriers: Vec::new(),
        })
    }

    #[test]
    fn a_key_reads_its_own_endpoints_events_only() {
        let mine = Uuid::from_u128(7).to_string();
        let failing = |owner: &str| {
            event(
                "webhook_endpoint.failing",
                "webhook_endpoint",
                serde_json::json!({"owner_key_id": owner}),
            )
        };
        let none = OrderChannels::new();
        assert!(may_read(
            &key(7, &["webhooks:write"]),
            &failing(&mine),
            &none
        ));
        let theirs = Uuid::from_u128(8).to_string();
        assert!(!may_read(
            &key(7, &["webhooks:write"]),
            &failing(&theirs),
            &none
        ));
        assert!(!may_read(&key(7, &["orders:read"]), &failing(&mine), &none));
        assert!(may_read(&Actor::System, &failing(&theirs), &none));
    }
}
