//! Receivables aging as of any day: what each issued invoice still owed that day,
//! row by instalment row, by how long past its own due date.
//!
//! Everything counts by the day it was booked, never by what the invoice says
//! now: an invoice from its issue day until the day it was voided or written off,
//! an allocation row (payments applied, released by a credit note, taken back by
//! a reversal, moved when an order changed) from its `effective_on`, a credit note
//! from its `effective_on` until its `voided_on`. Nothing booked is ever changed
//! or backdated, so asking later about a past day gives the answer that day gave.
//! What was settled of an invoice pays its rows earliest first, as the ledger
//! does.
//!
//! The database does the arithmetic and sends back sums: one statement sums the
//! invoices of one row (most of them) and the rows of scheduled invoices by
//! customer, currency, rate and bucket; only the sums cross to Rust, which
//! converts each at its invoice rate. 100,000 invoices stay well under a second
//! on SQLite (see `make bench`).

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use ordercrm_kernel::authz::{Action, Actor};
use ordercrm_kernel::input::Day;
use ordercrm_kernel::rate::Rate;
use ordercrm_kernel::{Currency, Error, Money, Result};
use sea_orm::sea_query::{Alias, Func, JoinType, Query};
use sea_orm::sea_query::{Expr, ExprTrait, SelectStatement};
use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseBackend, DatabaseConnection, DatabaseTransaction,
    EntityName, IsolationLevel, QueryFilter, QuerySelect, QueryTrait, Statement, TransactionTrait,
};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::dto::{AgingBuckets, AgingReport, AgingRowView, CustomerAging};
use crate::entity::{allocation, credit_note, invoice};
use crate::model::InvoiceStatus;
use crate::queries::visible_invoices;

/// `GET /v1/receivables/aging`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AgingQuery {
    /// The day to age on (default today): what was owed at its end.
    #[param(value_type = Option<String>, format = Date)]
    pub as_of: Option<Day>,
    /// One customer's, with their owed instalment rows.
    pub customer_id: Option<Uuid>,
}

/// The bucket labels, youngest first.
pub const BUCKETS: [&str; 5] = ["current", "1-30", "31-60", "61-90", "91+"];

/// Which bucket a row `days` past due falls in.
pub fn bucket(days: i64) -> usize {
    match days {
        ..=0 => 0,
        1..=30 => 1,
        31..=60 => 2,
        61..=90 => 3,
        _ => 4,
    }
}

/// Sums per bucket, wide enough for any number of rows.
#[derive(Debug, Clone, Copy, Default)]
struct Sums([i128; 5]);

impl Sums {
    fn add(&mut self, bucket: usize, amount: i64) {
        if let Some(s) = self.0.get_mut(bucket) {
            *s += i128::from(amount);
        }
    }

    fn view(&self, currency: &str) -> AgingBuckets {
        // A sum beyond i64 needs 10^5 invoices at the largest amount allowed: shown
        // as the largest amount rather than wrapped.
        let clamp = |v: i128| i64::try_from(v).unwrap_or(i64::MAX);
        AgingBuckets {
            currency: currency.to_owned(),
            current: clamp(self.0[0]),
            days_1_30: clamp(self.0[1]),
            days_31_60: clamp(self.0[2]),
            days_61_90: clamp(self.0[3]),
            days_over_90: clamp(self.0[4]),
            total: clamp(self.0.iter().sum()),
        }
    }
}

#[derive(Default)]
struct Customer {
    name: String,
    invoices: u64,
    base: Sums,
    native: BTreeMap<String, Sums>,
}

#[derive(Default)]
struct Totals {
    customers: HashMap<Uuid, Customer>,
    base: Sums,
    native: BTreeMap<String, Sums>,
    unconverted: u64,
}

/// What one group of owed money is: whose, in what, at which rate.
struct Group {
    customer: Uuid,
    currency: String,
    base_currency: Option<String>,
    base_rate: Option<String>,
    bucket: usize,
    owed: i64,
}

