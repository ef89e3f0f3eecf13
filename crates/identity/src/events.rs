//! Events this domain writes to the outbox. Never a secret: no password, hash,
//! token or key secret is part of any view written here.

use ordercrm_kernel::Ctx;
use ordercrm_kernel::events::{self, Catalogued, EventType, NewEvent};
use sea_orm::{DatabaseTransaction, DbErr};

use crate::dto::{ApiKeyView, UserView};

pub const USER_CREATED: EventType<UserView> = EventType::new("user.created", "A user was created.");
pub const USER_UPDATED: EventType<UserView> = EventType::new(
    "user.updated",
    "A user's name, role, manager or active flag changed.",
);
pub const USER_PASSWORD_CHANGED: EventType<UserView> = EventType::new(
    "user.password_changed",
    "A user's password was changed (by them, or reset from the command line); their \
     sessions ended.",
);
pub const USER_UNLOCKED: EventType<UserView> = EventType::new(
    "user.unlocked",
    "An admin cleared a user's failed sign-in lockouts.",
);
pub const API_KEY_CREATED: EventType<ApiKeyView> = EventType::new(
    "api_key.created",
    "An API key was created (never its secret).",
)
.example(
    r#"{"revoked_at": null, "last_used_at": null, "scopes": ["orders:write", "events:read"]}"#,
);
pub const API_KEY_REVOKED: EventType<ApiKeyView> =
    EventType::new("api_key.revoked", "An API key was revoked.")
        .example(r#"{"scopes": ["orders:write", "events:read"]}"#);

/// Every event type this domain writes.
pub fn catalogue() -> Vec<Catalogued> {
    vec![
        USER_CREATED.entry(),
        USER_UPDATED.entry(),
        USER_PASSWORD_CHANGED.entry(),
        USER_UNLOCKED.entry(),
        API_KEY_CREATED.entry(),
        API_KEY_REVOKED.entry(),
    ]
}

pub(crate) async fn user(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    event_type: &EventType<UserView>,
    user: &UserView,
) -> Result<(), DbErr> {
    let event = NewEvent::about(event_type, "user", (user.id, user.version), user);
    events::record(txn, ctx, event).await.map(drop)
}

/// Keys have no version: created is 1, revoked 2.
pub(crate) async fn api_key(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    event_type: &EventType<ApiKeyView>,
    key: &ApiKeyView,
) -> Result<(), DbErr> {
    let version = if key.revoked_at.is_some() { 2 } else { 1 };
    let event = NewEvent::about(event_type, "api_key", (key.id, version), key);
    events::record(txn, ctx, event).await.map(drop)
}
