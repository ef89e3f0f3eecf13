//! Human document numbers (`C-000123`, `SO-000042`).
//!
//! Most kinds may have gaps (a rolled-back create uses its number up): on
//! PostgreSQL they come from a sequence (`numbers_<kind>`, created by the migration
//! that introduces the kind), so concurrent creators never wait for each other. A
//! kind that legally needs gap-free numbers (invoices) says so with
//! [`Kind::gap_free`]: one counter row, incremented in the caller's transaction, so
//! a rollback gives its number back, at the price of creators of that kind waiting
//! for each other's commit. SQLite has one writer and uses the counter row for all.

use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseTransaction, DbErr, Statement};

/// A kind of document number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    name: &'static str,
    gap_free: bool,
}

impl Kind {
    /// Numbers that may skip a value (a rolled-back create), never repeat one.
    pub const fn sequence(name: &'static str) -> Self {
        Self {
            name,
            gap_free: false,
        }
    }

    /// Numbers with no gaps: creators of this kind serialise on its counter row.
    pub const fn gap_free(name: &'static str) -> Self {
        Self {
            name,
            gap_free: true,
        }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    fn sequence_name(&self) -> String {
        format!("numbers_{}", self.name)
    }
}

/// Whether a rolled-back transaction gives the numbers it took back, so the next
/// transaction takes them again (the counter row), rather than using them up (a
/// sequence). An import that checks rows in throwaway transactions must give its
/// new rows their numbers again when it keeps them, but only then.
pub fn given_back_on_rollback(backend: DatabaseBackend, kind: Kind) -> bool {
    kind.gap_free || backend != DatabaseBackend::Postgres
}

/// The next number of `kind`.
pub async fn next(txn: &DatabaseTransaction, kind: Kind) -> Result<i64, DbErr> {
    let first = next_n(txn, kind, 1).await?;
    first
        .first()
        .copied()
        .ok_or_else(|| DbErr::Custom(format!("counter {} returned nothing", kind.name)))
}

/// Take `n` numbers of `kind` at once, in ascending order (`n` ≥ 1). From a
/// sequence they need not be consecutive: other creators may take some between.
pub async fn next_n(txn: &DatabaseTransaction, kind: Kind, n: i64) -> Result<Vec<i64>, DbErr> {
    let backend = txn.get_database_backend();
    if backend == DatabaseBackend::Postgres && !kind.gap_free {
        let rows = txn
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                "SELECT nextval($1::regclass) FROM generate_series(1, $2::bigint) ORDER BY 1",
                [kind.sequence_name().into(), n.into()],
            ))
            .await?;
        return rows.iter().map(|r| r.try_get_by_index::<i64>(0)).collect();
    }
    let upsert = match backend {
        DatabaseBackend::Postgres => {
            "INSERT INTO counters (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET value = counters.value + $2 RETURNING value"
        }
        _ => {
            "INSERT INTO counters (name, value) VALUES (?1, ?2) \
             ON CONFLICT (name) DO UPDATE SET value = counters.value + ?2 RETURNING value"
        }
    };
    let row = txn
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            upsert,
            [kind.name.into(), n.into()],
        ))
        .await?
        .ok_or_else(|| DbErr::Custom(format!("counter {} returned nothing", kind.name)))?;
    let last = row.try_get_by_index::<i64>(0)?;
    Ok((last - n + 1..=last).collect())
}

/// `C-` and 123 → `C-000123`.
pub fn format(prefix: &str, value: i64) -> String {
    format!("{prefix}{value:06}")
}
