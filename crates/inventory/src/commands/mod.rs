//! Use cases that change the catalog and stock. Each request's use case takes the
//! caller's transaction, checks access, applies the rules, writes rows, and records
//! its events and audit entries. The one exception runs without a request: the
//! expiry sweep (`reservations::sweep_expired`) opens one transaction per hold it
//! releases, so a long sweep never holds the writer.

pub mod products;
pub mod purchase_orders;
pub mod replenishment;
pub mod reservations;
pub mod shipping;
pub mod stock;
pub mod suppliers;
pub mod warehouses;

pub(crate) mod levels;
