//! `Idempotency-Key` on POST: the first answer to a key is kept for 24 h and replayed
//! for a retry with the same request (`Idempotent-Replayed: true`); the same key with
//! another request is 422. Keys belong to the caller, so two callers never see each
//! other's answers; anonymous callers get nothing stored.
//!
//! A success is recorded in the same transaction as the change it made: the handler's
//! [`crate::tx::Writer`] claims the key when it begins, and its commit hands the
//! transaction back here, where the answer is written into it before the one commit.
//! An answer that changed nothing (an error, a dry run) is recorded on its own. A
//! retry that arrives while the first request runs waits for it and replays its
//! answer, or gets 409 if it is still running after `idempotency_wait`. Answers a
//! handler marked with [`carries_secret`] are never stored: a retry learns that the
//! first request succeeded (and where its result is), not the secret.

mod body;
mod in_flight;
mod store;

use std::sync::{Arc, Mutex, PoisonError};

use actix_web::body::{BoxBody, MessageBody, to_bytes_limited};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::web::Data;
use actix_web::{Error, HttpMessage, HttpResponse};
use ordercrm_kernel::error::problems;
use ordercrm_kernel::{Actor, FieldError};
use sea_orm::DatabaseTransaction;

pub use in_flight::InFlight;
pub use store::{Claim, KeyRef, claim, forget_mentions, purge_expired, still_running};
use store::{Found, Stored};

use crate::error::problem_response;
use crate::state::AppState;

pub const HEADER: HeaderName = HeaderName::from_static("idempotency-key");
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// Response headers worth replaying; hop-by-hop and per-request ones are not.
const KEPT_HEADERS: [HeaderName; 4] = [
    header::CONTENT_TYPE,
    header::LOCATION,
    header::ETAG,
    header::CACHE_CONTROL,
];

/// Largest answer kept for replay.
const MAX_STORED_BODY: usize = 16 * 1024 * 1024;

/// Marks a response that carries a secret (a token, a key secret, unmasked personal
/// data): it is sent with `Cache-Control: no-store` and never kept anywhere.
#[derive(Debug, Clone, Copy)]
pub struct CarriesSecret;

pub fn carries_secret(mut res: HttpResponse) -> HttpResponse {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.extensions_mut().insert(CarriesSecret);
    res
}

/// What the middleware and the request's transaction share.
#[derive(Debug)]
pub struct Slot {
    pub key: KeyRef,
    state: Mutex<SlotState>,
}

#[derive(Debug, Default)]
struct SlotState {
    /// A transaction was begun for this request (one is all an idempotent request gets).
    began: bool,
    /// Committed by the handler: waiting for its answer before the real commit.
    parked: Option<DatabaseTransaction>,
    /// Another request with this key finished first; replay its answer.
    superseded: bool,
    /// Another request with this key was still running after the wait: this one's
    /// 409 is no answer to keep.
    gave_up: bool,
}

