//! Company settings: a small key-value resource (company name, default currency,
//! document-number prefixes). Well-known keys are typed and validated; other keys
//! hold any small JSON value a front-end team wants to keep server-side.

mod entity;

pub mod commands;
pub mod dto;
pub mod error;
pub mod events;
pub mod model;
pub mod queries;
pub mod rates;

pub use dto::{CreateSetting, ListSettings, SettingSort, SettingView, UpdateSetting};
pub use error::SettingsError;
