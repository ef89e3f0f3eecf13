//! What fulfillment takes and shows.

use chrono::{DateTime, NaiveDate, Utc};
use ordercrm_kernel::input::{At, Choice, Int, NonBlank, Text};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::model::{DispatchStatus, ShipmentStatus, TrackingStatus};
use crate::dto::{Address, OrderCustomer, Quantity};
use crate::model::OrderStatus;

pub use ordercrm_kernel::authz::CarrierCode;

/// One order line and how many of it this shipment carries.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShipLine {
    /// The order line's `line_no`.
    pub line_no: Int<1, 1000>,
    pub quantity: Quantity,
}

/// Dimensions and weight, as the carrier will want them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Package {
    pub weight_grams: Option<Int<1, 1_000_000_000>>,
    pub length_mm: Option<Int<1, 100_000>>,
    pub width_mm: Option<Int<1, 100_000>>,
    pub height_mm: Option<Int<1, 100_000>>,
    /// The warehouse's own package or label reference.
    pub reference: Option<Text<100>>,
}

/// `POST /v1/orders/{id}/shipments`: the lines and quantities leaving now, from
/// one warehouse or several, with the carrier and its tracking number.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"lines": [{"line_no": 1, "quantity": 1}], "carrier": "sf",
    "tracking_number": "SF1234567890", "package": {"weight_grams": 1200}}))]
pub struct CreateShipment {
    /// 1 to 200 lines; a line named twice ships the sum.
    #[schema(min_items = 1, max_items = 200)]
    pub lines: Vec<ShipLine>,
    pub carrier: CarrierCode,
    pub tracking_number: NonBlank<100>,
    pub package: Option<Package>,
}

/// `POST /v1/shipments/{id}/cancel`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "the customer changed the address; re-packing"}))]
pub struct CancelShipment {
    pub reason: Option<Text<500>>,
}

/// One line of a shipment.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ShipmentLineView {
    pub line_no: i32,
    /// The order line it ships.
    pub order_line_no: i32,
    pub product_id: Uuid,
    pub sku: String,
    pub name: String,
    pub warehouse_id: Uuid,
    pub warehouse_code: String,
    pub quantity: i64,
}

/// A shipment: goods of one order leaving with one carrier under one tracking number.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ShipmentView {
    pub id: Uuid,
    pub order_id: Uuid,
    pub order_number: String,
    pub status: ShipmentStatus,
    pub carrier: String,
    pub tracking_number: String,
    pub package: Option<Package>,
    pub lines: Vec<ShipmentLineView>,
    pub cancel_reason: Option<String>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// Who signed for it, and the proof, when a sign-off recorded them.
    pub signed_by: Option<String>,
    pub proof: Option<Proof>,
    pub created_by: String,
    /// A repair's way back to the customer: the return whose goods it carries.
    /// Such a shipment moves no stock and carries no value; it does not count
    /// towards the order's shipped or delivered quantities.
    pub return_id: Option<Uuid>,
    /// Also the `ETag`.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The order a dispatch note is for.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DispatchOrder {
    pub id: Uuid,
    pub number: String,
    /// An order `on_hold` cannot ship until it is released.
    pub status: OrderStatus,
    pub customer: OrderCustomer,
}

/// One order line a dispatch note asks the warehouse to ship.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DispatchLineView {
    pub line_no: i32,
    pub product_id: Uuid,
    pub sku: String,
    pub name: String,
    pub unit: String,
    pub quantity: i64,
    pub shipped_quantity: i64,
    /// Still to ship: `quantity - shipped_quantity`.
    pub open_quantity: i64,
}

/// What one warehouse ships for one approved order.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DispatchNoteView {
    pub id: Uuid,
    /// The order's number and the warehouse's code: `SO-000123-SH-01`.
    pub number: String,
    pub order: DispatchOrder,
    pub warehouse_id: Uuid,
    pub warehouse_code: String,
    pub status: DispatchStatus,
    pub ship_to: Option<Address>,
    pub requested_delivery_on: Option<NaiveDate>,
    /// The queue's order: the requested day, or the day the order was approved.
    pub promised_on: NaiveDate,
    pub lines: Vec<DispatchLineView>,
    /// Also the `ETag`.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

