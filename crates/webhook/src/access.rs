//! Which events a caller may read: one rule for the endpoints a key registers and
//! for the feed it reads. People who may read events read all of them; a key reads
//! the resources its scopes let it read, only its carriers' shipments when it is
//! bound to carriers, and only its channel's orders when it is bound to a channel.

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
    match (actor.channel(), e.order_id) {
        (Some(binding), Some(order)) => orders
            .get(&order)
            .is_some_and(|(channel, name)| binding.covers(channel, name)),
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
