//! Reads. Every finder starts from `visible`, so no query can forget that a sales
//! rep sees only their own customers and a manager their team's.

use chrono::{DateTime, Utc};
use ordercrm_kernel::authz::{Action, Actor, Visibility};
use ordercrm_kernel::crypto::{FieldCipher, mask};
use ordercrm_kernel::pagination::{PageRequest, keyset_after};
use ordercrm_kernel::{Currency, Money, Page, Result};
use sea_orm::sea_query::{Expr, LikeExpr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, Order, QueryFilter, QueryOrder,
    QuerySelect, Select, Value,
};
use uuid::Uuid;

use crate::dto::{CustomerSort, CustomerView, ExternalRef, ListCustomers};
use crate::entity::{customer, external_ref};
use crate::error::CustomerError;

/// Customers `actor` may see.
pub(crate) fn visible(actor: &Actor) -> Select<customer::Entity> {
    let select = customer::Entity::find();
    match actor.visibility() {
        Visibility::All => select,
        Visibility::OwnedBy(ids) => select.filter(customer::COLUMN.owner_id.is_in(ids)),
        Visibility::Nothing => select.filter(Expr::value(false)),
    }
}

pub(crate) async fn find_visible(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
) -> Result<customer::Model> {
    visible(actor)
        .filter(customer::COLUMN.id.eq(id))
        .one(conn)
        .await?
        .ok_or_else(|| CustomerError::NotFound(id.to_string()).into())
}

pub async fn get(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    cipher: &FieldCipher,
    id: Uuid,
) -> Result<CustomerView> {
    actor.require(Action::CustomersRead)?;
    let row = find_visible(conn, actor, id).await?;
    let mut views = views(conn, actor, cipher, vec![row]).await?;
    views
        .pop()
        .ok_or_else(|| CustomerError::NotFound(id.to_string()).into())
}

fn like(q: &str) -> LikeExpr {
    let escaped = q
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    LikeExpr::new(format!("%{escaped}%")).escape('\\')
}

pub async fn list(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    cipher: &FieldCipher,
    query: ListCustomers,
) -> Result<Page<CustomerView>> {
    actor.require(Action::CustomersRead)?;
    let sort = query.sort.unwrap_or_default();
    let page = PageRequest::new(query.limit, query.cursor.as_deref(), sort.as_str())?;
    let c = customer::COLUMN;
    let mut select = visible(actor).filter(c.archived.eq(query.archived.unwrap_or(false)));
    if let Some(q) = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        select = select.filter(customer::Column::SearchText.like(like(q)));
    }
    if let Some(tag) = query.tag.as_deref().filter(|t| !t.is_empty()) {
        select = select.filter(has_tag(conn.get_database_backend(), tag));
    }
    if let Some(owner) = query.owner_id {
        select = select.filter(c.owner_id.eq(owner));
    }
    if let Some(kind) = query.kind {
        select = select.filter(c.kind.eq(kind));
    }
    if let Some(industry) = query.industry {
        select = select.filter(c.industry.eq(industry));
    }
    if let Some(after) = query.created_after {
        select = select.filter(c.created_at.gte(after));
    }
    if let Some(before) = query.created_before {
        select = select.filter(c.created_at.lt(before));
    }
    let columns: Vec<(customer::Column, Order)> = match sort {
        CustomerSort::CreatedAtDesc => vec![
            (customer::Column::CreatedAt, Order::Desc),
            (customer::Column::Id, Order::Desc),
        ],
        CustomerSort::CreatedAt => vec![
            (customer::Column::CreatedAt, Order::Asc),
            (customer::Column::Id, Order::Asc),
        ],
        CustomerSort::Name => vec![
            (customer::Column::Name, Order::Asc),
            (customer::Column::Id, Order::Asc),
        ],
        CustomerSort::NameDesc => vec![
            (customer::Column::Name, Order::Desc),
            (customer::Column::Id, Order::Desc),
        ],
    };
    if let Some(cursor) = &page.after {
        let first: Value = match sort {
            CustomerSort::CreatedAt | CustomerSort::CreatedAtDesc => {
                cursor.key_at::<DateTime<Utc>>(0)?.into()
            }
            CustomerSort::Name | CustomerSort::NameDesc => cursor.key_at::<String>(0)?.into(),
        };
        select = select.filter(keyset_after(
            &columns,
            vec![first, cursor.key_at::<Uuid>(1)?.into()],
        ));
    }
    for (col, order) in &columns {
        select = select.order_by(*col, order.clone());
    }
    let rows = select.limit(page.fetch_limit()).all(conn).await?;
    let keys: Vec<Vec<serde_json::Value>> = rows
        .iter()
        .map(|r| match sort {
            CustomerSort::CreatedAt | CustomerSort::CreatedAtDesc => {
                vec![serde_json::json!(r.created_at), serde_json::json!(r.id)]
            }
            CustomerSort::Name | CustomerSort::NameDesc => {
                vec![serde_json::json!(r.name), serde_json::json!(r.id)]
            }
        })
        .collect();
    let has_more = rows.len() as u64 > page.limit;
    let mut data = views(conn, actor, cipher, rows).await?;
    data.truncate(page.limit as usize);
    let next_cursor = has_more
        .then(|| keys.get(data.len().saturating_sub(1)))
        .flatten()
        .map(|key| {
            ordercrm_kernel::Cursor {
                sort: page.sort.clone(),
                key: key.clone(),
            }
            .encode()
        });
    Ok(Page {
        data,
        next_cursor,
        has_more,
    })
}

