//! `Idempotency-Key` for POST: the first response to a key is stored for 24 h and
//! replayed for a retry with the same body (`Idempotent-Replayed: true`); the same key
//! with another body is 422; a retry while the first request is still running is 409.
//! Keys are scoped to the caller, so two callers can never see each other's responses.

mod store;

use actix_web::body::{BoxBody, MessageBody, to_bytes_limited};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::web::{Bytes, Data};
use actix_web::{Error, HttpMessage, HttpResponse};
use ordercrm_kernel::error::problems;
use ordercrm_kernel::{Actor, FieldError};
use sha2::{Digest, Sha256};

pub use store::purge_expired;
use store::{Begin, Stored};

use crate::error::problem_response;
use crate::extract::read_body;
use crate::state::AppState;

pub const HEADER: HeaderName = HeaderName::from_static("idempotency-key");
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// Response headers worth replaying; hop-by-hop and per-request ones are not.
const KEPT_HEADERS: [HeaderName; 3] = [header::CONTENT_TYPE, header::LOCATION, header::ETAG];

pub async fn handle(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let state = req.app_data::<Data<AppState>>().cloned();
    let (Some(state), true) = (
        state,
        req.method() == Method::POST && req.headers().contains_key(&HEADER),
    ) else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let key = match req.headers().get(&HEADER).and_then(valid_key) {
        Some(key) => key,
        None => {
            let err = ordercrm_kernel::Error::validation(vec![FieldError::new(
                "Idempotency-Key",
                "invalid_header",
                "must be 1 to 255 visible ASCII characters",
            )]);
            return Ok(respond(req, &err));
        }
    };

    let body = match read_body(&mut req.take_payload(), state.limits.max_body_bytes).await {
        Ok(body) => body,
        Err(err) => return Ok(respond(req, &err)),
    };
    let fingerprint = fingerprint(&req, &body);
    req.set_payload(Payload::from(body));

    let scope = caller_scope(&req);
    let now = state.clock.now();
    let begin = store::begin(&state, &scope, &key, &fingerprint, now).await;
    match begin {
        Err(err) => Ok(respond(req, &err)),
        Ok(Begin::Replay(stored)) => {
            let res = replay(stored);
            Ok(req.into_response(res))
        }
        Ok(Begin::InFlight) => {
            let err = ordercrm_kernel::Error::new(
                problems::IDEMPOTENCY_IN_FLIGHT,
                "a request with this Idempotency-Key is still being processed",
            );
            let mut res = respond(req, &err);
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            Ok(res)
        }
        Ok(Begin::Mismatch) => {
            let err = ordercrm_kernel::Error::new(
                problems::IDEMPOTENCY_KEY_REUSED,
                "this Idempotency-Key was used with a different request",
            );
            Ok(respond(req, &err))
        }
        Ok(Begin::Proceed) => {
            let res = next
                .call(req)
                .await
                .map(ServiceResponse::map_into_boxed_body);
            finish(&state, &scope, &key, res).await
        }
    }
}

/// Store what the handler answered (or give the key back if it failed on our side).
async fn finish(
    state: &AppState,
    scope: &str,
    key: &str,
    res: Result<ServiceResponse<BoxBody>, Error>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let res = match res {
        Ok(res) if !res.status().is_server_error() => res,
        other => {
            // A 5xx is not an answer: let the client retry with the same key.
            if let Err(err) = store::release(state, scope, key).await {
                tracing::error!(error = %err, "could not release idempotency key");
            }
            return other;
        }
    };
    let (req, res) = res.into_parts();
    let status = res.status();
    let headers: Vec<(String, String)> = KEPT_HEADERS
        .iter()
        .filter_map(|name| {
            let value = res.headers().get(name)?.to_str().ok()?;
            Some((name.as_str().to_owned(), value.to_owned()))
        })
        .collect();
    let (res, body) = res.into_parts();
    let bytes = match to_bytes_limited(body, 16 * 1024 * 1024).await {
        Ok(Ok(bytes)) => bytes,
        _ => {
            let _ = store::release(state, scope, key).await;
            return Ok(ServiceResponse::new(
                req,
                HttpResponse::InternalServerError().finish(),
            ));
        }
    };
    let stored = Stored {
        status: status.as_u16(),
        headers,
        body: bytes.to_vec(),
    };
    if let Err(err) = store::complete(state, scope, key, &stored).await {
        tracing::error!(error = %err, "could not store idempotent response");
    }
    Ok(ServiceResponse::new(req, res.set_body(BoxBody::new(bytes))))
}

fn respond(req: ServiceRequest, err: &ordercrm_kernel::Error) -> ServiceResponse<BoxBody> {
    let res = problem_response(req.request(), err);
    req.into_response(res)
}

fn replay(stored: Stored) -> HttpResponse {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut res = HttpResponse::build(status);
    for (name, value) in &stored.headers {
        res.insert_header((name.as_str(), value.as_str()));
    }
    res.insert_header((REPLAYED, "true"));
    res.body(stored.body)
}

fn valid_key(value: &HeaderValue) -> Option<String> {
    let s = value.to_str().ok()?;
    ((1..=255).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic())).then(|| s.to_owned())
}

/// POSTs the idempotency store stays out of: responses carrying secrets (tokens, a
/// new API key) must not sit in it, and a CSV import's body is too large to keep (an
/// import is atomic and upserts by number or external reference instead).
pub fn stores_secrets(path: &str) -> bool {
    path.starts_with("/v1/auth/")
        || path == "/v1/api-keys"
        || path == "/v1/me/password"
        || path.ends_with("/import")
}

/// The caller whose keys these are (set by the authentication middleware).
fn caller_scope(req: &ServiceRequest) -> String {
    req.extensions()
        .get::<Actor>()
        .map_or_else(|| Actor::Anonymous.principal(), Actor::principal)
}

/// What makes two requests "the same": method, path with query, media type, body.
fn fingerprint(req: &ServiceRequest, body: &Bytes) -> String {
    let mut h = Sha256::new();
    h.update(req.method().as_str());
    h.update(b" ");
    h.update(req.uri().path_and_query().map_or("", |p| p.as_str()));
    h.update(b"\n");
    h.update(
        req.headers()
            .get(header::CONTENT_TYPE)
            .map_or(&b""[..], HeaderValue::as_bytes),
    );
    h.update(b"\n");
    h.update(body);
    hex(&h.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
