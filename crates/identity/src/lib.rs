//! Identity: users and their roles, passwords, access and refresh tokens,
//! integration API keys, and reads of the audit log. `authenticate` turns a bearer
//! credential into the kernel's `Actor`; every domain decides access from that.

mod entity;

pub mod authenticate;
pub mod commands;
pub mod config;
pub mod dto;
pub mod error;
pub mod events;
pub mod model;
pub mod password;
pub mod queries;
pub mod throttle;
pub mod tokens;

pub use config::IdentityConfig;
pub use error::IdentityError;
pub use tokens::JwtKeys;
