//! The `ordercrm` binary's library half: configuration, database, telemetry and the
//! server builder. The black-box tests start exactly what `ordercrm serve` starts.

pub mod cli;
pub mod config;
pub mod database;
pub mod keys;
pub mod startup;
pub mod telemetry;
pub mod users;

pub use config::Config;
pub use startup::Application;
