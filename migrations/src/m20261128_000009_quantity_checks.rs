//! The invariants of stock quantities become the database's: CHECK constraints on
//! stock levels, reservation lines, purchase-order lines and the ledger. Before this
//! version an overflowing request could write impossible rows (a reservation line
//! consumed -1000, stock minted from nothing); a database that holds one stops here
//! with a message naming it, rather than failing obscurely on the constraint.
//!
//! PostgreSQL adds the constraints to the tables. SQLite cannot, so each table is
//! rebuilt with them (create, copy, drop, rename, re-index), inside the migration's
//! transaction.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// One invariant: its table, constraint name, condition, and the columns that name a
/// row in a message.
struct Rule {
    table: &'static str,
    name: &'static str,
    check: &'static str,
    key: &'static [&'static str],
}

const LEVEL: &[&str] = &["product_id", "warehouse_id"];
const RESERVATION_LINE: &[&str] = &["reservation_id", "line_no"];
const PO_LINE: &[&str] = &["purchase_order_id", "line_no"];
const MOVEMENT: &[&str] = &["id"];

// Written so that evaluating them cannot overflow (no sums of two unchecked values).
const RULES: &[Rule] = &[
    Rule {
        table: "stock_levels",
        name: "stock_levels_on_hand",
        check: "on_hand >= 0",
        key: LEVEL,
    },
    Rule {
        table: "stock_levels",
        name: "stock_levels_reserved",
        check: "reserved >= 0",
        key: LEVEL,
    },
    Rule {
        table: "stock_levels",
        name: "stock_levels_planning",
        check: "reorder_point >= 0 AND reorder_quantity >= 0 AND safety_stock >= 0",
        key: LEVEL,
    },
    Rule {
        table: "reservation_lines",
        name: "reservation_lines_quantity",
        check: "quantity > 0",
        key: RESERVATION_LINE,
    },
    Rule {
        table: "reservation_lines",
        name: "reservation_lines_consumed",
        check: "consumed >= 0",
        key: RESERVATION_LINE,
    },
    Rule {
        table: "reservation_lines",
        name: "reservation_lines_released",
        check: "released >= 0",
        key: RESERVATION_LINE,
    },
    Rule {
        table: "reservation_lines",
        name: "reservation_lines_within_quantity",
        check: "released >= 0 AND consumed <= quantity - released",
        key: RESERVATION_LINE,
    },
    Rule {
        table: "purchase_order_lines",
        name: "purchase_order_lines_quantity",
        check: "quantity > 0",
        key: PO_LINE,
    },
    Rule {
        table: "purchase_order_lines",
        name: "purchase_order_lines_received",
        check: "received_quantity >= 0 AND received_quantity <= quantity",
        key: PO_LINE,
    },
    Rule {
        table: "stock_movements",
        name: "stock_movements_units",
        check: "units >= 0",
        key: MOVEMENT,
    },
    Rule {
        table: "stock_movements",
        name: "stock_movements_on_hand_after",
        check: "on_hand_after >= 0",
        key: MOVEMENT,
    },
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        let backend = conn.get_database_backend();
        refuse_impossible_rows(conn, backend).await?;
        match backend {
            DatabaseBackend::Postgres => {
                for r in RULES {
                    conn.execute_unprepared(&format!(
                        "ALTER TABLE \"{}\" ADD CONSTRAINT \"{}\" CHECK ({})",
                        r.table, r.name, r.check
                    ))
                    .await?;
                }
            }
            _ => {
                let mut tables: Vec<&str> = RULES.iter().map(|r| r.table).collect();
                tables.dedup();
                for table in tables {
                    rebuild_with_checks(conn, table).await?;
                }
            }
        }
        Ok(())
    }
}

/// Stop, naming them, when rows break a rule: the constraint could not be added.
async fn refuse_impossible_rows(
    conn: &impl ConnectionTrait,
    backend: DatabaseBackend,
) -> Result<(), DbErr> {
    let mut found = Vec::new();
    for r in RULES {
        let key = r
            .key
            .iter()
            .map(|c| match backend {
                DatabaseBackend::Postgres => format!("'{c}=' || CAST(\"{c}\" AS TEXT)"),
                // Uuids are blobs in SQLite: show them as their hex digits.
                _ => format!(
                    "'{c}=' || CASE WHEN typeof(\"{c}\") = 'blob' THEN lower(hex(\"{c}\")) ELSE CAST(\"{c}\" AS TEXT) END"
                ),
            })
            .collect::<Vec<_>>()
            .join(" || ', ' || ");
        let rows = conn
            .query_all_raw(Statement::from_string(
                backend,
                format!(
                    "SELECT {key} FROM \"{}\" WHERE NOT ({}) LIMIT 20",
                    r.table, r.check
                ),
            ))
            .await?;
        for row in rows {
            let named: String = row.try_get_by_index(0)?;
            found.push(format!("{} ({named}) breaks `{}`", r.table, r.check));
        }
    }
    if found.is_empty() {
        return Ok(());
    }
    Err(DbErr::Migration(format!(
        "this database holds impossible stock quantities, which a version before this one \
         could write after an overflow: {}. Run `ordercrm inventory verify` with the previous \
         version for the full report, correct these rows, and start again",
        found.join("; ")
    )))
}

async fn rebuild_with_checks(conn: &impl ConnectionTrait, table: &str) -> Result<(), DbErr> {
    let one = |sql: String| Statement::from_string(DatabaseBackend::Sqlite, sql);
    let create: String = conn
        .query_one_raw(one(format!(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = '{table}'"
        )))
        .await?
        .ok_or_else(|| DbErr::Migration(format!("table {table} is missing")))?
        .try_get_by_index(0)?;
    let others: Vec<String> = conn
        .query_all_raw(one(format!(
            "SELECT sql FROM sqlite_master WHERE type IN ('index', 'trigger') \
             AND tbl_name = '{table}' AND sql IS NOT NULL"
        )))
        .await?
        .iter()
        .map(|r| r.try_get_by_index(0))
        .collect::<Result<_, _>>()?;
    let body = create
        .trim_end()
        .strip_suffix(')')
        .ok_or_else(|| DbErr::Migration(format!("unexpected definition of {table}")))?;
    let body = body
        .replacen(&format!("\"{table}\""), &format!("\"{table}_checked\""), 1)
        .replacen(&format!("`{table}`"), &format!("\"{table}_checked\""), 1);
    let checks: String = RULES
        .iter()
        .filter(|r| r.table == table)
        .map(|r| format!(", CONSTRAINT \"{}\" CHECK ({})", r.name, r.check))
        .collect();
    conn.execute_unprepared(&format!("{body}{checks})")).await?;
    conn.execute_unprepared(&format!(
        "INSERT INTO \"{table}_checked\" SELECT * FROM \"{table}\""
    ))
    .await?;
    conn.execute_unprepared(&format!("DROP TABLE \"{table}\""))
        .await?;
    conn.execute_unprepared(&format!(
        "ALTER TABLE \"{table}_checked\" RENAME TO \"{table}\""
    ))
    .await?;
    for sql in others {
        conn.execute_unprepared(&sql).await?;
    }
    Ok(())
}
