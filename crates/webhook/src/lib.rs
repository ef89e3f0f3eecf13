//! Webhooks: order-status events pushed to the shops, carriers and ERPs that
//! subscribe to them, signed the Standard Webhooks way so any of its libraries
//! verifies them, and never sent into our own network.
//!
//! This first part holds the pieces the endpoints and the dispatcher build on: the
//! signing secrets and signatures, and the address policy.

pub mod signing;
pub mod ssrf;
