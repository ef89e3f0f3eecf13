//! Reads, each scoped to what the actor may see.

use ordercrm_kernel::audit::entity as audit_entity;
use ordercrm_kernel::authz::{Action, Actor, Role};
use ordercrm_kernel::pagination::{PageRequest, Seek};
use ordercrm_kernel::{Page, Result};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, Order, QueryFilter, Select};
use uuid::Uuid;

use crate::dto::{
    ApiKeyView, AuditEventView, AuditSort, ListApiKeys, ListAuditEvents, ListUsers, UserView,
};
use crate::entity::{api_key, user};
use crate::error::IdentityError;

/// Users this actor may see ([`Actor::user_visibility`]).
fn visible_users(actor: &Actor) -> Select<user::Entity> {
    user::Entity::find().filter(actor.user_visibility().condition(user::Column::Id))
}

/// A user the actor may see, or 404 (never 403: existence is not revealed).
pub(crate) async fn find_visible(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
) -> Result<user::Model> {
    visible_users(actor)
        .filter(user::COLUMN.id.eq(id))
        .one(conn)
        .await?
        .ok_or_else(|| IdentityError::UserNotFound(id.to_string()).into())
}

pub async fn get_user(conn: &impl ConnectionTrait, actor: &Actor, id: Uuid) -> Result<UserView> {
    actor.require(Action::UsersRead)?;
    Ok(find_visible(conn, actor, id).await?.into())
}

pub async fn me(conn: &impl ConnectionTrait, actor: &Actor) -> Result<UserView> {
    match actor.user_id() {
        Some(id) => Ok(find_visible(conn, actor, id).await?.into()),
        None => Err(actor.require(Action::UsersWrite).err().unwrap_or_else(|| {
            IdentityError::Forbidden("only people have a profile".into()).into()
        })),
    }
}

pub async fn list_users(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    query: ListUsers,
) -> Result<Page<UserView>> {
    actor.require(Action::UsersRead)?;
    let page = PageRequest::new(query.limit, query.cursor.as_deref(), "id")?;
    let mut select = visible_users(actor);
    if let Some(q) = query.q.as_deref().filter(|q| !q.is_empty()) {
        select = select.filter(
            Condition::any()
                .add(user::Column::EmailNormalized.like(ordercrm_kernel::text::contains(q)))
                .add(
                    Expr::expr(Func::lower(Expr::col(user::Column::DisplayName)))
                        .like(ordercrm_kernel::text::contains(q)),
                ),
        );
    }
    if let Some(role) = query.role {
        select = select.filter(user::COLUMN.role.eq(role.as_str()));
    }
    if let Some(active) = query.active {
        select = select.filter(user::COLUMN.active.eq(active));
    }
    if let Some(manager) = query.manager_id {
        select = select.filter(user::COLUMN.manager_id.eq(manager));
    }
    // UUID v7 ids sort by creation.
    let seek = Seek::by(Order::Asc, [user::Column::Id]);
    let rows = seek.select(select, &page)?.all(conn).await?;
    Ok(seek.page(rows, &page, UserView::from))
}

pub async fn list_api_keys(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    query: ListApiKeys,
) -> Result<Page<ApiKeyView>> {
    actor.require(Action::ApiKeysManage)?;
    let page = PageRequest::new(query.limit, query.cursor.as_deref(), "id")?;
    let mut select = api_key::Entity::find();
    if !query.include_revoked.unwrap_or(false) {
        select = select.filter(api_key::COLUMN.revoked_at.is_null());
    }
    let seek = Seek::by(Order::Asc, [api_key::Column::Id]);
    let rows = seek.select(select, &page)?.all(conn).await?;
    Ok(seek.page(rows, &page, ApiKeyView::from))
}

pub async fn list_audit_events(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    query: ListAuditEvents,
) -> Result<Page<AuditEventView>> {
    actor.require(Action::AuditRead)?;
    let sort = query.sort.unwrap_or_default();
    let page = PageRequest::new(query.limit, query.cursor.as_deref(), sort.as_str())?;
    let c = audit_entity::COLUMN;
    let mut select = audit_entity::Entity::find();
    if let Some(v) = query.actor_id {
        select = select.filter(c.actor_id.eq(v));
    }
    if let Some(v) = query.action {
        select = select.filter(c.action.eq(v));
    }
    if let Some(v) = query.entity_type {
        select = select.filter(c.entity_type.eq(v));
    }
    if let Some(v) = query.entity_id {
        select = select.filter(c.entity_id.eq(v));
    }
    if let Some(v) = query.outcome {
        select = select.filter(c.outcome.eq(v.as_str()));
    }
    if let Some(v) = query.occurred_after {
        select = select.filter(c.occurred_at.gte(v));
    }
    if let Some(v) = query.occurred_before {
        select = select.filter(c.occurred_at.lt(v));
    }
    let seek = Seek::by(
        match sort {
            AuditSort::SeqDesc => Order::Desc,
            AuditSort::Seq => Order::Asc,
        },
        [audit_entity::Column::Seq],
    );
    let rows = seek.select(select, &page)?.all(conn).await?;
    Ok(seek.page(rows, &page, |r| AuditEventView {
        id: r.id,
        seq: r.seq,
        occurred_at: r.occurred_at,
        actor_type: r.actor_type,
        actor_id: r.actor_id,
        action: r.action,
        entity_type: r.entity_type,
        entity_id: r.entity_id,
        changes: r.changes,
        outcome: r.outcome,
        ip: r.ip,
        user_agent: r.user_agent,
        request_id: r.request_id,
    }))
}

/// Whether anyone could sign in and administer: an active admin exists. A server
/// started without one tells the operator how to create it.
pub async fn has_active_admin(conn: &impl ConnectionTrait) -> Result<bool> {
    Ok(user::Entity::find()
        .filter(user::COLUMN.role.eq(Role::Admin.as_str()))
        .filter(user::COLUMN.active.eq(true))
        .one(conn)
        .await?
        .is_some())
}
