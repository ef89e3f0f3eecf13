use crate::events;
use ordercrm_kernel::audit::{self, Entry};
use ordercrm_kernel::authz::Action;
use ordercrm_kernel::{Ctx, FieldError, Result, id::new_id};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, DatabaseTransaction, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::dto::{ApiKeyCreated, ApiKeyView, CreateApiKey};
use crate::entity::api_key;
use crate::error::IdentityError;
use crate::model::ApiKeyKind;
use crate::tokens::{hash_secret, random_secret};

pub const KEY_PREFIX: &str = "ocrm_live_";

pub async fn create(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    input: CreateApiKey,
) -> Result<ApiKeyCreated> {
    ctx.actor.require(Action::ApiKeysManage)?;
    let mut errors = Vec::new();
    let name = input.name.check(&mut errors, "name");
    let kind = input.kind.check(&mut errors, "kind");
    if input.scopes.is_empty() {
        errors.push(FieldError::new(
            "scopes",
            "required",
            "give at least one scope",
        ));
    }
    let mut scopes: Vec<&str> = input
        .scopes
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.check(&mut errors, &format!("scopes[{i}]")))
        .map(|s| s.as_str())
        .collect();
    if input.expires_at.is_some_and(|t| t <= ctx.now) {
        errors.push(FieldError::new(
            "expires_at",
            "in_past",
            "must be in the future",
        ));
    }
    ordercrm_kernel::authz::check_assignable(
        txn,
        &ctx.actor,
        "default_owner_id",
        input.default_owner_id,
        &mut errors,
    )
    .await?;
    let channel =
        ordercrm_kernel::input::Choice::check_opt(input.channel.as_ref(), &mut errors, "channel");
    let channel_name =
        ordercrm_kernel::input::Text::check(input.channel_name, &mut errors, "channel_name");
    if channel_name.is_some() && input.channel.is_none() {
        errors.push(FieldError::new(
            "channel_name",
            "unexpected",
            "bind the key to a channel to name a shop in it",
        ));
    }
    let mut carriers: Vec<String> = Vec::new();
    if let Some(list) = &input.carriers {
        if !(1..=20).contains(&list.len()) {
            errors.push(FieldError::new(
                "carriers",
                "length",
                "name 1 to 20 carriers, or leave the key unbound",
            ));
        }
        for (i, c) in list.iter().enumerate() {
            if let Some(code) = c.check(&mut errors, &format!("carriers[{i}]")) {
                carriers.push(code);
            }
        }
    }
    carriers.sort();
    carriers.dedup();
    if !errors.is_empty() {
        return Err(ordercrm_kernel::Error::validation(errors));
    }
    scopes.sort();
    scopes.dedup();
    let secret = random_secret(KEY_PREFIX);
    let row = api_key::ActiveModel {
        id: Set(new_id()),
        name: Set(name),
        kind: Set(kind.map_or("", ApiKeyKind::as_str).to_owned()),
        scopes: Set(serde_json::json!(scopes)),
        prefix: Set(secret.chars().take(KEY_PREFIX.len() + 6).collect()),
        secret_hash: Set(hash_secret(&secret)),
        expires_at: Set(input.expires_at),
        last_used_at: Set(None),
        revoked_at: Set(None),
        created_by: Set(ctx.actor.user_id()),
        default_owner_id: Set(input.default_owner_id),
        channel: Set(channel.map(|c: ordercrm_kernel::authz::Channel| c.as_str().to_owned())),
        channel_name: Set(channel_name),
        carriers: Set((!carriers.is_empty()).then(|| serde_json::json!(carriers))),
        created_at: Set(ctx.now),
    }
    .insert(txn)
    .await?;
    let key = ApiKeyView::from(row);
    events::api_key(txn, ctx, &events::API_KEY_CREATED, &key).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("api_key.create", "api_key", key.id).changes(
            serde_json::json!({"name": key.name, "kind": key.kind, "scopes": key.scopes,
                "expires_at": key.expires_at, "default_owner_id": key.default_owner_id,
                "channel": key.channel, "channel_name": key.channel_name,
                "carriers": key.carriers}),
        ),
    )
    .await?;
    Ok(ApiKeyCreated { key, secret })
}

pub async fn revoke(txn: &DatabaseTransaction, ctx: &Ctx, id: Uuid) -> Result<()> {
    ctx.actor.require(Action::ApiKeysManage)?;
    let row = api_key::Entity::find_by_id(id)
        .one(txn)
        .await?
        .ok_or_else(|| IdentityError::KeyNotFound(id.to_string()))?;
    // Only the revoke that flips it writes: concurrent ones find it revoked.
    let revoked = api_key::Entity::update_many()
        .col_expr(api_key::COLUMN.revoked_at, Expr::value(ctx.now))
        .filter(api_key::COLUMN.id.eq(id))
        .filter(api_key::COLUMN.revoked_at.is_null())
        .exec(txn)
        .await?
        .rows_affected;
    if revoked == 1 {
        let key = ApiKeyView::from(api_key::Model {
            revoked_at: Some(ctx.now),
            ..row
        });
        events::api_key(txn, ctx, &events::API_KEY_REVOKED, &key).await?;
        audit::record(txn, ctx, Entry::new("api_key.revoke", "api_key", id)).await?;
    }
    Ok(())
}

impl From<api_key::Model> for ApiKeyView {
    fn from(m: api_key::Model) -> Self {
        Self {
            id: m.id,
            name: m.name,
            kind: m.kind,
            scopes: serde_json::from_value(m.scopes).unwrap_or_default(),
            prefix: m.prefix,
            expires_at: m.expires_at,
            last_used_at: m.last_used_at,
            revoked_at: m.revoked_at,
            created_by: m.created_by,
            default_owner_id: m.default_owner_id,
            channel: m
                .channel
                .as_deref()
                .and_then(ordercrm_kernel::authz::Channel::parse),
            channel_name: m.channel_name,
            carriers: m
                .carriers
                .and_then(|c| serde_json::from_value(c).ok())
                .unwrap_or_default(),
            created_at: m.created_at,
        }
    }
}
