//! Reads.

use ordercrm_kernel::authz::Action;
use ordercrm_kernel::pagination::{PageRequest, Seek};
use ordercrm_kernel::{Actor, Page, Result};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, Order, QueryFilter};

use crate::dto::{ListSettings, SettingSort, SettingView};
use crate::entity::{self, COLUMN, Column, Entity};
use crate::error::SettingsError;

pub async fn get(conn: &impl ConnectionTrait, actor: &Actor, key: &str) -> Result<SettingView> {
    actor.require(Action::SettingsRead)?;
    Ok(find_model(conn, key).await?.into())
}

/// The value of a setting, if set; for other domains (e.g. a number prefix).
pub async fn value(conn: &impl ConnectionTrait, key: &str) -> Result<Option<serde_json::Value>> {
    Ok(Entity::find_by_id(key.to_owned())
        .one(conn)
        .await?
        .map(|m| m.value))
}

/// What money is added up in (credit checks, tiers, reports): `base_currency`,
/// else `default_currency`, else `None` (each order's own).
pub async fn base_currency(
    conn: &impl ConnectionTrait,
) -> Result<Option<ordercrm_kernel::Currency>> {
    let mut base = None;
    for key in ["default_currency", "base_currency"] {
        if let Some(c) = value(conn, key)
            .await?
            .and_then(|v| v.as_str().and_then(|s| s.parse().ok()))
        {
            base = Some(c);
        }
    }
    Ok(base)
}

/// The document-number prefix a `*_number_prefix` setting holds, or `default`.
pub async fn number_prefix(
    conn: &impl ConnectionTrait,
    key: &str,
    default: &str,
) -> Result<String> {
    Ok(value(conn, key)
        .await?
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| default.to_owned()))
}

pub(crate) async fn find_model(conn: &impl ConnectionTrait, key: &str) -> Result<entity::Model> {
    Entity::find_by_id(key.to_owned())
        .one(conn)
        .await?
        .ok_or_else(|| SettingsError::NotFound(key.to_owned()).into())
}

pub async fn list(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    query: ListSettings,
) -> Result<Page<SettingView>> {
    actor.require(Action::SettingsRead)?;
    let sort = query.sort.unwrap_or_default();
    let page = PageRequest::new(query.limit, query.cursor.as_deref(), sort.as_str())?;

    let mut select = Entity::find();
    if let Some(q) = query.q.as_deref().filter(|q| !q.is_empty()) {
        let pattern = ordercrm_kernel::text::contains(q);
        select = select.filter(
            Condition::any()
                .add(lower(Column::Key).like(pattern.clone()))
                .add(lower(Column::Description).like(pattern)),
        );
    }
    if let Some(prefix) = query.key_prefix.as_deref().filter(|p| !p.is_empty()) {
        select = select.filter(Column::Key.like(ordercrm_kernel::text::starts_with(prefix)));
    }
    if let Some(after) = query.updated_after {
        select = select.filter(COLUMN.updated_at.gte(after));
    }
    if let Some(before) = query.updated_before {
        select = select.filter(COLUMN.updated_at.lt(before));
    }

    let seek = sort.seek();
    let rows = seek.select(select, &page)?.all(conn).await?;
    Ok(seek.page(rows, &page, SettingView::from))
}

impl SettingSort {
    fn seek(self) -> Seek<Entity> {
        match self {
            SettingSort::Key => Seek::by(Order::Asc, [Column::Key]),
            SettingSort::KeyDesc => Seek::by(Order::Desc, [Column::Key]),
            SettingSort::UpdatedAt => Seek::by(Order::Asc, [Column::UpdatedAt, Column::Key]),
            SettingSort::UpdatedAtDesc => Seek::by(Order::Desc, [Column::UpdatedAt, Column::Key]),
        }
    }
}

fn lower(col: Column) -> Expr {
    Expr::expr(Func::lower(Expr::col(col)))
}

impl From<entity::Model> for SettingView {
    fn from(m: entity::Model) -> Self {
        Self {
            key: m.key,
            value: m.value,
            description: m.description,
            version: m.version,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}
