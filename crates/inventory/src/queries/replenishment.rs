//! Reorder suggestions. For each stocked level:
//! `average_daily_demand = shipped in the window / window_days`,
//! `reorder_level = max(reorder_point, ceil(demand × lead time) + safety_stock)`,
//! `position = available + on_order`, and when `position < reorder_level` the
//! suggestion is `max(reorder_quantity, reorder_level − position)`. Every input is
//! in the answer so a buyer can check the arithmetic.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use ordercrm_kernel::authz::{Action, Actor};
use ordercrm_kernel::{Currency, Money, Result};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Statement};
use uuid::Uuid;

use crate::dto::{Suggestion, SuggestionQuery, Suggestions};
use crate::entity::{level, supplier};
use crate::model::MovementKind;

pub const DEFAULT_WINDOW_DAYS: i64 = 30;

pub async fn suggestions(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    now: DateTime<Utc>,
    query: SuggestionQuery,
) -> Result<Suggestions> {
    actor.require(Action::InventoryRead)?;
    compute(conn, now, query).await
}

/// The suggestions, for callers that checked access their own way.
pub(crate) async fn compute(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    query: SuggestionQuery,
) -> Result<Suggestions> {
    let mut errors = Vec::new();
    let window_days =
        crate::model::WindowDays::from(query.window_days.unwrap_or(DEFAULT_WINDOW_DAYS))
            .check(&mut errors, "window_days");
    if !errors.is_empty() {
        return Err(ordercrm_kernel::Error::validation(errors));
    }
    let mut select = level::Entity::find();
    if let Some(code) = query.warehouse.as_deref() {
        select =
            select.filter(level::Column::WarehouseId.eq(super::warehouse_id(conn, code).await?));
    }
    let levels = select.all(conn).await?;
    let since = now - Duration::days(window_days);
    let shipped = shipped_since(conn, since).await?;
    let on_order = super::purchase_orders::on_order(conn).await?;
    let places = super::places(conn, levels.iter().map(|l| (l.product_id, l.warehouse_id))).await?;
    let suppliers: HashMap<Uuid, supplier::Model> = supplier::Entity::find()
        .all(conn)
        .await?
        .into_iter()
        .map(|s| (s.id, s))
        .collect();

    let mut data = Vec::new();
    for l in levels {
        let key = (l.product_id, l.warehouse_id);
        let Some(place) = places.get(&key) else {
            continue;
        };
        let p = &place.product;
        if !p.active || !p.tracks_inventory {
            continue;
        }
        if query.supplier_id.is_some() && p.supplier_id != query.supplier_id {
            continue;
        }
        let supplier = p.supplier_id.and_then(|s| suppliers.get(&s));
        let shipped_in_window = shipped.get(&key).copied().unwrap_or(0);
        let lead_time_days = supplier.map_or(0, |s| i64::from(s.lead_time_days));
        let demand_during_lead_time = demand_over(shipped_in_window, window_days, lead_time_days);
        let reorder_level = l
            .reorder_point
            .max(demand_during_lead_time.saturating_add(l.safety_stock));
        let on_order = on_order.get(&key).copied().unwrap_or(0);
        let position = l.available() + on_order;
        if position >= reorder_level {
            continue;
        }
        let suggested_quantity = l.reorder_quantity.max(reorder_level - position);
        let unit_cost = match (p.cost_amount, p.cost_currency.as_deref()) {
            (Some(a), Some(c)) => c.parse::<Currency>().ok().map(|c| Money::new(a, c)),
            _ => None,
        };
        data.push(Suggestion {
            sku: p.sku.clone(),
            product_id: p.id,
            product_name: p.name.clone(),
            warehouse_code: place.warehouse.code.clone(),
            warehouse_id: place.warehouse.id,
            supplier_id: supplier.map(|s| s.id),
            supplier_name: supplier.map(|s| s.name.clone()),
            on_hand: l.on_hand,
            reserved: l.reserved,
            available: l.available(),
            on_order,
            window_days,
            shipped_in_window,
            average_daily_demand: daily_rate(shipped_in_window, window_days),
            lead_time_days,
            demand_during_lead_time,
            safety_stock: l.safety_stock,
            reorder_point: l.reorder_point,
            reorder_quantity: l.reorder_quantity,
            reorder_level,
            position,
            suggested_quantity,
            unit_cost,
        });
    }
    data.sort_by(|a, b| (&a.sku, &a.warehouse_code).cmp(&(&b.sku, &b.warehouse_code)));
    Ok(Suggestions {
        window_days,
        computed_at: now,
        data,
    })
}

async fn shipped_since(
    conn: &impl ConnectionTrait,
    since: DateTime<Utc>,
) -> Result<HashMap<(Uuid, Uuid), i64>> {
    let backend = conn.get_database_backend();
    let placeholder = |n: usize| match backend {
        sea_orm::DatabaseBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    };
    let sql = format!(
        "SELECT product_id, warehouse_id, CAST(SUM(units) AS BIGINT) FROM stock_movements \
         WHERE kind = {} AND created_at >= {} GROUP BY product_id, warehouse_id",
        placeholder(1),
        placeholder(2)
    );
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [MovementKind::Shipment.as_str().into(), since.into()],
        ))
        .await?;
    let mut out = HashMap::new();
    for row in rows {
        let p: Uuid = row.try_get_by_index(0)?;
        let w: Uuid = row.try_get_by_index(1)?;
        out.insert((p, w), row.try_get_by_index::<i64>(2)?);
    }
    Ok(out)
}

/// Units shipped per day over the window, rounded to three places: a displayed rate.
#[allow(
    clippy::cast_precision_loss,
    reason = "a displayed ratio of bounded quantities, far below 2^52"
)]
fn daily_rate(shipped: i64, window_days: i64) -> f64 {
    (shipped as f64 / window_days.max(1) as f64 * 1000.0).round() / 1000.0
}

/// Demand over the lead time at the window's daily rate, rounded up; exact, in
/// integers: 10 shipped over 3 days with a 3-day lead time is 10, where floats gave
/// 3.3333333333333335 × 3 = 10.000000000000002, rounded up to 11.
fn demand_over(shipped: i64, window_days: i64, lead_time_days: i64) -> i64 {
    let units = i128::from(shipped.max(0)) * i128::from(lead_time_days.max(0));
    let days = i128::from(window_days.max(1));
    i64::try_from((units + days - 1) / days).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demand_rounds_up_exactly() {
        assert_eq!(demand_over(21, 7, 7), 21);
        assert_eq!(demand_over(1, 30, 1), 1);
        assert_eq!(demand_over(0, 30, 14), 0);
        assert_eq!(demand_over(10, 3, 1), 4);
        assert_eq!(demand_over(10, 3, 3), 10);
        assert_eq!(demand_over(i64::MAX, 1, i64::from(i32::MAX)), i64::MAX);
        assert!((daily_rate(10, 3) - 3.333).abs() < 1e-9);
    }
}
