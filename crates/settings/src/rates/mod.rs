//! Exchange rates: one row per currency pair and effective date, published by
//! finance. A rate is never edited: a wrong one is deleted and published again, so
//! what an order or invoice converted with can always be traced to one row.
//! Orders store the rate they used; they do not look it up again.

mod entity;

pub mod commands;
pub mod dto;
pub mod events;
pub mod queries;
