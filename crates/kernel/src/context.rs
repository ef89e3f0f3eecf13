//! Who is acting, and the facts of the request every command needs.

use chrono::{DateTime, Utc};

/// The acting principal. Identity (issue #3) adds users and integration keys; until
/// then every HTTP caller is anonymous and background work acts as the system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Anonymous,
    System,
}

impl Actor {
    /// A stable string naming the principal, used to scope per-caller state such as
    /// idempotency keys and recorded in events.
    pub fn principal(&self) -> String {
        match self {
            Actor::Anonymous => "anonymous".to_owned(),
            Actor::System => "system".to_owned(),
        }
    }
}

/// Everything a command needs besides its input: who acts, the single "now" of the
/// request (so every row a request writes carries the same time), and the request id.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub actor: Actor,
    pub now: DateTime<Utc>,
    pub request_id: String,
}

impl Ctx {
    pub fn system(now: DateTime<Utc>) -> Self {
        Self {
            actor: Actor::System,
            now,
            request_id: String::new(),
        }
    }
}
