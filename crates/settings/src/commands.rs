//! Use cases that change settings. Each takes the caller's transaction, so it
//! composes with other commands, and records its event in that transaction.

use ordercrm_kernel::audit::{self, Entry};
use ordercrm_kernel::authz::Action;
use ordercrm_kernel::input::Text;
use ordercrm_kernel::version::claim;
use ordercrm_kernel::version::unless_unchanged;
use ordercrm_kernel::{Ctx, Result, patch};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter};
use serde_json::Value;

use crate::dto::{CreateSetting, SettingView, UpdateSetting};
use crate::entity::{self, COLUMN, Column, Entity};
use crate::error::SettingsError;
use crate::{events, model, queries};

#[tracing::instrument(skip(txn, ctx, input), fields(key = %input.key.0))]
pub async fn create(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    input: CreateSetting,
) -> Result<SettingView> {
    ctx.actor.require(Action::SettingsWrite)?;
    let mut errors = Vec::new();
    let description = Text::check(input.description, &mut errors, "description");
    errors.extend(model::check_key(&input.key).err());
    let value = model::canonical(&input.key, input.value);
    errors.extend(model::check_value(&input.key, &value).err());
    if !errors.is_empty() {
        return Err(ordercrm_kernel::Error::validation(errors));
    }
    let key = input.key.0;
    if Entity::find_by_id(key.clone()).one(txn).await?.is_some() {
        return Err(SettingsError::AlreadyExists(key).into());
    }
    let row = entity::ActiveModel {
        key: Set(key),
        value: Set(value),
        description: Set(description),
        version: Set(1),
        created_at: Set(ctx.now),
        updated_at: Set(ctx.now),
    }
    .insert(txn)
    .await?;
    let view = SettingView::from(row);
    events::record(txn, ctx, &events::CREATED, &view).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("setting.create", "setting", &view.key)
            .changes(audit::diff(&Value::Null, &json(&view))),
    )
    .await?;
    Ok(view)
}

/// Apply `patch`; with `if_match`, only if the setting is still at that version.
#[tracing::instrument(skip(txn, ctx, patch))]
pub async fn update(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    key: &str,
    if_match: Option<i64>,
    patch: UpdateSetting,
) -> Result<SettingView> {
    ctx.actor.require(Action::SettingsWrite)?;
    let mut errors = Vec::new();
    let description = patch
        .description
        .map(|d| Text::check(d, &mut errors, "description"));
    // `"value": null` reaches the check as null, which it refuses.
    let value = patch
        .value
        .map(|v| model::canonical(key, v.unwrap_or_default()));
    if let Some(value) = &value {
        errors.extend(model::check_value(key, value).err());
    }
    if !errors.is_empty() {
        return Err(ordercrm_kernel::Error::validation(errors));
    }
    let current = queries::find_model(txn, key).await?;
    ordercrm_kernel::version::check_if_match(if_match, current.version)?;
    let changed = unless_unchanged(txn, async |txn| {
        // Of two concurrent editors holding the same ETag, exactly one gets through;
        // the row is this transaction's from here, so `before` is what it changes.
        let claimed = claim_setting(txn, ctx, key, if_match).await?;
        let before = SettingView::from(claimed.clone());
        let mut row = claimed.into_active_model();
        row.value = patch::set(value);
        row.description = patch::set(description);
        row.updated_at = Set(ctx.now);
        Ok((before, SettingView::from(row.update(txn).await?)))
    })
    .await?;
    let Some((before, view)) = changed else {
        return queries::find_model(txn, key).await.map(Into::into);
    };
    events::record(txn, ctx, &events::UPDATED, &view).await?;
    let before = json(&before);
    audit::record(
        txn,
        ctx,
        Entry::new("setting.update", "setting", key).changes(audit::diff(&before, &json(&view))),
    )
    .await?;
    Ok(view)
}

#[tracing::instrument(skip(txn, ctx))]
pub async fn delete(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    key: &str,
    if_match: Option<i64>,
) -> Result<()> {
    ctx.actor.require(Action::SettingsWrite)?;
    let claimed = claim_setting(txn, ctx, key, if_match).await?;
    Entity::delete_many()
        .filter(COLUMN.key.eq(key))
        .exec(txn)
        .await?;
    let view = SettingView::from(claimed);
    let before = json(&SettingView {
        version: view.version - 1,
        ..view.clone()
    });
    events::record(txn, ctx, &events::DELETED, &view).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("setting.delete", "setting", key).changes(audit::diff(&before, &Value::Null)),
    )
    .await?;
    Ok(())
}

fn json(view: &SettingView) -> Value {
    serde_json::to_value(view).unwrap_or_default()
}

/// Take the setting `key` for this change (at `if_match` when given): its version
/// bumps and the row is this transaction's until it ends.
async fn claim_setting(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    key: &str,
    if_match: Option<i64>,
) -> Result<crate::entity::Model> {
    claim(
        txn,
        Entity::update_many()
            .col_expr(COLUMN.updated_at, Expr::value(ctx.now))
            .filter(COLUMN.key.eq(key)),
        Entity::find().filter(COLUMN.key.eq(key)),
        Column::Version,
        if_match,
        |_| SettingsError::NotFound(key.to_owned()).into(),
    )
    .await
}
