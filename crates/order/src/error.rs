use ordercrm_kernel::{Error, ProblemType};
use serde_json::json;

use crate::model::{OrderAction, OrderStatus};

/// An action the order's state does not allow.
pub const INVALID_TRANSITION: ProblemType = ProblemType {
    slug: "invalid-transition",
    title: "Not allowed in this state",
    status: 409,
    description: "The order's `status` does not allow this action. `current_status` is what it is, `allowed_from` \
        the states the action starts from; `allowed_actions` on the order says what may be done now.",
};

/// The same external id with another body.
pub const EXTERNAL_ID_CONFLICT: ProblemType = ProblemType {
    slug: "external-id-conflict",
    title: "External id already used",
    status: 409,
    description: "An order with this channel, channel name and `external_id` exists and was created from a \
        different body. `existing.id` and `existing.href` name it; nothing was changed.",
};

/// `expected_grand_total` differs from what the server computed.
pub const GRAND_TOTAL_MISMATCH: ProblemType = ProblemType {
    slug: "grand-total-mismatch",
    title: "Grand total differs",
    status: 409,
    description: "The server's grand total is not the `expected_grand_total` sent; `expected` and `computed` show \
        both, and nothing was created.",
};

pub const ALL: &[ProblemType] = &[
    INVALID_TRANSITION,
    EXTERNAL_ID_CONFLICT,
    GRAND_TOTAL_MISMATCH,
];

#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error("order '{0}' was not found")]
    NotFound(String),
    #[error("the order is {status}; {action} needs it to be {}", listed(.from))]
    InvalidTransition {
        status: OrderStatus,
        action: OrderAction,
        from: &'static [OrderStatus],
    },
    #[error(
        "approve overrides a credit, price or amount hold only; this order is held for stock or by a person: release it instead"
    )]
    NotOverridable,
    #[error(
        "everything on the order has shipped: nothing is left to {0}; a return brings goods back"
    )]
    ShippedOut(OrderAction, OrderStatus),
    #[error("order {number} has external id '{external_id}' with a different body")]
    ExternalIdConflict {
        id: uuid::Uuid,
        number: String,
        external_id: String,
    },
    #[error("the grand total is {computed}, not the expected {expected}")]
    GrandTotalMismatch {
        expected: ordercrm_kernel::Money,
        computed: ordercrm_kernel::Money,
    },
}

fn listed(states: &[OrderStatus]) -> String {
    if states.is_empty() {
        return "held for a reason a manager may override".to_owned();
    }
    states
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" or ")
}

impl From<OrderError> for Error {
    fn from(err: OrderError) -> Self {
        let detail = err.to_string();
        match err {
            OrderError::NotFound(id) => Error::not_found("order", id),
            OrderError::InvalidTransition { status, from, .. } => {
                Error::new(INVALID_TRANSITION, detail)
                    .with_extension("current_status", json!(status))
                    .with_extension("allowed_from", json!(from))
            }
            OrderError::ShippedOut(_, status) => Error::new(INVALID_TRANSITION, detail)
                .with_extension("current_status", json!(status))
                .with_extension("allowed_from", json!([]))
                .with_extension("fulfillment_status", json!("shipped")),
            OrderError::NotOverridable => Error::new(INVALID_TRANSITION, detail)
                .with_extension("current_status", json!(OrderStatus::OnHold)),
            OrderError::ExternalIdConflict { id, .. } => Error::new(EXTERNAL_ID_CONFLICT, detail)
                .with_extension(
                    "existing",
                    json!({"id": id, "href": format!("/v1/orders/{id}")}),
                ),
            OrderError::GrandTotalMismatch { expected, computed } => {
                Error::new(GRAND_TOTAL_MISMATCH, detail)
                    .with_extension("expected", json!(expected))
                    .with_extension("computed", json!(computed))
            }
        }
    }
}
