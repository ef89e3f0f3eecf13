//! Extractors that fail with problem documents naming the offending field.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web::{Bytes, BytesMut, Data};
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use futures_util::StreamExt;
use ordercrm_kernel::error::problems;
use ordercrm_kernel::version::Versioned;
use ordercrm_kernel::{Actor, Ctx, Error, FieldError};
use serde::de::DeserializeOwned;

use crate::client_addr::ClientAddr;
use crate::error::ApiError;
use crate::middleware::request_id::RequestId;
use crate::state::AppState;

fn state(req: &HttpRequest) -> Result<Data<AppState>, ApiError> {
    req.app_data::<Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError(Error::new(problems::INTERNAL, "application state missing")))
}

/// The request's context: the authenticated actor, one "now", request id, origin.
pub struct RequestCtx(pub Ctx);

impl FromRequest for RequestCtx {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(state(req).map(|s| RequestCtx(request_ctx(req, &s))))
    }
}

pub fn request_ctx(req: &HttpRequest, state: &AppState) -> Ctx {
    let ext = req.extensions();
    Ctx {
        actor: ext.get::<Actor>().cloned().unwrap_or(Actor::Anonymous),
        now: state.clock.now(),
        request_id: ext
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default(),
        // Resolved once: X-Forwarded-For counts only from trusted proxies.
        ip: ext.get::<ClientAddr>().map(ToString::to_string),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(256).collect()),
        hooks: state.hooks.clone(),
    }
}

/// A JSON body: `application/json` only (415 otherwise), size-limited (413), and
/// deserialized with the path of the first offending field (400).
pub struct Json<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = state(req).map(|s| s.limits.max_body_bytes);
        let is_json = req
            .mime_type()
            .ok()
            .flatten()
            .is_some_and(|m| m.subtype() == "json" || m.suffix().is_some_and(|s| s == "json"));
        let mut payload = payload.take();
        Box::pin(async move {
            let limit = limit?;
            if !is_json {
                return Err(ApiError(Error::new(
                    problems::UNSUPPORTED_MEDIA_TYPE,
                    "send the body as Content-Type: application/json",
                )));
            }
            let body = read_body(&mut payload, limit).await?;
            parse_json(&body).map(Json).map_err(ApiError)
        })
    }
}

/// A JSON body that may be left out: no body at all is `None`; a body that is there
/// must be valid JSON, exactly as for [`Json`] (a typo must not turn into "no options").
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned + 'static> FromRequest for OptionalJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let empty = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() == "0")
            || (req.headers().get(header::CONTENT_LENGTH).is_none()
                && req.headers().get(header::TRANSFER_ENCODING).is_none());
        if empty {
            return Box::pin(async { Ok(OptionalJson(None)) });
        }
        let inner = Json::<T>::from_request(req, payload);
        Box::pin(async move { inner.await.map(|Json(v)| OptionalJson(Some(v))) })
    }
}

/// The whole body, or 413 as soon as it grows past `limit` (never buffered beyond it).
pub async fn read_body(payload: &mut Payload, limit: usize) -> Result<Bytes, Error> {
    let mut buf = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            Error::new(
                problems::MALFORMED_REQUEST,
                format!("could not read body: {e}"),
            )
        })?;
        if buf.len() + chunk.len() > limit {
            return Err(Error::new(
                problems::PAYLOAD_TOO_LARGE,
                format!("request body exceeds {limit} bytes"),
            ));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::new(
            problems::MALFORMED_REQUEST,
            "the request body is empty",
        ));
    }
    if has_nul_escape(bytes) {
        return Err(nul_refused());
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let first = serde_path_to_error::deserialize(de);
    // JSON has one number type: `273.0` is the integer 273 (JSON Schema says so too,
    // and generated clients send it). Only a body that failed is read again, with
    // such numbers written as integers, textually: nothing else in it changes (no
    // rounding through a float, duplicate fields still refused).
    let result = match first {
        Err(err) if err.inner().classify() == serde_json::error::Category::Data => {
            match integral_decimals_as_integers(bytes) {
                Some(rewritten) => serde_path_to_error::deserialize(
                    &mut serde_json::Deserializer::from_slice(&rewritten),
                ),
                None => Err(err),
            }
        }
        other => other,
    };
    result.map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                Error::validation(vec![data_error(&path, &inner.to_string())])
            }
            _ => Error::new(
                problems::MALFORMED_REQUEST,
                format!("the body is not valid JSON: {inner}"),
            )
            .with_extension(
                "errors",
                serde_json::json!([{
                    "field": if path == "." { String::new() } else { path },
                    "code": "syntax",
                    "message": inner.to_string(),
                }]),
            ),
        }
    })
}

