//! Payments: invoices, payments and their allocation, credit notes and refunds.

pub mod credit_notes;
pub mod invoices;
pub mod payments;
pub mod receivables;
pub mod refunds;
