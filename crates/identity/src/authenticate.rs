//! A bearer credential to an `Actor`. The same header carries a JWT (people) or an
//! API key (integrations); keys are recognised by their prefix.

use chrono::{DateTime, Duration, Utc};
use ordercrm_kernel::authz::{Actor, KeyActor, Role, UserActor};
use ordercrm_kernel::{Error, Result};
use sea_orm::sea_query::Expr;
use sea_orm::{ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use crate::commands::api_keys::KEY_PREFIX;
use crate::entity::{api_key, user};
use crate::error::IdentityError;
use crate::tokens::{JwtKeys, hash_secret};

/// Who presented `token` at `now`. Users are loaded on every request, so disabling
/// a user, changing their role or their password takes effect at once.
pub async fn authenticate(
    reader: &impl ConnectionTrait,
    writer: &impl ConnectionTrait,
    keys: &JwtKeys,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Actor> {
    if token.starts_with(KEY_PREFIX) {
        return api_key(reader, writer, token, now).await;
    }
    let claims = keys.verify(token, now)?;
    let id: Uuid = claims
        .sub
        .parse()
        .map_err(|_| Error::from(IdentityError::BadToken))?;
    let u = user::Entity::find_by_id(id)
        .one(reader)
        .await?
        .ok_or(IdentityError::BadToken)?;
    // A token issued before the password changed belongs to whoever knew the old one.
    if !u.active || claims.pwd != u.password_changed_at.timestamp_micros() {
        return Err(IdentityError::BadToken.into());
    }
    let role = Role::parse(&u.role).ok_or(IdentityError::BadToken)?;
    let team = if role == Role::Manager {
        user::Entity::find()
            .select_only()
            .column(user::Column::Id)
            .filter(user::COLUMN.manager_id.eq(u.id))
            .into_tuple::<Uuid>()
            .all(reader)
            .await?
    } else {
        Vec::new()
    };
    Ok(Actor::User(UserActor {
        id: u.id,
        role,
        team,
    }))
}

async fn api_key(
    reader: &impl ConnectionTrait,
    writer: &impl ConnectionTrait,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Actor> {
    let key = api_key::Entity::find()
        .filter(api_key::COLUMN.secret_hash.eq(hash_secret(token)))
        .one(reader)
        .await?
        .ok_or(IdentityError::BadApiKey)?;
    if key.revoked_at.is_some() || key.expires_at.is_some_and(|t| t <= now) {
        return Err(IdentityError::BadApiKey.into());
    }
    // Recorded at most once a minute: a busy integration must not turn every read
    // into a write.
    if key
        .last_used_at
        .is_none_or(|t| now - t > Duration::minutes(1))
    {
        api_key::Entity::update_many()
            .col_expr(api_key::COLUMN.last_used_at, Expr::value(now))
            .filter(api_key::COLUMN.id.eq(key.id))
            .exec(writer)
            .await?;
    }
    Ok(key_actor(key))
}

/// What a key may do, as an `Actor`.
fn key_actor(key: api_key::Model) -> Actor {
    Actor::ApiKey(KeyActor {
        id: key.id,
        name: key.name,
        scopes: serde_json::from_value(key.scopes).unwrap_or_default(),
        default_owner: key.default_owner_id,
        channel: key
            .channel
            .as_deref()
            .and_then(ordercrm_kernel::authz::Channel::parse)
            .map(|channel| ordercrm_kernel::authz::ChannelBinding {
                channel,
                name: key.channel_name.unwrap_or_default(),
            }),
        carriers: key
            .carriers
            .and_then(|c| serde_json::from_value(c).ok())
            .unwrap_or_default(),
    })
}

/// The key `id` as an `Actor`, if it is neither revoked nor expired at `now`: what
/// the webhook dispatcher asks before it sends a key's endpoint anything.
pub async fn key_by_id(
    conn: &impl ConnectionTrait,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<Actor>> {
    Ok(api_key::Entity::find_by_id(id)
        .one(conn)
        .await?
        .filter(|k| k.revoked_at.is_none() && k.expires_at.is_none_or(|t| t > now))
        .map(key_actor))
}
