//! Overdue invoices and reminders. Once a day per open invoice with a row past
//! its due date, the sweep says so: `invoice.overdue` once per instalment row that
//! passes its due date unpaid, and `invoice.reminder_due` once per row and
//! configured level (`reminder_days`, default 3, 10 and 30 days past due) while
//! the row is still open, naming the rows overdue at that moment. We send nothing
//! to customers: integrations act on these events.
//!
//! Safe with several servers: each notice is a row with a unique key, inserted in
//! the transaction that writes its event, so one of them writes it and the others
//! find it there. A server that was down catches up with the overdue notice and
//! the highest level reached; the lower levels it passed meanwhile are recorded,
//! not announced. A row is announced overdue once: settled and reopened later (a
//! reversal), it is named in the next notices, and `payment.reversed` tells.

use chrono::{DateTime, NaiveDate, Utc};
use ordercrm_kernel::db::Db;
use ordercrm_kernel::id::new_id;
use ordercrm_kernel::{Ctx, Result};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use uuid::Uuid;

use crate::dto::{InvoiceNotice, NoticeData};
use crate::entity::{instalment, invoice, notice};
use crate::model::{InvoiceStatus, rows_paid};
use crate::{events, queries};

/// Invoices looked at per batch.
const BATCH: u64 = 200;

/// Days past due at which reminders are due when `reminder_days` is not set.
pub const DEFAULT_REMINDER_DAYS: [i64; 3] = [3, 10, 30];

async fn reminder_days(conn: &impl ConnectionTrait) -> Result<Vec<i64>> {
    Ok(
        match ordercrm_settings::queries::value(conn, "reminder_days").await? {
            Some(serde_json::Value::Array(days)) => {
                days.iter().filter_map(serde_json::Value::as_i64).collect()
            }
            _ => DEFAULT_REMINDER_DAYS.to_vec(),
        },
    )
}

/// Announce what is overdue at `now` and not announced yet; how many notices
/// this server wrote. An invoice that fails is left for the next sweep, and the
/// others go on.
pub async fn sweep(db: &Db, now: DateTime<Utc>) -> Result<usize> {
    let today = now.date_naive();
    let levels = reminder_days(db.reader()).await?;
    let ctx = Ctx::system(now);
    let mut written = 0;
    let mut failed: Vec<Uuid> = Vec::new();
    loop {
        let mut select = invoice::Entity::find()
            .select_only()
            .column(invoice::Column::Id)
            .filter(invoice::COLUMN.status.eq(InvoiceStatus::Open.as_str()))
            .filter(invoice::COLUMN.next_due_on.lt(today))
            .filter(
                Expr::col(invoice::Column::DunnedOn)
                    .is_null()
                    .or(Expr::col(invoice::Column::DunnedOn).lt(today)),
            );
        if !failed.is_empty() {
            select = select.filter(invoice::COLUMN.id.is_not_in(failed.clone()));
        }
        let due: Vec<Uuid> = select
            .order_by_asc(invoice::Column::NextDueOn)
            .order_by_asc(invoice::Column::Id)
            .limit(BATCH)
            .into_tuple()
            // From the writer: a replica that lags would hand back the invoices
            // just claimed, again and again, until it caught up.
            .all(db.writer())
            .await?;
        if due.is_empty() {
            if let Some(first) = failed.first() {
                tracing::warn!(invoices = failed.len(), first = %first,
                    "overdue notices of some invoices failed; they are tried again next time");
            }
            return Ok(written);
        }
        for id in due {
            match one(db, &ctx, id, today, &levels).await {
                Ok(n) => written += n,
                Err(err) => {
                    tracing::warn!(invoice = %id, error = %err, "overdue notices failed");
                    failed.push(id);
                }
            }
        }
    }
}

/// Invoice `id`'s notices due `today`, in one transaction that first marks it
/// looked at today (another server that took it first leaves it alone).
async fn one(db: &Db, ctx: &Ctx, id: Uuid, today: NaiveDate, levels: &[i64]) -> Result<usize> {
    #[allow(clippy::disallowed_methods)]
    let txn = db.writer().begin().await?;
    let taken = invoice::Entity::update_many()
        .col_expr(invoice::Column::DunnedOn, Expr::value(today))
        .filter(invoice::COLUMN.id.eq(id))
        .filter(
            Expr::col(invoice::Column::DunnedOn)
                .is_null()
                .or(Expr::col(invoice::Column::DunnedOn).lt(today)),
        )
        .exec(&txn)
        .await?;
    if taken.rows_affected == 0 {
        txn.rollback().await?;
        return Ok(0);
    }
    let Some(inv) = invoice::Entity::find_by_id(id).one(&txn).await? else {
        txn.rollback().await?;
        return Ok(0);
    };
    let rows = instalment::Entity::find()
        .filter(instalment::COLUMN.invoice_id.eq(id))
        .order_by_asc(instalment::Column::RowNo)
        .all(&txn)
        .await?;
    let amounts: Vec<i64> = rows.iter().map(|r| r.amount).collect();
    let paid = rows_paid(&amounts, inv.settled());
    let overdue: Vec<(i32, NaiveDate)> = rows
        .iter()
        .zip(paid)
        .filter_map(|(r, p)| {
            r.due_on
                .filter(|d| *d < today && p < r.amount)
                .map(|d| (r.row_no, d))
        })
        .collect();
    let named: Vec<i32> = overdue.iter().map(|(n, _)| *n).collect();
    let mut written = 0;
    let mut data = None;
    for (row_no, due) in &overdue {
        let past = (today - *due).num_days();
        let mut wanted = vec![(notice::OVERDUE, 0)];
        for level in levels.iter().filter(|l| **l <= past) {
            wanted.push((notice::REMINDER, *level));
        }
        // After a pause (the servers were down, the row was settled and reopened),
        // only the highest level reached is announced: the lower ones it passed are
        // recorded as passed, so an integration never sends three reminders at once.
        let highest = wanted.last().map_or(0, |(_, l)| *l);
        for (kind, level) in wanted {
            let inserted = notice::Entity::insert(notice::ActiveModel::from(notice::Model {
                id: new_id(),
                invoice_id: id,
                row_no: *row_no,
                kind: kind.to_owned(),
                level_days: i32::try_from(level).unwrap_or(i32::MAX),
                created_at: ctx.now,
            }))
            .on_conflict_do_nothing_on([
                notice::Column::InvoiceId,
                notice::Column::RowNo,
                notice::Column::Kind,
                notice::Column::LevelDays,
            ])
            .exec_without_returning(&txn)
            .await?;
            if !matches!(inserted, sea_orm::TryInsertResult::Inserted(n) if n > 0) {
                // Sent already (by this server or another).
                continue;
            }
            if kind == notice::REMINDER && level < highest {
                continue;
            }
            let invoice = match &data {
                Some(d) => Clone::clone(d),
                None => {
                    let d = queries::invoice_data_of(&txn, &inv, today).await?;
                    data = Some(d.clone());
                    d
                }
            };
            let payload = InvoiceNotice {
                invoice,
                notice: NoticeData {
                    row_no: *row_no,
                    due_on: *due,
                    days_past_due: past,
                    level_days: level,
                    overdue_rows: named.clone(),
                },
            };
            let event = if kind == notice::OVERDUE {
                &events::INVOICE_OVERDUE
            } else {
                &events::INVOICE_REMINDER_DUE
            };
            events::notice(&txn, ctx, event, &payload).await?;
            written += 1;
        }
    }
    txn.commit().await?;
    Ok(written)
}
