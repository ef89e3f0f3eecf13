//! Customer statistics and tiers, from the orders each customer placed.
//!
//! What an order counts for is one fact (`customer_order_facts`): its customer, its
//! value in the base currency and when it was placed. The order domain keeps the
//! facts from its events ([`put_facts`]), outside the order's transaction; a
//! customer's statistics and tier are then recomputed from its facts ([`refresh`]),
//! so they never drift, and a replayed batch changes nothing. Tiers also move with
//! time alone, as orders age out of a rule's window: [`sweep`] runs once a day
//! (one server of several wins the day) over every customer with orders.
//!
//! Both paths lock the customers they recompute (PostgreSQL, in id order) before
//! reading facts, and change a tier only from the tier they read: each crossing is
//! one `customer.tier_changed`, however many servers recompute.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Months, Utc};
use ordercrm_kernel::audit::{self, Entry};
use ordercrm_kernel::crypto::FieldCipher;
use ordercrm_kernel::version::try_claim;
use ordercrm_kernel::{Actor, Ctx, Currency, Db, Money, Result};
use ordercrm_settings::model::TierRule;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement,
};
use uuid::Uuid;

use crate::dto::CustomerStatistics;
use crate::entity::{customer, order_fact, statistics};
use crate::{events, queries};

/// What one order counts for in its customer's statistics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderFact {
    pub customer_id: Uuid,
    /// The grand total in `currency` (the base currency when the order was reviewed).
    pub value: i64,
    pub currency: String,
    /// When it was placed.
    pub ordered_at: DateTime<Utc>,
}

/// Rows one statement reads or writes at most.
const CHUNK: usize = 500;

/// Store what each order counts for (`None`: nothing, or nothing any more). Returns
/// the customers whose facts changed, both sides of an order that moved.
pub async fn put_facts(
    txn: &DatabaseTransaction,
    facts: Vec<(Uuid, Option<OrderFact>)>,
) -> Result<BTreeSet<Uuid>> {
    let mut touched = BTreeSet::new();
    for chunk in facts.chunks(CHUNK) {
        let ids: Vec<Uuid> = chunk.iter().map(|(id, _)| *id).collect();
        let known: HashMap<Uuid, order_fact::Model> = order_fact::Entity::find()
            .filter(order_fact::COLUMN.order_id.is_in(ids))
            .all(txn)
            .await?
            .into_iter()
            .map(|f| (f.order_id, f))
            .collect();
        let mut gone = Vec::new();
        let mut put = Vec::new();
        for (order_id, fact) in chunk {
            let was = known.get(order_id);
            match (was, fact) {
                (None, None) => {}
                (Some(was), None) => {
                    touched.insert(was.customer_id);
                    gone.push(*order_id);
                }
                (was, Some(f)) => {
                    let same = was.is_some_and(|w| {
                        w.customer_id == f.customer_id
                            && w.value_amount == f.value
                            && w.currency == f.currency
                            && w.ordered_at == f.ordered_at
                    });
                    if same {
                        continue;
                    }
                    if let Some(was) = was {
                        touched.insert(was.customer_id);
                    }
                    touched.insert(f.customer_id);
                    put.push(order_fact::ActiveModel {
                        order_id: Set(*order_id),
                        customer_id: Set(f.customer_id),
                        value_amount: Set(std::cmp::max(f.value, 0)),
                        currency: Set(f.currency.clone()),
                        ordered_at: Set(f.ordered_at),
                    });
                }
            }
        }
        if !gone.is_empty() {
            order_fact::Entity::delete_many()
                .filter(order_fact::COLUMN.order_id.is_in(gone))
                .exec(txn)
                .await?;
        }
        if !put.is_empty() {
            order_fact::Entity::insert_many(put)
                .on_conflict(
                    OnConflict::column(order_fact::Column::OrderId)
                        .update_columns([
                            order_fact::Column::CustomerId,
                            order_fact::Column::ValueAmount,
                            order_fact::Column::Currency,
                            order_fact::Column::OrderedAt,
                        ])
                        .to_owned(),
                )
                .exec_without_returning(txn)
                .await?;
        }
    }
    Ok(touched)
}

