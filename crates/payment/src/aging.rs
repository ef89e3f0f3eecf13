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
//! One query streams each invoice's rows with the two sums beside them, in
//! invoice order; memory holds one invoice and the customers' totals.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use futures_util::TryStreamExt;
use ordercrm_kernel::authz::{Action, Actor};
use ordercrm_kernel::input::Day;
use ordercrm_kernel::rate::Rate;
use ordercrm_kernel::{Currency, Error, Money, Result};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, JoinType, Order, Query};
use sea_orm::{
    ConnectionTrait, EntityName, FromQueryResult, QueryFilter, QuerySelect, QueryTrait, StreamTrait,
};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::dto::{AgingBuckets, AgingReport, AgingRowView, CustomerAging};
use crate::entity::{allocation, credit_note, instalment, invoice};
use crate::model::{InvoiceStatus, rows_paid};
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
    rows: Option<Vec<AgingRowView>>,
}

#[derive(Debug, FromQueryResult)]
struct Row {
    id: Uuid,
    number: Option<String>,
    customer_id: Uuid,
    customer_name: String,
    currency: String,
    due_on: Option<NaiveDate>,
    base_currency: Option<String>,
    base_rate: Option<String>,
    row_no: i32,
    row_amount: i64,
    row_due_on: Option<NaiveDate>,
    paid: Option<i64>,
    credited: Option<i64>,
}

/// The aging as of `query.as_of` (today when absent) of what `actor` may see.
pub async fn aging<C>(
    conn: &C,
    actor: &Actor,
    query: &AgingQuery,
    today: NaiveDate,
) -> Result<AgingReport>
where
    C: ConnectionTrait + StreamTrait + Send,
{
    actor.require(Action::PaymentsRead)?;
    let as_of = query.as_of.map_or(today, |d| d.0);
    if let Some(id) = query.customer_id
        && (actor.carriers().is_some()
            || ordercrm_customer::queries::ordering_customer(conn, actor, id)
                .await?
                .is_none())
    {
        return Err(Error::not_found("customer", id));
    }
    let base = ordercrm_settings::queries::base_currency(conn).await?;
    let mut totals = Totals {
        rows: query.customer_id.map(|_| Vec::new()),
        ..Totals::default()
    };
    let mut stream = rows(actor, as_of, query.customer_id)
        .into_model::<Row>()
        .stream(conn)
        .await?;
    let mut invoice: Vec<Row> = Vec::new();
    while let Some(row) = stream.try_next().await? {
        if invoice.first().is_some_and(|first| first.id != row.id) {
            totals.add(std::mem::take(&mut invoice), as_of, base);
        }
        invoice.push(row);
    }
    totals.add(invoice, as_of, base);
    Ok(totals.report(as_of, base))
}

/// `SUM(column)` as a BIGINT: PostgreSQL sums BIGINTs as NUMERIC.
fn sum_of(column: impl sea_orm::sea_query::IntoColumnRef) -> sea_orm::sea_query::FunctionCall {
    Func::cast_as(Func::sum(Expr::col(column)), Alias::new("BIGINT"))
}

/// Each instalment row of the invoices issued by `as_of` and not closed by then,
/// with what allocations and credit notes had settled of its invoice by then.
fn rows(
    actor: &Actor,
    as_of: NaiveDate,
    customer: Option<Uuid>,
) -> sea_orm::Select<invoice::Entity> {
    let paid = {
        let mut q = Query::select();
        q.column(allocation::Column::InvoiceId)
            .expr_as(sum_of(allocation::Column::Amount), Alias::new("paid"))
            .from(allocation::Entity.table_ref())
            .and_where(Expr::col(allocation::Column::InvoiceId).is_not_null())
            .and_where(Expr::col(allocation::Column::EffectiveOn).lte(as_of))
            .group_by_col(allocation::Column::InvoiceId);
        if let Some(id) = customer {
            q.and_where(Expr::col(allocation::Column::CustomerId).eq(id));
        }
        q
    };
    let credited = {
        let mut q = Query::select();
        q.column(credit_note::Column::InvoiceId)
            .expr_as(sum_of(credit_note::Column::Amount), Alias::new("credited"))
            .from(credit_note::Entity.table_ref())
            .and_where(Expr::col(credit_note::Column::EffectiveOn).lte(as_of))
            .and_where(
                Expr::col(credit_note::Column::VoidedOn)
                    .is_null()
                    .or(Expr::col(credit_note::Column::VoidedOn).gt(as_of)),
            )
            .group_by_col(credit_note::Column::InvoiceId);
        if let Some(id) = customer {
            q.and_where(Expr::col(credit_note::Column::CustomerId).eq(id));
        }
        q
    };
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
        .filter(invoice::COLUMN.status.ne(InvoiceStatus::Draft.as_str()))
        .filter(invoice::COLUMN.issued_on.lte(as_of));
    // Closed (voided, written off) after the day asked about, or never.
    if let Some(next) = as_of.succ_opt() {
        let end = next.and_time(chrono::NaiveTime::MIN).and_utc();
        select = select.filter(
            invoice::COLUMN
                .closed_at
                .is_null()
                .or(invoice::COLUMN.closed_at.gte(end)),
        );
    }
    if let Some(id) = customer {
        select = select.filter(invoice::COLUMN.customer_id.eq(id));
    }
    let (a, c) = (Alias::new("a"), Alias::new("c"));
    QueryTrait::query(&mut select)
        .join(
            JoinType::InnerJoin,
            instalment::Entity,
            Expr::col((instalment::Entity, instalment::Column::InvoiceId))
                .equals((invoice::Entity, invoice::Column::Id)),
        )
        .join_subquery(
            JoinType::LeftJoin,
            paid,
            a.clone(),
            Expr::col((a.clone(), allocation::Column::InvoiceId))
                .equals((invoice::Entity, invoice::Column::Id)),
        )
        .join_subquery(
            JoinType::LeftJoin,
            credited,
            c.clone(),
            Expr::col((c.clone(), credit_note::Column::InvoiceId))
                .equals((invoice::Entity, invoice::Column::Id)),
        )
        .expr_as(
            Expr::col((instalment::Entity, instalment::Column::RowNo)),
            Alias::new("row_no"),
        )
        .expr_as(
            Expr::col((instalment::Entity, instalment::Column::Amount)),
            Alias::new("row_amount"),
        )
        .expr_as(
            Expr::col((instalment::Entity, instalment::Column::DueOn)),
            Alias::new("row_due_on"),
        )
        .expr_as(Expr::col((a, Alias::new("paid"))), Alias::new("paid"))
        .expr_as(
            Expr::col((c, Alias::new("credited"))),
            Alias::new("credited"),
        )
        .order_by((invoice::Entity, invoice::Column::Id), Order::Asc)
        .order_by((instalment::Entity, instalment::Column::RowNo), Order::Asc);
    select
}

