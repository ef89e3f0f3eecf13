//! The primitives every stock change goes through: find the product and warehouse,
//! make sure the level row exists, change it with one conditional statement, write
//! the ledger line, and open or close the low-stock alert.

use std::collections::HashMap;

use ordercrm_kernel::version::try_claim;
use ordercrm_kernel::{Ctx, FieldError, Result, id::new_id};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::dto::{LevelView, MovementView, ShortLine};
use crate::entity::{alert, level, movement, product, warehouse};
use crate::error::InventoryError;
use crate::events;
use crate::model::{self, MovementKind};

/// A product and a warehouse a stock operation is about.
#[derive(Debug, Clone)]
pub(crate) struct Place {
    pub product: product::Model,
    pub warehouse: warehouse::Model,
}

impl Place {
    pub fn key(&self) -> (Uuid, Uuid) {
        (self.product.id, self.warehouse.id)
    }

    /// `SKU@WAREHOUSE`: how the audit log and the event feed name a stock level.
    pub fn label(&self) -> String {
        format!("{}@{}", self.product.sku, self.warehouse.code)
    }

    pub fn short(&self, requested: i64, available: i64) -> ShortLine {
        ShortLine {
            sku: self.product.sku.clone(),
            warehouse_code: self.warehouse.code.clone(),
            requested,
            available,
        }
    }

    pub fn level_view(&self, l: &level::Model) -> LevelView {
        level_view(l, &self.product, &self.warehouse)
    }
}

pub(crate) fn level_view(l: &level::Model, p: &product::Model, w: &warehouse::Model) -> LevelView {
    LevelView {
        sku: p.sku.clone(),
        product_id: p.id,
        product_name: p.name.clone(),
        warehouse_code: w.code.clone(),
        warehouse_id: w.id,
        on_hand: l.on_hand,
        reserved: l.reserved,
        available: l.available(),
        reorder_point: l.reorder_point,
        reorder_quantity: l.reorder_quantity,
        safety_stock: l.safety_stock,
        low_stock: l.low_stock,
        counted_at: l.counted_at,
        version: l.version,
        updated_at: l.updated_at,
    }
}

pub(crate) fn movement_view(m: &movement::Model, place: &Place) -> MovementView {
    MovementView {
        id: m.id,
        sku: place.product.sku.clone(),
        product_id: m.product_id,
        warehouse_code: place.warehouse.code.clone(),
        warehouse_id: m.warehouse_id,
        kind: MovementKind::parse(&m.kind).unwrap_or(MovementKind::Adjustment),
        units: m.units,
        quantity: m.quantity,
        on_hand_after: m.on_hand_after,
        reason: m.reason.clone(),
        reference: m.reference.clone(),
        transfer_id: m.transfer_id,
        reservation_id: m.reservation_id,
        purchase_order_id: m.purchase_order_id,
        actor: m.actor.clone(),
        created_at: m.created_at,
    }
}

/// Products by SKU (any case), in one query.
pub(crate) async fn products_by_sku(
    conn: &impl ConnectionTrait,
    skus: &[&str],
) -> Result<HashMap<String, product::Model>> {
    let keys: Vec<String> = skus.iter().map(|s| model::normalize_sku(s)).collect();
    Ok(product::Entity::find()
        .filter(product::COLUMN.sku_normalized.is_in(keys))
        .all(conn)
        .await?
        .into_iter()
        .map(|p| (p.sku_normalized.clone(), p))
        .collect())
}

/// Warehouses by code (any case), in one query.
pub(crate) async fn warehouses_by_code(
    conn: &impl ConnectionTrait,
    codes: &[&str],
) -> Result<HashMap<String, warehouse::Model>> {
    let keys: Vec<String> = codes.iter().map(|s| model::normalize_code(s)).collect();
    Ok(warehouse::Entity::find()
        .filter(warehouse::COLUMN.code_normalized.is_in(keys))
        .all(conn)
        .await?
        .into_iter()
        .map(|w| (w.code_normalized.clone(), w))
        .collect())
}