/// The tier rules in force: `customer_tiers`, or none (everyone is `standard`). A
/// value the settings check would refuse (written before it existed) counts as none.
async fn rules(conn: &impl ConnectionTrait) -> Result<Vec<TierRule>> {
    let Some(value) = ordercrm_settings::queries::value(conn, "customer_tiers").await? else {
        return Ok(Vec::new());
    };
    Ok(TierRule::parse(&value).unwrap_or_else(|err| {
        tracing::warn!(error = %err, "customer_tiers is not valid: every customer is standard");
        Vec::new()
    }))
}

/// Orders and spend of one customer in one currency.
#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    orders: i64,
    spend: i128,
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
}

/// Sums of the facts of `ids` placed at `since` or later (all, without), by customer
/// and currency. Spend is added up in two parts, millions and the rest, so no sum
/// overflows a 64-bit integer on either engine; they are joined in 128 bits.
async fn sums(
    txn: &DatabaseTransaction,
    ids: &[Uuid],
    since: Option<DateTime<Utc>>,
) -> Result<HashMap<(Uuid, String), Sums>> {
    type Row = (
        Uuid,
        String,
        i64,
        i64,
        i64,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
    );
    let mut select = order_fact::Entity::find()
        .select_only()
        .column(order_fact::Column::CustomerId)
        .column(order_fact::Column::Currency)
        .expr(Expr::cust("COUNT(*)"))
        .expr(Expr::cust("CAST(SUM(value_amount / 1000000) AS BIGINT)"))
        .expr(Expr::cust("CAST(SUM(value_amount % 1000000) AS BIGINT)"))
        .expr(Expr::cust("MIN(ordered_at)"))
        .expr(Expr::cust("MAX(ordered_at)"))
        .filter(order_fact::COLUMN.customer_id.is_in(ids.iter().copied()))
        .group_by(order_fact::Column::CustomerId)
        .group_by(order_fact::Column::Currency);
    if let Some(since) = since {
        select = select.filter(order_fact::COLUMN.ordered_at.gte(since));
    }
    let rows: Vec<Row> = select.into_tuple().all(txn).await?;
    Ok(rows
        .into_iter()
        .map(
            |(customer, currency, orders, millions, rest, first, last)| {
                let spend = i128::from(millions) * 1_000_000 + i128::from(rest);
                (
                    (customer, currency),
                    Sums {
                        orders,
                        spend,
                        first,
                        last,
                    },
                )
            },
        )
        .collect())
}

/// The currency a customer's figures are in: the base currency, or (with none set)
/// that of its latest order.
fn currency_of(
    customer: Uuid,
    base: Option<Currency>,
    all: &HashMap<(Uuid, String), Sums>,
) -> Option<String> {
    if let Some(base) = base {
        return Some(base.code().to_owned());
    }
    all.iter()
        .filter(|((c, _), _)| *c == customer)
        .max_by_key(|(_, s)| s.last)
        .map(|((_, currency), _)| currency.clone())
}

/// The first rule `windows` (orders and spend per window length) meets.
fn tier_of(rules: &[TierRule], windows: &HashMap<u32, Sums>) -> String {
    rules
        .iter()
        .find(|r| {
            let s = windows.get(&r.months).copied().unwrap_or_default();
            s.orders >= r.min_orders && s.spend >= i128::from(r.min_spend)
        })
        .map_or_else(|| TierRule::STANDARD.to_owned(), |r| r.tier.clone())
}