impl Slot {
    fn with<T>(&self, f: impl FnOnce(&mut SlotState) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// `false` if a transaction was begun already.
    pub(crate) fn begin(&self) -> bool {
        self.with(|s| !std::mem::replace(&mut s.began, true))
    }

    pub(crate) fn park(&self, txn: DatabaseTransaction) {
        self.with(|s| s.parked = Some(txn));
    }

    pub(crate) fn supersede(&self) {
        self.with(|s| s.superseded = true);
    }

    pub(crate) fn give_up(&self) {
        self.with(|s| s.gave_up = true);
    }
}

pub async fn handle(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let state = req.app_data::<Data<AppState>>().cloned();
    let scope = req
        .extensions()
        .get::<Actor>()
        .filter(|a| !matches!(a, Actor::Anonymous))
        .map(Actor::principal);
    let (Some(state), Some(scope), true) = (
        state,
        scope,
        req.method() == Method::POST && req.headers().contains_key(&HEADER),
    ) else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let key = match req.headers().get_all(&HEADER).collect::<Vec<_>>()[..] {
        [one] => valid_key(one),
        _ => None,
    };
    let Some(key) = key else {
        let err = ordercrm_kernel::Error::validation(vec![FieldError::new(
            "Idempotency-Key",
            "invalid_header",
            "must be one header of 1 to 255 visible ASCII characters",
        )]);
        return Ok(respond(req, &err));
    };
    // Only a file upload may be larger than a JSON body; a declared length beyond the
    // limit is refused before a byte is read.
    let max = if body::is_upload(&req) {
        state.limits.max_import_bytes
    } else {
        u64::try_from(state.limits.max_body_bytes).unwrap_or(u64::MAX)
    };
    let fingerprint = match body::fingerprint(&mut req, state.limits.max_body_bytes, max).await {
        Ok(f) => f,
        Err(err) => return Ok(respond(req, &err)),
    };
    let key = KeyRef {
        scope,
        key,
        fingerprint,
    };
    match store::find(state.db.reader(), &key, state.clock.now()).await {
        Err(err) => return Ok(respond(req, &err)),
        Ok(Some(found)) => return Ok(answer_from(req, &key, found)),
        Ok(None) => {}
    }
    // A request of this process holding the key: wait for it, then look again.
    let Some(_entry) = state
        .idempotency
        .enter(&key, state.limits.idempotency_wait)
        .await
    else {
        return Ok(respond(req, &still_running()));
    };
    match store::find(state.db.reader(), &key, state.clock.now()).await {
        Err(err) => return Ok(respond(req, &err)),
        Ok(Some(found)) => return Ok(answer_from(req, &key, found)),
        Ok(None) => {}
    }

    let slot = Arc::new(Slot {
        key,
        state: Mutex::default(),
    });
    req.extensions_mut().insert(slot.clone());
    let res = next.call(req).await;
    let (parked, superseded, gave_up) = slot.with(|s| (s.parked.take(), s.superseded, s.gave_up));
    let res = res?.map_into_boxed_body();
    if gave_up {
        return Ok(res);
    }
    if superseded {
        // The first request committed its answer while this one waited.
        drop(parked);
        let (req, res) = res.into_parts();
        let req = ServiceRequest::from_request(req);
        return match store::find(state.db.reader(), &slot.key, state.clock.now()).await {
            Ok(Some(found)) => Ok(answer_from(req, &slot.key, found)),
            Ok(None) => Ok(req.into_response(res)),
            Err(err) => Ok(respond(req, &err)),
        };
    }
    finish(&state, &slot.key, parked, res).await
}

/// Record the handler's answer: in its parked transaction, then commit; or on its
/// own when it changed nothing.
async fn finish(
    state: &AppState,
    key: &KeyRef,
    parked: Option<DatabaseTransaction>,
    res: ServiceResponse<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let status = res.status();
    // A 5xx is no answer: the change (if any) is rolled back and the client may retry
    // with the same key.
    if status.is_server_error() {
        drop(parked);
        return Ok(res);
    }
    // Neither is a 429 (come back later), nor a 400: it describes the request, not the
    // state, so running the request again gives it again; and it may quote what the
    // client sent, which is not ours to keep. Nor a 404: what the request names does
    // not exist yet, and a retry after it is created must not be told it still does
    // not (its field errors, like a 400's, quote the request too).
    let keep = !matches!(
        status,
        StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND | StatusCode::TOO_MANY_REQUESTS
    );
    if !keep && parked.is_none() {
        return Ok(res);
    }
    let secret = res.response().extensions().contains::<CarriesSecret>();
    let headers: Vec<(String, String)> = KEPT_HEADERS
        .iter()
        .filter_map(|name| {
            let value = res.headers().get(name)?.to_str().ok()?;
            Some((name.as_str().to_owned(), value.to_owned()))
        })
        .collect();
    let (req, res) = res.into_parts();
    let (res, body) = res.into_parts();
    let Ok(Ok(bytes)) = to_bytes_limited(body, MAX_STORED_BODY).await else {
        drop(parked);
        tracing::error!("response too large to keep for Idempotency-Key; not committed");
        return Ok(ServiceResponse::new(
            req,
            HttpResponse::InternalServerError().finish(),
        ));
    };
    let stored = Stored {
        status: status.as_u16(),
        headers,
        body: (!secret).then(|| bytes.to_vec()),
    };
    let now = state.clock.now();
    let ttl =
        chrono::Duration::from_std(state.limits.idempotency_ttl).unwrap_or(chrono::Duration::MAX);
    match parked {
        Some(txn) => {
            let committed = async {
                if keep {
                    store::answer(&txn, key, &stored).await?;
                } else {
                    store::unclaim(&txn, key).await?;
                }
                state.hooks.at("idempotency.before_commit").await;
                txn.commit().await?;
                Ok::<_, ordercrm_kernel::Error>(())
            }
            .await;
            if let Err(err) = committed {
                // Nothing was changed: the client sees a 500 and may retry.
                let req = ServiceRequest::from_request(req);
                return Ok(respond(req, &ordercrm_kernel::Error::internal(err)));
            }
        }
        None if !secret => {
            let wait = state.limits.idempotency_wait;
            if let Err(err) = store::answer_alone(&state.db, key, &stored, now, ttl, wait).await {
                tracing::error!(error = %err, "could not keep the answer for an Idempotency-Key");
            }
        }
        None => {}
    }
    Ok(ServiceResponse::new(req, res.set_body(BoxBody::new(bytes))))
}

/// A stored answer, a reuse with another request, or one still running.
fn answer_from(req: ServiceRequest, key: &KeyRef, found: Found) -> ServiceResponse<BoxBody> {
    let (fingerprint, stored) = match found {
        Found::Unfinished => return respond(req, &still_running()),
        Found::Answer {
            fingerprint,
            stored,
        } => (fingerprint, stored),
    };
    if fingerprint != key.fingerprint {
        let err = ordercrm_kernel::Error::new(
            problems::IDEMPOTENCY_KEY_REUSED,
            "this Idempotency-Key was used with a different request",
        );
        return respond(req, &err);
    }
    let Some(body) = stored.body else {
        let location = stored
            .headers
            .iter()
            .find(|(name, _)| name == header::LOCATION.as_str())
            .map(|(_, v)| v.clone());
        let mut err = ordercrm_kernel::Error::new(
            problems::IDEMPOTENCY_RESPONSE_WITHHELD,
            format!(
                "the request with this Idempotency-Key succeeded ({}), but its answer carried a secret and was not kept{}",
                stored.status,
                location
                    .as_deref()
                    .map(|l| format!("; what it created is at {l}"))
                    .unwrap_or_default()
            ),
        )
        .with_extension("original_status", serde_json::json!(stored.status));
        if let Some(l) = &location {
            err = err.with_extension("location", serde_json::json!(l));
        }
        let mut res = respond(req, &err);
        if let Some(l) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            res.headers_mut().insert(header::LOCATION, l);
        }
        res.headers_mut()
            .insert(REPLAYED, HeaderValue::from_static("true"));
        return res;
    };
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut res = HttpResponse::build(status);
    for (name, value) in &stored.headers {
        res.insert_header((name.as_str(), value.as_str()));
    }
    res.insert_header((REPLAYED, "true"));
    req.into_response(res.body(body))
}

