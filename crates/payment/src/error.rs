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

pub const ALL: &[ProblemType] = &[OVER_INVOICE, OVER_ALLOCATION];

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
            PaymentError::Conflict(code, _) => {
                Error::new(problems::CONFLICT, detail).with_extension("code", json!(code))
            }
        }
    }
}
