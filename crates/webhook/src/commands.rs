//! Registering, changing, rotating and removing endpoints. A URL is judged before
//! the transaction begins ([`judge_url`]): a name lookup may take seconds, and no
//! writer should wait for DNS.

use chrono::Duration;
use ordercrm_kernel::audit::{self, Entry};
use ordercrm_kernel::authz::Action;
use ordercrm_kernel::crypto::FieldCipher;
use ordercrm_kernel::error::problems;
use ordercrm_kernel::input::{Attributes, Choice, NonBlank, Text};
use ordercrm_kernel::version::unless_unchanged;
use ordercrm_kernel::{Actor, Ctx, Error, FieldError, Result, id::new_id, patch};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter,
};
use serde_json::json;
use uuid::Uuid;

use crate::destination::{CheckedUrl, Destinations};
use crate::dto::{
    CreateWebhookEndpoint, RotateWebhookSecret, SuppliedSecret, UpdateWebhookEndpoint,
    WebhookEndpointView, WebhookEndpointWithSecret,
};
use crate::entity::{self, COLUMN, Entity};
use crate::model::{self, MAX_EVENT_TYPES, PayloadStyle, Profile, Refused};
use crate::signing::Secret;
use crate::{events, queries};

/// Most endpoints one API key may register: a key is an integration, not a fan-out
/// service, and every endpoint multiplies the deliveries of each event.
pub const MAX_ENDPOINTS_PER_KEY: u64 = 20;

/// How long a rotated-out secret keeps signing beside the new one.
pub const ROTATION_GRACE: Duration = Duration::hours(24);

/// A URL as judged: checked, or the field error that refuses it.
pub type Verdict = std::result::Result<CheckedUrl, FieldError>;

/// Judge `url` for an endpoint `ctx` may write (403 first: nobody else gets a lookup
/// done for them).
pub async fn judge_url(
    ctx: &Ctx,
    destinations: &Destinations,
    url: &NonBlank<2048>,
) -> Result<Verdict> {
    ctx.actor.require(Action::WebhooksWrite)?;
    let mut errors = Vec::new();
    let text = url.check(&mut errors, "url");
    if let Some(e) = errors.pop() {
        return Ok(Err(e));
    }
    Ok(destinations
        .check(&text)
        .await
        .map_err(|r| FieldError::new("url", r.code(), format!("{r}"))))
}

/// A profile's patterns, those the caller may subscribe to.
fn profile_types(actor: &Actor, profile: Profile, errors: &mut Vec<FieldError>) -> Vec<String> {
    let types: Vec<String> = profile
        .patterns()
        .iter()
        .filter(|p| model::permitted(actor, p))
        .map(|p| (*p).to_owned())
        .collect();
    if types.is_empty() {
        errors.push(FieldError::new(
            "profile",
            "event_type_not_permitted",
            "this key may read none of the profile's event types",
        ));
    }
    types
}

