//! Counting the SQL statements an endpoint issues, with `pg_stat_statements`.
//!
//! The extension must be preloaded (`shared_preload_libraries = 'pg_stat_statements'`,
//! then a restart); without it the counts are skipped with a note saying so. The
//! server's own background work (the outbox sequencer every 100 ms, the reservation
//! sweep) issues statements too, some of them the same `BEGIN` and `COMMIT` a request
//! does: an idle window as long as the measured one is counted and subtracted.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

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

    /// The statements `work` issues, per unit of work (`units` of them done), with
    /// the background's share over as long a time taken off.
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
        let started = Instant::now();
        work().await?;
        let took = started.elapsed();
        let busy = self.calls().await?;
        self.reset().await?;
        tokio::time::sleep(took.max(Duration::from_millis(200))).await;
        let idle = self.calls().await?;
        #[allow(clippy::cast_precision_loss, reason = "small counts")]
        let mut out: Vec<(f64, String)> = busy
            .into_iter()
            .map(|(query, calls)| {
                let background = idle.get(&query).copied().unwrap_or(0);
                ((calls - background) as f64 / units as f64, query)
            })
            // Less than one call in four units is background noise, not the work.
            .filter(|(per, _)| *per >= 0.25)
            .collect();
        out.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        Ok(out)
    }
}

/// A statement on one line, cut to a readable length.
fn one_line(query: &str) -> String {
    let joined = query.split_whitespace().collect::<Vec<_>>().join(" ");
    joined.chars().take(160).collect()
}

/// The whole count, rounded.
pub fn total(per_unit: &[(f64, String)]) -> f64 {
    per_unit.iter().map(|(n, _)| n).sum()
}
