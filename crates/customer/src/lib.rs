//! Customers, the first business domain and the pattern later domains copy:
//! `entity` (tables, crate-private), `model` (what is valid), `dto` (the wire),
//! `commands` (changes: access, rules, rows, events, audit in the caller's
//! transaction), `queries` (visible-to-actor reads), `events`, `error`.

mod entity;

pub mod commands;
pub mod dto;
pub mod error;
pub mod events;
pub mod model;
pub mod queries;
pub mod statistics;
pub mod transfer;

pub use error::CustomerError;