/// The aging as of `query.as_of` (today when absent) of what `actor` may see,
/// read in one transaction so that its statements see the same books.
pub async fn aging(
    db: &DatabaseConnection,
    actor: &Actor,
    query: &AgingQuery,
    today: NaiveDate,
) -> Result<AgingReport> {
    actor.require(Action::PaymentsRead)?;
    let txn = snapshot(db).await?;
    let report = aging_in(&txn, actor, query, today).await?;
    txn.commit().await?;
    Ok(report)
}

/// A read-only transaction that sees one state of the books, for a report of
/// several statements.
pub(crate) async fn snapshot(db: &DatabaseConnection) -> Result<DatabaseTransaction> {
    Ok(match db.get_database_backend() {
        DatabaseBackend::Postgres => {
            let txn = db
                .begin_with_config(
                    Some(IsolationLevel::RepeatableRead),
                    Some(AccessMode::ReadOnly),
                )
                .await?;
            // A report's plan looks costly enough for PostgreSQL to compile it, which
            // takes longer (~0.6 s) than running it.
            txn.execute_unprepared("SET LOCAL jit = off").await?;
            txn
        }
        // SQLite in WAL mode: a transaction reads one snapshot.
        _ => db.begin().await?,
    })
}

async fn aging_in(
    conn: &DatabaseTransaction,
    actor: &Actor,
    query: &AgingQuery,
    today: NaiveDate,
) -> Result<AgingReport> {
    let as_of = query.as_of.map_or(today, |d| d.0);
    // A key bound to a channel or to carriers sees part of a customer's books at
    // most: one customer's aging is not theirs to ask for.
    if let Some(id) = query.customer_id
        && (actor.carriers().is_some()
            || ordercrm_order::settlement::channel_orders(actor).is_some()
            || ordercrm_customer::queries::ordering_customer(conn, actor, id)
                .await?
                .is_none())
    {
        return Err(Error::not_found("customer", id));
    }
    let base = ordercrm_settings::queries::base_currency(conn).await?;
    let backend = conn.get_database_backend();
    let bucket_of = bucket_sql(as_of);
    let mut totals = Totals::default();

    // One statement, one pass over the ledger: part 0 sums the invoices (each
    // counted once; one of a single row is that row), part 1 the rows of
    // scheduled invoices.
    let inner = backend.build(&invoices_as_of(backend, actor, as_of, query.customer_id));
    let sql = format!(
        "{rows} \
         SELECT CAST(0 AS BIGINT) AS part, customer_id, \
           (SELECT cu.name FROM customers cu WHERE cu.id = o.customer_id) AS customer_name, currency, \
           base_currency, base_rate, scheduled, {bucket} AS bucket, \
           CAST(SUM(total_amount - settled) AS BIGINT) AS owed, COUNT(*) AS invoices \
         FROM o WHERE total_amount - settled > 0 GROUP BY 2, 4, 5, 6, 7, 8 \
         UNION ALL \
         SELECT CAST(1 AS BIGINT), customer_id, '', currency, base_currency, base_rate, TRUE, bucket, \
           CAST(SUM(owed) AS BIGINT), 0 \
         FROM s WHERE owed > 0 GROUP BY 2, 4, 5, 6, 8",
        rows = rows_sql(&inner.sql, &bucket_of("due_on"), "o.scheduled = TRUE"),
        bucket = bucket_of("due_on"),
    );
    for row in conn.query_all_raw(raw(backend, sql, &inner)).await? {
        let group = Group {
            customer: row.try_get("", "customer_id")?,
            currency: row.try_get("", "currency")?,
            base_currency: row.try_get("", "base_currency")?,
            base_rate: row.try_get("", "base_rate")?,
            bucket: usize::try_from(row.try_get::<i64>("", "bucket")?).unwrap_or(4),
            owed: row.try_get("", "owed")?,
        };
        if row.try_get::<i64>("", "part")? == 0 {
            let customer = totals.customers.entry(group.customer).or_default();
            customer.name = row.try_get("", "customer_name")?;
            customer.invoices += u64::try_from(row.try_get::<i64>("", "invoices")?).unwrap_or(0);
            if row.try_get::<bool>("", "scheduled")? {
                continue;
            }
        }
        totals.add(&group, base);
    }

    // One customer's: their owed rows too, by the same arithmetic.
    let mut rows = None;
    if query.customer_id.is_some() {
        let inner = backend.build(&invoices_as_of(backend, actor, as_of, query.customer_id));
        let sql = format!(
            "{rows} SELECT id, number, row_no, currency, due_on, bucket, owed, base_currency, \
             base_rate FROM s WHERE owed > 0 ORDER BY due_on, number, row_no",
            rows = rows_sql(&inner.sql, &bucket_of("due_on"), "TRUE"),
        );
        let mut list = Vec::new();
        for row in conn.query_all_raw(raw(backend, sql, &inner)).await? {
            let currency: String = row.try_get("", "currency")?;
            let owed: i64 = row.try_get("", "owed")?;
            let due_on: Option<NaiveDate> = row.try_get("", "due_on")?;
            let bucket = usize::try_from(row.try_get::<i64>("", "bucket")?).unwrap_or(4);
            let base_currency: Option<String> = row.try_get("", "base_currency")?;
            let base_rate: Option<String> = row.try_get("", "base_rate")?;
            list.push(AgingRowView {
                invoice_id: row.try_get("", "id")?,
                invoice_number: row.try_get("", "number")?,
                row_no: row.try_get("", "row_no")?,
                due_on,
                days_past_due: due_on.map_or(0, |d| (as_of - d).num_days()),
                bucket: BUCKETS.get(bucket).copied().unwrap_or("91+").to_owned(),
                outstanding: owed,
                outstanding_base: in_base(
                    owed,
                    &currency,
                    base_currency.as_deref(),
                    base_rate.as_deref(),
                    base,
                ),
                currency,
            });
        }
        rows = Some(list);
    }
    Ok(totals.report(as_of, base, rows))
}

