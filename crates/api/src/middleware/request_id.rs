//! Every request gets an id: the caller's `X-Request-Id` when it is sane, a fresh
//! UUID v7 otherwise. It is echoed in the response, put in problem documents, and
//! every log line of the request carries it through the request span. The client's
//! address is resolved here too, once, for every later layer (limits, audit, logs).

use std::time::Instant;

use actix_web::Error;
use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web::Data;
use tracing::Instrument;

use crate::client_addr::ClientAddr;
use crate::state::AppState;

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn accept(value: &HeaderValue) -> Option<String> {
    let s = value.to_str().ok()?;
    let ok = (1..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    ok.then(|| s.to_owned())
}

pub async fn assign(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = req
        .headers()
        .get(&HEADER)
        .and_then(accept)
        .unwrap_or_else(|| ordercrm_kernel::id::new_id().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let client = req.peer_addr().map(|peer| {
        let trusted = req
            .app_data::<Data<AppState>>()
            .map_or(&[][..], |s| &s.limits.trusted_proxies[..]);
        ClientAddr::resolve(peer.ip(), req.headers(), trusted)
    });
    if let Some(client) = client {
        req.extensions_mut().insert(client);
    }
    // No text we keep may hold NUL (PostgreSQL cannot store it): refuse it in the path
    // and query here, once; JSON bodies and CSV files are checked where they are read.
    if req
        .uri()
        .path_and_query()
        .is_some_and(|pq| pq.as_str().to_ascii_lowercase().contains("%00"))
    {
        let mut res = crate::error::problem_response(req.request(), &crate::extract::nul_refused());
        if let Ok(value) = HeaderValue::from_str(&id) {
            res.headers_mut().insert(HEADER, value);
        }
        return Ok(req.into_response(res).map_into_right_body());
    }
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.path(),
        client = client.map(tracing::field::display),
    );
    let started = Instant::now();
    let mut res = next
        .call(req)
        .instrument(span.clone())
        .await?
        .map_into_left_body();
    let status = res.status().as_u16();
    span.in_scope(|| {
        tracing::info!(
            status,
            latency_ms = started.elapsed().as_secs_f64() * 1000.0,
            "request completed"
        );
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(HEADER, value);
    }
    Ok(res)
}
