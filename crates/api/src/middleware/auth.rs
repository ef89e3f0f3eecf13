//! Authentication and the rate limit, once per request: per principal for callers
//! who authenticated, per client source for those who did not (health checks are
//! never limited: a load balancer must always be able to ask). A request without
//! `Authorization` is anonymous (endpoints that need a caller answer 401); one with
//! a bad credential is refused here, unless the operation is one the document marks
//! as taking no credential, which ignores it.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web::Data;
use actix_web::{Error, HttpMessage};
use ordercrm_kernel::Actor;
use ordercrm_kernel::error::problems;

use crate::client_addr::ClientAddr;
use crate::error::problem_response;
use crate::openapi::Document;
use crate::rate_limit::Verdict;
use crate::state::AppState;

pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let Some(state) = req.app_data::<Data<AppState>>().cloned() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    // An operation for anonymous callers (health checks, the document, signing in and
    // refreshing) ignores any credential sent: a client that attaches its expired
    // token to every request must still be able to refresh it.
    let public = req
        .app_data::<Data<Document>>()
        .is_some_and(|doc| doc.is_public(req.method().as_str(), req.path()));
    let credential = match req.headers().get(header::AUTHORIZATION) {
        _ if public => None,
        None => None,
        Some(value) => match value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")) {
            Some(token) if !token.trim().is_empty() => Some(token.trim().to_owned()),
            _ => {
                let err = ordercrm_kernel::Error::new(
                    problems::UNAUTHENTICATED,
                    "Authorization must be `Bearer <access token or API key>`",
                );
                return Ok(refuse_unauthenticated(req, &state, &err));
            }
        },
    };
    let actor = match credential {
        None => Actor::Anonymous,
        Some(token) => {
            let now = state.clock.now();
            match ordercrm_identity::authenticate::authenticate(
                state.db.reader(),
                state.db.writer(),
                &state.identity.keys,
                &token,
                now,
            )
            .await
            {
                Ok(actor) => actor,
                // The credential could not be checked (the database is unreachable):
                // our failure, logged like any other, and not counted against the caller.
                Err(err) if err.status() >= 500 => {
                    tracing::error!(error = %err, "request failed");
                    return Ok(refuse(req, &err));
                }
                Err(err) => return Ok(refuse_unauthenticated(req, &state, &err)),
            }
        }
    };

    let verdict = match &actor {
        Actor::User(_) | Actor::ApiKey(_) => {
            Some(state.rate_limits.principal.check(&actor.principal()))
        }
        Actor::Anonymous if !is_health_check(req.path()) => Some(anonymous_check(&req, &state)),
        _ => None,
    };
    req.extensions_mut().insert(actor);
    if let Some(v) = verdict
        && !v.allowed
    {
        let mut res = refuse(req, &too_many(v));
        rate_limit_headers(res.headers_mut(), v);
        return Ok(res);
    }
    let mut res = next.call(req).await?.map_into_boxed_body();
    if let Some(v) = verdict {
        rate_limit_headers(res.headers_mut(), v);
    }
    Ok(res)
}

fn anonymous_check(req: &ServiceRequest, state: &AppState) -> Verdict {
    let source = req
        .extensions()
        .get::<ClientAddr>()
        .map(ClientAddr::source)
        .unwrap_or_default();
    state.rate_limits.anonymous.check(&source)
}

/// A credential that does not authenticate counts against the caller's address like
/// no credential at all: a made-up token must not buy unlimited lookups.
fn refuse_unauthenticated(
    req: ServiceRequest,
    state: &AppState,
    err: &ordercrm_kernel::Error,
) -> ServiceResponse<BoxBody> {
    let verdict = anonymous_check(&req, state);
    if verdict.allowed {
        let mut res = refuse(req, err);
        rate_limit_headers(res.headers_mut(), verdict);
        return res;
    }
    let mut res = refuse(req, &too_many(verdict));
    rate_limit_headers(res.headers_mut(), verdict);
    res
}

fn too_many(v: Verdict) -> ordercrm_kernel::Error {
    ordercrm_kernel::Error::new(
        problems::RATE_LIMITED,
        format!(
            "more than {} requests a minute; retry in {} s",
            v.limit, v.reset
        ),
    )
}

fn is_health_check(path: &str) -> bool {
    path == "/healthz" || path == "/readyz"
}

fn refuse(req: ServiceRequest, err: &ordercrm_kernel::Error) -> ServiceResponse<BoxBody> {
    let res = problem_response(req.request(), err);
    req.into_response(res)
}

const LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
const REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
const RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

/// `RateLimit-*` (IETF draft) on every limited response, `Retry-After` on a 429.
pub fn rate_limit_headers(headers: &mut actix_web::http::header::HeaderMap, v: Verdict) {
    headers.insert(LIMIT, HeaderValue::from(v.limit));
    headers.insert(REMAINING, HeaderValue::from(v.remaining));
    headers.insert(RESET, HeaderValue::from(v.reset));
    if !v.allowed {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(v.reset));
    }
}