/// `sql` around `inner`, with `inner`'s values.
fn raw(backend: sea_orm::DatabaseBackend, sql: String, inner: &Statement) -> Statement {
    Statement {
        sql,
        values: inner.values.clone(),
        db_backend: backend,
    }
}

/// The bucket (0 to 4) of a row due on `column`, as of `as_of`, as SQL: the
/// boundaries are days, written out (they come from a date, never from input).
fn bucket_sql(as_of: NaiveDate) -> impl Fn(&str) -> String {
    let back = move |days: u64| {
        // Never before 0001-01-01, which PostgreSQL's dates start at.
        let first = NaiveDate::from_ymd_opt(1, 1, 1).unwrap_or(as_of);
        as_of
            .checked_sub_days(chrono::Days::new(days))
            .filter(|d| *d >= first)
            .unwrap_or(first)
            .format("%Y-%m-%d")
            .to_string()
    };
    let (d0, d30, d60, d90) = (back(0), back(30), back(60), back(90));
    move |column: &str| {
        format!(
            "CAST(CASE WHEN {column} >= '{d0}' THEN 0 WHEN {column} >= '{d30}' THEN 1 \
             WHEN {column} >= '{d60}' THEN 2 WHEN {column} >= '{d90}' THEN 3 ELSE 4 END AS BIGINT)"
        )
    }
}

/// `WITH o (the invoices), r (the rows of those `which` picks with something
/// owed, with what was settled ahead of each), s (each row's owed and bucket)`: a row is paid by what is left of the settled
/// amount after the rows before it, earliest first.
fn rows_sql(invoices: &str, bucket: &str, which: &str) -> String {
    format!(
        "WITH o AS MATERIALIZED ({invoices}), \
         r AS MATERIALIZED (SELECT o.id, o.number, o.customer_id, o.currency, o.base_currency, \
           o.base_rate, i.row_no, COALESCE(i.due_on, o.due_on) AS due_on, i.amount, \
           o.settled - CAST(COALESCE((SELECT SUM(p.amount) FROM invoice_instalments p \
             WHERE p.invoice_id = i.invoice_id AND p.row_no < i.row_no), 0) AS BIGINT) AS ahead \
           FROM o JOIN invoice_instalments i ON i.invoice_id = o.id \
           WHERE o.total_amount - o.settled > 0 AND {which}), \
         s AS (SELECT r.*, r.amount - CASE WHEN r.ahead <= 0 THEN 0 \
           WHEN r.ahead >= r.amount THEN r.amount ELSE r.ahead END AS owed, \
           {bucket} AS bucket FROM r)"
    )
}

