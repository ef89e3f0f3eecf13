//! Orders: intake, review, transitions and reads.

pub mod fulfillment;
pub mod orders;
pub mod returns;
