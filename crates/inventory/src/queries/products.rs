use ordercrm_kernel::authz::{Action, Actor};
use ordercrm_kernel::input::Text;
use ordercrm_kernel::pagination::{PageRequest, Seek};
use ordercrm_kernel::{Currency, Money, Page, Result};
use sea_orm::{ConnectionTrait, DatabaseBackend, EntityTrait, Order, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::dto::{ExternalRef, ListProducts, ProductSort, ProductView};
use crate::entity::{product, product_ref};
use crate::error::InventoryError;
use crate::model;

pub async fn get(conn: &impl ConnectionTrait, actor: &Actor, id: Uuid) -> Result<ProductView> {
    actor.require(Action::CatalogRead)?;
    get_in(conn, id).await
}

/// By SKU, any case.
pub async fn get_by_sku(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    sku: &str,
) -> Result<ProductView> {
    actor.require(Action::CatalogRead)?;
    let row = product::Entity::find()
        .filter(product::COLUMN.sku_normalized.eq(model::normalize_sku(sku)))
        .one(conn)
        .await?
        .ok_or_else(|| InventoryError::not_found("product", sku))?;
    get_in(conn, row.id).await
}

pub(crate) async fn get_in(conn: &impl ConnectionTrait, id: Uuid) -> Result<ProductView> {
    let row = product::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(|| InventoryError::not_found("product", id))?;
    views(conn, vec![row])
        .await?
        .pop()
        .ok_or_else(|| InventoryError::not_found("product", id).into())
}

pub async fn list(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    query: ListProducts,
) -> Result<Page<ProductView>> {
    actor.require(Action::CatalogRead)?;
    let sort = query.sort.unwrap_or_default();
    let page = PageRequest::new(query.limit, query.cursor.as_deref(), sort.as_str())?;
    let c = product::COLUMN;
    let mut select = product::Entity::find();
    if let Some(q) = Text::param(query.q.as_ref(), "q")? {
        select = select.filter(search(conn.get_database_backend(), q));
    }
    if let Some(category) = Text::param(query.category.as_ref(), "category")? {
        select = select.filter(c.category.eq(category));
    }
    if let Some(active) = query.active {
        select = select.filter(c.active.eq(active));
    }
    if let Some(t) = query.tracks_inventory {
        select = select.filter(c.tracks_inventory.eq(t));
    }
    if let Some(s) = query.supplier_id {
        select = select.filter(c.supplier_id.eq(s));
    }
    let seek = sort.seek();
    let rows = seek.select(select, &page)?.all(conn).await?;
    let data = views(conn, rows.clone()).await?;
    Ok(seek.page_of(&rows, &page, data))
}

impl ProductSort {
    fn seek(self) -> Seek<product::Entity> {
        use product::Column::{CreatedAt, Id, Name, SkuNormalized};
        match self {
            ProductSort::CreatedAtDesc => Seek::by(Order::Desc, [CreatedAt, Id]),
            ProductSort::CreatedAt => Seek::by(Order::Asc, [CreatedAt, Id]),
            ProductSort::Sku => Seek::by(Order::Asc, [SkuNormalized, Id]),
            ProductSort::Name => Seek::by(Order::Asc, [Name, Id]),
        }
    }
}

fn search(backend: DatabaseBackend, q: &str) -> sea_orm::sea_query::SimpleExpr {
    ordercrm_kernel::text::search_text_contains(backend, "products", q)
}

fn money(amount: Option<i64>, currency: Option<&str>) -> Option<Money> {
    let currency: Currency = currency?.parse().ok()?;
    Some(Money::new(amount?, currency))
}

pub(crate) async fn views(
    conn: &impl ConnectionTrait,
    rows: Vec<product::Model>,
) -> Result<Vec<ProductView>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let refs = if ids.is_empty() {
        Vec::new()
    } else {
        product_ref::Entity::find()
            .filter(product_ref::COLUMN.product_id.is_in(ids))
            .order_by_asc(product_ref::Column::Channel)
            .all(conn)
            .await?
    };
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(ProductView {
                list_price: money(Some(r.list_price_amount), Some(&r.list_price_currency))?,
                cost: money(r.cost_amount, r.cost_currency.as_deref()),
                external_refs: refs
                    .iter()
                    .filter(|x| x.product_id == r.id)
                    .map(|x| ExternalRef::new(x.channel.clone(), x.external_id.clone()))
                    .collect(),
                id: r.id,
                sku: r.sku,
                name: r.name,
                description: r.description,
                category: r.category,
                unit: r.unit,
                barcode: r.barcode,
                tax_rate_bps: r.tax_rate_bps,
                warranty_days: r.warranty_days,
                tracks_inventory: r.tracks_inventory,
                active: r.active,
                attributes: r.attributes,
                supplier_id: r.supplier_id,
                version: r.version,
                created_at: r.created_at,
                updated_at: r.updated_at,
            })
        })
        .collect())
}
