//! One test binary for every black-box test (one link, not dozens).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod customers;
mod events;
mod idempotency;
mod identity;
mod integrity;
mod inventory;
mod openapi;
mod platform;
mod process;
mod security;
mod settings;