impl Totals {
    /// Age one invoice's rows (all of them, in row order).
    fn add(&mut self, rows: Vec<Row>, as_of: NaiveDate, base: Option<Currency>) {
        let Some(first) = rows.first() else {
            return;
        };
        let settled = first
            .paid
            .unwrap_or(0)
            .saturating_add(first.credited.unwrap_or(0));
        let amounts: Vec<i64> = rows.iter().map(|r| r.row_amount).collect();
        let paid = rows_paid(&amounts, settled);
        let currency = crate::queries::currency(&first.currency);
        // The invoice's own rate, when it has one to the base currency asked for.
        let rate = match base {
            Some(b) if b == currency => Some(None),
            Some(b) => first
                .base_rate
                .as_deref()
                .and_then(Rate::parse)
                .filter(|_| first.base_currency.as_deref() == Some(b.code()))
                .map(Some),
            None => None,
        };
        let mut owed_any = false;
        for (r, p) in rows.iter().zip(paid) {
            let owed = r.row_amount.saturating_sub(p);
            if owed <= 0 {
                continue;
            }
            owed_any = true;
            let due = r.row_due_on.or(first.due_on);
            let days = due.map_or(0, |d| (as_of - d).num_days());
            let b = bucket(days);
            let in_base = match (base, rate) {
                (Some(_), Some(None)) => Some(owed),
                (Some(to), Some(Some(rate))) => rate
                    .convert(Money::new(owed, currency), to)
                    .ok()
                    .map(|m| m.amount),
                _ => None,
            };
            let customer = self.customers.entry(first.customer_id).or_default();
            customer.name.clone_from(&first.customer_name);
            customer
                .native
                .entry(first.currency.clone())
                .or_default()
                .add(b, owed);
            self.native
                .entry(first.currency.clone())
                .or_default()
                .add(b, owed);
            match in_base {
                Some(v) => {
                    customer.base.add(b, v);
                    self.base.add(b, v);
                }
                None if base.is_some() => self.unconverted += 1,
                None => {}
            }
            if let Some(list) = self.rows.as_mut() {
                list.push(AgingRowView {
                    invoice_id: first.id,
                    invoice_number: first.number.clone(),
                    row_no: r.row_no,
                    currency: first.currency.clone(),
                    due_on: due,
                    days_past_due: days,
                    bucket: BUCKETS.get(b).copied().unwrap_or("91+").to_owned(),
                    outstanding: owed,
                    outstanding_base: in_base,
                });
            }
        }
        if owed_any && let Some(c) = self.customers.get_mut(&first.customer_id) {
            c.invoices += 1;
        }
    }

    fn report(self, as_of: NaiveDate, base: Option<Currency>) -> AgingReport {
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
        let mut rows = self.rows;
        if let Some(list) = rows.as_mut() {
            list.sort_by(|a, b| {
                a.due_on
                    .cmp(&b.due_on)
                    .then(a.invoice_number.cmp(&b.invoice_number))
                    .then(a.row_no.cmp(&b.row_no))
            });
        }
        AgingReport {
            as_of,
            total: base_code.as_deref().map(|b| self.base.view(b)),
            base_currency: base_code,
            by_currency: self.native.iter().map(|(k, s)| s.view(k)).collect(),
            unconverted_rows: self.unconverted,
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
