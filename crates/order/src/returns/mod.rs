//! Returns (RMA): goods a customer sends back for a refund, an exchange or a
//! repair. A return claims delivered units of the order's lines (never more than
//! delivered minus what other returns claim, by one conditional statement per
//! line); a manager approves or rejects it; the warehouse records what arrives and
//! restocks or scraps it; a refund return then owes what the customer paid for
//! those units, the line's last units taking what is left of its total.
//!
//! Lock order, as fulfillment's: the return's row, then the order's, then lines.

pub mod commands;
pub mod dto;
pub mod error;
pub mod events;
pub mod model;
pub mod queries;
