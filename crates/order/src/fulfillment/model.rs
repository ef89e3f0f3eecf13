//! The fulfillment states and the rules that derive them from the order's lines.

use ordercrm_kernel::string_enum;

use crate::entity::order_line;
use crate::model::FulfillmentStatus;

string_enum! {
    /// Where a dispatch note is: nothing picked yet, some shipped, all shipped, or
    /// voided (the order was cancelled or rejected before all of it shipped).
    pub DispatchStatus {
        Open = "open",
        PartiallyShipped = "partially_shipped",
        Shipped = "shipped",
        Voided = "voided",
    }
}

string_enum! {
    /// Where a shipment is. `pending` until the carrier reports; the tracking
    /// statuses follow the carrier's events; `cancelled` before pickup only.
    pub ShipmentStatus {
        Pending = "pending",
        LabelPrinted = "label_printed",
        PickedUp = "picked_up",
        InTransit = "in_transit",
        OutForDelivery = "out_for_delivery",
        AttemptedDelivery = "attempted_delivery",
        Delayed = "delayed",
        ReadyForPickup = "ready_for_pickup",
        Delivered = "delivered",
        Failure = "failure",
        ReturnedToSender = "returned_to_sender",
        Cancelled = "cancelled",
    }
}

impl ShipmentStatus {
    /// Before the carrier has the goods: the shipment may still be cancelled.
    pub fn before_pickup(self) -> bool {
        matches!(self, ShipmentStatus::Pending | ShipmentStatus::LabelPrinted)
    }
}

string_enum! {
    /// What a carrier (or a sign-off) reports about a shipment.
    pub TrackingStatus {
        LabelPrinted = "label_printed",
        PickedUp = "picked_up",
        InTransit = "in_transit",
        OutForDelivery = "out_for_delivery",
        AttemptedDelivery = "attempted_delivery",
        Delayed = "delayed",
        ReadyForPickup = "ready_for_pickup",
        Delivered = "delivered",
        Failure = "failure",
        ReturnedToSender = "returned_to_sender",
    }
}

impl TrackingStatus {
    /// Among events at the same instant, the later in a parcel's life wins: a fixed
    /// order, so the outcome never depends on which arrived first.
    pub fn precedence(self) -> u8 {
        match self {
            TrackingStatus::LabelPrinted => 0,
            TrackingStatus::PickedUp => 1,
            TrackingStatus::InTransit => 2,
            TrackingStatus::Delayed => 3,
            TrackingStatus::OutForDelivery => 4,
            TrackingStatus::AttemptedDelivery => 5,
            TrackingStatus::ReadyForPickup => 6,
            TrackingStatus::Failure => 7,
            TrackingStatus::Delivered => 8,
            TrackingStatus::ReturnedToSender => 9,
        }
    }

    /// Someone should act: `shipment.exception_reported`.
    pub fn is_exception(self) -> bool {
        matches!(
            self,
            TrackingStatus::AttemptedDelivery
                | TrackingStatus::Failure
                | TrackingStatus::ReturnedToSender
        )
    }

    pub fn shipment(self) -> ShipmentStatus {
        ShipmentStatus::parse(self.as_str()).unwrap_or(ShipmentStatus::Pending)
    }
}

/// A shipment's status from its tracking history, whatever order it arrived in:
/// events sorted by time (ties by [`TrackingStatus::precedence`], then identity),
/// each one setting the status, except that `delivered` is final but for
/// `returned_to_sender`. `None` without events.
pub fn derive_status<'a, I>(events: I) -> Option<TrackingStatus>
where
    I: IntoIterator<Item = (chrono::DateTime<chrono::Utc>, TrackingStatus, &'a str)>,
{
    let mut sorted: Vec<_> = events.into_iter().collect();
    sorted.sort_by(|a, b| (a.0, a.1.precedence(), a.2).cmp(&(b.0, b.1.precedence(), b.2)));
    let mut state = None;
    for (_, status, _) in sorted {
        if state == Some(TrackingStatus::Delivered) && status != TrackingStatus::ReturnedToSender {
            continue;
        }
        state = Some(status);
    }
    state
}

/// Where an order's goods are, from its lines that ship: returns first (everything
/// received back, or some), then delivery (some or all delivered), else shipping
/// (none, some, all shipped).
pub fn fulfillment_of(lines: &[order_line::Model]) -> FulfillmentStatus {
    let stocked: Vec<&order_line::Model> =
        lines.iter().filter(|l| l.warehouse_id.is_some()).collect();
    if !stocked.is_empty() && stocked.iter().all(|l| l.returned_quantity >= l.quantity) {
        return FulfillmentStatus::Returned;
    }
    if stocked.iter().any(|l| l.returned_quantity > 0) {
        return FulfillmentStatus::PartiallyReturned;
    }
    if delivered_in_full(lines) {
        return FulfillmentStatus::Delivered;
    }
    if stocked.iter().any(|l| l.delivered_quantity > 0) {
        return FulfillmentStatus::PartiallyDelivered;
    }
    shipped_state(stocked).fulfillment()
}

/// Whether every line that ships was delivered in full (returns since do not
/// undo a delivery), with at least one such line.
pub fn delivered_in_full(lines: &[order_line::Model]) -> bool {
    let mut stocked = lines.iter().filter(|l| l.warehouse_id.is_some()).peekable();
    stocked.peek().is_some() && stocked.all(|l| l.delivered_quantity >= l.quantity)
}

/// How far along `status` is, to tell an order's fulfillment moving forward (a
/// shipment, a delivery) from moving back (a cancelled shipment, a parcel returned).
pub fn progress(status: FulfillmentStatus) -> u8 {
    match status {
        FulfillmentStatus::Unfulfilled => 0,
        FulfillmentStatus::PartiallyShipped => 1,
        FulfillmentStatus::Shipped => 2,
        FulfillmentStatus::PartiallyDelivered => 3,
        FulfillmentStatus::Delivered => 4,
        FulfillmentStatus::PartiallyReturned => 5,
        FulfillmentStatus::Returned => 6,
    }
}

/// Events per tracking request.
pub const MAX_TRACKING_EVENTS: usize = 500;

/// Lines per shipment request.
pub const MAX_SHIPMENT_LINES: usize = 200;

/// What has shipped of `lines` (only lines with a warehouse ship; the rest, products
/// that track no stock, do not count): none, some, or all.
pub fn shipped_state<'a>(lines: impl IntoIterator<Item = &'a order_line::Model>) -> Shipped {
    let (mut any, mut all, mut counted) = (false, true, false);
    for l in lines.into_iter().filter(|l| l.warehouse_id.is_some()) {
        counted = true;
        any |= l.shipped_quantity > 0;
        all &= l.shipped_quantity >= l.quantity;
    }
    match (counted, any, all) {
        (false, _, _) | (true, false, _) => Shipped::Nothing,
        (true, true, true) => Shipped::All,
        (true, true, false) => Shipped::Some,
    }
}