fn check_event_types(
    actor: &Actor,
    entries: &[NonBlank<100>],
    known: &[&str],
    errors: &mut Vec<FieldError>,
) -> Vec<String> {
    if entries.is_empty() {
        errors.push(FieldError::new(
            "event_types",
            "required",
            "name at least one event type or pattern",
        ));
    }
    if entries.len() > MAX_EVENT_TYPES {
        errors.push(FieldError::new(
            "event_types",
            "too_many",
            format!("at most {MAX_EVENT_TYPES} entries"),
        ));
        return Vec::new();
    }
    let mut out: Vec<String> = entries
        .iter()
        .enumerate()
        .filter_map(|(i, entry)| {
            let field = format!("event_types[{i}]");
            let text = entry.check(errors, &field);
            match model::check_entry(&text, known) {
                Ok(e) if !model::permitted(actor, &e) => {
                    errors.push(FieldError::new(
                        field,
                        "event_type_not_permitted",
                        format!("this key's scopes do not let it read {e} events"),
                    ));
                    None
                }
                Ok(e) => Some(e),
                Err(why) => {
                    let (code, message) = match why {
                        Refused::UnknownType => (
                            "no_such_event_type",
                            format!("{text} is not an event type; see the document's webhooks map"),
                        ),
                        Refused::UnknownResource => (
                            "no_such_event_type",
                            format!("no event types start with {}", text.trim_end_matches('*')),
                        ),
                        Refused::Malformed => (
                            "invalid_event_type",
                            "an event type (order.approved), a resource's pattern (order.*) or *"
                                .to_owned(),
                        ),
                    };
                    if !text.is_empty() {
                        errors.push(FieldError::new(field, code, message));
                    }
                    None
                }
            }
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

fn check_metadata(value: Option<&Attributes>, errors: &mut Vec<FieldError>) {
    let mut found = Vec::new();
    Attributes::check(value, &mut found);
    errors.extend(found.into_iter().map(|mut e| {
        e.field = "metadata".into();
        e
    }));
}

fn secret(supplied: Option<SuppliedSecret>, errors: &mut Vec<FieldError>) -> Option<Secret> {
    match supplied {
        Some(text) => Secret::parse(&text.0)
            .map_err(|e| {
                errors.push(FieldError::new("secret", "invalid_secret", e.to_string()));
            })
            .ok(),
        None => match Secret::generate() {
            Ok(s) => Some(s),
            Err(e) => {
                errors.push(FieldError::new("secret", "unavailable", e.to_string()));
                None
            }
        },
    }
}

fn audit_view(view: &WebhookEndpointView) -> serde_json::Value {
    json!({
        "url": view.url, "description": view.description, "event_types": view.event_types,
        "profile": view.profile, "enabled": view.enabled, "metadata": view.metadata,
        "ordered": view.ordered, "payload": view.payload,
    })
}

/// Register an endpoint. `known` is every event type the server writes.
#[tracing::instrument(skip_all)]
pub async fn create(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    cipher: &FieldCipher,
    known: &[&str],
    url: Verdict,
    input: CreateWebhookEndpoint,
) -> Result<WebhookEndpointWithSecret> {
    ctx.actor.require(Action::WebhooksWrite)?;
    let mut errors = Vec::new();
    let url = url.map_err(|e| errors.push(e)).ok();
    let description = Text::check(input.description, &mut errors, "description");
    let profile = Choice::check_opt(input.profile.as_ref(), &mut errors, "profile");
    let payload = Choice::check_opt(input.payload.as_ref(), &mut errors, "payload");
    let event_types = match (&input.event_types, profile) {
        (Some(entries), _) => check_event_types(&ctx.actor, entries, known, &mut errors),
        (None, Some(p)) => profile_types(&ctx.actor, p, &mut errors),
        (None, None) => {
            errors.push(FieldError::new(
                "event_types",
                "required",
                format!(
                    "name the event types, or a profile ({}) that chooses them",
                    Profile::listed()
                ),
            ));
            Vec::new()
        }
    };
    check_metadata(input.metadata.as_ref(), &mut errors);
    let secret = secret(input.secret, &mut errors);
    let (Some(url), Some(secret), true) = (url, secret, errors.is_empty()) else {
        return Err(Error::validation(errors));
    };
    if let Actor::ApiKey(key) = &ctx.actor {
        // Concurrent registrations by one key take turns, so the cap holds.
        ordercrm_kernel::db::lock_for_check(txn, &format!("webhook_endpoints:key:{}", key.id))
            .await?;
        let held = Entity::find()
            .filter(COLUMN.owner_key_id.eq(key.id))
            .count(txn)
            .await?;
        if held >= MAX_ENDPOINTS_PER_KEY {
            return Err(Error::new(
                problems::CONFLICT,
                format!(
                    "this key has {held} webhook endpoints, the most one key may have; remove one first"
                ),
            ));
        }
    }
    let row = entity::ActiveModel {
        id: Set(new_id()),
        url: Set(url.as_str().to_owned()),
        description: Set(description),
        event_types: Set(json!(event_types)),
        profile: Set(profile.map(|p: Profile| p.as_str().to_owned())),
        enabled: Set(input.enabled.unwrap_or(true)),
        disabled_reason: Set(None),
        metadata: Set(Attributes::or_empty(input.metadata)),
        secret: Set(cipher.encrypt(&secret.expose())?),
        previous_secret: Set(None),
        previous_secret_expires_at: Set(None),
        owner_key_id: Set(match &ctx.actor {
            Actor::ApiKey(k) => Some(k.id),
            _ => None,
        }),
        created_by: Set(ctx.actor.user_id()),
        ordered: Set(input.ordered.unwrap_or(false)),
        payload: Set(payload.unwrap_or(PayloadStyle::Full).as_str().to_owned()),
        failing_since: Set(None),
        failing_announced_at: Set(None),
        catching_up_until: Set(None),
        version: Set(1),
        created_at: Set(ctx.now),
        updated_at: Set(ctx.now),
    }
    .insert(txn)
    .await?;
    let view = queries::view(row);
    events::record(txn, ctx, &events::CREATED, &view, view.version).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("webhook_endpoint.create", "webhook_endpoint", view.id)
            .changes(audit_view(&view)),
    )
    .await?;
    Ok(WebhookEndpointWithSecret {
        endpoint: view,
        secret: secret.expose(),
    })
}

/// Take the endpoint for a change: visible to the caller, at `if_match` when given.
async fn claim(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    if_match: Option<i64>,
) -> Result<entity::Model> {
    queries::find_visible(txn, &ctx.actor, id).await?;
    ordercrm_kernel::version::claim(
        txn,
        Entity::update_many()
            .col_expr(COLUMN.updated_at, Expr::value(ctx.now))
            .filter(COLUMN.id.eq(id)),
        Entity::find_by_id(id),
        entity::Column::Version,
        if_match,
        |_| Error::not_found("webhook endpoint", id),
    )
    .await
}

#[tracing::instrument(skip(txn, ctx, known, url, patch))]
pub async fn update(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    known: &[&str],
    id: Uuid,
    if_match: Option<i64>,
    url: Option<Verdict>,
    patch: UpdateWebhookEndpoint,
) -> Result<WebhookEndpointView> {
    ctx.actor.require(Action::WebhooksWrite)?;
    let changed = unless_unchanged(txn, async |txn| {
        let current = claim(txn, ctx, id, if_match).await?;
        let mut errors = Vec::new();
        let url = url.and_then(|v| v.map_err(|e| errors.push(e)).ok());
        let description = patch
            .description
            .map(|d| Text::check(d, &mut errors, "description"));
        let profile = patch
            .profile
            .as_ref()
            .map(|p| Choice::check_opt(p.as_ref(), &mut errors, "profile"));
        let payload = Choice::check_opt(patch.payload.as_ref(), &mut errors, "payload");
        let event_types = match (&patch.event_types, profile) {
            (Some(entries), _) => Some(check_event_types(&ctx.actor, entries, known, &mut errors)),
            (None, Some(Some(p))) => Some(profile_types(&ctx.actor, p, &mut errors)),
            _ => None,
        };
        check_metadata(patch.metadata.as_ref(), &mut errors);
        if !errors.is_empty() {
            return Err(Error::validation(errors));
        }
        let before = queries::view(entity::Model {
            version: current.version - 1,
            ..current.clone()
        });
        let mut row = current.into_active_model();
        row.url = patch::set(url.map(|u| u.as_str().to_owned()));
        row.description = patch::set(description);
        row.profile = patch::set(profile.map(|p| p.map(|p| p.as_str().to_owned())));
        row.event_types = patch::set(event_types.map(|t| json!(t)));
        row.metadata = patch::set(patch.metadata.map(|m| m.0));
        row.ordered = patch::set(patch.ordered);
        row.payload = patch::set(payload.map(|p: PayloadStyle| p.as_str().to_owned()));
        if let Some(enabled) = patch.enabled {
            row.enabled = Set(enabled);
            if enabled && !before.enabled {
                // A fresh start: the failure clock begins again.
                row.disabled_reason = Set(None);
                row.failing_since = Set(None);
                row.failing_announced_at = Set(None);
            }
        }
        let mut after = queries::view(row.update(txn).await?);
        if after.enabled != before.enabled {
            crate::dispatch::park(txn, id, after.enabled, ctx.now).await?;
            // Turning it on may start it catching up.
            after = queries::view(
                Entity::find_by_id(id)
                    .one(txn)
                    .await?
                    .ok_or_else(|| Error::not_found("webhook endpoint", id))?,
            );
        }
        Ok((before, after))
    })
    .await?;
    let Some((before, view)) = changed else {
        return queries::get(txn, &ctx.actor, id).await;
    };
    events::record(txn, ctx, &events::UPDATED, &view, view.version).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("webhook_endpoint.update", "webhook_endpoint", id)
            .changes(audit::diff(&audit_view(&before), &audit_view(&view))),
    )
    .await?;
    Ok(view)
}

/// A new signing secret; the current one signs beside it for [`ROTATION_GRACE`]
/// (a secret rotated out earlier, still in its grace, stops at once: two at most).
#[tracing::instrument(skip(txn, ctx, cipher, input))]
pub async fn rotate_secret(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    cipher: &FieldCipher,
    id: Uuid,
    if_match: Option<i64>,
    input: RotateWebhookSecret,
) -> Result<WebhookEndpointWithSecret> {
    ctx.actor.require(Action::WebhooksWrite)?;
    let mut errors = Vec::new();
    let secret = secret(input.secret, &mut errors);
    let (Some(secret), true) = (secret, errors.is_empty()) else {
        return Err(Error::validation(errors));
    };
    let current = claim(txn, ctx, id, if_match).await?;
    let expires = ctx.now + ROTATION_GRACE;
    let mut row = current.clone().into_active_model();
    row.previous_secret = Set(Some(current.secret));
    row.previous_secret_expires_at = Set(Some(expires));
    row.secret = Set(cipher.encrypt(&secret.expose())?);
    let view = queries::view(row.update(txn).await?);
    events::record(txn, ctx, &events::SECRET_ROTATED, &view, view.version).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("webhook_endpoint.rotate_secret", "webhook_endpoint", id)
            .changes(json!({"previous_secret_expires_at": expires})),
    )
    .await?;
    Ok(WebhookEndpointWithSecret {
        endpoint: view,
        secret: secret.expose(),
    })
}