/// Recompute the statistics and tier of `customers` as of `ctx.now`; a tier that
/// changes writes `customer.tier_changed`. Returns how many tiers changed.
pub async fn refresh(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    cipher: &FieldCipher,
    customers: &BTreeSet<Uuid>,
) -> Result<u64> {
    if customers.is_empty() {
        return Ok(0);
    }
    let rules = rules(txn).await?;
    let base = ordercrm_settings::queries::base_currency(txn).await?;
    let mut windows: Vec<u32> = rules.iter().map(|r| r.months).collect();
    windows.sort_unstable();
    windows.dedup();
    let ids: Vec<Uuid> = customers.iter().copied().collect();
    let mut changed = 0;
    for chunk in ids.chunks(CHUNK) {
        // Locked before the facts are read: a recomputation that started earlier
        // has committed, and its facts are seen.
        let mut lock = customer::Entity::find()
            .select_only()
            .columns([customer::Column::Id, customer::Column::Tier])
            .filter(customer::COLUMN.id.is_in(chunk.iter().copied()))
            .order_by_asc(customer::Column::Id);
        if txn.get_database_backend() == DatabaseBackend::Postgres {
            // Not FOR UPDATE: that would also block every new order of these
            // customers (the foreign key's KEY SHARE lock), which is what keeping
            // statistics out of intake is for.
            lock = lock.lock(sea_orm::sea_query::LockType::NoKeyUpdate);
        }
        let tiers: Vec<(Uuid, String)> = lock.into_tuple().all(txn).await?;
        let all = sums(txn, chunk, None).await?;
        let shown: HashMap<Uuid, statistics::Model> = statistics::Entity::find()
            .filter(statistics::COLUMN.customer_id.is_in(chunk.iter().copied()))
            .all(txn)
            .await?
            .into_iter()
            .map(|s| (s.customer_id, s))
            .collect();
        let mut recent: HashMap<u32, HashMap<(Uuid, String), Sums>> = HashMap::new();
        for months in &windows {
            let since = ctx.now.checked_sub_months(Months::new(*months));
            recent.insert(*months, sums(txn, chunk, since).await?);
        }
        let mut rows = Vec::new();
        let mut moved = Vec::new();
        let mut crossings = Vec::new();
        for (id, tier) in tiers {
            // A customer with no orders left keeps the currency its figures were in.
            let was = shown.get(&id);
            let currency = currency_of(id, base, &all).or_else(|| was.map(|w| w.currency.clone()));
            let key = (id, currency.clone().unwrap_or_default());
            let life = all.get(&key).copied().unwrap_or_default();
            if let Some(currency) = currency {
                let value = i64::try_from(life.spend).unwrap_or(i64::MAX);
                let same = was.is_some_and(|w| {
                    (w.currency.as_str(), w.lifetime_value_amount, w.order_count)
                        == (currency.as_str(), value, life.orders)
                        && (w.first_order_at, w.last_order_at) == (life.first, life.last)
                });
                if !same {
                    moved.push(id);
                    rows.push(statistics::ActiveModel {
                        customer_id: Set(id),
                        currency: Set(currency),
                        lifetime_value_amount: Set(value),
                        order_count: Set(life.orders),
                        first_order_at: Set(life.first),
                        last_order_at: Set(life.last),
                        updated_at: Set(ctx.now),
                    });
                }
            }
            let in_window: HashMap<u32, Sums> = recent
                .iter()
                .map(|(m, sums)| (*m, sums.get(&key).copied().unwrap_or_default()))
                .collect();
            let now_tier = tier_of(&rules, &in_window);
            if now_tier != tier {
                crossings.push((id, tier, now_tier));
            }
        }
        if !rows.is_empty() {
            statistics::Entity::insert_many(rows)
                .on_conflict(
                    OnConflict::column(statistics::Column::CustomerId)
                        .update_columns([
                            statistics::Column::Currency,
                            statistics::Column::LifetimeValueAmount,
                            statistics::Column::OrderCount,
                            statistics::Column::FirstOrderAt,
                            statistics::Column::LastOrderAt,
                            statistics::Column::UpdatedAt,
                        ])
                        .to_owned(),
                )
                .exec_without_returning(txn)
                .await?;
        }
        // The figures are part of the customer as read: a new version (its ETag moves),
        // once, whether or not its tier moves too.
        let crossing: HashSet<Uuid> = crossings.iter().map(|(id, _, _)| *id).collect();
        let bumped: Vec<Uuid> = moved
            .into_iter()
            .filter(|id| !crossing.contains(id))
            .collect();
        if !bumped.is_empty() {
            customer::Entity::update_many()
                .col_expr(
                    customer::Column::Version,
                    Expr::col(customer::Column::Version).add(1),
                )
                .filter(customer::COLUMN.id.is_in(bumped))
                .exec(txn)
                .await?;
        }
        // After the figures, so the event shows those that crossed the rule.
        for (id, from, to) in crossings {
            if change_tier(txn, ctx, cipher, id, &from, &to).await? {
                changed += 1;
            }
        }
    }
    Ok(changed)
}

