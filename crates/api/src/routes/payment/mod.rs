//! Payments: invoices, payments and their allocation.

pub mod invoices;
pub mod payments;