fn has_tag(backend: DatabaseBackend, tag: &str) -> sea_orm::sea_query::SimpleExpr {
    let tag = tag.trim().to_owned();
    match backend {
        DatabaseBackend::Postgres => {
            Expr::cust_with_values("tags @> $1::jsonb", [serde_json::json!([tag]).to_string()])
        }
        _ => Expr::cust_with_values(
            "EXISTS (SELECT 1 FROM json_each(customers.tags) WHERE json_each.value = ?)",
            [tag],
        ),
    }
}

/// Rows as the API shows them to `actor`: external refs attached (one query for all),
/// the tax id decrypted and, unless the actor may see it, masked.
pub(crate) async fn views(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    cipher: &FieldCipher,
    rows: Vec<customer::Model>,
) -> Result<Vec<CustomerView>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let refs = if ids.is_empty() {
        Vec::new()
    } else {
        external_ref::Entity::find()
            .filter(external_ref::COLUMN.customer_id.is_in(ids))
            .order_by(external_ref::Column::Channel, Order::Asc)
            .all(conn)
            .await?
    };
    let full = actor.may(Action::CustomersReadSensitive);
    rows.into_iter()
        .map(|r| {
            let tax_id = match &r.tax_id_encrypted {
                Some(sealed) => {
                    let plain = cipher.decrypt(sealed)?;
                    Some(if full { plain } else { mask(&plain) })
                }
                None => None,
            };
            let external_refs = refs
                .iter()
                .filter(|x| x.customer_id == r.id)
                .map(|x| ExternalRef {
                    channel: x.channel.clone(),
                    external_id: x.external_id.clone(),
                })
                .collect();
            Ok(view(r, tax_id, external_refs))
        })
        .collect()
}

fn view(
    r: customer::Model,
    tax_id: Option<String>,
    external_refs: Vec<ExternalRef>,
) -> CustomerView {
    let credit_limit = match (
        r.credit_limit_amount,
        r.credit_limit_currency
            .as_deref()
            .map(str::parse::<Currency>),
    ) {
        (Some(amount), Some(Ok(currency))) => Some(Money::new(amount, currency)),
        _ => None,
    };
    CustomerView {
        id: r.id,
        number: r.number,
        kind: r.kind,
        name: r.name,
        email: r.email,
        phone: r.phone,
        legal_name: r.legal_name,
        industry: r.industry,
        size_band: r.size_band,
        tax_id,
        birthday: r.birthday,
        preferred_language: r.preferred_language,
        preferred_currency: r.preferred_currency,
        tags: serde_json::from_value(r.tags).unwrap_or_default(),
        source_channel: r.source_channel,
        owner_id: r.owner_id,
        credit_limit,
        payment_terms_days: r.payment_terms_days,
        marketing_consent: r.marketing_consent,
        marketing_consent_at: r.marketing_consent_at,
        attributes: r.attributes,
        external_refs,
        archived: r.archived,
        archived_at: r.archived_at,
        version: r.version,
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

/// Customers sharing this one's normalised email or phone, among those `actor` sees.
pub async fn possible_duplicates(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    cipher: &FieldCipher,
    id: Uuid,
) -> Result<Vec<CustomerView>> {
    actor.require(Action::CustomersRead)?;
    let me = find_visible(conn, actor, id).await?;
    let mut any = sea_orm::Condition::any();
    if let Some(e) = &me.email_normalized {
        any = any.add(customer::COLUMN.email_normalized.eq(e.clone()));
    }
    if let Some(p) = &me.phone_normalized {
        any = any.add(customer::COLUMN.phone_normalized.eq(p.clone()));
    }
    if me.email_normalized.is_none() && me.phone_normalized.is_none() {
        return Ok(Vec::new());
    }
    let rows = visible(actor)
        .filter(any)
        .filter(customer::COLUMN.id.ne(id))
        .order_by(customer::Column::CreatedAt, Order::Asc)
        .limit(50)
        .all(conn)
        .await?;
    views(conn, actor, cipher, rows).await
}
