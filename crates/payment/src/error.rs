//! What invoicing and payments refuse, and how.

use ordercrm_kernel::error::problems;
use ordercrm_kernel::{Error, ProblemType};
use serde::Serialize;
use serde_json::json;

use crate::model::{InvoiceAction, InvoiceStatus, starts_from};

/// More units of an order line than are left to invoice.
pub const OVER_INVOICE: ProblemType = ProblemType {
    slug: "over-invoice",
    title: "More than can be invoiced",
    status: 409,
    description: "A line would invoice more than was ordered minus what other invoices (not void) \
        took. `lines` names each such line with what was asked and what is left; nothing was changed.",
};

/// More money for an invoice than it still owes, or than the payment has left.
pub const OVER_ALLOCATION: ProblemType = ProblemType {
    slug: "over-allocation",
    title: "More than can be allocated",
    status: 409,
    description: "An allocation would pay an invoice more than it still owes, or the allocations \
        add up to more than the payment has unallocated. `allocations` names each such invoice \
        with what was asked and what is allowed; nothing was changed.",
};

/// A credit note for more than the invoice (or the return) has left to credit.
pub const OVER_CREDIT: ProblemType = ProblemType {
    slug: "over-credit",
    title: "More than can be credited",
    status: 409,
    description: "A credit note would credit more than the invoice is still worth after its other \
        credit notes, or more of a return's refund due than other credit notes left. `requested` \
        and `available` say how much; nothing was changed.",
};

/// A credit note's released part split in a way that does not add up.
pub const CREDIT_SPLIT: ProblemType = ProblemType {
    slug: "credit-note-split",
    title: "The credit note's split does not add up",
    status: 409,
    description: "What a credit note credits beyond what the invoice still owes was paid, so it must \
        be split exactly into `refund` + `credit` + `outside`. `applied` is what comes off the \
        outstanding, `to_split` what must be split, `split` what the request split; nothing was \
        changed.",
};

pub const ALL: &[ProblemType] = &[OVER_INVOICE, OVER_ALLOCATION, OVER_CREDIT, CREDIT_SPLIT];

/// One line asked for more than it has left.
#[derive(Debug, Clone, Serialize)]
pub struct OverLine {
    pub line_no: i32,
    pub requested: i64,
    pub available: i64,
}

/// One invoice asked to take more than it owes.
#[derive(Debug, Clone, Serialize)]
pub struct OverAllocation {
    pub invoice_id: Option<uuid::Uuid>,
    pub requested: i64,
    pub available: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    #[error("invoice '{0}' was not found")]
    InvoiceNotFound(String),
    #[error("payment '{0}' was not found")]
    PaymentNotFound(String),
    #[error("the invoice is {status}; {action} starts from {}", list(starts_from(*.action)))]
    InvalidTransition {
        status: InvoiceStatus,
        action: InvoiceAction,
    },
    #[error("{} line(s) would invoice more than is left to invoice", .0.len())]
    OverInvoice(Vec<OverLine>),
    #[error("{} allocation(s) would pay more than is owed or left", .0.len())]
    OverAllocation(Vec<OverAllocation>),
    #[error("{requested} is more than the {available} left to credit")]
    OverCredit { requested: i64, available: i64 },
    #[error(
        "{to_split} was paid beyond what is owed and must be split exactly into refund, credit and outside; the request split {split}"
    )]
    CreditSplit {
        applied: i64,
        to_split: i64,
        split: i64,
    },
    #[error("credit note '{0}' was not found")]
    CreditNoteNotFound(String),
    #[error("refund '{0}' was not found")]
    RefundNotFound(String),
    /// A rule of the current state, with a machine-readable code.
    #[error("{1}")]
    Conflict(&'static str, String),
}

fn list(states: &[InvoiceStatus]) -> String {
    states
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" or ")
}

impl From<PaymentError> for Error {
    fn from(err: PaymentError) -> Self {
        let detail = err.to_string();
        match err {
            PaymentError::InvoiceNotFound(id) => Error::not_found("invoice", id),
            PaymentError::PaymentNotFound(id) => Error::not_found("payment", id),
            PaymentError::InvalidTransition { status, action } => {
                Error::new(problems::CONFLICT, detail)
                    .with_extension("current_status", json!(status))
                    .with_extension("allowed_from", json!(starts_from(action)))
            }
            PaymentError::OverInvoice(lines) => {
                Error::new(OVER_INVOICE, detail).with_extension("lines", json!(lines))
            }
            PaymentError::OverAllocation(a) => {
                Error::new(OVER_ALLOCATION, detail).with_extension("allocations", json!(a))
            }
            PaymentError::OverCredit {
                requested,
                available,
            } => Error::new(OVER_CREDIT, detail)
                .with_extension("requested", json!(requested))
                .with_extension("available", json!(available)),
            PaymentError::CreditSplit {
                applied,
                to_split,
                split,
            } => Error::new(CREDIT_SPLIT, detail)
                .with_extension("applied", json!(applied))
                .with_extension("to_split", json!(to_split))
                .with_extension("split", json!(split)),
            PaymentError::CreditNoteNotFound(id) => Error::not_found("credit_note", id),
            PaymentError::RefundNotFound(id) => Error::not_found("refund", id),
            PaymentError::Conflict(code, _) => {
                Error::new(problems::CONFLICT, detail).with_extension("code", json!(code))
            }
        }
    }
}
