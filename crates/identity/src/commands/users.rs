use crate::events;
use ordercrm_kernel::audit::{self, Entry};
use ordercrm_kernel::authz::{Action, Actor, Role};
use ordercrm_kernel::input::Email;
use ordercrm_kernel::version::unless_unchanged;
use ordercrm_kernel::{Ctx, FieldError, Result, id::new_id, patch};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, IntoActiveModel,
    QueryFilter,
};
use uuid::Uuid;

use crate::config::IdentityConfig;
use crate::dto::{ChangePassword, CreateUser, UpdateUser, UserView};
use crate::entity::{refresh_token, user};
use crate::error::IdentityError;
use crate::{model, password, queries, throttle};

fn json(view: &UserView) -> serde_json::Value {
    serde_json::to_value(view).unwrap_or_default()
}

async fn check_manager(
    conn: &impl ConnectionTrait,
    manager_id: Option<Uuid>,
    errors: &mut Vec<FieldError>,
) -> Result<()> {
    if let Some(id) = manager_id {
        let Some(manager) = user::Entity::find_by_id(id).one(conn).await? else {
            errors.push(FieldError::new(
                "manager_id",
                "unknown_user",
                format!("no user {id}"),
            ));
            return Ok(());
        };
        let ok = manager.active
            && matches!(
                Role::parse(&manager.role),
                Some(Role::Manager | Role::Admin)
            );
        if !ok {
            errors.push(FieldError::new(
                "manager_id",
                "invalid_manager",
                "must be an active manager or admin",
            ));
        }
    }
    Ok(())
}

/// Create a user (admins; the CLI acts as the system for the first one).
pub async fn create(txn: &DatabaseTransaction, ctx: &Ctx, input: CreateUser) -> Result<UserView> {
    ctx.actor.require(Action::UsersWrite)?;
    let mut errors = Vec::new();
    let email = Email::check(Some(input.email), &mut errors, "email").unwrap_or_default();
    if email.is_empty() {
        errors.push(FieldError::new("email", "required", "is required"));
    }
    let display_name = input.display_name.check(&mut errors, "display_name");
    errors.extend(model::check_password("password", &input.password.0, &email).err());
    check_manager(txn, input.manager_id, &mut errors).await?;
    if !errors.is_empty() {
        return Err(ordercrm_kernel::Error::validation(errors));
    }
    let normalized = model::normalize_email(&email);
    if user::Entity::find()
        .filter(user::COLUMN.email_normalized.eq(&normalized))
        .one(txn)
        .await?
        .is_some()
    {
        return Err(IdentityError::EmailTaken(normalized).into());
    }
    let hash = password::hash(input.password.0).await?;
    let row = user::ActiveModel {
        id: Set(new_id()),
        email: Set(email),
        email_normalized: Set(normalized),
        display_name: Set(display_name),
        role: Set(input.role.as_str().to_owned()),
        active: Set(true),
        manager_id: Set(input.manager_id),
        password_hash: Set(hash),
        password_changed_at: Set(ctx.now),
        version: Set(1),
        created_at: Set(ctx.now),
        updated_at: Set(ctx.now),
    }
    .insert(txn)
    .await?;
    let view = UserView::from(row);
    events::user(txn, ctx, &events::USER_CREATED, &view).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("user.create", "user", view.id)
            .changes(audit::diff(&serde_json::Value::Null, &json(&view))),
    )
    .await?;
    Ok(view)
}