/// How much of a set of lines has shipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shipped {
    Nothing,
    Some,
    All,
}

impl Shipped {
    pub fn fulfillment(self) -> FulfillmentStatus {
        match self {
            Shipped::Nothing => FulfillmentStatus::Unfulfilled,
            Shipped::Some => FulfillmentStatus::PartiallyShipped,
            Shipped::All => FulfillmentStatus::Shipped,
        }
    }

    pub fn dispatch(self) -> DispatchStatus {
        match self {
            Shipped::Nothing => DispatchStatus::Open,
            Shipped::Some => DispatchStatus::PartiallyShipped,
            Shipped::All => DispatchStatus::Shipped,
        }
    }
}

pub use ordercrm_kernel::authz::carrier_code;

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn line(quantity: i64, shipped: i64, warehouse: bool) -> order_line::Model {
        order_line::Model {
            id: Uuid::nil(),
            order_id: Uuid::nil(),
            line_no: 1,
            product_id: Uuid::nil(),
            sku: "A".into(),
            name: "A".into(),
            unit: "pcs".into(),
            tax_rate_bps: 0,
            tracks_inventory: warehouse,
            quantity,
            unit_price_amount: 0,
            discount_amount: 0,
            order_discount_share: 0,
            tax_amount: 0,
            total_amount: 0,
            warehouse_id: warehouse.then(Uuid::nil),
            warehouse_code: None,
            shipped_quantity: shipped,
            delivered_quantity: 0,
            return_claimed_quantity: 0,
            returned_quantity: 0,
            credited_quantity: 0,
            credited_amount: 0,
            invoiced_quantity: 0,
            invoiced_amount: 0,
            invoiced_tax_amount: 0,
        }
    }

    #[test]
    fn shipped_state_counts_stocked_lines_only() {
        assert_eq!(shipped_state(&[line(5, 0, true)]), Shipped::Nothing);
        assert_eq!(
            shipped_state(&[line(5, 5, true), line(2, 0, false)]),
            Shipped::All
        );
        assert_eq!(
            shipped_state(&[line(5, 5, true), line(2, 1, true)]),
            Shipped::Some
        );
        assert_eq!(shipped_state(&[line(2, 0, false)]), Shipped::Nothing);
    }

    #[test]
    fn the_derived_status_does_not_depend_on_arrival_order() {
        use chrono::TimeZone;
        let at = |h| chrono::Utc.with_ymd_and_hms(2026, 11, 30, h, 0, 0).unwrap();
        let history = [
            (at(8), TrackingStatus::PickedUp, "a"),
            (at(9), TrackingStatus::InTransit, "b"),
            (at(12), TrackingStatus::Delivered, "c"),
            // A late scan after delivery changes nothing; a tie goes to delivered.
            (at(13), TrackingStatus::InTransit, "d"),
            (at(12), TrackingStatus::OutForDelivery, "e"),
        ];
        let mut reversed = history;
        reversed.reverse();
        assert_eq!(derive_status(history), Some(TrackingStatus::Delivered));
        assert_eq!(derive_status(reversed), Some(TrackingStatus::Delivered));
        let mut returned = history.to_vec();
        returned.push((at(14), TrackingStatus::ReturnedToSender, "f"));
        assert_eq!(
            derive_status(returned),
            Some(TrackingStatus::ReturnedToSender)
        );
        assert_eq!(derive_status([]), None);
    }

    #[test]
    fn carrier_codes_are_lower_case_and_plain() {
        assert_eq!(carrier_code(" SF ").as_deref(), Some("sf"));
        assert_eq!(
            carrier_code("kuaidi100.zto").as_deref(),
            Some("kuaidi100.zto")
        );
        assert_eq!(carrier_code("-x"), None);
        assert_eq!(carrier_code("a b"), None);
        assert_eq!(carrier_code(""), None);
        assert_eq!(carrier_code(&"a".repeat(51)), None);
    }
}
