//! `/v1/receivables/aging`, `/v1/customers/{id}/statement`: JSON, or CSV with
//! `Accept: text/csv`.

use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, HttpResponse, get};
use ordercrm_kernel::{Currency, Money, Problem};
use ordercrm_payment::aging::{self as ageing, AgingQuery};
use ordercrm_payment::dto::{AgingBuckets, AgingReport, Statement};
use ordercrm_payment::statements::{self, StatementQuery};
use uuid::Uuid;

use crate::error::ApiResult;
use crate::extract::{Query, RequestCtx};
use crate::routes::csv_transfer;
use crate::state::AppState;

/// `amount` minor units of `code` in major units, for a spreadsheet.
fn decimal(amount: i64, code: &str) -> String {
    code.parse::<Currency>()
        .map_or_else(|_| amount.to_string(), |c| Money::new(amount, c).decimal())
}

/// Receivables aging as of a day (default today): what each customer owed at its
/// end, each instalment row by how long past its own due date (current, 1–30,
/// 31–60, 61–90, 91+ days), in the base currency (at each invoice's rate) and in
/// each invoice currency.
///
/// Invoices, payments, credit notes and their voids count from the day they were
/// booked, so asking later about a past day gives the answer that day gave. With
/// `customer_id`, that customer's owed rows too. With `Accept: text/csv`, one line
/// per customer (base currency when set, else per currency) or, with
/// `customer_id`, per owed row; amounts in major units. `payments.read`.
#[utoipa::path(
    operation_id = "getReceivablesAging",
    tag = "receivables",
    security(("userToken" = []), ("apiKey" = [])),
    params(AgingQuery),
    responses(
        (status = 200, description = "The aging", content((AgingReport = "application/json"), (String = "text/csv"))),
        (status = 400, description = "An unknown or invalid query parameter", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer, or not one you may see (a key bound to a channel or to carriers \
            asks for no one customer's aging)", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/receivables/aging")]
pub async fn aging(
    req: HttpRequest,
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    Query(query): Query<AgingQuery>,
) -> ApiResult<HttpResponse> {
    let report = ageing::aging(state.db.reader(), &ctx.actor, &query, ctx.now.date_naive()).await?;
    if !csv_transfer::wants_csv(&req) {
        return Ok(HttpResponse::Ok().json(report));
    }
    let name = format!("aging-{}.csv", report.as_of);
    Ok(match &report.rows {
        Some(rows) => csv_transfer::file(
            &name,
            &[
                "invoice_number",
                "row_no",
                "currency",
                "due_on",
                "days_past_due",
                "bucket",
                "outstanding",
                "base_currency",
                "outstanding_base",
            ],
            rows.iter()
                .map(|r| {
                    vec![
                        r.invoice_number.clone().unwrap_or_default(),
                        r.row_no.to_string(),
                        r.currency.clone(),
                        r.due_on.map(|d| d.to_string()).unwrap_or_default(),
                        r.days_past_due.to_string(),
                        r.bucket.clone(),
                        decimal(r.outstanding, &r.currency),
                        report.base_currency.clone().unwrap_or_default(),
                        match (r.outstanding_base, report.base_currency.as_deref()) {
                            (Some(v), Some(b)) => decimal(v, b),
                            _ => String::new(),
                        },
                    ]
                })
                .collect(),
        ),
        None => csv_transfer::file(&name, &BUCKET_HEADER, customer_lines(&report)),
    })
}

const BUCKET_HEADER: [&str; 10] = [
    "customer_id",
    "customer_name",
    "invoices",
    "currency",
    "current",
    "days_1_30",
    "days_31_60",
    "days_61_90",
    "days_over_90",
    "total",
];

fn customer_lines(report: &AgingReport) -> Vec<Vec<String>> {
    let line = |id: String, name: String, invoices: String, b: &AgingBuckets| {
        let d = |v: i64| decimal(v, &b.currency);
        vec![
            id,
            name,
            invoices,
            b.currency.clone(),
            d(b.current),
            d(b.days_1_30),
            d(b.days_31_60),
            d(b.days_61_90),
            d(b.days_over_90),
            d(b.total),
        ]
    };
    let mut out = Vec::new();
    for c in &report.customers {
        let sums: Vec<&AgingBuckets> = match &c.base {
            Some(b) => vec![b],
            None => c.by_currency.iter().collect(),
        };
        for b in sums {
            out.push(line(
                c.customer_id.to_string(),
                c.customer_name.clone(),
                c.invoices.to_string(),
                b,
            ));
        }
    }
    let totals: Vec<&AgingBuckets> = match &report.total {
        Some(t) => vec![t],
        None => report.by_currency.iter().collect(),
    };
    for t in totals {
        out.push(line(String::new(), "TOTAL".into(), String::new(), t));
    }
    out
}

/// A customer's statement in one currency (default the base currency) for a
/// period (default this month so far, at most 366 days): the opening balance,
/// every invoice, payment, credit note, refund, reversal, void and write-off dated
/// in it with the running balance, and the closing balance. A positive balance is
/// owed by the customer, a negative one is their credit.
///
/// Each document is dated as the customer knows it (a payment by the day the money
/// was received; a write-off by its day, for what was owed then). Read in one
/// snapshot. With `Accept: text/csv`, the same as lines, opening and closing
/// balance included; amounts in major units. `payments.read`.
#[utoipa::path(
    operation_id = "getCustomerStatement",
    tag = "receivables",
    security(("userToken" = []), ("apiKey" = [])),
    params(("id" = Uuid, Path, description = "Customer id"), StatementQuery),
    responses(
        (status = 200, description = "The statement", content((Statement = "application/json"), (String = "text/csv"))),
        (status = 400, description = "An unknown or invalid query parameter, `from` after `to`, a period over 366 days, \
            or no `currency` while no base currency is set", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer, or not one you may see (a key bound to a channel or to carriers \
            sees part of a customer's books at most, so no statement)", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/customers/{id}/statement")]
pub async fn statement(
    req: HttpRequest,
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    Query(query): Query<StatementQuery>,
) -> ApiResult<HttpResponse> {
    let s = statements::statement(
        state.db.reader(),
        &ctx.actor,
        *id,
        &query,
        ctx.now.date_naive(),
    )
    .await?;
    if !csv_transfer::wants_csv(&req) {
        return Ok(HttpResponse::Ok().json(s));
    }
    Ok(csv_transfer::file(
        &format!("statement-{}-{}-{}.csv", s.customer_id, s.from, s.to),
        &[
            "date",
            "kind",
            "number",
            "description",
            "currency",
            "debit",
            "credit",
            "balance",
        ],
        statement_lines(&s),
    ))
}

fn statement_lines(s: &Statement) -> Vec<Vec<String>> {
    let d = |v: i64| decimal(v, &s.currency);
    let mut out = vec![vec![
        s.from.to_string(),
        "opening_balance".into(),
        String::new(),
        "opening balance".into(),
        s.currency.clone(),
        String::new(),
        String::new(),
        d(s.opening_balance),
    ]];
    for e in &s.entries {
        out.push(vec![
            e.date.to_string(),
            e.kind.as_str().into(),
            e.number.clone().unwrap_or_default(),
            e.description.clone(),
            s.currency.clone(),
            d(e.debit),
            d(e.credit),
            d(e.balance),
        ]);
    }
    out.push(vec![
        s.to.to_string(),
        "closing_balance".into(),
        String::new(),
        "closing balance".into(),
        s.currency.clone(),
        d(s.total_debit),
        d(s.total_credit),
        d(s.closing_balance),
    ]);
    out
}
