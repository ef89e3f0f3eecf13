//! The audit log writer. Every mutation records who, what, when and from where in
//! the same transaction as the change; reads live in the identity crate. Nothing
//! deletes these rows; the one update is an erasure replacing the `changes` of the
//! erased customer's rows (the personal data they held) with a redaction marker.

use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;
use serde_json::{Map, Value};

use crate::authz::Actor;
use crate::context::Ctx;
use crate::id::new_id;

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(
        Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize,
    )]
    #[sea_orm(table_name = "audit_events")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub seq: i64,
        #[sea_orm(unique)]
        pub id: Uuid,
        pub occurred_at: DateTimeUtc,
        /// `user`, `api_key`, `anonymous` or `system`.
        pub actor_type: String,
        pub actor_id: Option<String>,
        /// `setting.update`, `auth.login_failed`, ...
        pub action: String,
        pub entity_type: String,
        pub entity_id: Option<String>,
        /// `{"field": {"from": .., "to": ..}}` for changes; other details for events.
        pub changes: Option<Json>,
        /// `success` or `failure`.
        pub outcome: String,
        pub ip: Option<String>,
        pub user_agent: Option<String>,
        pub request_id: Option<String>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// One audited happening.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub action: &'a str,
    pub entity_type: &'a str,
    pub entity_id: Option<String>,
    pub changes: Option<Value>,
    pub success: bool,
}

impl<'a> Entry<'a> {
    pub fn new(action: &'a str, entity_type: &'a str, entity_id: impl ToString) -> Self {
        Self {
            action,
            entity_type,
            entity_id: Some(entity_id.to_string()),
            changes: None,
            success: true,
        }
    }

    pub fn changes(mut self, changes: Value) -> Self {
        self.changes = Some(changes);
        self
    }

    pub fn failed(mut self) -> Self {
        self.success = false;
        self
    }
}

/// Fields never copied into the log, whatever their value.
const SECRET_FIELDS: &[&str] = &[
    "password",
    "password_hash",
    "secret",
    "secret_hash",
    "token",
    "token_hash",
];

/// The changed top-level fields of two JSON objects: `{"f": {"from": a, "to": b}}`.
/// Secret fields appear as changed, never with their values.
pub fn diff(before: &Value, after: &Value) -> Value {
    let empty = Map::new();
    let b = before.as_object().unwrap_or(&empty);
    let a = after.as_object().unwrap_or(&empty);
    let mut out = Map::new();
    let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        if matches!(key.as_str(), "version" | "updated_at" | "created_at") {
            continue;
        }
        let (from, to) = (b.get(key), a.get(key));
        if from != to {
            let change = if SECRET_FIELDS.contains(&key.as_str()) {
                serde_json::json!({"changed": true})
            } else {
                serde_json::json!({"from": from, "to": to})
            };
            out.insert(key.clone(), change);
        }
    }
    Value::Object(out)
}

pub async fn record(conn: &impl ConnectionTrait, ctx: &Ctx, entry: Entry<'_>) -> Result<(), DbErr> {
    let (actor_type, actor_id) = match &ctx.actor {
        Actor::Anonymous => ("anonymous", None),
        Actor::System => ("system", None),
        Actor::User(u) => ("user", Some(u.id.to_string())),
        Actor::ApiKey(k) => ("api_key", Some(k.id.to_string())),
    };
    entity::ActiveModel {
        id: Set(new_id()),
        occurred_at: Set(ctx.now),
        actor_type: Set(actor_type.to_owned()),
        actor_id: Set(actor_id),
        action: Set(entry.action.to_owned()),
        entity_type: Set(entry.entity_type.to_owned()),
        entity_id: Set(entry.entity_id),
        changes: Set(entry.changes),
        outcome: Set(if entry.success { "success" } else { "failure" }.to_owned()),
        ip: Set(ctx.ip.clone()),
        user_agent: Set(ctx.user_agent.clone()),
        request_id: Set(Some(ctx.request_id.clone()).filter(|r| !r.is_empty())),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_lists_changed_fields_and_hides_secrets() {
        let d = diff(
            &json!({"a": 1, "b": 2, "password_hash": "x", "version": 1}),
            &json!({"a": 1, "b": 3, "password_hash": "y", "version": 2, "c": true}),
        );
        assert_eq!(
            d,
            json!({"b": {"from": 2, "to": 3}, "c": {"from": null, "to": true}, "password_hash": {"changed": true}})
        );
    }
}