/// Admins change anything; a manager may rename or deactivate their own reports.
pub async fn update(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    if_match: Option<i64>,
    patch: UpdateUser,
) -> Result<UserView> {
    queries::find_visible(txn, &ctx.actor, id).await?;
    let changed = unless_unchanged(txn, async |txn| {
        // Claimed before anything is decided on it: the role checked below is the role
        // the change applies to.
        let current = ordercrm_kernel::version::claim(
            txn,
            user::Entity::update_many()
                .col_expr(user::COLUMN.updated_at, Expr::value(ctx.now))
                .filter(user::COLUMN.id.eq(id)),
            user::Entity::find_by_id(id),
            user::Column::Version,
            if_match,
            |_| IdentityError::UserNotFound(id.to_string()).into(),
        )
        .await?;
        // Managers change their own reports, and only those below them: never an admin
        // or another manager, whoever that one reports to.
        let below_manager = !matches!(
            Role::parse(&current.role),
            Some(Role::Admin | Role::Manager) | None
        );
        let manager_of_target = below_manager
            && matches!(&ctx.actor, Actor::User(u) if u.role == Role::Manager && u.team.contains(&id));
        if !ctx.actor.may(Action::UsersWrite) {
            let limited = patch.role.is_none() && patch.manager_id.is_none();
            if !(manager_of_target && limited) {
                return Err(IdentityError::Forbidden(
                    "only admins change users; managers may rename or deactivate their reports below manager"
                        .into(),
                )
                .into());
            }
        }
        let mut errors = Vec::new();
        if let Some(name) = &patch.display_name {
            name.check(&mut errors, "display_name");
        }
        if let Some(manager) = patch.manager_id {
            if manager == Some(id) {
                errors.push(FieldError::new(
                    "manager_id",
                    "invalid_manager",
                    "a user cannot manage themselves",
                ));
            }
            check_manager(txn, manager, &mut errors).await?;
        }
        if ctx.actor.user_id() == Some(id)
            && (patch.active == Some(false) || patch.role.is_some_and(|r| r != Role::Admin))
        {
            errors.push(FieldError::new(
                "active",
                "self_lockout",
                "you cannot deactivate or demote yourself",
            ));
        }
        if !errors.is_empty() {
            return Err(ordercrm_kernel::Error::validation(errors));
        }

        let before = UserView::from(user::Model {
            version: current.version - 1,
            ..current.clone()
        });
        let mut row = current.into_active_model();
        row.display_name = patch::set(patch.display_name.map(|n| n.trim().to_owned()));
        row.role = patch::set(patch.role.map(|r| r.as_str().to_owned()));
        row.manager_id = patch::set(patch.manager_id);
        row.active = patch::set(patch.active);
        row.updated_at = Set(ctx.now);
        row.update(txn).await?;
        let after = queries::find_visible(txn, &ctx.actor, id).await?;
        Ok((before, UserView::from(after)))
    })
    .await?;
    let Some((before, view)) = changed else {
        return queries::find_visible(txn, &ctx.actor, id)
            .await
            .map(UserView::from);
    };
    if !view.active || view.role != before.role {
        revoke_refresh_tokens(txn, ctx, id).await?;
    }
    events::user(txn, ctx, &events::USER_UPDATED, &view).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("user.update", "user", id).changes(audit::diff(&json(&before), &json(&view))),
    )
    .await?;
    Ok(view)
}

/// The signed-in user changes their own password; every refresh token dies. A wrong
/// current password counts against (account, source) exactly as a failed sign-in does.
pub async fn change_password(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    config: &IdentityConfig,
    source: &str,
    input: ChangePassword,
) -> Result<()> {
    let Some(id) = ctx.actor.user_id() else {
        return Err(IdentityError::Forbidden("only people have passwords".into()).into());
    };
    let current = user::Entity::find_by_id(id)
        .one(txn)
        .await?
        .ok_or_else(|| IdentityError::UserNotFound(id.to_string()))?;
    if input.current_password.0.chars().count() > model::MAX_PASSWORD_CHARS {
        return Err(IdentityError::WrongPassword.into());
    }
    crate::commands::auth::take_turn(txn, ctx, config, &current.email, source).await?;
    ctx.hooks.at("password.verify").await;
    if !password::verify(current.password_hash.clone(), input.current_password.0).await? {
        audit::record(
            txn,
            ctx,
            Entry::new("user.password_change", "user", id).failed(),
        )
        .await?;
        return Err(IdentityError::WrongPassword.into());
    }
    throttle::clear(txn, &current.email_normalized, source).await?;
    if let Err(e) = model::check_password("new_password", &input.new_password.0, &current.email) {
        return Err(ordercrm_kernel::Error::validation(vec![e]));
    }
    store_password(txn, ctx, &current, input.new_password.0).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("user.password_change", "user", id)
            .changes(serde_json::json!({"password": {"changed": true}})),
    )
    .await?;
    Ok(())
}

