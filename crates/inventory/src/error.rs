use ordercrm_kernel::error::problems;
use ordercrm_kernel::{Error, ProblemType};

use crate::dto::ShortLine;

/// Reserving, shipping or adjusting more than there is.
pub const INSUFFICIENT_STOCK: ProblemType = ProblemType {
    slug: "insufficient-stock",
    title: "Insufficient stock",
    status: 409,
    description: "Not enough stock for some lines; nothing was reserved or moved. `lines[]` names each short \
        line with `sku`, `warehouse_code`, `requested` and `available`.",
};

/// An action the resource's status does not allow (ship a released reservation,
/// receive a draft purchase order).
pub const INVALID_STATE: ProblemType = ProblemType {
    slug: "invalid-state",
    title: "Not allowed in this state",
    status: 409,
    description: "The resource's `status` does not allow this action; `current_status` and `allowed` say what it is and \
        what it would need to be.",
};

pub const ALL: &[ProblemType] = &[INSUFFICIENT_STOCK, INVALID_STATE];

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("{what} '{key}' was not found")]
    NotFound { what: &'static str, key: String },
    #[error("not enough stock for {} line(s)", .0.len())]
    Insufficient(Vec<ShortLine>),
    #[error("{what} is {status}; this needs it to be {allowed}")]
    InvalidState {
        what: &'static str,
        status: String,
        allowed: &'static str,
    },
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    AlreadyExists(String),
}

impl InventoryError {
    pub fn not_found(what: &'static str, key: impl ToString) -> Self {
        Self::NotFound {
            what,
            key: key.to_string(),
        }
    }
}

impl From<InventoryError> for Error {
    fn from(err: InventoryError) -> Self {
        let detail = err.to_string();
        match err {
            InventoryError::NotFound { what, key } => Error::not_found(what, key),
            InventoryError::Insufficient(lines) => {
                let detail = lines
                    .iter()
                    .map(|l| {
                        format!(
                            "{} at {}: requested {}, available {}",
                            l.sku, l.warehouse_code, l.requested, l.available
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                Error::new(INSUFFICIENT_STOCK, detail)
                    .with_extension("lines", serde_json::to_value(&lines).unwrap_or_default())
            }
            InventoryError::InvalidState {
                status, allowed, ..
            } => Error::new(INVALID_STATE, detail)
                .with_extension("current_status", serde_json::json!(status))
                .with_extension("allowed", serde_json::json!(allowed)),
            InventoryError::Conflict(_) => Error::new(problems::CONFLICT, detail),
            InventoryError::AlreadyExists(_) => Error::new(problems::ALREADY_EXISTS, detail),
        }
    }
}
