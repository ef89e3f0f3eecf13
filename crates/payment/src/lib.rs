//! Payments: invoices made from orders (all of them or chosen lines, numbered
//! without gaps when issued, due by the payment terms or an instalment schedule),
//! payments from customers allocated to invoices (by hand or oldest due first),
//! held for an order before its invoice exists, or kept as credit; and the
//! settlement that marks orders paid and completes them once delivered; credit
//! notes that take part of an invoice back, and refunds of what was paid.
//!
//! Whether an invoice is paid, partly paid or overdue is derived when read; the
//! allocation ledger is the only place money moves.

mod entity;
mod ledger;

pub mod aging;
pub mod credit_notes;
pub mod customers;
pub mod dto;
pub mod dunning;
pub mod error;
pub mod events;
pub mod invoices;
pub mod issuer;
pub mod model;
pub mod payments;
pub mod queries;
pub mod refunds;
pub mod reversals;
pub mod settlement;
pub mod statements;
pub mod transfer;

pub use error::PaymentError;
