//! One delivery, start to end: what is sent (the envelope, signed with every secret
//! still valid), and what is written after: the attempt, and the delivery's next
//! state, in one transaction.

use std::time::{Duration, Instant};

use chrono::{DateTime, SubsecRound, Utc};
use ordercrm_kernel::events::{entity as event, public_id};
use ordercrm_kernel::id::new_id;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect, TransactionTrait,
};

use super::lease::{self, Claimed};
use super::send::{ErrorKind, Outcome};
use super::{Inner, Status};
use crate::entity::{self as endpoint, attempt, delivery};
use crate::envelope::envelope;
use crate::model::PayloadStyle;
use crate::schedule::next_delay;
use crate::signing::{Secret, signature_header};

/// Send `c` and record what came of it.
pub(crate) async fn deliver(inner: &Inner, c: &Claimed) -> Result<(), DbErr> {
    // Reads go to the readers: on SQLite the one writer is the API's.
    let db = inner.db.reader();
    // Gone with its endpoint (the delivery went with it) or no longer ours to send.
    let Some(ep) = endpoint::Entity::find_by_id(c.endpoint_id).one(db).await? else {
        return Ok(());
    };
    if !ep.enabled {
        lease::release(inner.db.writer(), &inner.me, &[c.id]).await?;
        return Ok(());
    }
    let Some(ev) = event::Entity::find()
        .filter(event::Column::Id.eq(c.event_id))
        .one(db)
        .await?
    else {
        return Ok(());
    };
    let now = inner.clock.now();
    if let Some(key) = ep.owner_key_id {
        let active = ordercrm_identity::authenticate::key_by_id(db, key, now)
            .await
            .map_err(|e| DbErr::Custom(e.to_string()))?;
        if active.is_none() {
            let outcome = Outcome::failed(
                ErrorKind::NotPermitted,
                "the API key that registered this endpoint is revoked or expired",
            );
            return finish(inner, c, None, &outcome, now).await;
        }
    }
    let Some(secrets) = signing_secrets(&inner.cipher, &ep, now) else {
        // This server cannot sign for it (another data key): it says so on the
        // delivery, uses up no attempt, and leaves the endpoint to the servers that
        // can for a while.
        inner.rest(c.endpoint_id, UNSIGNABLE_REST);
        return unsendable(
            inner,
            c,
            ErrorKind::SecretUnavailable,
            "the endpoint's secret does not open with this server's data key (ORDERCRM_DATA_KEY)",
            now,
        )
        .await;
    };
    let id = public_id(ev.id);
    let style = PayloadStyle::parse(&ep.payload).unwrap_or(PayloadStyle::Full);
    let body = serde_json::to_vec(&envelope(&ev, style))
        .map_err(|e| DbErr::Custom(format!("event {id} does not serialize: {e}")))?;
    let timestamp = now.timestamp();
    let refs: Vec<&Secret> = secrets.iter().collect();
    let signature = signature_header(&refs, &id, timestamp, &body)
        .map_err(|e| DbErr::Custom(format!("cannot sign {id}: {e}")))?;
    let started = Instant::now();
    let outcome = inner
        .sender
        .send(&ep.url, &id, timestamp, &signature, body, now)
        .await;
    let took = started.elapsed();
    let ended = inner.clock.now();
    finish(inner, c, Some((now, took)), &outcome, ended).await
}

/// The endpoint's secrets that sign now: the current one, and the previous one
/// during its grace. `None` when the current one does not open (another data key);
/// a previous one that does not open is left out.
pub(crate) fn signing_secrets(
    cipher: &ordercrm_kernel::crypto::FieldCipher,
    ep: &endpoint::Model,
    now: DateTime<Utc>,
) -> Option<Vec<Secret>> {
    let open = |sealed: &str| {
        cipher
            .decrypt(sealed)
            .ok()
            .and_then(|text| Secret::parse(&text).ok())
    };
    let Some(current) = open(&ep.secret) else {
        tracing::error!(endpoint = %ep.id, "a webhook secret does not open with this data key");
        return None;
    };
    let mut secrets = vec![current];
    if let (Some(previous), Some(until)) = (&ep.previous_secret, ep.previous_secret_expires_at)
        && until > now
    {
        match open(previous) {
            Some(secret) => secrets.push(secret),
            None => tracing::warn!(endpoint = %ep.id,
                "a rotated-out webhook secret does not open with this data key; signing with the current one only"),
        }
    }
    Some(secrets)
}

/// How long a server that cannot open an endpoint's secret leaves it alone.
const UNSIGNABLE_REST: Duration = Duration::from_secs(60);

/// Give `c` back unsent, saying why on the delivery; no attempt is used up.
async fn unsendable(
    inner: &Inner,
    c: &Claimed,
    kind: ErrorKind,
    why: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    delivery::Entity::update_many()
        .col_expr(
            delivery::COLUMN.lease_until,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            delivery::COLUMN.leased_by,
            Expr::value(Option::<String>::None),
        )
        .col_expr(delivery::COLUMN.error_kind, Expr::value(kind.as_str()))
        .col_expr(delivery::COLUMN.last_error, Expr::value(why))
        .col_expr(delivery::COLUMN.updated_at, Expr::value(now))
        .filter(delivery::COLUMN.id.eq(c.id))
        .filter(delivery::COLUMN.leased_by.eq(inner.me.as_str()))
        .filter(delivery::COLUMN.lease_until.eq(c.lease_until))
        .exec(inner.db.writer())
        .await
        .map(drop)
}

