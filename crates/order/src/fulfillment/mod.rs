//! Fulfillment: what happens to an approved order's goods. A dispatch note per
//! warehouse tells the warehouse what to pick (its queue, earliest promise first);
//! shipments take the goods out of the order's reservation, never more than was
//! ordered; a shipment cancelled before pickup puts them back.
//!
//! Every change takes the order's row first (its version bumps), so the shipments
//! of one order run one after the other on both engines and each sees what the one
//! before it shipped: that is the one rule against over-shipping.

pub mod commands;
pub mod dto;
pub mod error;
pub mod events;
pub mod model;
pub mod queries;
pub mod tracking;
pub mod transfer;

pub(crate) mod dispatch;
