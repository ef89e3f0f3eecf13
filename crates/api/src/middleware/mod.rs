pub mod auth;
pub mod cors;
pub mod idempotency;
pub mod metrics;
pub mod problem;
pub mod request_id;
