//! Operations (health, readiness, metrics), the API document, settings and exchange rates.

pub mod docs;
pub mod exchange_rates;
pub mod ops;
pub mod settings;
