//! Reads. Admins (and auditors) see every endpoint; a key sees the ones it
//! registered; anyone else nothing.

use ordercrm_kernel::authz::Action;
use ordercrm_kernel::pagination::{PageRequest, Seek};
use ordercrm_kernel::{Actor, Error, Page, Result};
use sea_orm::{ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::dto::{ListWebhookEndpoints, WebhookEndpointView};
use crate::entity::{self, COLUMN, Column, Entity};
use crate::model::{PayloadStyle, Profile};

pub(crate) fn view(row: entity::Model) -> WebhookEndpointView {
    WebhookEndpointView {
        id: row.id,
        url: row.url,
        description: row.description,
        event_types: serde_json::from_value(row.event_types).unwrap_or_default(),
        profile: row.profile.as_deref().and_then(Profile::parse),
        enabled: row.enabled,
        disabled_reason: row.disabled_reason,
        ordered: row.ordered,
        payload: PayloadStyle::parse(&row.payload).unwrap_or(PayloadStyle::Full),
        failing_since: row.failing_since,
        catching_up: row.catching_up_until.is_some(),
        metadata: row.metadata,
        previous_secret_expires_at: row.previous_secret_expires_at,
        owner_key_id: row.owner_key_id,
        created_by: row.created_by,
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

/// The key whose endpoints `actor` is limited to; `None`: every endpoint.
fn owner_filter(actor: &Actor) -> Option<Uuid> {
    match actor {
        Actor::ApiKey(k) => Some(k.id),
        _ => None,
    }
}

/// The endpoint, if `actor` may see it (404 otherwise: another key's endpoint
/// does not exist for this one).
pub(crate) async fn find_visible(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
) -> Result<entity::Model> {
    let mut select = Entity::find_by_id(id);
    if let Some(key) = owner_filter(actor) {
        select = select.filter(COLUMN.owner_key_id.eq(key));
    }
    select
        .one(conn)
        .await?
        .ok_or_else(|| Error::not_found("webhook endpoint", id))
}

pub async fn get(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
) -> Result<WebhookEndpointView> {
    actor.require(Action::WebhooksRead)?;
    find_visible(conn, actor, id).await.map(view)
}

pub async fn list(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    query: ListWebhookEndpoints,
) -> Result<Page<WebhookEndpointView>> {
    actor.require(Action::WebhooksRead)?;
    let page = PageRequest::new(query.limit, query.cursor.as_deref(), "-created_at")?;
    let mut select = Entity::find();
    if let Some(key) = owner_filter(actor) {
        select = select.filter(COLUMN.owner_key_id.eq(key));
    }
    if let Some(enabled) = query.enabled {
        select = select.filter(COLUMN.enabled.eq(enabled));
    }
    let seek = Seek::newest_first(Column::CreatedAt, Column::Id);
    let rows = seek.select(select, &page)?.all(conn).await?;
    Ok(seek.page(rows, &page, view))
}