/// The invoices `actor` sees issued by `as_of` and not closed by then (of one
/// customer, when asked), each with `settled`: what its
/// allocations and credit notes had settled of it by then.
fn invoices_as_of(
    backend: DatabaseBackend,
    actor: &Actor,
    as_of: NaiveDate,
    customer: Option<Uuid>,
) -> SelectStatement {
    let mut select = visible_invoices(actor)
        .select_only()
        .column(invoice::Column::Id)
        .column(invoice::Column::Number)
        .column(invoice::Column::CustomerId)
        .column(invoice::Column::CustomerName)
        .column(invoice::Column::Currency)
        .column(invoice::Column::DueOn)
        .column(invoice::Column::BaseCurrency)
        .column(invoice::Column::BaseRate)
        .column(invoice::Column::Scheduled)
        .column(invoice::Column::TotalAmount)
        .filter(invoice::COLUMN.status.ne(InvoiceStatus::Draft.as_str()))
        .filter(invoice::COLUMN.issued_on.lte(as_of));
    // Not closed by the end of the day: closed on a later day, or never (after
    // 9999-12-31 no day comes, and a five-digit year would sort before every day as
    // text in SQLite).
    let open_then = match as_of
        .succ_opt()
        .filter(|d| chrono::Datelike::year(d) <= 9999)
    {
        Some(next) => invoice::COLUMN.closed_at.is_null().or(invoice::COLUMN
            .closed_at
            .gte(next.and_time(chrono::NaiveTime::MIN).and_utc())),
        None => invoice::COLUMN.closed_at.is_null(),
    };
    select = select.filter(open_then);
    if let Some(id) = customer {
        select = select.filter(invoice::COLUMN.customer_id.eq(id));
    }
    let mut query = select.into_query();
    if backend == DatabaseBackend::Postgres {
        // Hash joins of the sums by invoice: one pass over each table.
        let (a, c) = (Alias::new("a"), Alias::new("c"));
        query
            .join_subquery(
                JoinType::LeftJoin,
                allocation_sums(as_of),
                a.clone(),
                Expr::col((a, allocation::Column::InvoiceId))
                    .equals((invoice::Entity, invoice::Column::Id)),
            )
            .join_subquery(
                JoinType::LeftJoin,
                credit_sums(as_of),
                c.clone(),
                Expr::col((c, credit_note::Column::InvoiceId))
                    .equals((invoice::Entity, invoice::Column::Id)),
            )
            .expr_as(
                Expr::cust("CAST(COALESCE(a.settled, 0) + COALESCE(c.settled, 0) AS BIGINT)"),
                Alias::new("settled"),
            );
    } else {
        // SQLite: a lookup per invoice by the ledger's invoice index is quicker
        // than materialising the sums. The day is written out (it is a date, never
        // input): placeholders differ between the engines, a date does not.
        let day = as_of.format("%Y-%m-%d");
        query.expr_as(
            Expr::cust(format!(
                "CAST(COALESCE((SELECT SUM(a.amount) FROM payment_allocations a \
                   WHERE a.invoice_id = invoices.id AND a.effective_on <= '{day}'), 0) \
                 + COALESCE((SELECT SUM(c.amount) FROM credit_notes c \
                   WHERE c.invoice_id = invoices.id AND c.effective_on <= '{day}' \
                   AND (c.voided_on IS NULL OR c.voided_on > '{day}')), 0) AS BIGINT)"
            )),
            Alias::new("settled"),
        );
    }
    query
}