/// Hash and store a new password: every refresh token dies, every access token
/// issued before now stops working, and no source has to wait any more.
async fn store_password(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    current: &user::Model,
    new_password: String,
) -> Result<UserView> {
    let hash = password::hash(new_password).await?;
    ordercrm_kernel::version::try_claim(
        txn,
        user::Entity::update_many()
            .col_expr(user::COLUMN.password_hash, Expr::value(hash))
            .col_expr(user::COLUMN.password_changed_at, Expr::value(ctx.now))
            .col_expr(user::COLUMN.updated_at, Expr::value(ctx.now))
            .filter(user::COLUMN.id.eq(current.id)),
        user::Column::Version,
        None,
    )
    .await?;
    revoke_refresh_tokens(txn, ctx, current.id).await?;
    throttle::clear_account(txn, &current.email_normalized).await?;
    let after = user::Entity::find_by_id(current.id)
        .one(txn)
        .await?
        .ok_or_else(|| IdentityError::UserNotFound(current.id.to_string()))?;
    let view = UserView::from(after);
    events::user(txn, ctx, &events::USER_PASSWORD_CHANGED, &view).await?;
    Ok(view)
}

/// Set a user's password without knowing the old one: the CLI's way back in when the
/// last admin forgot theirs (the system acts; admins through the API use their own).
pub async fn set_password(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    email: &str,
    new_password: String,
) -> Result<UserView> {
    ctx.actor.require(Action::UsersWrite)?;
    let current = find_by_email(txn, email).await?;
    if let Err(e) = model::check_password("password", &new_password, &current.email) {
        return Err(ordercrm_kernel::Error::validation(vec![e]));
    }
    let view = store_password(txn, ctx, &current, new_password).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("user.password_set", "user", current.id)
            .changes(serde_json::json!({"password": {"changed": true}})),
    )
    .await?;
    Ok(view)
}

/// Let every source try this account's password again at once (admins; the CLI).
pub async fn unlock(txn: &DatabaseTransaction, ctx: &Ctx, target: Unlock<'_>) -> Result<UserView> {
    ctx.actor.require(Action::UsersWrite)?;
    let current = match target {
        Unlock::Id(id) => queries::find_visible(txn, &ctx.actor, id).await?,
        Unlock::Email(email) => find_by_email(txn, email).await?,
    };
    let cleared = throttle::clear_account(txn, &current.email_normalized).await?;
    let mut view = UserView::from(current.clone());
    // Nothing was locked: nothing changed. Otherwise the user is at a new version,
    // so the event is not taken for a stale copy of the last one.
    if cleared > 0 {
        let bumped = ordercrm_kernel::version::bump_all_returning(
            txn,
            user::Entity::update_many()
                .col_expr(user::COLUMN.updated_at, Expr::value(ctx.now))
                .filter(user::COLUMN.id.eq(current.id)),
            user::Column::Version,
        )
        .await?;
        if let Some(row) = bumped.into_iter().next() {
            view = UserView::from(row);
        }
        events::user(txn, ctx, &events::USER_UNLOCKED, &view).await?;
    }
    audit::record(
        txn,
        ctx,
        Entry::new("user.unlock", "user", current.id)
            .changes(serde_json::json!({"sources_cleared": cleared})),
    )
    .await?;
    Ok(view)
}

/// Whom [`unlock`] is for.
pub enum Unlock<'a> {
    Id(Uuid),
    Email(&'a str),
}

async fn find_by_email(conn: &impl ConnectionTrait, email: &str) -> Result<user::Model> {
    let normalized = model::normalize_email(email);
    user::Entity::find()
        .filter(user::COLUMN.email_normalized.eq(&normalized))
        .one(conn)
        .await?
        .ok_or_else(|| IdentityError::UserNotFound(normalized).into())
}

pub(crate) async fn revoke_refresh_tokens(
    conn: &impl ConnectionTrait,
    ctx: &Ctx,
    user_id: Uuid,
) -> Result<u64> {
    let done = refresh_token::Entity::update_many()
        .col_expr(refresh_token::COLUMN.revoked_at, Expr::value(ctx.now))
        .filter(refresh_token::COLUMN.user_id.eq(user_id))
        .filter(refresh_token::COLUMN.revoked_at.is_null())
        .exec(conn)
        .await?;
    Ok(done.rows_affected)
}

impl From<user::Model> for UserView {
    fn from(m: user::Model) -> Self {
        Self {
            id: m.id,
            email: m.email,
            display_name: m.display_name,
            role: Role::parse(&m.role).unwrap_or(Role::Auditor),
            active: m.active,
            manager_id: m.manager_id,
            version: m.version,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}
