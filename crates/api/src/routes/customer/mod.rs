//! Customers with their contacts, addresses, notes and follow-ups, and CSV transfer.

pub mod activity;
pub mod customers;
pub mod details;
pub mod transfer;
