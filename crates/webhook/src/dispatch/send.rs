//! One HTTP attempt: the request a receiver gets, and what its answer means. The
//! client follows no redirect, uses no proxy from the environment, and connects
//! only to addresses the guard passed: names through [`Guard`] (reqwest's only
//! resolver, so nothing looks a name up a second time to be rebound), literal
//! addresses checked here before the request (reqwest resolves nothing for them).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{StatusCode, Url};

use crate::destination::{Destinations, Refusal};
use crate::schedule::{honours_retry_after, parse_retry_after};
use crate::ssrf::literal_host;

/// Bytes of a receiver's answer kept with the attempt.
pub const EXCERPT_BYTES: usize = 4096;

/// Why an attempt failed, as `error_kind` records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The receiver answered, with a status other than 2xx.
    HttpStatus,
    /// The address is one webhooks may not reach (or the connect hook refused it).
    BlockedIp,
    /// The name did not resolve.
    Dns,
    /// No connection (refused, unreachable).
    Connect,
    /// The TLS handshake failed (a certificate not trusted, expired or for another
    /// name; no common protocol).
    Tls,
    /// No answer within the timeout.
    Timeout,
    /// Anything else on the way (a broken connection, a malformed answer).
    Request,
    /// The endpoint's key may no longer read the event (revoked, expired).
    NotPermitted,
    /// The endpoint's secret does not open with this server's data key: nothing was
    /// sent, and no attempt used up (servers that can open it send it).
    SecretUnavailable,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::HttpStatus => "http_status",
            ErrorKind::BlockedIp => "blocked_ip",
            ErrorKind::Dns => "dns",
            ErrorKind::Connect => "connect",
            ErrorKind::Tls => "tls",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Request => "request",
            ErrorKind::NotPermitted => "not_permitted",
            ErrorKind::SecretUnavailable => "secret_unavailable",
        }
    }
}

/// What came of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered {
        status: u16,
        excerpt: Option<String>,
    },
    Failed {
        kind: ErrorKind,
        status: Option<u16>,
        /// What the receiver asked with `Retry-After` (429, 502, 503, 504 only).
        retry_after: Option<Duration>,
        error: String,
        excerpt: Option<String>,
    },
}

impl Outcome {
    pub fn failed(kind: ErrorKind, error: impl Into<String>) -> Self {
        Outcome::Failed {
            kind,
            status: None,
            retry_after: None,
            error: error.into(),
            excerpt: None,
        }
    }

    /// The receiver answered 410 Gone: it wants nothing more.
    pub fn is_gone(&self) -> bool {
        matches!(
            self,
            Outcome::Failed {
                status: Some(410),
                ..
            }
        )
    }
}

/// Timeouts of the sending client.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub request: Duration,
    pub connect: Duration,
}

/// Sends deliveries.
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    destinations: Destinations,
}

/// reqwest's resolver: every name through the destinations' judgement.
struct Guard(Destinations);

impl reqwest::dns::Resolve for Guard {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let destinations = self.0.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addresses = destinations.addresses(&host).await?;
            let addrs: reqwest::dns::Addrs = Box::new(
                addresses
                    .into_iter()
                    .map(|ip| SocketAddr::new(ip, 0))
                    .collect::<Vec<_>>()
                    .into_iter(),
            );
            Ok(addrs)
        })
    }
}