/// The JSON text with every number whose value is an integer but which is not written
/// as one (`2.0`, `-0`, `1e1`, `1.5e2`: JSON Schema calls them all integers) written as
/// that integer; `None` when there is none. Strings are skipped, escapes included.
fn integral_decimals_as_integers(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut changed = false;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'"' {
            // Copy the string through its closing quote.
            let mut j = i + 1;
            while let Some(&c) = bytes.get(j) {
                j += if c == b'\\' { 2 } else { 1 };
                if c == b'"' {
                    break;
                }
            }
            out.extend_from_slice(bytes.get(i..j.min(bytes.len()))?);
            i = j;
        } else if b == b'-' || b.is_ascii_digit() {
            let len = bytes
                .get(i..)?
                .iter()
                .take_while(|c| c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.' | b'e' | b'E'))
                .count();
            let token = bytes.get(i..i + len)?;
            match canonical_integer(token) {
                Some(integer) => {
                    out.extend_from_slice(&integer);
                    changed = true;
                }
                None => out.extend_from_slice(token),
            }
            i += len;
        } else {
            out.push(b);
            i += 1;
        }
    }
    changed.then_some(out)
}

/// `token` as a plain integer when it is a JSON number with an integral value written
/// some other way; `None` when it is plain already, not integral, or longer than any
/// 64-bit integer (left for serde to refuse as out of range).
fn canonical_integer(token: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(token).ok()?;
    if !text.contains(['.', 'e', 'E']) && text != "-0" {
        return None;
    }
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i32>().ok()?),
        None => (unsigned, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    // The value is digits × 10^shift.
    let shift = i64::from(exponent) - i64::try_from(frac.len()).ok()?;
    let joined = format!("{int}{frac}");
    let digits = joined.trim_start_matches('0');
    let magnitude = if digits.is_empty() {
        String::from("0")
    } else if shift >= 0 {
        let zeros = usize::try_from(shift).ok()?;
        if digits.len().saturating_add(zeros) > 20 {
            return None;
        }
        format!("{digits}{}", "0".repeat(zeros))
    } else {
        let cut = usize::try_from(shift.unsigned_abs()).ok()?;
        let (head, tail) = digits.split_at_checked(digits.len().checked_sub(cut)?)?;
        if head.is_empty() || !tail.bytes().all(|b| b == b'0') {
            return None;
        }
        head.to_owned()
    };
    Some(match (negative, magnitude.as_str()) {
        (true, m) if m != "0" => format!("-{m}").into_bytes(),
        _ => magnitude.into_bytes(),
    })
}

/// Whether a JSON text holds the escape `\u0000` (raw control characters are not
/// JSON at all). No string we keep may hold NUL: PostgreSQL cannot store it.
fn has_nul_escape(bytes: &[u8]) -> bool {
    bytes.windows(6).enumerate().any(|(i, w)| {
        w == br"\u0000"
            && bytes
                .iter()
                .take(i)
                .rev()
                .take_while(|b| **b == b'\\')
                .count()
                % 2
                == 0
    })
}

/// The answer to a NUL character anywhere in a request.
pub fn nul_refused() -> Error {
    Error::new(
        problems::MALFORMED_REQUEST,
        "text must not contain NUL (U+0000) characters",
    )
}

