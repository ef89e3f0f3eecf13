use ordercrm_kernel::error::problems;
use ordercrm_kernel::{Error, ProblemType};
use serde::Serialize;
use serde_json::json;

use super::model::ShipmentStatus;
use crate::model::OrderStatus;

/// More asked to ship than is left.
pub const OVER_SHIPMENT: ProblemType = ProblemType {
    slug: "over-shipment",
    title: "More than is left to ship",
    status: 409,
    description: "A line would ship more than was ordered minus what has shipped. `lines` names each such \
        line with what was asked and what is left; nothing was shipped.",
};

pub const ALL: &[ProblemType] = &[OVER_SHIPMENT];

/// One line asked for more than it has left.
#[derive(Debug, Clone, Serialize)]
pub struct OverLine {
    pub line_no: i32,
    pub requested: i64,
    pub unshipped: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum FulfillmentError {
    #[error("shipment '{0}' was not found")]
    ShipmentNotFound(String),
    #[error("dispatch note '{0}' was not found")]
    NoteNotFound(String),
    #[error("the order is {0}; it ships only when approved (release a held order first)")]
    NotShippable(OrderStatus),
    #[error(
        "the shipment is {0}; only a pending or label_printed shipment (before pickup) can be cancelled"
    )]
    NotCancellable(ShipmentStatus),
    #[error(
        "the shipment is {0}; only a shipment not cancelled and not yet delivered can be signed for"
    )]
    NotDeliverable(ShipmentStatus),
    #[error(
        "the carrier has reported the shipment {0}: it was picked up and can no longer be cancelled"
    )]
    PickedUp(String),
    #[error("{} line(s) would ship more than is left", .0.len())]
    OverShipment(Vec<OverLine>),
}

impl From<FulfillmentError> for Error {
    fn from(err: FulfillmentError) -> Self {
        let detail = err.to_string();
        match err {
            FulfillmentError::ShipmentNotFound(id) => Error::not_found("shipment", id),
            FulfillmentError::NoteNotFound(id) => Error::not_found("dispatch note", id),
            FulfillmentError::NotShippable(status) => {
                Error::new(crate::error::INVALID_TRANSITION, detail)
                    .with_extension("current_status", json!(status))
                    .with_extension("allowed_from", json!([OrderStatus::Approved]))
            }
            FulfillmentError::NotCancellable(status) => Error::new(problems::CONFLICT, detail)
                .with_extension("current_status", json!(status)),
            FulfillmentError::NotDeliverable(status) => Error::new(problems::CONFLICT, detail)
                .with_extension("current_status", json!(status)),
            FulfillmentError::PickedUp(status) => {
                Error::new(problems::CONFLICT, detail).with_extension("reported", json!(status))
            }
            FulfillmentError::OverShipment(lines) => {
                Error::new(OVER_SHIPMENT, detail).with_extension("lines", json!(lines))
            }
        }
    }
}
