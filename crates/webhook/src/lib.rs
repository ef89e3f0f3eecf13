//! Webhooks: order-status events pushed to the shops, carriers and ERPs that
//! subscribe to them, signed the Standard Webhooks way so any of its libraries
//! verifies them, and never sent into our own network.
//!
//! The endpoints (`/v1/webhook-endpoints`), what they subscribe to, where they may
//! point, the signing secrets and signatures, and the dispatcher that delivers.

mod entity;

pub mod access;

pub mod commands;
pub mod deliveries;
pub mod destination;
pub mod dispatch;
pub mod dto;
pub mod envelope;
pub mod events;
pub mod feed;
pub mod model;
pub mod queries;
pub mod retention;
pub mod schedule;
pub mod signing;
pub mod ssrf;
