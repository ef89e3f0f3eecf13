//! Sign-in, users, API keys and the audit log.

pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod users;
