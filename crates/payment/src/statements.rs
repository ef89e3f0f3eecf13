//! Customer statements: a customer's account in one currency over a period, as
//! the customer would reconcile it with their own books. Each document is dated
//! as they know it: an invoice by its issue day, a payment by the day the money
//! was received, a credit note by its issue day, a refund by the day it was paid
//! out, a reversal by the day the money was taken back; a void or a write-off by
//! the day it happened.
//!
//! The balance is what they owe (negative: what they hold as credit):
//! invoices − payments − credit notes + refunds + reversals. Today's closing
//! balance is therefore the outstanding of their open invoices less their credit
//! and the money held for their orders.

use chrono::NaiveDate;
use ordercrm_kernel::authz::{Action, Actor};
use ordercrm_kernel::input::{Choice, Day};
use ordercrm_kernel::{Currency, Error, FieldError, Result};
use sea_orm::{ConnectionTrait, DatabaseConnection, QueryFilter};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::dto::{Statement, StatementEntry};
use crate::entity::{credit_note, invoice, payment, refund};
use crate::model::{InvoiceStatus, RefundStatus, StatementKind};
use crate::queries::{visible_credit_notes, visible_invoices, visible_payments, visible_refunds};

/// The longest period one statement covers, in days.
pub const MAX_PERIOD_DAYS: i64 = 366;

/// `GET /v1/customers/{id}/statement`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StatementQuery {
    /// First day (default: the first of `to`'s month).
    #[param(value_type = Option<String>, format = Date)]
    pub from: Option<Day>,
    /// Last day (default today); at most 366 days after `from`.
    #[param(value_type = Option<String>, format = Date)]
    pub to: Option<Day>,
    /// The account's currency (default the base currency).
    #[param(value_type = Option<Currency>)]
    pub currency: Option<Choice<Currency>>,
}

/// One line before the balance is run.
struct Line {
    date: NaiveDate,
    kind: StatementKind,
    id: Uuid,
    number: Option<String>,
    description: String,
    /// Positive raises what is owed.
    amount: i64,
}

/// Customer `id`'s statement in `query.currency` for the period asked.
pub async fn statement(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
    query: &StatementQuery,
    today: NaiveDate,
) -> Result<Statement> {
    actor.require(Action::PaymentsRead)?;
    let mut errors = Vec::new();
    let asked = Choice::check_opt(query.currency.as_ref(), &mut errors, "currency");
    let to = query.to.map_or(today, |d| d.0);
    let from = query
        .from
        .map_or_else(|| chrono::Datelike::with_day(&to, 1).unwrap_or(to), |d| d.0);
    if from > to {
        errors.push(FieldError::new("from", "range", "must not be after `to`"));
    } else if (to - from).num_days() >= MAX_PERIOD_DAYS {
        errors.push(FieldError::new(
            "to",
            "range",
            format!(
                "a statement covers at most {MAX_PERIOD_DAYS} days: ask for the rest in another"
            ),
        ));
    }
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    // A customer's account is all of it: a key bound to a channel (or carriers)
    // sees part of their books at most, so it gets none.
    if actor.carriers().is_some() || ordercrm_order::settlement::channel_orders(actor).is_some() {
        return Err(Error::not_found("customer", id));
    }
    let txn = crate::aging::snapshot(db).await?;
    let conn = &txn;
    let Some(customer) = ordercrm_customer::queries::ordering_customer(conn, actor, id).await?
    else {
        return Err(Error::not_found("customer", id));
    };
    let currency = match asked {
        Some(c) => c,
        None => ordercrm_settings::queries::base_currency(conn)
            .await?
            .ok_or_else(|| {
                Error::validation(vec![FieldError::new(
                    "currency",
                    "required",
                    "no base currency is set: name the account's currency",
                )])
            })?,
    };
    let lines = lines(conn, actor, id, currency.code()).await?;
    txn.commit().await?;
    Ok(run(customer.name, id, currency.code(), from, to, lines))
}

