//! Operations (health, readiness, metrics), the API document, and settings.

pub mod docs;
pub mod ops;
pub mod settings;
