//! Products, warehouses and suppliers, stock levels and movements, reservations and
//! purchase orders.

pub mod levels;
pub mod product_transfer;
pub mod products;
pub mod purchasing;
pub mod reservations;
pub mod warehouses;
