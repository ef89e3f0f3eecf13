use ordercrm_kernel::authz::{Action, Actor};
use ordercrm_kernel::pagination::{PageRequest, Seek};
use ordercrm_kernel::{Currency, Money, Page, Result};
use sea_orm::{ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::dto::{ListPurchaseOrders, PurchaseOrderLineView, PurchaseOrderView};
use crate::entity::{product, purchase_order, purchase_order_line, warehouse};
use crate::error::InventoryError;
use crate::model::PurchaseOrderStatus;

pub async fn get(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
) -> Result<PurchaseOrderView> {
    actor.require(Action::PurchasingRead)?;
    get_in(conn, id).await
}

pub(crate) async fn get_in(conn: &impl ConnectionTrait, id: Uuid) -> Result<PurchaseOrderView> {
    let row = purchase_order::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(|| InventoryError::not_found("purchase order", id))?;
    views(conn, vec![row])
        .await?
        .pop()
        .ok_or_else(|| InventoryError::not_found("purchase order", id).into())
}

pub async fn list(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    query: ListPurchaseOrders,
) -> Result<Page<PurchaseOrderView>> {
    actor.require(Action::PurchasingRead)?;
    let page = PageRequest::new(query.limit, query.cursor.as_deref(), "-created_at")?;
    let mut select = purchase_order::Entity::find();
    if let Some(s) = query.status {
        select = select.filter(purchase_order::COLUMN.status.eq(s.as_str()));
    }
    if let Some(s) = query.supplier_id {
        select = select.filter(purchase_order::COLUMN.supplier_id.eq(s));
    }
    let seek = Seek::newest_first(
        purchase_order::Column::CreatedAt,
        purchase_order::Column::Id,
    );
    let rows = seek.select(select, &page)?.all(conn).await?;
    let data = views(conn, rows.clone()).await?;
    Ok(seek.page_of(&rows, &page, data))
}

pub(crate) async fn views(
    conn: &impl ConnectionTrait,
    rows: Vec<purchase_order::Model>,
) -> Result<Vec<PurchaseOrderView>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let lines = if ids.is_empty() {
        Vec::new()
    } else {
        purchase_order_line::Entity::find()
            .filter(purchase_order_line::COLUMN.purchase_order_id.is_in(ids))
            .order_by_asc(purchase_order_line::Column::LineNo)
            .all(conn)
            .await?
    };
    let product_ids: Vec<Uuid> = lines.iter().map(|l| l.product_id).collect();
    let skus: std::collections::HashMap<Uuid, String> = if product_ids.is_empty() {
        Default::default()
    } else {
        product::Entity::find()
            .filter(product::COLUMN.id.is_in(product_ids))
            .all(conn)
            .await?
            .into_iter()
            .map(|p| (p.id, p.sku))
            .collect()
    };
    let warehouse_ids: Vec<Uuid> = rows.iter().map(|r| r.warehouse_id).collect();
    let codes: std::collections::HashMap<Uuid, String> = if warehouse_ids.is_empty() {
        Default::default()
    } else {
        warehouse::Entity::find()
            .filter(warehouse::COLUMN.id.is_in(warehouse_ids))
            .all(conn)
            .await?
            .into_iter()
            .map(|w| (w.id, w.code))
            .collect()
    };
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let currency: Currency = r.currency.parse().map_err(|_| {
            InventoryError::Conflict(format!("stored currency '{}' is unknown", r.currency))
        })?;
        let mut total = 0i64;
        let lines: Vec<PurchaseOrderLineView> = lines
            .iter()
            .filter(|l| l.purchase_order_id == r.id)
            .map(|l| {
                let line_total = l.unit_cost_amount.saturating_mul(l.quantity);
                total = total.saturating_add(line_total);
                PurchaseOrderLineView {
                    line_no: l.line_no,
                    sku: skus.get(&l.product_id).cloned().unwrap_or_default(),
                    product_id: l.product_id,
                    quantity: l.quantity,
                    received_quantity: l.received_quantity,
                    open_quantity: l.quantity - l.received_quantity,
                    unit_cost: Money::new(l.unit_cost_amount, currency),
                    line_total: Money::new(line_total, currency),
                }
            })
            .collect();
        out.push(PurchaseOrderView {
            id: r.id,
            number: r.number,
            supplier_id: r.supplier_id,
            warehouse_code: codes.get(&r.warehouse_id).cloned().unwrap_or_default(),
            warehouse_id: r.warehouse_id,
            status: PurchaseOrderStatus::parse(&r.status).unwrap_or(PurchaseOrderStatus::Draft),
            currency: r.currency,
            expected_on: r.expected_on,
            notes: r.notes,
            lines,
            total: Money::new(total, currency),
            ordered_at: r.ordered_at,
            received_at: r.received_at,
            cancelled_at: r.cancelled_at,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        });
    }
    Ok(out)
}

/// Units ordered and not yet received per (product, warehouse), over open orders.
pub(crate) async fn on_order(
    conn: &impl ConnectionTrait,
) -> Result<std::collections::HashMap<(Uuid, Uuid), i64>> {
    let open = [
        PurchaseOrderStatus::Draft.as_str(),
        PurchaseOrderStatus::Ordered.as_str(),
        PurchaseOrderStatus::PartiallyReceived.as_str(),
    ];
    let orders: std::collections::HashMap<Uuid, Uuid> = purchase_order::Entity::find()
        .filter(purchase_order::COLUMN.status.is_in(open))
        .all(conn)
        .await?
        .into_iter()
        .map(|o| (o.id, o.warehouse_id))
        .collect();
    let mut out = std::collections::HashMap::new();
    if orders.is_empty() {
        return Ok(out);
    }
    for l in purchase_order_line::Entity::find()
        .filter(
            purchase_order_line::COLUMN
                .purchase_order_id
                .is_in(orders.keys().copied()),
        )
        .all(conn)
        .await?
    {
        if let Some(w) = orders.get(&l.purchase_order_id) {
            *out.entry((l.product_id, *w)).or_insert(0) += l.quantity - l.received_quantity;
        }
    }
    Ok(out)
}
