//! Use cases that change orders. Each takes the caller's transaction and records its
//! events there; stock is held and let go through the inventory crate in the same
//! transaction, so an order and its reservation commit or roll back together.

pub mod actions;
pub mod create;
pub mod customers;
pub mod edit;
pub mod erasure;
mod review;
mod warehouses;
