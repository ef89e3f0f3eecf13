use ordercrm_kernel::error::problems;
use ordercrm_kernel::{Error, ProblemType};
use serde::Serialize;
use serde_json::json;

use super::model::{ReturnAction, ReturnStatus, starts_from};

/// More asked back than was delivered and not yet claimed by other returns.
pub const OVER_RETURN: ProblemType = ProblemType {
    slug: "over-return",
    title: "More than can be returned",
    status: 409,
    description: "A line would return more than was delivered minus what other returns (not rejected) \
        claim. `lines` names each such line with what was asked and what is returnable; nothing was changed.",
};

/// More received than the return line asked for, minus what arrived before.
pub const OVER_RECEIPT: ProblemType = ProblemType {
    slug: "over-receipt",
    title: "More than the return expects",
    status: 409,
    description: "A receipt would record more units of a return line than it asked for minus what was \
        received before. `lines` names each such line; nothing was recorded.",
};

pub const ALL: &[ProblemType] = &[OVER_RETURN, OVER_RECEIPT];

/// One line asked for more than it has left.
#[derive(Debug, Clone, Serialize)]
pub struct OverLine {
    pub line_no: i32,
    pub requested: i64,
    /// What is left: returnable units, or units still expected.
    pub available: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum ReturnError {
    #[error("return '{0}' was not found")]
    NotFound(String),
    #[error("the return is {status}; {action} starts from {}", list(starts_from(*.action)))]
    InvalidTransition {
        status: ReturnStatus,
        action: ReturnAction,
    },
    #[error("{} line(s) would return more than was delivered and is not already being returned", .0.len())]
    OverReturn(Vec<OverLine>),
    #[error("{} line(s) would receive more than the return expects", .0.len())]
    OverReceipt(Vec<OverLine>),
}

fn list(states: &[ReturnStatus]) -> String {
    states
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" or ")
}

impl From<ReturnError> for Error {
    fn from(err: ReturnError) -> Self {
        let detail = err.to_string();
        match err {
            ReturnError::NotFound(id) => Error::not_found("return", id),
            ReturnError::InvalidTransition { status, action } => {
                Error::new(problems::CONFLICT, detail)
                    .with_extension("current_status", json!(status))
                    .with_extension("allowed_from", json!(starts_from(action)))
            }
            ReturnError::OverReturn(lines) => {
                Error::new(OVER_RETURN, detail).with_extension("lines", json!(lines))
            }
            ReturnError::OverReceipt(lines) => {
                Error::new(OVER_RECEIPT, detail).with_extension("lines", json!(lines))
            }
        }
    }
}
