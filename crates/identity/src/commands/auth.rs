//! Sign-in, token refresh with rotation and reuse detection, sign-out.

use chrono::Duration;
use ordercrm_kernel::audit::{self, Entry};
use ordercrm_kernel::authz::{Actor, Role, UserActor};
use ordercrm_kernel::{Ctx, Error, FieldError, Result, id::new_id};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::config::IdentityConfig;
use crate::dto::{TokenRequest, TokenResponse};
use crate::entity::{refresh_token, user};
use crate::error::IdentityError;
use crate::tokens::{hash_secret, looks_like_secret, random_secret};
use crate::{model, password, throttle};

pub const REFRESH_PREFIX: &str = "ocrm_rt_";

/// A sign-in either succeeds or is refused; a refusal still commits (its audit row
/// must persist).
pub enum LoginOutcome {
    Success(TokenResponse),
    Refused(Error),
}

fn secs(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// The actor a sign-in acts as in the audit log: the user once known.
fn as_user(ctx: &Ctx, u: &user::Model) -> Ctx {
    Ctx {
        actor: Actor::User(UserActor {
            id: u.id,
            role: Role::parse(&u.role).unwrap_or(Role::Auditor),
            team: vec![],
        }),
        ..ctx.clone()
    }
}

/// What a sign-in request must look like before anything else happens: no limiter
/// entry, lookup or audit row for an email no account can have or a password no
/// account can have (an unbounded one would also cost an unbounded hash).
pub fn check_request(input: &TokenRequest) -> Result<()> {
    let mut errors = Vec::new();
    if input.email.chars().count() > model::MAX_EMAIL_CHARS {
        errors.push(FieldError::new(
            "email",
            "length",
            format!("must be at most {} characters", model::MAX_EMAIL_CHARS),
        ));
    }
    if input.password.0.chars().count() > model::MAX_PASSWORD_CHARS {
        errors.push(FieldError::new(
            "password",
            "length",
            format!("must be at most {} characters", model::MAX_PASSWORD_CHARS),
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ordercrm_kernel::Error::validation(errors))
    }
}

/// Count this attempt against (email, source) before the password is checked, or
/// refuse it for now; the same for unknown emails (see [`crate::throttle`]).
pub async fn take_turn(
    conn: &impl ConnectionTrait,
    ctx: &Ctx,
    config: &IdentityConfig,
    email: &str,
    source: &str,
) -> Result<()> {
    let email = model::normalize_email(email);
    match throttle::take_turn(conn, &config.throttle, &email, source, ctx.now).await? {
        throttle::Turn::Go => Ok(()),
        throttle::Turn::Wait(retry_after) => Err(IdentityError::Throttled { retry_after }.into()),
    }
}

/// The expensive half of a sign-in (argon2), done before any write transaction so a
/// flood of guesses never holds the database's writer.
pub struct Attempt {
    email: String,
    user: Option<user::Model>,
    password_ok: bool,
}

pub async fn check_password(
    reader: &impl ConnectionTrait,
    ctx: &Ctx,
    input: TokenRequest,
) -> Result<Attempt> {
    let email = model::normalize_email(&input.email);
    let found = user::Entity::find()
        .filter(user::COLUMN.email_normalized.eq(&email))
        .one(reader)
        .await?;
    // Exactly one hash on every path, known email or not, so timing says nothing.
    let hash = found.as_ref().map_or_else(
        || password::DUMMY_HASH.to_owned(),
        |u| u.password_hash.clone(),
    );
    ctx.hooks.at("password.verify").await;
    let password_ok = password::verify(hash, input.password.0).await? && found.is_some();
    Ok(Attempt {
        email,
        user: found,
        password_ok,
    })
}

/// The recording half: tokens and audit on success (and this source's failures
/// forgotten), the audit row on failure (the failure was counted by [`take_turn`]).
pub async fn login(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    config: &IdentityConfig,
    source: &str,
    attempt: Attempt,
) -> Result<LoginOutcome> {
    let fresh = match &attempt.user {
        Some(checked) => user::Entity::find_by_id(checked.id).one(txn).await?,
        None => None,
    };
    let Some(u) = fresh else {
        audit::record(
            txn,
            ctx,
            Entry {
                action: "auth.login_failed",
                entity_type: "user",
                entity_id: None,
                changes: Some(
                    serde_json::json!({"email": attempt.email, "reason": "unknown_email"}),
                ),
                success: false,
            },
        )
        .await?;
        return Ok(LoginOutcome::Refused(IdentityError::BadCredentials.into()));
    };
    // The password checked must still be the password (no change in between).
    let password_ok = attempt.password_ok
        && attempt
            .user
            .as_ref()
            .is_some_and(|c| c.password_hash == u.password_hash);
    let uctx = as_user(ctx, &u);
    if !password_ok || !u.active {
        let reason = if u.active { "bad_password" } else { "inactive" };
        audit::record(
            txn,
            &uctx,
            Entry::new("auth.login_failed", "user", u.id)
                .changes(serde_json::json!({"reason": reason}))
                .failed(),
        )
        .await?;
        return Ok(LoginOutcome::Refused(IdentityError::BadCredentials.into()));
    }
    throttle::clear(txn, &attempt.email, source).await?;
    let tokens = issue(txn, &uctx, config, &u, new_id()).await?;
    audit::record(txn, &uctx, Entry::new("auth.login", "user", u.id)).await?;
    Ok(LoginOutcome::Success(tokens))
}

/// Whether `token` is a refresh token we issued, checked on a reader: a malformed or
/// unknown token is refused without opening a write transaction.
pub async fn known_refresh_token(reader: &impl ConnectionTrait, token: &str) -> Result<bool> {
    if !looks_like_secret(token, REFRESH_PREFIX) {
        return Ok(false);
    }
    Ok(refresh_token::Entity::find()
        .filter(refresh_token::COLUMN.token_hash.eq(hash_secret(token)))
        .one(reader)
        .await?
        .is_some())
}

async fn issue(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    config: &IdentityConfig,
    u: &user::Model,
    family: Uuid,
) -> Result<TokenResponse> {
    let user_id = u.id;
    let access_token = config.keys.issue(
        user_id,
        u.password_changed_at,
        ctx.now,
        secs(config.access_ttl),
    )?;
    let refresh = random_secret(REFRESH_PREFIX);
    refresh_token::ActiveModel {
        id: Set(new_id()),
        family_id: Set(family),
        user_id: Set(user_id),
        token_hash: Set(hash_secret(&refresh)),
        created_at: Set(ctx.now),
        expires_at: Set(ctx.now + Duration::from_std(config.refresh_ttl).unwrap_or(Duration::MAX)),
        used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(txn)
    .await?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: secs(config.access_ttl),
        refresh_token: refresh,
        refresh_expires_in: secs(config.refresh_ttl),
    })
}

/// Exchange a refresh token for a new pair. A token used twice means it leaked:
/// the whole family is revoked and the caller must sign in again.
pub async fn refresh(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    config: &IdentityConfig,
    token: &str,
) -> Result<LoginOutcome> {
    let refused = || Ok(LoginOutcome::Refused(IdentityError::BadRefreshToken.into()));
    let Some(row) = refresh_token::Entity::find()
        .filter(refresh_token::COLUMN.token_hash.eq(hash_secret(token)))
        .one(txn)
        .await?
    else {
        return refused();
    };
    let Some(u) = user::Entity::find_by_id(row.user_id).one(txn).await? else {
        return refused();
    };
    let uctx = as_user(ctx, &u);
    if row.revoked_at.is_some() || row.expires_at <= ctx.now || !u.active {
        audit::record(
            txn,
            &uctx,
            Entry::new("auth.refresh", "user", u.id).failed(),
        )
        .await?;
        return refused();
    }
    // Claim the token; of two concurrent uses, only one can.
    let claimed = refresh_token::Entity::update_many()
        .col_expr(refresh_token::COLUMN.used_at, Expr::value(ctx.now))
        .filter(refresh_token::COLUMN.id.eq(row.id))
        .filter(refresh_token::COLUMN.used_at.is_null())
        .exec(txn)
        .await?;
    if claimed.rows_affected == 0 {
        let revoked = refresh_token::Entity::update_many()
            .col_expr(refresh_token::COLUMN.revoked_at, Expr::value(ctx.now))
            .filter(refresh_token::COLUMN.family_id.eq(row.family_id))
            .filter(refresh_token::COLUMN.revoked_at.is_null())
            .exec(txn)
            .await?;
        audit::record(
            txn,
            &uctx,
            Entry::new("auth.refresh_reuse_detected", "user", u.id)
                .changes(serde_json::json!({"family_revoked": revoked.rows_affected}))
                .failed(),
        )
        .await?;
        return refused();
    }
    let tokens = issue(txn, &uctx, config, &u, row.family_id).await?;
    audit::record(txn, &uctx, Entry::new("auth.refresh", "user", u.id)).await?;
    Ok(LoginOutcome::Success(tokens))
}

/// Revoke the refresh token's family (this device's session). Unknown tokens are
/// accepted silently: signing out twice is not an error.
pub async fn logout(txn: &DatabaseTransaction, ctx: &Ctx, token: &str) -> Result<()> {
    if let Some(row) = refresh_token::Entity::find()
        .filter(refresh_token::COLUMN.token_hash.eq(hash_secret(token)))
        .one(txn)
        .await?
    {
        refresh_token::Entity::update_many()
            .col_expr(refresh_token::COLUMN.revoked_at, Expr::value(ctx.now))
            .filter(refresh_token::COLUMN.family_id.eq(row.family_id))
            .filter(refresh_token::COLUMN.revoked_at.is_null())
            .exec(txn)
            .await?;
        if let Some(u) = user::Entity::find_by_id(row.user_id).one(txn).await? {
            audit::record(
                txn,
                &as_user(ctx, &u),
                Entry::new("auth.logout", "user", u.id),
            )
            .await?;
        }
    }
    Ok(())
}
