//! Sending again: one delivery (redeliver), an endpoint's since a time (recover),
//! and a test delivery. A delivery being sent right now (its lease live) is left
//! to that attempt.

use std::time::Instant;

use ordercrm_kernel::audit::{self, Entry};
use ordercrm_kernel::authz::Action;
use ordercrm_kernel::crypto::FieldCipher;
use ordercrm_kernel::error::problems;
use ordercrm_kernel::events::public_id;
use ordercrm_kernel::id::new_id;
use ordercrm_kernel::{Ctx, Error, FieldError, Result};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseTransaction, EntityTrait, QuerySelect, Statement,
    Value,
};
use serde_json::json;
use uuid::Uuid;

use super::queries;
use crate::dispatch::numbered;
use crate::dispatch::send::{Outcome, Sender};
use crate::dto::{RecoverWebhookEndpoint, WebhookDeliveryView, WebhookRecovery, WebhookTestResult};
use crate::entity::{self as endpoint};
use crate::model::{DeliveryStatus, PayloadStyle};
use crate::signing::signature_header;

/// Attempts a delivery may have in all, redeliveries included (the table's bound).
pub const MAX_ATTEMPTS_EVER: i32 = 100;

/// The endpoint behind a resend: it must be on (its deliveries are paused while it
/// is off; turning it on resumes them).
async fn enabled_endpoint(txn: &DatabaseTransaction, id: Uuid) -> Result<endpoint::Model> {
    let ep = endpoint::Entity::find_by_id(id)
        .one(txn)
        .await?
        .ok_or_else(|| Error::not_found("webhook endpoint", id))?;
    if !ep.enabled {
        return Err(Error::new(
            problems::CONFLICT,
            "the endpoint is turned off; turn it on first (its paused deliveries resume), then send again",
        ));
    }
    Ok(ep)
}

/// `lease_until` has lapsed (or was never set), by the clock leases follow.
fn lease_free(
    backend: DatabaseBackend,
    now: chrono::DateTime<chrono::Utc>,
) -> (String, Vec<Value>) {
    match backend {
        DatabaseBackend::Postgres => (
            "(lease_until IS NULL OR lease_until <= statement_timestamp())".into(),
            Vec::new(),
        ),
        _ => (
            "(lease_until IS NULL OR lease_until <= ?)".into(),
            vec![now.into()],
        ),
    }
}

/// Send one delivery again now, whatever it came to. Its attempts go on counting
/// (a failure follows the schedule from there); one being sent right now is left
/// to that attempt.
#[tracing::instrument(skip(txn, ctx))]
pub async fn redeliver(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
) -> Result<WebhookDeliveryView> {
    ctx.actor.require(Action::WebhooksWrite)?;
    let row = queries::find_visible(txn, &ctx.actor, id).await?;
    enabled_endpoint(txn, row.endpoint_id).await?;
    if row.attempts >= MAX_ATTEMPTS_EVER {
        return Err(Error::new(
            problems::CONFLICT,
            format!("this delivery has had {MAX_ATTEMPTS_EVER} attempts, the most one may have"),
        ));
    }
    let backend = txn.get_database_backend();
    let (free, free_values) = lease_free(backend, ctx.now);
    let mut values: Vec<Value> = vec![
        DeliveryStatus::Pending.as_str().into(),
        ctx.now.into(),
        ctx.now.into(),
        id.into(),
    ];
    values.extend(free_values);
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        numbered(
            backend,
            &format!(
                "UPDATE webhook_deliveries SET status = ?, next_attempt_at = ?, finished_at = NULL, \
                 updated_at = ? WHERE id = ? AND {free}"
            ),
        ),
        values,
    ))
    .await?;
    audit::record(
        txn,
        ctx,
        Entry::new("webhook_delivery.redeliver", "webhook_delivery", id)
            .changes(json!({"status": DeliveryStatus::Pending, "previous_status": row.status})),
    )
    .await?;
    queries::get(txn, &ctx.actor, id).await
}

