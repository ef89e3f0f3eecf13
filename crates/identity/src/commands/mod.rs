//! Use cases that change identity state; each audits what it did in the caller's
//! transaction.

pub mod api_keys;
pub mod auth;
pub mod users;
