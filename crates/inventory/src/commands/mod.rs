//! Use cases that change the catalog and stock. Each takes the caller's
//! transaction, checks access, applies the rules, writes rows, and records its
//! events and audit entries.

pub mod products;
pub mod purchase_orders;
pub mod replenishment;
pub mod reservations;
pub mod stock;
pub mod suppliers;
pub mod warehouses;

pub(crate) mod levels;
