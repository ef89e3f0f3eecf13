//! Counting the SQL statements an endpoint issues, with `pg_stat_statements`.
//!
//! The extension must be preloaded (`shared_preload_libraries = 'pg_stat_statements'`,
//! then a restart); without it the counts are skipped with a note saying so. The
//! server's own background work issues statements too, some of them the same `BEGIN`
//! and `COMMIT` a request does: the outbox sequencer's, every 100 ms, are recognised
//! and taken off; anything else shows up as a fraction per request.

use std::collections::BTreeMap;
use std::future::Future;

use anyhow::Context;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};

pub struct Counter {
    db: DatabaseConnection,
}

/// Calls per normalised statement text.
pub type Calls = BTreeMap<String, i64>;

impl Counter {
    /// The counter on the bench's database, or why there is none.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let db = Database::connect(url).await?;
        let loaded = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT current_setting('shared_preload_libraries') LIKE '%pg_stat_statements%'",
            ))
            .await?
            .and_then(|r| r.try_get_by_index::<bool>(0).ok())
            .unwrap_or(false);
        if !loaded {
            anyhow::bail!(
                "pg_stat_statements is not preloaded: ALTER SYSTEM SET shared_preload_libraries = \
                 'pg_stat_statements', then restart PostgreSQL"
            );
        }
        db.execute_unprepared("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            .await
            .context("CREATE EXTENSION pg_stat_statements")?;
        Ok(Self { db })
    }

    /// Forget this database's counts (other databases' stay).
    async fn reset(&self) -> anyhow::Result<()> {
        self.db
            .execute_unprepared(
                "SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database \
                 WHERE datname = current_database()), 0)",
            )
            .await?;
        Ok(())
    }

    async fn calls(&self) -> anyhow::Result<Calls> {
        let rows = self
            .db
            .query_all_raw(Statement::from_string(
                self.db.get_database_backend(),
                "SELECT query, calls FROM pg_stat_statements \
                 WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
                 AND query NOT LIKE '%pg_stat_statements%'",
            ))
            .await?;
        let mut out = Calls::new();
        for row in rows {
            let query: String = row.try_get_by_index(0)?;
            let calls: i64 = row.try_get_by_index(1)?;
            *out.entry(one_line(&query)).or_default() += calls;
        }
        Ok(out)
    }

    /// The statements `work` issues, per unit of work (`units` of them done). The
    /// outbox sequencer's ticks are taken off exactly: each is `BEGIN`, `SET
    /// TRANSACTION …`, its advisory-lock attempt, then its UPDATE and `COMMIT`, or
    /// `ROLLBACK`. Whatever else ran meanwhile stays in, to be seen.
    pub async fn per_unit<F, Fut>(
        &self,
        units: usize,
        work: F,
    ) -> anyhow::Result<Vec<(f64, String)>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = anyhow::Result<()>>,
    {
        self.reset().await?;
        work().await?;
        let mut calls = self.calls().await?;
        let mut take = |pick: &dyn Fn(&str) -> bool| {
            let keys: Vec<String> = calls.keys().filter(|q| pick(q)).cloned().collect();
            keys.iter().filter_map(|k| calls.remove(k)).sum::<i64>()
        };
        let ticks = take(&|q| q.contains(SEQUENCER_LOCK));
        take(&|q| q.starts_with("WITH ready AS"));
        let rollbacks = take(&|q| q == "ROLLBACK");
        for (query, n) in [
            ("BEGIN", ticks),
            ("SET TRANSACTION ISOLATION LEVEL READ COMMITTED", ticks),
            ("COMMIT", ticks - rollbacks),
        ] {
            if let Some(c) = calls.get_mut(query) {
                *c -= n;
            }
        }
        #[allow(clippy::cast_precision_loss, reason = "small counts")]
        let mut out: Vec<(f64, String)> = calls
            .into_iter()
            .filter(|(_, calls)| *calls != 0)
            .map(|(query, calls)| (calls as f64 / units as f64, query))
            .collect();
        out.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        Ok(out)
    }
}

/// The outbox sequencer's advisory lock (`ordercrm_kernel::events::sequence`).
const SEQUENCER_LOCK: &str = "7324010001";

/// A statement on one line, cut to a readable length.
fn one_line(query: &str) -> String {
    let joined = query.split_whitespace().collect::<Vec<_>>().join(" ");
    joined.chars().take(160).collect()
}

/// The whole count, rounded.
pub fn total(per_unit: &[(f64, String)]) -> f64 {
    per_unit.iter().map(|(n, _)| n).sum()
}
