//! The ledger check: every level's on-hand equals the sum of its movements, and its
//! reserved equals what its reservation lines still hold; and no row breaks an
//! invariant of quantities.

use std::collections::HashMap;

use ordercrm_kernel::Result;
use sea_orm::{ConnectionTrait, EntityTrait, Statement};
use uuid::Uuid;

use crate::dto::{Impossible, Mismatch, VerifyReport};
use crate::entity::level;

async fn sums(conn: &impl ConnectionTrait, sql: &str) -> Result<HashMap<(Uuid, Uuid), i64>> {
    let rows = conn
        .query_all_raw(Statement::from_string(conn.get_database_backend(), sql))
        .await?;
    let mut out = HashMap::new();
    for row in rows {
        let p: Uuid = row.try_get_by_index(0)?;
        let w: Uuid = row.try_get_by_index(1)?;
        let total: i64 = row.try_get_by_index(2)?;
        out.insert((p, w), total);
    }
    Ok(out)
}

/// Compare every level with its ledger. Run it on a quiet database or inside one
/// transaction: it reads three tables.
pub async fn run(conn: &impl ConnectionTrait) -> Result<VerifyReport> {
    let ledger = sums(
        conn,
        "SELECT product_id, warehouse_id, CAST(SUM(quantity) AS BIGINT) \
         FROM stock_movements GROUP BY product_id, warehouse_id",
    )
    .await?;
    let held = sums(
        conn,
        "SELECT product_id, warehouse_id, CAST(SUM(quantity - consumed - released) AS BIGINT) \
         FROM reservation_lines GROUP BY product_id, warehouse_id",
    )
    .await?;
    let levels = level::Entity::find().all(conn).await?;
    let mut report = VerifyReport {
        levels_checked: levels.len() as u64,
        mismatches: Vec::new(),
        impossible: impossible(conn).await?,
    };
    for l in levels {
        let key = (l.product_id, l.warehouse_id);
        let ledger_on_hand = ledger.get(&key).copied().unwrap_or(0);
        let open_reservations = held.get(&key).copied().unwrap_or(0);
        if ledger_on_hand != l.on_hand || open_reservations != l.reserved {
            report.mismatches.push(Mismatch {
                product_id: l.product_id,
                warehouse_id: l.warehouse_id,
                on_hand: l.on_hand,
                ledger_on_hand,
                reserved: l.reserved,
                open_reservations,
            });
        }
    }
    Ok(report)
}

/// The invariants the schema enforces (see the migration `m20261128_000009`), as
/// this domain states them: `(table, key columns, condition that must hold)`.
const INVARIANTS: &[(&str, &str, &str)] = &[
    ("stock_levels", "product_id, warehouse_id", "on_hand >= 0"),
    ("stock_levels", "product_id, warehouse_id", "reserved >= 0"),
    (
        "stock_levels",
        "product_id, warehouse_id",
        "reorder_point >= 0 AND reorder_quantity >= 0 AND safety_stock >= 0",
    ),
    (
        "reservation_lines",
        "reservation_id, line_no",
        "quantity > 0",
    ),
    (
        "reservation_lines",
        "reservation_id, line_no",
        "consumed >= 0",
    ),
    (
        "reservation_lines",
        "reservation_id, line_no",
        "released >= 0",
    ),
    (
        "reservation_lines",
        "reservation_id, line_no",
        "released >= 0 AND consumed <= quantity - released",
    ),
    (
        "purchase_order_lines",
        "purchase_order_id, line_no",
        "quantity > 0",
    ),
    (
        "purchase_order_lines",
        "purchase_order_id, line_no",
        "received_quantity >= 0 AND received_quantity <= quantity",
    ),
    ("stock_movements", "id", "units >= 0"),
    ("stock_movements", "id", "on_hand_after >= 0"),
];

async fn impossible(conn: &impl ConnectionTrait) -> Result<Vec<Impossible>> {
    let backend = conn.get_database_backend();
    let mut out = Vec::new();
    for (table, key, rule) in INVARIANTS {
        let rows = conn
            .query_all_raw(Statement::from_string(
                backend,
                format!("SELECT {key} FROM {table} WHERE NOT ({rule})"),
            ))
            .await?;
        for row in rows {
            let names: Vec<&str> = key.split(", ").collect();
            let mut shown = Vec::new();
            for (i, name) in names.iter().enumerate() {
                let value = row
                    .try_get_by_index::<Uuid>(i)
                    .map(|u| u.to_string())
                    .or_else(|_| row.try_get_by_index::<i32>(i).map(|n| n.to_string()))
                    .unwrap_or_default();
                shown.push(format!("{name}={value}"));
            }
            out.push(Impossible {
                table,
                row: shown.join(", "),
                rule,
            });
        }
    }
    Ok(out)
}
