//! Orders: intake from every channel (idempotent per channel and external id),
//! review by rules that explain themselves, and the transitions between states.
//! Stock is held through the inventory crate in the order's own transaction.
//!
//! Later issues slot in here: fulfillment moves `fulfillment_status`, payments
//! `payment_status`, edits change lines through the same totals rule.

mod entity;

pub mod commands;
pub mod completion;
pub mod dto;
pub mod error;
pub mod events;
pub mod fulfillment;
pub mod model;
pub mod promise;
pub mod queries;
pub mod returns;
pub mod settlement;
pub mod statistics;
pub mod timeline;
pub mod transfer;

pub use error::OrderError;