ordercrm_kernel::versioned!(ShipmentView, DispatchNoteView);

ordercrm_kernel::string_enum! {
    /// What proves a delivery.
    pub ProofKind {
        Signature = "signature",
        Photo = "photo",
        PickupCode = "pickup_code",
    }
}

/// A delivery's proof: its kind and where to find it (a file reference, a code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Proof {
    #[schema(value_type = ProofKind)]
    pub kind: Choice<ProofKind>,
    pub reference: NonBlank<500>,
}

/// `POST /v1/shipments/{id}/deliver`: the customer has the goods.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"signed_by": "Li Lei",
    "proof": {"kind": "signature", "reference": "pod/2026/11/22/SF1234567890.png"}}))]
pub struct DeliverShipment {
    /// Who signed; this or `proof` is required.
    pub signed_by: Option<Text<200>>,
    /// When; default now. Not in the future, not before the shipment was made.
    pub delivered_at: Option<At>,
    pub proof: Option<Proof>,
}

/// One event a carrier reports.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrackingEventInput {
    pub carrier: CarrierCode,
    pub tracking_number: NonBlank<100>,
    /// The provider's id for the event, when it has one (unique per carrier and
    /// tracking number).
    pub event_id: Option<Text<200>>,
    #[schema(value_type = TrackingStatus)]
    pub status: Choice<TrackingStatus>,
    /// When it happened (not more than a day ahead of the server's clock).
    pub occurred_at: At,
    pub location: Option<Text<200>>,
    pub message: Option<Text<1000>>,
}

/// `POST /v1/tracking-events`: 1 to 500 events, any carriers and numbers, in any
/// order, repeats welcome.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"events": [{"carrier": "sf", "tracking_number": "SF1234567890",
    "event_id": "ev-1001", "status": "picked_up", "occurred_at": "2026-11-22T08:00:00Z",
    "location": "Shanghai Hub", "message": "Picked up"}]}))]
pub struct RecordTracking {
    #[schema(min_items = 1, max_items = 500)]
    pub events: Vec<TrackingEventInput>,
}

ordercrm_kernel::string_enum! {
    /// What became of one reported event.
    pub TrackingOutcome {
        /// New, and the latest the shipment has heard: its status follows.
        Applied = "applied",
        /// Seen before (same provider id, or same carrier, number, time, status and place).
        Duplicate = "duplicate",
        /// New but older than what the shipment already knows: kept in the history;
        /// the status is what the whole history says.
        Stale = "stale",
        /// No shipment (that you may see) has this carrier and number.
        NotFound = "not_found",
    }
}

/// The answer for one event, in request order.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TrackingResult {
    /// Its position in `events`.
    pub index: usize,
    pub result: TrackingOutcome,
    pub shipment_id: Option<Uuid>,
    /// The shipment's status after the whole request.
    pub shipment_status: Option<ShipmentStatus>,
}

/// `results[i]` answers `events[i]`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TrackingResults {
    pub results: Vec<TrackingResult>,
}

/// One event in a shipment's tracking history.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TrackingEventView {
    pub id: Uuid,
    pub shipment_id: Uuid,
    pub carrier: String,
    pub tracking_number: String,
    /// The provider's id, if it sent one.
    pub event_id: Option<String>,
    pub status: TrackingStatus,
    pub occurred_at: DateTime<Utc>,
    pub location: Option<String>,
    pub message: Option<String>,
    /// `carrier`, or `sign_off` (recorded through `/deliver`).
    pub source: String,
    pub recorded_at: DateTime<Utc>,
}

/// A shipment and the tracking event that just reached it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TrackingUpdate {
    pub shipment: ShipmentView,
    pub event: TrackingEventView,
}