/// Remove an endpoint; deliveries not yet sent to it are dropped with it.
#[tracing::instrument(skip(txn, ctx))]
pub async fn delete(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    if_match: Option<i64>,
) -> Result<()> {
    ctx.actor.require(Action::WebhooksWrite)?;
    let current = claim(txn, ctx, id, if_match).await?;
    Entity::delete_by_id(id).exec(txn).await?;
    let view = queries::view(current);
    events::record(txn, ctx, &events::DELETED, &view, view.version).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("webhook_endpoint.delete", "webhook_endpoint", id).changes(audit_view(&view)),
    )
    .await?;
    Ok(())
}

/// Why the server turned an endpoint off.
pub const GONE: &str = "the receiver answered 410 Gone";
pub const FAILED_FOR_DAYS: &str = "every attempt failed for 5 days";

/// What the dispatcher does when a receiver answers 410 Gone, and the health sweep
/// after 5 days of failures: the endpoint is turned off (once: a second call finds
/// it off and changes nothing), its deliveries paused, announced and audited.
/// `failing_before`: only if it has been failing since before then.
pub(crate) async fn disable(
    txn: &DatabaseTransaction,
    id: Uuid,
    reason: &str,
    failing_before: Option<chrono::DateTime<chrono::Utc>>,
    now: chrono::DateTime<chrono::Utc>,
) -> std::result::Result<bool, sea_orm::DbErr> {
    let mut update = Entity::update_many()
        .col_expr(COLUMN.enabled, Expr::value(false))
        .col_expr(COLUMN.disabled_reason, Expr::value(reason))
        .col_expr(COLUMN.version, Expr::col(COLUMN.version).add(1))
        .col_expr(COLUMN.updated_at, Expr::value(now))
        .filter(COLUMN.id.eq(id))
        .filter(COLUMN.enabled.eq(true));
    if let Some(before) = failing_before {
        update = update.filter(COLUMN.failing_since.lte(before));
    }
    if update.exec(txn).await?.rows_affected == 0 {
        return Ok(false);
    }
    crate::dispatch::park(txn, id, false, now).await?;
    let Some(row) = Entity::find_by_id(id).one(txn).await? else {
        return Ok(false);
    };
    let view = queries::view(row);
    let ctx = Ctx::system(now);
    events::record(txn, &ctx, &events::DISABLED, &view, view.version).await?;
    audit::record(
        txn,
        &ctx,
        Entry::new("webhook_endpoint.disable", "webhook_endpoint", view.id)
            .changes(json!({"enabled": false, "disabled_reason": view.disabled_reason})),
    )
    .await?;
    Ok(true)
}