/// Resolve `(sku, warehouse_code)` pairs for stock operations: unknown, inactive
/// or untracked products and unknown or inactive warehouses are field errors at
/// `{prefix}sku` / `{prefix}warehouse_code`.
pub(crate) async fn resolve(
    conn: &impl ConnectionTrait,
    pairs: &[(String, &str, &str)],
    errors: &mut Vec<FieldError>,
) -> Result<Vec<Option<Place>>> {
    let skus: Vec<&str> = pairs.iter().map(|p| p.1).collect();
    let codes: Vec<&str> = pairs.iter().map(|p| p.2).collect();
    let products = products_by_sku(conn, &skus).await?;
    let warehouses = warehouses_by_code(conn, &codes).await?;
    let mut out = Vec::with_capacity(pairs.len());
    for (prefix, sku, code) in pairs {
        let p = products.get(&model::normalize_sku(sku));
        let w = warehouses.get(&model::normalize_code(code));
        match p {
            None => errors.push(FieldError::new(
                format!("{prefix}sku"),
                "unknown_sku",
                format!("no product with SKU '{sku}'"),
            )),
            Some(p) if !p.tracks_inventory => errors.push(FieldError::state(
                format!("{prefix}sku"),
                "not_stocked",
                format!("'{}' does not track inventory", p.sku),
            )),
            Some(p) if !p.active => errors.push(FieldError::state(
                format!("{prefix}sku"),
                "inactive",
                format!("'{}' is inactive", p.sku),
            )),
            _ => {}
        }
        match w {
            None => errors.push(FieldError::new(
                format!("{prefix}warehouse_code"),
                "unknown_warehouse",
                format!("no warehouse with code '{code}'"),
            )),
            Some(w) if !w.active => errors.push(FieldError::state(
                format!("{prefix}warehouse_code"),
                "inactive",
                format!("warehouse '{}' is inactive", w.code),
            )),
            _ => {}
        }
        out.push(match (p, w) {
            (Some(p), Some(w)) => Some(Place {
                product: p.clone(),
                warehouse: w.clone(),
            }),
            _ => None,
        });
    }
    Ok(out)
}

/// One place; its problems go into `errors` (the code's under `code_field`), next to
/// whatever else the caller found wrong with the request.
pub(crate) async fn resolve_into(
    conn: &impl ConnectionTrait,
    sku: &str,
    code: &str,
    code_field: &str,
    errors: &mut Vec<FieldError>,
) -> Result<Option<Place>> {
    let mut own = Vec::new();
    let mut places = resolve(conn, &[(String::new(), sku, code)], &mut own).await?;
    for mut e in own {
        if e.field == "warehouse_code" {
            e.field = code_field.to_owned();
        }
        if !errors.contains(&e) {
            errors.push(e);
        }
    }
    Ok(places.pop().flatten())
}

/// One place, or 400 listing its problems together with the request's other `errors`.
pub(crate) async fn resolve_one(
    conn: &impl ConnectionTrait,
    sku: &str,
    code: &str,
    mut errors: Vec<FieldError>,
) -> Result<Place> {
    match resolve_into(conn, sku, code, "warehouse_code", &mut errors).await? {
        Some(place) if errors.is_empty() => Ok(place),
        _ => Err(ordercrm_kernel::Error::validation(errors)),
    }
}

/// The place a URL names (`/levels/{sku}/{warehouse_code}`): 404 when the product or
/// the warehouse does not exist; other problems (not stocked, inactive) are field
/// errors next to the caller's own.
pub(crate) async fn resolve_path(
    conn: &impl ConnectionTrait,
    sku: &str,
    code: &str,
    mut errors: Vec<FieldError>,
) -> Result<Place> {
    let mut own = Vec::new();
    let place = resolve_into(conn, sku, code, "warehouse_code", &mut own).await?;
    if own.iter().any(|e| e.code.starts_with("unknown_")) {
        return Err(InventoryError::not_found("stock level", format!("{sku}@{code}")).into());
    }
    errors.extend(own);
    match place {
        Some(place) if errors.is_empty() => Ok(place),
        _ => Err(ordercrm_kernel::Error::validation(errors)),
    }
}

/// The level row, created empty when this product was never stocked here.
pub(crate) async fn ensure(txn: &DatabaseTransaction, ctx: &Ctx, place: &Place) -> Result<()> {
    level::Entity::insert(level::ActiveModel {
        product_id: Set(place.product.id),
        warehouse_id: Set(place.warehouse.id),
        on_hand: Set(0),
        reserved: Set(0),
        reorder_point: Set(0),
        reorder_quantity: Set(0),
        safety_stock: Set(0),
        low_stock: Set(false),
        counted_at: Set(None),
        version: Set(1),
        updated_at: Set(ctx.now),
    })
    .on_conflict_do_nothing()
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

pub(crate) async fn current(
    conn: &impl ConnectionTrait,
    key: (Uuid, Uuid),
) -> Result<Option<level::Model>> {
    Ok(level::Entity::find_by_id(key).one(conn).await?)
}

/// How far an on-hand change may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Floor {
    /// Not below zero.
    Zero,
    /// Not below what is reserved: promised stock stays.
    Reserved,
}