/// serde reports unknown and missing fields at the parent's path with the name in
/// the message; move the name into the path so clients get `lines[0].quantity`.
fn data_error(path: &str, message: &str) -> FieldError {
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(message)
        .to_owned();
    let named = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
            .map(|name| join(path, name))
    };
    if message.starts_with("unknown field `") {
        // serde_path_to_error already ends this path with the unknown name.
        FieldError::new(path, "unknown_field", "is not a field of this resource")
    } else if let Some(field) = named("missing field `") {
        FieldError::new(field, "required", "is required")
    } else {
        let field = if path == "." {
            String::new()
        } else {
            path.to_owned()
        };
        FieldError::new(field, "invalid_type", message)
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() || path == "." {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// Query parameters, with unknown or malformed parameters a 400 naming them.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parse_query(req.query_string()).map(Query).map_err(ApiError))
    }
}

pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, Error> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let message = err.into_inner().to_string();
        let field_error = if let Some(name) = message
            .strip_prefix("unknown field `")
            .and_then(|r| r.split('`').next())
        {
            FieldError::new(
                name,
                "unknown_parameter",
                "is not a parameter of this endpoint",
            )
        } else if let Some(name) = message
            .strip_prefix("duplicate field `")
            .and_then(|r| r.split('`').next())
        {
            FieldError::new(name, "duplicate_parameter", "may be given only once")
        } else {
            FieldError::new(path, "invalid_value", message)
        };
        Error::validation(vec![field_error])
    })
}

/// `If-Match: "<version>"`. `None` when absent, empty (an empty list of tags states
/// no precondition) or `*`.
pub struct IfMatch(pub Option<i64>);

impl IfMatch {
    /// What the extractor accepts, for the document (ECMA 262).
    pub const PATTERN: &str = r#"^(\*|"[+-]?[0-9]{1,18}"|)$"#;
}

impl FromRequest for IfMatch {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let parsed = match req.headers().get(header::IF_MATCH) {
            None => Ok(IfMatch(None)),
            Some(v) => match v.to_str().map(str::trim) {
                Ok("*" | "") => Ok(IfMatch(None)),
                Ok(s) => s
                    .strip_prefix('"')
                    .and_then(|s| s.strip_suffix('"'))
                    .and_then(|s| s.parse::<i64>().ok())
                    .map(|v| IfMatch(Some(v)))
                    .ok_or_else(|| {
                        ApiError(Error::invalid_field(
                            "If-Match",
                            "invalid_header",
                            "must be an ETag this API returned, such as \"3\"",
                        ))
                    }),
                Err(_) => Err(ApiError(Error::invalid_field(
                    "If-Match",
                    "invalid_header",
                    "must be ASCII",
                ))),
            },
        };
        std::future::ready(parsed)
    }
}

/// The strong ETag of a versioned resource.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// Whether `If-None-Match` already names this version (answer 304).
pub fn not_modified(req: &HttpRequest, version: i64) -> bool {
    let tag = etag(version);
    req.headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .map(|t| t.trim().trim_start_matches("W/"))
                .any(|t| t == tag || t == "*")
        })
}

/// A versioned resource as JSON, its version as the `ETag`: how every answer that
/// shows one editable resource is made.
pub fn json_with_etag<T: serde::Serialize + Versioned>(
    builder: &mut actix_web::HttpResponseBuilder,
    body: &T,
) -> actix_web::HttpResponse {
    builder
        .insert_header((header::ETAG, etag(body.version())))
        .json(body)
}

