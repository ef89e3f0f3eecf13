//! Reads.

use chrono::{DateTime, Utc};
use ordercrm_kernel::authz::Action;
use ordercrm_kernel::pagination::{PageRequest, keyset_after};
use ordercrm_kernel::{Actor, Page, Result};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, Order, QueryFilter, QueryOrder,
    QuerySelect, Value,
};

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

    let columns: Vec<(Column, Order)> = match sort {
        SettingSort::Key => vec![(Column::Key, Order::Asc)],
        SettingSort::KeyDesc => vec![(Column::Key, Order::Desc)],
        SettingSort::UpdatedAt => vec![(Column::UpdatedAt, Order::Asc), (Column::Key, Order::Asc)],
        SettingSort::UpdatedAtDesc => {
            vec![(Column::UpdatedAt, Order::Desc), (Column::Key, Order::Desc)]
        }
    };
    if let Some(cursor) = &page.after {
        let values: Vec<Value> = match sort {
            SettingSort::Key | SettingSort::KeyDesc => vec![cursor.key_at::<String>(0)?.into()],
            SettingSort::UpdatedAt | SettingSort::UpdatedAtDesc => vec![
                cursor.key_at::<DateTime<Utc>>(0)?.into(),
                cursor.key_at::<String>(1)?.into(),
            ],
        };
        select = select.filter(keyset_after(&columns, values));
    }
    for (col, order) in &columns {
        select = select.order_by(*col, order.clone());
    }
    let rows = select.limit(page.fetch_limit()).all(conn).await?;

    Ok(Page::from_rows(
        rows,
        &page,
        |row| match sort {
            SettingSort::Key | SettingSort::KeyDesc => vec![row.key.clone().into()],
            SettingSort::UpdatedAt | SettingSort::UpdatedAtDesc => {
                vec![serde_json::json!(row.updated_at), row.key.clone().into()]
            }
        },
        SettingView::from,
    ))
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