/// Send again every delivery of the endpoint made at or after `since` that did not
/// succeed (failed, waiting for a retry, or kept while the endpoint was off): all
/// due now, each with its own `webhook-id`. The endpoint then catches up (see
/// `dispatch::backlog`): everything it owes goes one at a time, oldest first, and
/// new events wait behind it. On an endpoint that is off they wait, paused, and
/// catch up when it is turned on.
#[tracing::instrument(skip(txn, ctx))]
pub async fn recover(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    input: RecoverWebhookEndpoint,
) -> Result<WebhookRecovery> {
    ctx.actor.require(Action::WebhooksWrite)?;
    crate::queries::find_visible(txn, &ctx.actor, id).await?;
    if input.since > ctx.now {
        return Err(Error::validation(vec![FieldError::new(
            "since",
            "in_future",
            "must not be later than now",
        )]));
    }
    if chrono::Datelike::year(&input.since) < 1 {
        return Err(Error::validation(vec![FieldError::new(
            "since",
            "range",
            "must be in the years 1 to 9999",
        )]));
    }
    let backend = txn.get_database_backend();
    // Turning the endpoint on or off (which moves its deliveries) waits for this.
    let mut select = endpoint::Entity::find_by_id(id);
    if backend == DatabaseBackend::Postgres {
        select = select.lock_exclusive();
    }
    let ep = select
        .one(txn)
        .await?
        .ok_or_else(|| Error::not_found("webhook endpoint", id))?;
    let status = if ep.enabled {
        DeliveryStatus::Pending
    } else {
        DeliveryStatus::Paused
    };
    let (free, free_values) = lease_free(backend, ctx.now);
    let mut values: Vec<Value> = vec![
        status.as_str().into(),
        ctx.now.into(),
        ctx.now.into(),
        id.into(),
        input.since.into(),
        DeliveryStatus::Pending.as_str().into(),
        DeliveryStatus::Paused.as_str().into(),
        DeliveryStatus::Failed.as_str().into(),
        MAX_ATTEMPTS_EVER.into(),
    ];
    values.extend(free_values);
    let deliveries = txn
        .execute_raw(Statement::from_sql_and_values(
            backend,
            numbered(
                backend,
                &format!(
                    "UPDATE webhook_deliveries SET status = ?, next_attempt_at = ?, \
                     finished_at = NULL, updated_at = ? \
                     WHERE endpoint_id = ? AND created_at >= ? AND status IN (?, ?, ?) \
                     AND attempts < ? AND {free}"
                ),
            ),
            values,
        ))
        .await?
        .rows_affected();
    if deliveries > 0 {
        crate::dispatch::backlog::begin(txn, id, ctx.now).await?;
    }
    audit::record(
        txn,
        ctx,
        Entry::new("webhook_endpoint.recover", "webhook_endpoint", id)
            .changes(json!({"since": input.since, "deliveries": deliveries})),
    )
    .await?;
    Ok(WebhookRecovery {
        endpoint_id: id,
        since: input.since,
        deliveries,
    })
}

/// Send a `webhook_endpoint.tested` delivery to the endpoint now (on or off), signed
/// as every delivery is, and say what came back. Nothing is stored.
pub async fn test(
    conn: &impl ConnectionTrait,
    ctx: &Ctx,
    cipher: &FieldCipher,
    sender: &Sender,
    id: Uuid,
) -> Result<WebhookTestResult> {
    ctx.actor.require(Action::WebhooksWrite)?;
    let ep = crate::queries::find_visible(conn, &ctx.actor, id).await?;
    let Some(secrets) = crate::dispatch::record::signing_secrets(cipher, &ep, ctx.now) else {
        return Err(Error::new(
            problems::CONFLICT,
            "the endpoint's secret does not open with this server's data key; rotate it",
        ));
    };
    let view = crate::queries::view(ep.clone());
    let event_id = public_id(new_id());
    let data = match PayloadStyle::parse(&ep.payload) {
        Some(PayloadStyle::Thin) => {
            json!({"resource": "webhook_endpoint", "id": view.id, "version": view.version})
        }
        _ => serde_json::to_value(&view).map_err(Error::internal)?,
    };
    let body = serde_json::to_vec(&json!({
        "id": event_id,
        "type": crate::events::TESTED.name,
        "created_at": ctx.now,
        "data": data,
    }))
    .map_err(Error::internal)?;
    let timestamp = ctx.now.timestamp();
    let refs: Vec<&crate::signing::Secret> = secrets.iter().collect();
    let signature =
        signature_header(&refs, &event_id, timestamp, &body).map_err(Error::internal)?;
    let started = Instant::now();
    let outcome = sender
        .send(&ep.url, &event_id, timestamp, &signature, body, ctx.now)
        .await;
    let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    Ok(match outcome {
        Outcome::Delivered { status, excerpt } => WebhookTestResult {
            event_id,
            delivered: true,
            status_code: Some(i32::from(status)),
            duration_ms,
            error_kind: None,
            error: None,
            response_excerpt: excerpt,
        },
        Outcome::Failed {
            kind,
            status,
            error,
            excerpt,
            ..
        } => WebhookTestResult {
            event_id,
            delivered: false,
            status_code: status.map(i32::from),
            duration_ms,
            error_kind: Some(kind.as_str().to_owned()),
            error: Some(error),
            response_excerpt: excerpt,
        },
    })
}