/// A `GET` of a versioned resource: 304 (with the `ETag`, no body) when the client's
/// `If-None-Match` names the current version, the resource otherwise.
pub fn read_with_etag<T: serde::Serialize + Versioned>(
    req: &HttpRequest,
    body: &T,
) -> actix_web::HttpResponse {
    if not_modified(req, body.version()) {
        return actix_web::HttpResponse::NotModified()
            .insert_header((header::ETAG, etag(body.version())))
            .finish();
    }
    json_with_etag(&mut actix_web::HttpResponse::Ok(), body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_escapes_are_found_but_an_escaped_backslash_is_not_one() {
        assert!(has_nul_escape(br#"{"name": "a\u0000b"}"#));
        assert!(has_nul_escape(br#"{"name": "a\\\u0000b"}"#));
        assert!(!has_nul_escape(br#"{"name": "a\\u0000b"}"#));
        assert!(!has_nul_escape(br#"{"name": "u0000"}"#));
    }

    #[test]
    fn integral_numbers_are_integers_whatever_their_spelling() {
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct Line {
            quantity: i64,
            line_no: i32,
            weight: f64,
        }
        let line: Line =
            parse_json(br#"{"quantity": 273.0, "line_no": -1.00, "weight": 2.5}"#).unwrap();
        assert_eq!(
            line,
            Line {
                quantity: 273,
                line_no: -1,
                weight: 2.5
            }
        );
        // Exactly, not through a float.
        #[derive(serde::Deserialize)]
        struct Big {
            amount: i64,
        }
        let big: Big = parse_json(br#"{"amount": 9007199254740993.0}"#).unwrap();
        assert_eq!(big.amount, 9_007_199_254_740_993);
        // A string that looks like a number is left alone; duplicates stay refused.
        assert_eq!(
            integral_decimals_as_integers(br#"{"a": "2.0", "b": 3.0, "c": "x\"4.0"}"#),
            Some(br#"{"a": "2.0", "b": 3, "c": "x\"4.0"}"#.to_vec())
        );
        assert!(
            parse_json::<Line>(br#"{"quantity": 1.0, "quantity": 2, "line_no": 1, "weight": 1}"#)
                .is_err()
        );
        assert_eq!(
            integral_decimals_as_integers(br#"{"a": 1e1, "b": 2.5}"#),
            Some(br#"{"a": 10, "b": 2.5}"#.to_vec())
        );
        for (token, integer) in [
            ("-0", Some("0")),
            ("-0.0", Some("0")),
            ("0e5", Some("0")),
            ("1.0e1", Some("10")),
            ("1.5E+2", Some("150")),
            ("12300e-2", Some("123")),
            ("-2.50e1", Some("-25")),
            ("1e-0", Some("1")),
            ("5e-1", None),
            ("0.5", None),
            ("1e400", None),
            ("12", None),
            ("-12", None),
        ] {
            assert_eq!(
                canonical_integer(token.as_bytes()),
                integer.map(|i| i.as_bytes().to_vec()),
                "{token}"
            );
        }
        let err =
            parse_json::<Line>(br#"{"quantity": 2.5, "line_no": 1, "weight": 1}"#).unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(parse_json::<Line>(br#"{"quantity": 1e19, "line_no": 1, "weight": 1}"#).is_err());
    }

    /// Whatever the document's pattern allows, the extractor takes.
    #[test]
    fn if_match_pattern_admits_only_what_parses() {
        let re = regex::Regex::new(IfMatch::PATTERN).unwrap_or_else(|e| panic!("{e}"));
        for (value, parses) in [
            ("\"3\"", true),
            ("*", true),
            ("\"-1\"", true),
            ("\"+7\"", true),
            ("\"123456789012345678\"", true),
            ("\"abc\"", false),
            ("3", false),
            ("W/\"3\"", false),
            ("\"12345678901234567890\"", false),
            ("", true),
        ] {
            let req = actix_web::test::TestRequest::default()
                .insert_header((header::IF_MATCH, value))
                .to_http_request();
            let ok = IfMatch::from_request(&req, &mut Payload::None)
                .into_inner()
                .is_ok();
            assert_eq!(ok, parses, "{value:?}");
            if re.is_match(value) {
                assert!(ok, "the pattern admits {value:?}, which does not parse");
            }
        }
    }
}