/// Every line of customer `id`'s account in `currency`, undated order.
async fn lines(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    currency: &str,
) -> Result<Vec<Line>> {
    let mut out = Vec::new();
    for i in visible_invoices(actor)
        .filter(invoice::COLUMN.customer_id.eq(id))
        .filter(invoice::COLUMN.currency.eq(currency))
        .filter(invoice::COLUMN.issued_on.is_not_null())
        .all(conn)
        .await?
    {
        let Some(issued) = i.issued_on else {
            continue;
        };
        out.push(Line {
            date: issued,
            kind: StatementKind::Invoice,
            id: i.id,
            number: i.number.clone(),
            description: if i.scheduled {
                format!(
                    "invoice in instalments, the last due {}",
                    i.due_on.unwrap_or(issued)
                )
            } else {
                format!("invoice, due {}", i.due_on.unwrap_or(issued))
            },
            amount: i.total_amount,
        });
        let closed = i.closed_at.map(|t| t.date_naive());
        match (InvoiceStatus::parse(&i.status), closed) {
            (Some(InvoiceStatus::Void), Some(on)) => out.push(Line {
                date: on,
                kind: StatementKind::InvoiceVoided,
                id: i.id,
                number: i.number.clone(),
                description: reason("invoice voided", i.status_reason.as_deref()),
                amount: -i.total_amount,
            }),
            (Some(InvoiceStatus::Uncollectible), Some(on)) => {
                // What was owed that day: a reversal later is a line of its own.
                let written_off = i.written_off_amount.unwrap_or_else(|| i.owed());
                if written_off > 0 {
                    out.push(Line {
                        date: on,
                        kind: StatementKind::WriteOff,
                        id: i.id,
                        number: i.number.clone(),
                        description: reason("written off", i.status_reason.as_deref()),
                        amount: -written_off,
                    });
                }
            }
            _ => {}
        }
    }
    for p in visible_payments(actor)
        .filter(payment::COLUMN.customer_id.eq(id))
        .filter(payment::COLUMN.currency.eq(currency))
        .all(conn)
        .await?
    {
        out.push(Line {
            date: p.received_on,
            kind: StatementKind::Payment,
            id: p.id,
            number: Some(p.number.clone()),
            description: match p.reference.as_deref() {
                Some(r) => format!("payment by {}, reference {r}", p.method),
                None => format!("payment by {}", p.method),
            },
            amount: -p.amount,
        });
        if let Some(on) = p.reversed_on
            && p.reversed_amount > 0
        {
            out.push(Line {
                date: on,
                kind: StatementKind::PaymentReversed,
                id: p.id,
                number: Some(p.number.clone()),
                description: reason("payment taken back", p.reversal_reason.as_deref()),
                amount: p.reversed_amount,
            });
        }
    }
    for n in visible_credit_notes(actor)
        .filter(credit_note::COLUMN.customer_id.eq(id))
        .filter(credit_note::COLUMN.currency.eq(currency))
        .all(conn)
        .await?
    {
        out.push(Line {
            date: n.effective_on,
            kind: StatementKind::CreditNote,
            id: n.id,
            number: Some(n.number.clone()),
            description: reason("credit note", Some(&n.reason)),
            amount: -n.amount,
        });
        if let Some(on) = n.voided_on {
            out.push(Line {
                date: on,
                kind: StatementKind::CreditNoteVoided,
                id: n.id,
                number: Some(n.number.clone()),
                description: reason("credit note voided", n.void_reason.as_deref()),
                amount: n.amount,
            });
        }
    }
    for r in visible_refunds(actor)
        .filter(refund::COLUMN.customer_id.eq(id))
        .filter(refund::COLUMN.currency.eq(currency))
        .filter(refund::COLUMN.status.eq(RefundStatus::Succeeded.as_str()))
        .all(conn)
        .await?
    {
        let date = r
            .settled_on
            .or(r.completed_at.map(|t| t.date_naive()))
            .unwrap_or_else(|| r.created_at.date_naive());
        out.push(Line {
            date,
            kind: StatementKind::Refund,
            id: r.id,
            number: Some(r.number.clone()),
            description: if r.outside {
                "settled outside".to_owned()
            } else {
                format!("refund by {}", r.method)
            },
            amount: r.amount,
        });
    }
    Ok(out)
}

fn reason(what: &str, why: Option<&str>) -> String {
    match why {
        Some(w) if !w.is_empty() => format!("{what}: {w}"),
        _ => what.to_owned(),
    }
}

/// Order the lines, run the balance over the period.
fn run(
    customer_name: String,
    customer_id: Uuid,
    currency: &str,
    from: NaiveDate,
    to: NaiveDate,
    mut lines: Vec<Line>,
) -> Statement {
    let rank = |k: StatementKind| StatementKind::ALL.iter().position(|x| *x == k);
    lines.sort_by(|a, b| {
        a.date
            .cmp(&b.date)
            .then(rank(a.kind).cmp(&rank(b.kind)))
            .then(a.number.cmp(&b.number))
            .then(a.id.cmp(&b.id))
    });
    // Each amount is at most 10^14; i128 holds any number of them.
    let clamp = |v: i128| i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX });
    let opening: i128 = lines
        .iter()
        .filter(|l| l.date < from)
        .map(|l| i128::from(l.amount))
        .sum();
    let (mut balance, mut debit, mut credit) = (opening, 0i128, 0i128);
    let mut entries = Vec::new();
    for l in lines.into_iter().filter(|l| l.date >= from && l.date <= to) {
        balance += i128::from(l.amount);
        if l.amount >= 0 {
            debit += i128::from(l.amount);
        } else {
            credit -= i128::from(l.amount);
        }
        entries.push(StatementEntry {
            date: l.date,
            kind: l.kind,
            document_id: l.id,
            number: l.number,
            description: l.description,
            debit: l.amount.max(0),
            credit: l.amount.checked_neg().unwrap_or(i64::MAX).max(0),
            balance: clamp(balance),
        });
    }
    Statement {
        customer_id,
        customer_name,
        currency: currency.to_owned(),
        from,
        to,
        opening_balance: clamp(opening),
        total_debit: clamp(debit),
        total_credit: clamp(credit),
        closing_balance: clamp(balance),
        entries,
    }
}
