//! The pull feed: the outbox in position order (the order the dispatcher delivers
//! in), with no gaps, filtered by what the caller may read as its endpoints would
//! be. A page looks at up to `limit` events after `after` and shows those the caller
//! may read; `next_after` is the last one it looked at, so a caller never reads an
//! event twice or misses one. Below the horizon (events pruned by the operator's
//! retention) a position answers 410.

use ordercrm_kernel::authz::Action;
use ordercrm_kernel::events::{entity as event, public_id};
use ordercrm_kernel::input::Text;
use ordercrm_kernel::{Actor, Error, FieldError, ProblemType, Result};
use sea_orm::sea_query::{Alias, Condition, Expr, ExprTrait, LikeExpr, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
};
use serde_json::json;

use crate::access;
use crate::dto::{EventFeedPage, FeedEvent, ReadEventFeed};
use crate::model::{Refused, check_entry};

pub const FEED_EXPIRED: ProblemType = ProblemType {
    slug: "feed-expired",
    title: "Position no longer in the feed",
    status: 410,
    description: "Events up to `horizon` were pruned (the operator's event retention), so reading on from \
        this position would miss some. `oldest_position` is the oldest position still available: read \
        again with `after` = `horizon`, and reconcile what you missed from the resources themselves.",
};

pub const ALL: &[ProblemType] = &[FEED_EXPIRED];

/// Events a page looks at: the default and the most.
pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 500;
/// The largest `after` (JSON's safe integers).
pub const MAX_POSITION: i64 = 9_007_199_254_740_991;

/// Most entries `type` may name.
pub const MAX_TYPES: usize = 20;
/// Positions one page looks through at most, whatever its filters skip: a page's
/// cost is bounded, and a filter that matches little pages on with `next_after`.
pub const WINDOW: i64 = 10_000;

/// Every resource pattern (`order.*`) a key may read.
fn readable_patterns(actor: &Actor, known: &[&str]) -> Vec<String> {
    let mut resources: Vec<&str> = known
        .iter()
        .filter_map(|t| t.split_once('.').map(|(r, _)| r))
        .collect();
    resources.sort_unstable();
    resources.dedup();
    resources
        .into_iter()
        .map(|r| format!("{r}.*"))
        .filter(|p| crate::model::permitted(actor, p))
        .collect()
}

/// The highest position pruned (0: none).
pub async fn horizon(conn: &impl ConnectionTrait) -> std::result::Result<i64, sea_orm::DbErr> {
    let backend = conn.get_database_backend();
    Ok(conn
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT position FROM webhook_cursors WHERE name = 'feed_horizon'",
        ))
        .await?
        .map(|row| row.try_get_by_index::<i64>(0))
        .transpose()?
        .unwrap_or(0))
}

/// 410, naming where the feed now begins.
async fn expired(conn: &impl ConnectionTrait, horizon: i64) -> Error {
    let oldest = event::Entity::find()
        .select_only()
        .column_as(event::Column::Position.min(), "oldest")
        .filter(event::Column::Position.gt(horizon))
        .into_tuple::<Option<i64>>()
        .one(conn)
        .await;
    let oldest = match oldest {
        Ok(found) => found.flatten(),
        Err(e) => return e.into(),
    };
    Error::new(
        FEED_EXPIRED,
        format!("events up to position {horizon} were pruned; read again with after={horizon}"),
    )
    .with_extension("horizon", json!(horizon))
    .with_extension("oldest_position", json!(oldest))
}