/// Move a customer from tier `from` to `to`, if it is still in `from`.
async fn change_tier(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    cipher: &FieldCipher,
    id: Uuid,
    from: &str,
    to: &str,
) -> Result<bool> {
    let update = customer::Entity::update_many()
        .col_expr(customer::COLUMN.tier, Expr::value(to))
        .col_expr(customer::COLUMN.tier_since, Expr::value(ctx.now))
        .col_expr(customer::COLUMN.updated_at, Expr::value(ctx.now))
        .filter(customer::COLUMN.id.eq(id))
        .filter(customer::COLUMN.tier.eq(from));
    if try_claim(txn, update, customer::Column::Version, None)
        .await?
        .is_none()
    {
        return Ok(false);
    }
    let view = queries::get(txn, &Actor::System, cipher, id).await?;
    events::record(txn, ctx, &events::TIER_CHANGED, &view).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("customer.tier_change", "customer", id)
            .changes(serde_json::json!({"tier": {"from": from, "to": to}})),
    )
    .await?;
    Ok(true)
}

/// The name the daily tier task claims its day under.
const SWEEP: &str = "customer_tiers";

/// Once a day (the first call on a new UTC day, on whichever server makes it):
/// recompute every customer that has orders or a tier, so tiers fall as orders age
/// out of their windows and follow changed rules. Returns how many tiers changed.
pub async fn sweep(db: &Db, cipher: &FieldCipher, now: DateTime<Utc>) -> Result<u64> {
    if !claim_day(db, now).await? {
        return Ok(0);
    }
    let swept = sweep_all(db, cipher, now).await;
    if swept.is_err() {
        // Unfinished: give the day back, so the next pass (on any server) runs it.
        let backend = db.backend();
        let sql = match backend {
            DatabaseBackend::Postgres => "UPDATE task_runs SET ran_on = $1 WHERE name = $2",
            _ => "UPDATE task_runs SET ran_on = ?1 WHERE name = ?2",
        };
        let yesterday = now.date_naive().pred_opt().unwrap_or(now.date_naive());
        let _ = db
            .writer()
            .execute_raw(Statement::from_sql_and_values(
                backend,
                sql,
                [yesterday.into(), SWEEP.into()],
            ))
            .await;
    }
    swept
}