/// Choose the process's TLS provider, ring (no C toolchain beyond cc): reqwest is
/// built without one, and every client in the process needs it. Idempotent.
pub fn install_tls_provider() {
    // A second install is refused, harmlessly.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Sender {
    pub fn new(destinations: Destinations, timeouts: Timeouts) -> Result<Self, String> {
        install_tls_provider();
        let client = reqwest::Client::builder()
            .timeout(timeouts.request)
            .connect_timeout(timeouts.connect)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(Guard(destinations.clone())))
            .user_agent(concat!("ordercrm-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the webhook client: {e}"))?;
        Ok(Self {
            client,
            destinations,
        })
    }

    /// POST `body` to `url` with the Standard Webhooks headers.
    pub async fn send(
        &self,
        url: &str,
        id: &str,
        timestamp: i64,
        signature: &str,
        body: Vec<u8>,
        now: DateTime<Utc>,
    ) -> Outcome {
        let url = match self.destinations.check_form(url) {
            Ok(url) => url,
            Err(refusal) => return refused(&refusal),
        };
        if let Err(refusal) = self.literal(&url) {
            return refused(&refusal);
        }
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (name, value) in [
            ("webhook-id", id.to_owned()),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", signature.to_owned()),
        ] {
            match HeaderValue::from_str(&value) {
                Ok(v) => {
                    headers.insert(name, v);
                }
                Err(_) => return Outcome::failed(ErrorKind::Request, "unsendable header"),
            }
        }
        let response = match self
            .client
            .post(url)
            .headers(headers)
            .body(body)
            .send()
            .await
        {
            Ok(response) => response,
            Err(err) => return transport_failure(err),
        };
        let status = response.status();
        let retry_after = honours_retry_after(status.as_u16())
            .then(|| response.headers().get(RETRY_AFTER))
            .flatten()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, now));
        let excerpt = excerpt(response).await;
        if status.is_success() {
            Outcome::Delivered {
                status: status.as_u16(),
                excerpt,
            }
        } else {
            Outcome::Failed {
                kind: ErrorKind::HttpStatus,
                status: Some(status.as_u16()),
                retry_after,
                error: describe(status),
                excerpt,
            }
        }
    }

    /// A literal address in the URL: judged here, since reqwest resolves nothing
    /// for it.
    fn literal(&self, url: &Url) -> Result<(), Refusal> {
        if let Some(ip) = literal_host(url) {
            self.destinations
                .policy
                .check(ip)
                .map_err(Refusal::Blocked)?;
            self.destinations
                .may_connect(url.host_str().unwrap_or_default(), &[ip])?;
        }
        Ok(())
    }
}

fn describe(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("the receiver answered {} {reason}", status.as_u16()),
        None => format!("the receiver answered {}", status.as_u16()),
    }
}

fn refused(refusal: &Refusal) -> Outcome {
    let kind = match refusal {
        Refusal::Unresolved(_) => ErrorKind::Dns,
        Refusal::Malformed(_) | Refusal::Scheme(_) | Refusal::Credentials => ErrorKind::Request,
        Refusal::Blocked(_) | Refusal::BlockedName { .. } | Refusal::Hook(_) => {
            ErrorKind::BlockedIp
        }
    };
    Outcome::failed(kind, refusal.to_string())
}

/// A failure before any answer. The URL stays out of the text: its query may carry
/// a token.
fn transport_failure(err: reqwest::Error) -> Outcome {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    while let Some(e) = source {
        if let Some(refusal) = e.downcast_ref::<Refusal>() {
            return refused(refusal);
        }
        source = e.source();
    }
    let kind = if err.is_timeout() {
        ErrorKind::Timeout
    } else if is_tls(&err) {
        ErrorKind::Tls
    } else if err.is_connect() {
        ErrorKind::Connect
    } else {
        ErrorKind::Request
    };
    let err = err.without_url();
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    Outcome::failed(kind, clip(text.replace('\0', "\u{fffd}"), 500))
}

/// Whether a TLS failure is behind `err`: rustls's error, which the connector
/// wraps in an I/O error (whose `source` skips it).
fn is_tls(err: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if e.is::<rustls::Error>() {
            return true;
        }
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            && inner.is::<rustls::Error>()
        {
            return true;
        }
        source = e.source();
    }
    false
}

/// At most `max` bytes of `text`, cut at a character boundary.
fn clip(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// The start of the answer's body, if it has one: read no further than needed.
async fn excerpt(mut response: reqwest::Response) -> Option<String> {
    let mut bytes = Vec::new();
    while bytes.len() < EXCERPT_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    bytes.truncate(EXCERPT_BYTES);
    // PostgreSQL's text holds no NUL: a binary answer must not make the attempt
    // unrecordable (and the delivery sent again for ever).
    let text = String::from_utf8_lossy(&bytes).replace('\0', "\u{fffd}");
    (!text.is_empty()).then_some(text)
}