/// What the ledger applied to each invoice by the end of `as_of`.
// Not narrowed to the customer asked about: a ledger row keeps the customer of
// its payment, which a merge may have made another than the invoice's.
fn allocation_sums(as_of: NaiveDate) -> SelectStatement {
    Query::select()
        .column(allocation::Column::InvoiceId)
        .expr_as(
            Func::sum(Expr::col(allocation::Column::Amount)),
            Alias::new("settled"),
        )
        .from(allocation::Entity.table_ref())
        .and_where(Expr::col(allocation::Column::InvoiceId).is_not_null())
        .and_where(Expr::col(allocation::Column::EffectiveOn).lte(as_of))
        .group_by_col(allocation::Column::InvoiceId)
        .to_owned()
}

/// What credit notes standing at the end of `as_of` took off each invoice.
fn credit_sums(as_of: NaiveDate) -> SelectStatement {
    Query::select()
        .column(credit_note::Column::InvoiceId)
        .expr_as(
            Func::sum(Expr::col(credit_note::Column::Amount)),
            Alias::new("settled"),
        )
        .from(credit_note::Entity.table_ref())
        .and_where(Expr::col(credit_note::Column::EffectiveOn).lte(as_of))
        .and_where(
            Expr::col(credit_note::Column::VoidedOn)
                .is_null()
                .or(Expr::col(credit_note::Column::VoidedOn).gt(as_of)),
        )
        .group_by_col(credit_note::Column::InvoiceId)
        .to_owned()
}

/// `owed` of `currency` in the base currency at the invoice's rate: itself in
/// the base currency; `None` without a base currency or a rate to it.
fn in_base(
    owed: i64,
    currency: &str,
    base_currency: Option<&str>,
    base_rate: Option<&str>,
    base: Option<Currency>,
) -> Option<i64> {
    let to = base?;
    let from = crate::queries::currency(currency);
    if from == to {
        return Some(owed);
    }
    if base_currency != Some(to.code()) {
        return None;
    }
    Rate::parse(base_rate?)?
        .convert(Money::new(owed, from), to)
        .ok()
        .map(|m| m.amount)
}

impl Totals {
    fn add(&mut self, g: &Group, base: Option<Currency>) {
        let customer = self.customers.entry(g.customer).or_default();
        customer
            .native
            .entry(g.currency.clone())
            .or_default()
            .add(g.bucket, g.owed);
        self.native
            .entry(g.currency.clone())
            .or_default()
            .add(g.bucket, g.owed);
        match in_base(
            g.owed,
            &g.currency,
            g.base_currency.as_deref(),
            g.base_rate.as_deref(),
            base,
        ) {
            Some(v) => {
                customer.base.add(g.bucket, v);
                self.base.add(g.bucket, v);
            }
            None if base.is_some() => self.unconverted += 1,
            None => {}
        }
    }

    fn report(
        self,
        as_of: NaiveDate,
        base: Option<Currency>,
        rows: Option<Vec<AgingRowView>>,
    ) -> AgingReport {
        let base_code = base.map(|b| b.code().to_owned());
        let mut customers: Vec<CustomerAging> = self
            .customers
            .into_iter()
            .map(|(id, c)| CustomerAging {
                customer_id: id,
                customer_name: c.name,
                invoices: c.invoices,
                base: base_code.as_deref().map(|b| c.base.view(b)),
                by_currency: c.native.iter().map(|(k, s)| s.view(k)).collect(),
            })
            .collect();
        customers.sort_by(|a, b| {
            a.customer_name
                .cmp(&b.customer_name)
                .then(a.customer_id.cmp(&b.customer_id))
        });
        AgingReport {
            as_of,
            total: base_code.as_deref().map(|b| self.base.view(b)),
            base_currency: base_code,
            by_currency: self.native.iter().map(|(k, s)| s.view(k)).collect(),
            unconverted: self.unconverted,
            customers,
            rows,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_hold_their_bounds() {
        let got: Vec<usize> = [-5, 0, 1, 30, 31, 60, 61, 90, 91, 10_000]
            .iter()
            .map(|d| bucket(*d))
            .collect();
        assert_eq!(got, vec![0, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
    }

    #[test]
    fn sums_never_wrap() {
        let mut s = Sums::default();
        s.add(4, i64::MAX);
        s.add(4, i64::MAX);
        let v = s.view("CNY");
        assert_eq!(v.days_over_90, i64::MAX);
        assert_eq!(v.total, i64::MAX);
    }
}