/// A random number in [-1, 1] for the schedule's jitter.
fn jitter() -> f64 {
    let mut bytes = [0u8; 4];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.0;
    }
    f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX) * 2.0 - 1.0
}

/// Write the attempt (when one was sent: `sent` is its start and length) and the
/// delivery's next state. A delivery whose lease this server lost (it lapsed and
/// another took it) keeps the other's state; the attempt is still written.
async fn finish(
    inner: &Inner,
    c: &Claimed,
    sent: Option<(DateTime<Utc>, Duration)>,
    outcome: &Outcome,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let number = c.attempts.saturating_add(1);
    let (status_code, kind, error, excerpt) = match outcome {
        Outcome::Delivered { status, excerpt } => (Some(*status), None, None, excerpt.clone()),
        Outcome::Failed {
            kind,
            status,
            error,
            excerpt,
            ..
        } => (*status, Some(*kind), Some(error.clone()), excerpt.clone()),
    };
    let (status, next_attempt_at) = match outcome {
        Outcome::Delivered { .. } => (Status::Succeeded, None),
        Outcome::Failed {
            kind: ErrorKind::NotPermitted,
            ..
        } => (Status::Failed, None),
        failed if failed.is_gone() => (Status::Failed, None),
        Outcome::Failed { retry_after, .. } => {
            match next_delay(
                u32::try_from(number).unwrap_or(u32::MAX),
                jitter(),
                *retry_after,
            )
            .and_then(|d| chrono::Duration::from_std(d).ok())
            {
                // Microseconds, as both databases keep them: the time read back is the
                // time compared.
                Some(wait) => (Status::Pending, Some((now + wait).trunc_subsecs(6))),
                None => (Status::Failed, None),
            }
        }
    };
    let txn = inner.db.writer().begin().await?;
    // Catching up, the next in line goes once this one has had its attempt.
    let in_line = super::backlog::is_catching_up(&txn, c.endpoint_id).await?;
    if (outcome.is_gone() || in_line)
        && txn.get_database_backend() == sea_orm::DatabaseBackend::Postgres
    {
        // It will be turned off or its line moved below: its row first, as every
        // change that touches an endpoint and its deliveries takes them (no
        // deadlock with a PATCH turning it on or off meanwhile).
        endpoint::Entity::find_by_id(c.endpoint_id)
            .lock_exclusive()
            .one(&txn)
            .await?;
    }
    if let Some((started_at, _)) = sent {
        // The endpoint first, then the delivery: the order turning it off takes.
        crate::commands::clock_health(
            &txn,
            c.endpoint_id,
            matches!(outcome, Outcome::Delivered { .. }),
            started_at,
            now,
        )
        .await?;
    }
    if let Some((started_at, took)) = sent {
        attempt::Entity::insert(attempt::ActiveModel {
            id: Set(new_id()),
            delivery_id: Set(c.id),
            attempt: Set(number),
            instance: Set(inner.me.clone()),
            started_at: Set(started_at),
            duration_ms: Set(i64::try_from(took.as_millis()).unwrap_or(i64::MAX)),
            status_code: Set(status_code.map(i32::from)),
            error_kind: Set(kind.map(|k| k.as_str().to_owned())),
            error: Set(error.clone()),
            response_excerpt: Set(excerpt),
        })
        .exec_without_returning(&txn)
        .await?;
    }
    let attempts = if sent.is_some() { number } else { c.attempts };
    let mut update = delivery::Entity::update_many()
        .col_expr(delivery::COLUMN.status, Expr::value(status.as_str()))
        .col_expr(delivery::COLUMN.attempts, Expr::value(attempts))
        .col_expr(
            delivery::COLUMN.lease_until,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            delivery::COLUMN.leased_by,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            delivery::COLUMN.last_status_code,
            Expr::value(status_code.map(i32::from)),
        )
        .col_expr(
            delivery::COLUMN.error_kind,
            Expr::value(kind.map(|k| k.as_str().to_owned())),
        )
        .col_expr(delivery::COLUMN.last_error, Expr::value(error))
        .col_expr(delivery::COLUMN.updated_at, Expr::value(now));
    update = match next_attempt_at {
        Some(at) => update.col_expr(delivery::COLUMN.next_attempt_at, Expr::value(at)),
        None => update.col_expr(delivery::COLUMN.finished_at, Expr::value(Some(now))),
    };
    let ours = update
        .filter(delivery::COLUMN.id.eq(c.id))
        .filter(delivery::COLUMN.leased_by.eq(inner.me.as_str()))
        .filter(delivery::COLUMN.lease_until.eq(c.lease_until))
        .exec(&txn)
        .await?
        .rows_affected
        == 1;
    if ours && outcome.is_gone() {
        crate::commands::disable(&txn, c.endpoint_id, crate::commands::GONE, None, now).await?;
    }
    if ours && in_line && sent.is_some() {
        super::backlog::advance(&txn, c.endpoint_id, now).await?;
    }
    txn.commit().await?;
    if ours && sent.is_some() {
        let stats = &inner.stats;
        super::stats::Stats::add(match status {
            Status::Succeeded => &stats.succeeded,
            Status::Failed => &stats.failed,
            _ => &stats.retrying,
        });
    }
    Ok(())
}