/// Announce, once per run of failures, an endpoint failing since before `before`.
pub(crate) async fn announce_failing(
    txn: &DatabaseTransaction,
    id: Uuid,
    before: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
) -> std::result::Result<bool, sea_orm::DbErr> {
    let changed = Entity::update_many()
        .col_expr(COLUMN.failing_announced_at, Expr::value(now))
        .col_expr(COLUMN.version, Expr::col(COLUMN.version).add(1))
        .col_expr(COLUMN.updated_at, Expr::value(now))
        .filter(COLUMN.id.eq(id))
        .filter(COLUMN.enabled.eq(true))
        .filter(COLUMN.failing_since.lte(before))
        .filter(COLUMN.failing_announced_at.is_null())
        .exec(txn)
        .await?
        .rows_affected;
    if changed == 0 {
        return Ok(false);
    }
    let Some(row) = Entity::find_by_id(id).one(txn).await? else {
        return Ok(false);
    };
    let view = queries::view(row);
    let ctx = Ctx::system(now);
    events::record(txn, &ctx, &events::FAILING, &view, view.version).await?;
    audit::record(
        txn,
        &ctx,
        Entry::new("webhook_endpoint.failing", "webhook_endpoint", view.id)
            .changes(json!({"failing_since": view.failing_since})),
    )
    .await?;
    Ok(true)
}

