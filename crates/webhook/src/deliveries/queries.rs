//! Reads of the delivery log. Admins (and auditors) see every delivery; a key the
//! deliveries to the endpoints it registered; anyone else nothing.

use std::collections::HashMap;

use ordercrm_kernel::authz::Action;
use ordercrm_kernel::events::{entity as event, public_id};
use ordercrm_kernel::pagination::{PageRequest, Seek};
use ordercrm_kernel::{Actor, Error, FieldError, Page, Result};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::dto::{
    ListWebhookDeliveries, WebhookAttemptList, WebhookAttemptView, WebhookDeliveryView,
};
use crate::entity::{self as endpoint, attempt, delivery};
use crate::model::DeliveryStatus;

/// Most attempts `GET …/attempts` lists (the newest): ten on the schedule, and a
/// redelivery's.
pub const MAX_ATTEMPTS_LISTED: u64 = 100;

/// The endpoints a key registered; `None`: every endpoint.
pub(crate) async fn own_endpoints(
    conn: &impl ConnectionTrait,
    actor: &Actor,
) -> Result<Option<Vec<Uuid>>> {
    let Actor::ApiKey(key) = actor else {
        return Ok(None);
    };
    Ok(Some(
        endpoint::Entity::find()
            .select_only()
            .column(endpoint::Column::Id)
            .filter(endpoint::COLUMN.owner_key_id.eq(key.id))
            .into_tuple()
            .all(conn)
            .await?,
    ))
}

/// The delivery, if `actor` may see it (404 otherwise).
pub(crate) async fn find_visible(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
) -> Result<delivery::Model> {
    let mut select = delivery::Entity::find_by_id(id);
    if let Some(own) = own_endpoints(conn, actor).await? {
        select = select.filter(delivery::Column::EndpointId.is_in(own));
    }
    select
        .one(conn)
        .await?
        .ok_or_else(|| Error::not_found("webhook delivery", id))
}

/// Views of `rows`, their event types read in one query.
pub(crate) async fn views(
    conn: &impl ConnectionTrait,
    rows: &[delivery::Model],
) -> Result<Vec<WebhookDeliveryView>> {
    let types: HashMap<Uuid, String> = if rows.is_empty() {
        HashMap::new()
    } else {
        event::Entity::find()
            .select_only()
            .columns([event::Column::Id, event::Column::EventType])
            .filter(event::Column::Id.is_in(rows.iter().map(|r| r.event_id)))
            .into_tuple::<(Uuid, String)>()
            .all(conn)
            .await?
            .into_iter()
            .collect()
    };
    Ok(rows
        .iter()
        .map(|row| {
            let status = DeliveryStatus::parse(&row.status).unwrap_or(DeliveryStatus::Pending);
            WebhookDeliveryView {
                id: row.id,
                endpoint_id: row.endpoint_id,
                event_id: public_id(row.event_id),
                event_type: types.get(&row.event_id).cloned().unwrap_or_default(),
                event_position: row.event_position,
                order_id: row.order_id,
                status,
                attempts: row.attempts,
                next_attempt_at: (status == DeliveryStatus::Pending).then_some(row.next_attempt_at),
                last_status_code: row.last_status_code,
                error_kind: row.error_kind.clone(),
                last_error: row.last_error.clone(),
                created_at: row.created_at,
                updated_at: row.updated_at,
                finished_at: row.finished_at,
            }
        })
        .collect())
}

pub async fn list(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    query: ListWebhookDeliveries,
) -> Result<Page<WebhookDeliveryView>> {
    actor.require(Action::WebhooksRead)?;
    let mut errors = Vec::new();
    let status =
        ordercrm_kernel::input::Choice::check_opt(query.status.as_ref(), &mut errors, "status");
    let event = query.event_id.as_ref().and_then(|e| {
        let id = e.parse();
        if id.is_none() {
            errors.push(FieldError::new(
                "event_id",
                "invalid_event_id",
                "an event id is evt_ and 32 hex digits",
            ));
        }
        id
    });
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    let page = PageRequest::new(query.limit, query.cursor.as_deref(), "-created_at")?;
    let mut select = delivery::Entity::find();
    if let Some(own) = own_endpoints(conn, actor).await? {
        select = select.filter(delivery::Column::EndpointId.is_in(own));
    }
    if let Some(endpoint) = query.endpoint_id {
        select = select.filter(delivery::Column::EndpointId.eq(endpoint));
    }
    if let Some(event) = event {
        select = select.filter(delivery::Column::EventId.eq(event));
    }
    if let Some(status) = status {
        select = select.filter(delivery::Column::Status.eq(status.as_str()));
    }
    let seek = Seek::newest_first(delivery::Column::CreatedAt, delivery::Column::Id);
    let rows = seek.select(select, &page)?.all(conn).await?;
    let views = views(conn, &rows).await?;
    Ok(seek.page_of(&rows, &page, views))
}

pub async fn get(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
) -> Result<WebhookDeliveryView> {
    actor.require(Action::WebhooksRead)?;
    let row = find_visible(conn, actor, id).await?;
    let mut views = views(conn, std::slice::from_ref(&row)).await?;
    views
        .pop()
        .ok_or_else(|| Error::not_found("webhook delivery", id))
}

/// A delivery's attempts, oldest first (the newest [`MAX_ATTEMPTS_LISTED`]).
pub async fn attempts(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
) -> Result<WebhookAttemptList> {
    actor.require(Action::WebhooksRead)?;
    find_visible(conn, actor, id).await?;
    let mut rows = attempt::Entity::find()
        .filter(attempt::Column::DeliveryId.eq(id))
        .order_by_desc(attempt::Column::Attempt)
        .order_by_desc(attempt::Column::StartedAt)
        .limit(MAX_ATTEMPTS_LISTED)
        .all(conn)
        .await?;
    rows.reverse();
    Ok(WebhookAttemptList {
        data: rows
            .into_iter()
            .map(|a| WebhookAttemptView {
                attempt: a.attempt,
                started_at: a.started_at,
                duration_ms: a.duration_ms,
                status_code: a.status_code,
                error_kind: a.error_kind,
                error: a.error,
                response_excerpt: a.response_excerpt,
            })
            .collect(),
    })
}