fn respond(req: ServiceRequest, err: &ordercrm_kernel::Error) -> ServiceResponse<BoxBody> {
    let res = problem_response(req.request(), err);
    req.into_response(res)
}

/// What [`valid_key`] accepts, for the document: 1 to 255 visible ASCII characters.
pub const KEY_PATTERN: &str = "^[!-~]{1,255}$";

fn valid_key(value: &HeaderValue) -> Option<String> {
    let s = value.to_str().ok()?;
    ((1..=255).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic())).then(|| s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The document's pattern and the middleware agree on every key.
    #[test]
    fn key_pattern_is_what_the_middleware_accepts() {
        let re = regex::Regex::new(KEY_PATTERN).unwrap_or_else(|e| panic!("{e}"));
        let long = "k".repeat(255);
        let too_long = "k".repeat(256);
        for key in [
            "a",
            "0193a6f2-7c1e-7d2a-9b8e-2f0c7b1d4e5f",
            "~!@#$%^&*()",
            long.as_str(),
            too_long.as_str(),
            "with space",
            "tab\tkey",
            "",
        ] {
            let accepted = HeaderValue::from_str(key)
                .ok()
                .and_then(|v| valid_key(&v))
                .is_some();
            assert_eq!(re.is_match(key), accepted, "{key:?}");
        }
    }
}
