//! The ledger check: every level's on-hand equals the sum of its movements, and its
//! reserved equals what its reservation lines still hold.

use std::collections::HashMap;

use ordercrm_kernel::Result;
use sea_orm::{ConnectionTrait, EntityTrait, Statement};
use uuid::Uuid;

use crate::dto::{Mismatch, VerifyReport};
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