/// Change on-hand by `delta` (and reserved by `reserved_delta`) in one conditional
/// UPDATE: the row comes back only when the result stays above `floor`, so two
/// writers can never both take the last unit. `None`: refused.
pub(crate) async fn change(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    key: (Uuid, Uuid),
    delta: i64,
    reserved_delta: i64,
    floor: Floor,
) -> Result<Option<level::Model>> {
    let c = level::COLUMN;
    let on_hand = Expr::col(level::Column::OnHand);
    let reserved = Expr::col(level::Column::Reserved);
    let mut update = level::Entity::update_many()
        .col_expr(level::Column::OnHand, on_hand.clone().add(delta))
        .col_expr(
            level::Column::Reserved,
            reserved.clone().add(reserved_delta),
        )
        .col_expr(level::Column::UpdatedAt, Expr::value(ctx.now))
        .filter(c.product_id.eq(key.0))
        .filter(c.warehouse_id.eq(key.1))
        .filter(on_hand.clone().add(delta).gte(0))
        .filter(reserved.clone().add(reserved_delta).gte(0));
    if floor == Floor::Reserved {
        update = update.filter(on_hand.add(delta).sub(reserved.add(reserved_delta)).gte(0));
    }
    try_claim(txn, update, level::Column::Version, None).await
}

/// Hold `wanted` (level key and quantity, each key once) in two statements however
/// many there are: the levels locked in key order by one `SELECT … FOR UPDATE` (on
/// PostgreSQL; SQLite's one writer already runs transactions one at a time), checked,
/// then raised by one `UPDATE … FROM (VALUES …)` that re-checks each row. A short
/// level changes nothing: `Err` gives (key, available) of each short one. A negative
/// quantity lets go of that much (an edited order's reservation shrinking); it is
/// never short, and never takes `reserved` below zero.
pub(crate) async fn reserve_many(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    wanted: &[((Uuid, Uuid), i64)],
) -> Result<std::result::Result<Vec<level::Model>, Vec<((Uuid, Uuid), i64)>>> {
    use sea_orm::{Condition, DatabaseBackend, QueryOrder, QuerySelect, Statement};
    let backend = txn.get_database_backend();
    let mut keys = Condition::any();
    for ((product, warehouse), _) in wanted {
        keys = keys.add(
            Condition::all()
                .add(level::COLUMN.product_id.eq(*product))
                .add(level::COLUMN.warehouse_id.eq(*warehouse)),
        );
    }
    let mut select = level::Entity::find()
        .filter(keys)
        .order_by_asc(level::Column::ProductId)
        .order_by_asc(level::Column::WarehouseId);
    if backend == DatabaseBackend::Postgres {
        select = select.lock_exclusive();
    }
    let current: HashMap<(Uuid, Uuid), level::Model> = select
        .all(txn)
        .await?
        .into_iter()
        .map(|l| ((l.product_id, l.warehouse_id), l))
        .collect();
    let short: Vec<((Uuid, Uuid), i64)> = wanted
        .iter()
        .filter_map(|(key, quantity)| {
            let available = current
                .get(key)
                .map_or(0, |l| std::cmp::max(l.available(), 0));
            (available < *quantity).then_some((*key, available))
        })
        .collect();
    if !short.is_empty() {
        return Ok(Err(short));
    }
    let mut values: Vec<sea_orm::Value> = vec![ctx.now.into()];
    let mut rows = Vec::with_capacity(wanted.len());
    for ((product, warehouse), quantity) in wanted {
        let n = values.len();
        rows.push(match backend {
            DatabaseBackend::Postgres => {
                format!("(${}::uuid, ${}::uuid, ${}::bigint)", n + 1, n + 2, n + 3)
            }
            _ => "(?, ?, ?)".to_owned(),
        });
        values.push((*product).into());
        values.push((*warehouse).into());
        values.push((*quantity).into());
    }
    // VALUES columns are column1.. on both engines (SQLite names no others).
    let sql = match backend {
        DatabaseBackend::Postgres => format!(
            "UPDATE stock_levels AS l SET reserved = l.reserved + v.column3, \
             version = l.version + 1, updated_at = $1 FROM (VALUES {}) AS v \
             WHERE l.product_id = v.column1 AND l.warehouse_id = v.column2 \
             AND l.on_hand - l.reserved >= v.column3 AND l.reserved + v.column3 >= 0 RETURNING l.*",
            rows.join(", ")
        ),
        _ => format!(
            "UPDATE stock_levels SET reserved = stock_levels.reserved + v.column3, \
             version = stock_levels.version + 1, updated_at = ? FROM (VALUES {}) AS v \
             WHERE stock_levels.product_id = v.column1 AND stock_levels.warehouse_id = v.column2 \
             AND stock_levels.on_hand - stock_levels.reserved >= v.column3 \
             AND stock_levels.reserved + v.column3 >= 0 RETURNING *",
            rows.join(", ")
        ),
    };
    let raised = level::Entity::find()
        .from_raw_sql(Statement::from_sql_and_values(backend, sql, values))
        .all(txn)
        .await?;
    if raised.len() != wanted.len() {
        // The rows were locked and checked: only a broken invariant gets here.
        return Err(InventoryError::Conflict(
            "reserved stock changed under a lock; run `ordercrm inventory verify`".into(),
        )
        .into());
    }
    Ok(Ok(raised))
}

