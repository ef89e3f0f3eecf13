//! Who is acting, and the facts of the request every command needs.

use chrono::{DateTime, Utc};

pub use crate::authz::Actor;

/// Everything a command needs besides its input: who acts, the single "now" of the
/// request (so every row a request writes carries the same time), and the request id.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub actor: Actor,
    pub now: DateTime<Utc>,
    pub request_id: String,
    /// Where the request came from, for the audit log.
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// Test hooks (none in production): see [`crate::hooks`].
    pub hooks: crate::Hooks,
}

impl Ctx {
    pub fn system(now: DateTime<Utc>) -> Self {
        Self {
            actor: Actor::System,
            now,
            request_id: String::new(),
            ip: None,
            user_agent: None,
            hooks: crate::Hooks::default(),
        }
    }
}
