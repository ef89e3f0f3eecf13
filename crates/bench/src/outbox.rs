//! What writing events and numbering documents cost writers on PostgreSQL, as A/B
//! runs of the same binary on the same database, alternated and repeated so drift
//! hits both sides alike (the median of each side is reported):
//! - reservations on 1000 SKUs with their events, against the same with every event
//!   insert discarded by a `BEFORE INSERT` trigger (the write disabled, nothing else);
//! - customer creates with the number from a sequence (today), against the same with
//!   a trigger that also upserts a counter row in the creating transaction, which is
//!   what numbering cost before: every creator waited for the previous one's commit.

use std::time::Duration;

use sea_orm::{ConnectionTrait, Database};

use crate::{Outcome, imports, ms, reservations};

/// Runs per side.
const RUNS: usize = 3;
const CLIENTS: usize = 32;

const SKIP_EVENTS: &str = "
CREATE OR REPLACE FUNCTION bench_skip_event() RETURNS trigger AS $$ BEGIN RETURN NULL; END $$ LANGUAGE plpgsql;
CREATE TRIGGER bench_skip_events BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION bench_skip_event()";
const KEEP_EVENTS: &str = "DROP TRIGGER IF EXISTS bench_skip_events ON events";

const COUNTER_ROW: &str = "
CREATE OR REPLACE FUNCTION bench_counter_row() RETURNS trigger AS $$ BEGIN
  INSERT INTO counters (name, value) VALUES ('bench_customer', 1)
  ON CONFLICT (name) DO UPDATE SET value = counters.value + 1;
  RETURN NEW; END $$ LANGUAGE plpgsql;
CREATE TRIGGER bench_counter_row BEFORE INSERT ON customers FOR EACH ROW EXECUTE FUNCTION bench_counter_row()";
const SEQUENCE_ONLY: &str = "DROP TRIGGER IF EXISTS bench_counter_row ON customers";

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn row(name: &str, o: &Outcome) {
    println!(
        "| postgres | {name:<26} | {CLIENTS:>3} | {:>9.0} | {:>8} | {:>8} | {:>6} |",
        o.rate(),
        ms(o.p50),
        ms(o.p99),
        o.errors
    );
}

/// Alternate `a` and `b` (SQL that switches the database into each mode) `RUNS`
/// times each around `load`; the median req/s of each side.
async fn ab<F, Fut>(
    url: &str,
    (a_name, a_sql): (&str, &str),
    (b_name, b_sql): (&str, &str),
    load: F,
) -> anyhow::Result<(f64, f64)>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Outcome>,
{
    let db = Database::connect(url).await?;
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let mut run = 0;
    for _ in 0..RUNS {
        for (name, sql, out) in [(a_name, a_sql, &mut a), (b_name, b_sql, &mut b)] {
            db.execute_unprepared(KEEP_EVENTS).await?;
            db.execute_unprepared(SEQUENCE_ONLY).await?;
            if !sql.is_empty() {
                db.execute_unprepared(sql).await?;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
            run += 1;
            let o = load(run).await;
            row(name, &o);
            out.push(o.rate());
        }
    }
    db.execute_unprepared(KEEP_EVENTS).await?;
    db.execute_unprepared(SEQUENCE_ONLY).await?;
    db.close().await?;
    Ok((median(a), median(b)))
}

/// Needs the reservation seed (1000 SKUs in stock).
pub async fn run(base: &str, token: &str, url: &str, seconds: u64) -> anyhow::Result<()> {
    let (with, without) = ab(
        url,
        ("reserve 1000: events", ""),
        ("reserve 1000: no events", SKIP_EVENTS),
        |_| reservations::load(base, token, CLIENTS, seconds, true),
    )
    .await?;
    println!(
        "postgres: reservations on 1000 SKUs at {CLIENTS} clients, median of {RUNS}: {with:.0} req/s \
         with events, {without:.0} without: events cost {:.1} %",
        100.0 * (1.0 - with / without.max(1e-9))
    );
    let (sequence, counter) = ab(
        url,
        ("create: sequence", ""),
        ("create: counter row", COUNTER_ROW),
        |run| async move {
            // A tag per run: emails must not repeat an earlier run's.
            let tag = format!("ab{run}");
            imports::creates(base, token, CLIENTS, seconds, None, &tag)
                .await
                .0
        },
    )
    .await?;
    println!(
        "postgres: customer creates at {CLIENTS} clients, median of {RUNS}: {sequence:.0} req/s \
         numbered from a sequence, {counter:.0} with a counter row ({:+.1} %)",
        100.0 * (sequence / counter.max(1e-9) - 1.0)
    );
    Ok(())
}