/// What a ledger line says besides its level and quantities.
#[derive(Debug, Clone, Default)]
pub(crate) struct Note {
    pub reason: Option<String>,
    pub reference: Option<String>,
    pub transfer_id: Option<Uuid>,
    pub reservation_id: Option<Uuid>,
    pub purchase_order_id: Option<Uuid>,
}

/// What moved: the kind, the units it is about, and the signed change to on-hand.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Moved {
    pub kind: MovementKind,
    pub units: i64,
    pub quantity: i64,
}

impl Moved {
    pub fn new(kind: MovementKind, units: i64, quantity: i64) -> Self {
        Self {
            kind,
            units,
            quantity,
        }
    }
}

/// Append one ledger line for a change already applied to `after`.
pub(crate) async fn record(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    place: &Place,
    after: &level::Model,
    moved: Moved,
    note: Note,
) -> Result<MovementView> {
    let Moved {
        kind,
        units,
        quantity,
    } = moved;
    let row = movement::ActiveModel {
        id: Set(new_id()),
        product_id: Set(place.product.id),
        warehouse_id: Set(place.warehouse.id),
        kind: Set(kind.as_str().to_owned()),
        units: Set(units),
        quantity: Set(quantity),
        on_hand_after: Set(after.on_hand),
        reason: Set(note.reason),
        reference: Set(note.reference),
        transfer_id: Set(note.transfer_id),
        reservation_id: Set(note.reservation_id),
        purchase_order_id: Set(note.purchase_order_id),
        actor: Set(ctx.actor.principal()),
        request_id: Set(Some(ctx.request_id.clone()).filter(|r| !r.is_empty())),
        created_at: Set(ctx.now),
    }
    .insert(txn)
    .await?;
    Ok(movement_view(&row, place))
}

/// Open an alert when available first drops below the reorder point, close it when
/// available recovers: one event per crossing, not one per movement. The flag flips
/// with a conditional UPDATE, so two writers cannot both open the same alert.
/// Returns the level with its `low_stock` flag as it now stands.
pub(crate) async fn check_alert(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    place: &Place,
    after: &level::Model,
) -> Result<level::Model> {
    let below = after.available() < after.reorder_point;
    let level = after.clone();
    if below == after.low_stock {
        return Ok(level);
    }
    let c = level::COLUMN;
    // The flag is part of the level: its flip is the level's next version, so its
    // event (written after the movement's) is not taken for a stale copy.
    let Some(flipped) = level::Entity::update_many()
        .col_expr(level::Column::LowStock, Expr::value(below))
        .col_expr(
            level::Column::Version,
            Expr::col(level::Column::Version).add(1),
        )
        .filter(c.product_id.eq(after.product_id))
        .filter(c.warehouse_id.eq(after.warehouse_id))
        .filter(c.low_stock.eq(!below))
        .exec_with_returning(txn)
        .await?
        .pop()
    else {
        return Ok(level);
    };
    let level = flipped;
    if below {
        let opened = alert::ActiveModel {
            id: Set(new_id()),
            product_id: Set(after.product_id),
            warehouse_id: Set(after.warehouse_id),
            available_at_open: Set(after.available()),
            reorder_point: Set(after.reorder_point),
            opened_at: Set(ctx.now),
            closed_at: Set(None),
        }
        .insert(txn)
        .await?;
        let level = place.level_view(&level);
        let data = events::StockLevelAlert {
            alert_id: opened.id,
            level: level.clone(),
        };
        events::stock_level(txn, ctx, &events::STOCK_LEVEL_LOW, &level, &data).await?;
    } else {
        let closed = alert::Entity::update_many()
            .col_expr(alert::Column::ClosedAt, Expr::value(Some(ctx.now)))
            .filter(alert::COLUMN.product_id.eq(after.product_id))
            .filter(alert::COLUMN.warehouse_id.eq(after.warehouse_id))
            .filter(alert::COLUMN.closed_at.is_null())
            .exec_with_returning(txn)
            .await?;
        let level = place.level_view(&level);
        for alert in closed {
            let data = events::StockLevelAlert {
                alert_id: alert.id,
                level: level.clone(),
            };
            events::stock_level(txn, ctx, &events::STOCK_LEVEL_RECOVERED, &level, &data).await?;
        }
    }
    Ok(level)
}