/// One page of the feed. `known`: every event type the server writes.
pub async fn read(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    query: ReadEventFeed,
    known: &[&str],
) -> Result<EventFeedPage> {
    actor.require(Action::EventsRead)?;
    let mut errors = Vec::new();
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        errors.push(FieldError::new(
            "limit",
            "range",
            format!("must be between 1 and {MAX_LIMIT}"),
        ));
    }
    if query
        .after
        .is_some_and(|a| !(0..=MAX_POSITION).contains(&a))
    {
        errors.push(FieldError::new(
            "after",
            "range",
            format!("must be between 0 and {MAX_POSITION}"),
        ));
    }
    let mut types = Vec::new();
    if let Some(text) = Text::check(query.types.clone(), &mut errors, "type") {
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            match check_entry(entry, known) {
                // A key filters by what it may read, so a page's positions say
                // nothing about what it may not.
                Ok(e) if !crate::model::permitted(actor, &e) => errors.push(FieldError::new(
                    "type",
                    "event_type_not_permitted",
                    format!("this key's scopes do not let it read {e} events"),
                )),
                Ok(e) => types.push(e),
                Err(Refused::Malformed) => errors.push(FieldError::new(
                    "type",
                    "invalid_event_type",
                    format!("{entry} is not an event type (order.approved), a resource's pattern (order.*) or *"),
                )),
                Err(_) => errors.push(FieldError::new(
                    "type",
                    "no_such_event_type",
                    format!("{entry} names no event type; see the document's webhooks map"),
                )),
            }
        }
        if types.len() > MAX_TYPES {
            errors.push(FieldError::new(
                "type",
                "too_many",
                format!("at most {MAX_TYPES} types or patterns"),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    let horizon = horizon(conn).await?;
    let after = query.after.unwrap_or(horizon);
    if after < horizon {
        return Err(expired(conn, horizon).await);
    }
    // A key looks only at the types it may read: what it may not leaves no trace
    // in `next_after` or `has_more`.
    if types.is_empty() && matches!(actor, Actor::ApiKey(_)) {
        types = readable_patterns(actor, known);
    }
    // The newest position first, then the rows up to it: a batch the sequencer
    // commits in between is past `newest`, read by the next page.
    let newest: i64 = event::Entity::find()
        .select_only()
        .column_as(event::Column::Position.max(), "newest")
        .into_tuple::<Option<i64>>()
        .one(conn)
        .await?
        .flatten()
        .unwrap_or(0);
    // A position the feed never gave (a cursor from another database, a restore):
    // refused, rather than answered with nothing until positions catch up.
    if after > newest {
        return Err(Error::validation(vec![FieldError::new(
            "after",
            "past_newest",
            format!("no event has position {after} yet; the newest is {newest}"),
        )]));
    }
    let window_end = std::cmp::min(after.saturating_add(WINDOW), newest);
    let mut select = event::Entity::find()
        .filter(event::Column::Position.gt(after))
        .filter(event::Column::Position.lte(window_end))
        .order_by_asc(event::Column::Position)
        .limit(u64::try_from(limit + 1).unwrap_or(1));
    if !types.iter().any(|t| t == "*") {
        let mut any = Condition::any();
        for t in &types {
            any = match t.strip_suffix(".*") {
                // `_` is a wildcard to LIKE: escaped, so `stock_level.*` is only that.
                Some(resource) => any.add(Expr::col(event::Column::EventType).like(
                    LikeExpr::new(format!("{}.%", resource.replace('_', "\\_"))).escape('\\'),
                )),
                None => any.add(event::Column::EventType.eq(t.as_str())),
            };
        }
        if !types.is_empty() {
            select = select.filter(any);
        } else if matches!(actor, Actor::ApiKey(_)) {
            // A key whose scopes let it read no events' resources.
            select = select.filter(Expr::val(1).eq(0));
        }
    }
    // A channel's key: other channels' orders are not looked at either.
    if let Some(binding) = actor.channel() {
        let mut orders = Query::select();
        orders
            .column(Alias::new("id"))
            .from(Alias::new("orders"))
            .and_where(Expr::col(Alias::new("channel")).eq(binding.channel.as_str()));
        if !binding.name.is_empty() {
            orders.and_where(Expr::col(Alias::new("channel_name")).eq(binding.name.as_str()));
        }
        select = select.filter(
            Condition::any()
                .add(event::Column::OrderId.is_null())
                .add(event::Column::OrderId.in_subquery(orders)),
        );
    }
    let mut rows = select.all(conn).await?;
    // A prune that committed since the horizon was read may have taken some of the
    // events after `after`: then this page has a gap, and the reader is told.
    let now_horizon = self::horizon(conn).await?;
    if after < now_horizon {
        return Err(expired(conn, now_horizon).await);
    }
    let full = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    // A full page ends at its last event; otherwise everything up to the window's
    // end was looked at.
    let next_after = if full {
        rows.last().and_then(|e| e.position).unwrap_or(after)
    } else {
        std::cmp::max(window_end, after)
    };
    let has_more = full || next_after < newest;
    let orders = if actor.channel().is_some() {
        access::order_channels(conn, &rows).await?
    } else {
        access::OrderChannels::new()
    };
    let data = rows
        .into_iter()
        .filter(|e| access::may_read(actor, e, &orders))
        .map(|e| FeedEvent {
            position: e.position.unwrap_or_default(),
            id: public_id(e.id),
            event_type: e.event_type,
            created_at: e.created_at,
            data: e.payload,
        })
        .collect();
    Ok(EventFeedPage {
        data,
        next_after,
        has_more,
    })
}
