//! Catalog and inventory, in the customer crate's shape: `entity` (tables,
//! crate-private), `model` (rules), `dto` (the wire), `commands` (changes in the
//! caller's transaction), `queries`, `events`, `error`.
//!
//! Orders reserve, release and consume stock by calling
//! [`commands::reservations`] inside their own transaction: the stock they hold
//! commits or rolls back with the order.

mod entity;

pub mod commands;
pub mod dto;
pub mod error;
pub mod events;
pub mod model;
pub mod queries;
pub mod transfer;

pub use error::InventoryError;
