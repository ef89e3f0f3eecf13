//! One test binary for every black-box test (one link, not dozens).
// Tests index what they just asserted exists and cast small known numbers; a panic there is
// a failed test, as it should be.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss,
    // The process and load tests say what they measured.
    clippy::print_stdout
)]

mod credit_notes;
mod customer_statistics;
mod customers;
mod events;
mod exchange_rates;
mod fulfillment;
mod idempotency;
mod identity;
mod integrity;
mod inventory;
mod openapi;
mod order_edits;
mod order_model;
mod orders;
mod payments;
mod platform;
mod process;
mod promise_watch;
mod receivables;
mod returns;
mod security;
mod settings;
mod webhook_delivery;
mod webhook_endpoints;
mod webhook_operations;
