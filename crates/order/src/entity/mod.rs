pub mod dispatch_note;
pub mod order;
pub mod order_edit;
pub mod order_line;
pub mod prepayment;
pub mod shipment;
pub mod shipment_line;
pub mod tracking_event;