async fn sweep_all(db: &Db, cipher: &FieldCipher, now: DateTime<Utc>) -> Result<u64> {
    let ctx = Ctx::system(now);
    let mut after: Option<Uuid> = None;
    let mut changed = 0;
    loop {
        let mut select = customer::Entity::find()
            .select_only()
            .column(customer::Column::Id)
            .filter(
                sea_orm::Condition::any()
                    .add(customer::COLUMN.tier.ne(TierRule::STANDARD))
                    .add(
                        customer::COLUMN.id.in_subquery(
                            sea_orm::sea_query::Query::select()
                                .column(statistics::Column::CustomerId)
                                .from(statistics::Entity)
                                .to_owned(),
                        ),
                    )
                    .add(
                        customer::COLUMN.id.in_subquery(
                            sea_orm::sea_query::Query::select()
                                .column(order_fact::Column::CustomerId)
                                .from(order_fact::Entity)
                                .to_owned(),
                        ),
                    ),
            )
            .order_by_asc(customer::Column::Id)
            .limit(CHUNK as u64);
        if let Some(after) = after {
            select = select.filter(customer::COLUMN.id.gt(after));
        }
        let ids: Vec<Uuid> = select.into_tuple().all(db.reader()).await?;
        let Some(last) = ids.last().copied() else {
            return Ok(changed);
        };
        #[allow(clippy::disallowed_methods)] // a background task, one transaction per batch
        let txn = db.begin().await?;
        changed += refresh(&txn, &ctx, cipher, &ids.iter().copied().collect()).await?;
        txn.commit().await?;
        if ids.len() < CHUNK {
            return Ok(changed);
        }
        after = Some(last);
    }
}

/// Whether this call is the day's run: one conditional write per day, which one of
/// several servers wins.
async fn claim_day(db: &Db, now: DateTime<Utc>) -> Result<bool> {
    let backend = db.backend();
    let today = now.date_naive();
    let (update, insert) = match backend {
        DatabaseBackend::Postgres => (
            "UPDATE task_runs SET ran_on = $1 WHERE name = $2 AND ran_on < $1",
            "INSERT INTO task_runs (name, ran_on) VALUES ($2, $1) ON CONFLICT (name) DO NOTHING",
        ),
        _ => (
            "UPDATE task_runs SET ran_on = ?1 WHERE name = ?2 AND ran_on < ?1",
            "INSERT INTO task_runs (name, ran_on) VALUES (?2, ?1) ON CONFLICT (name) DO NOTHING",
        ),
    };
    #[allow(clippy::disallowed_methods)] // a background task's claim of its day
    let txn = db.begin().await?;
    let mut won = 0;
    for sql in [update, insert] {
        won += txn
            .execute_raw(Statement::from_sql_and_values(
                backend,
                sql,
                [today.into(), SWEEP.into()],
            ))
            .await?
            .rows_affected();
    }
    txn.commit().await?;
    Ok(won > 0)
}

/// The statistics of `ids` that have any, for their views (one query).
pub(crate) async fn of(
    conn: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, CustomerStatistics>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = statistics::Entity::find()
        .filter(statistics::COLUMN.customer_id.is_in(ids.iter().copied()))
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let currency: Currency = r.currency.parse().ok()?;
            let average = if r.order_count > 0 {
                r.lifetime_value_amount / r.order_count
            } else {
                0
            };
            Some((
                r.customer_id,
                CustomerStatistics {
                    lifetime_value: Money::new(r.lifetime_value_amount, currency),
                    order_count: r.order_count,
                    average_order_value: Money::new(average, currency),
                    first_order_at: r.first_order_at,
                    last_order_at: r.last_order_at,
                    updated_at: r.updated_at,
                },
            ))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(tier: &str, min_spend: i64, min_orders: i64, months: u32) -> TierRule {
        TierRule {
            tier: tier.into(),
            min_spend,
            min_orders,
            months,
        }
    }

    #[test]
    fn the_first_rule_met_is_the_tier() {
        let rules = [rule("gold", 1000, 3, 12), rule("silver", 500, 1, 12)];
        let at = |orders, spend| {
            HashMap::from([(
                12,
                Sums {
                    orders,
                    spend,
                    ..Sums::default()
                },
            )])
        };
        assert_eq!(tier_of(&rules, &at(0, 0)), "standard");
        assert_eq!(tier_of(&rules, &at(1, 499)), "standard");
        assert_eq!(tier_of(&rules, &at(1, 500)), "silver");
        assert_eq!(tier_of(&rules, &at(2, 5000)), "silver");
        assert_eq!(tier_of(&rules, &at(3, 1000)), "gold");
        assert_eq!(tier_of(&[], &at(3, 1000)), "standard");
    }
}