/// An attempt's outcome on the endpoint's failure clock: a failure starts it (if
/// it is not running), a success stops it. Writes only when it changes.
pub(crate) async fn clock_health(
    txn: &DatabaseTransaction,
    id: Uuid,
    succeeded: bool,
    at: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
) -> std::result::Result<(), sea_orm::DbErr> {
    // No new version: the clock is the server's bookkeeping, and a client's
    // `If-Match` must not fail because a delivery did.
    let update = Entity::update_many().filter(COLUMN.id.eq(id));
    let update = if succeeded {
        update
            .col_expr(
                COLUMN.failing_since,
                Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
            )
            .col_expr(
                COLUMN.failing_announced_at,
                Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
            )
            .filter(COLUMN.failing_since.is_not_null())
    } else {
        // A success that started no earlier but was recorded first (requests run
        // side by side) already said the receiver is fine: this failure starts no
        // run, or a quiet endpoint would be announced and turned off for it. One
        // stamped later than now (a server whose clock runs ahead) proves nothing.
        let backend = txn.get_database_backend();
        update
            .col_expr(COLUMN.failing_since, Expr::value(Some(at)))
            .filter(COLUMN.failing_since.is_null())
            .filter(Expr::cust_with_values(
                crate::dispatch::numbered(
                    backend,
                    "NOT EXISTS (SELECT 1 FROM webhook_attempts a \
                     JOIN webhook_deliveries d ON d.id = a.delivery_id \
                     WHERE d.endpoint_id = ? AND a.started_at >= ? AND a.started_at <= ? \
                     AND a.error_kind IS NULL)",
                ),
                [
                    sea_orm::Value::from(id),
                    sea_orm::Value::from(at),
                    sea_orm::Value::from(now),
                ],
            ))
    };
    update.exec(txn).await.map(drop)
}
