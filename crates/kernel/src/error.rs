//! One error type for every domain, carrying everything an RFC 9457 problem
//! document needs. Domains define their own `thiserror` enums and convert into this;
//! the `api` crate turns it into `application/problem+json` in exactly one place.

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;
use utoipa::ToSchema;

/// A stable, documented kind of problem. `slug` becomes the `type` URI
/// (`/problems/<slug>`), which clients may switch on; it never changes once published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProblemType {
    pub slug: &'static str,
    pub title: &'static str,
    pub status: u16,
    /// When a client sees it and what to do about it; rendered into the OpenAPI document.
    pub description: &'static str,
}

impl ProblemType {
    pub fn type_uri(&self) -> String {
        format!("/problems/{}", self.slug)
    }
}

macro_rules! problem_types {
    ($($name:ident = ($slug:literal, $status:literal, $title:literal, $desc:literal);)*) => {
        $(pub const $name: ProblemType = ProblemType {
            slug: $slug, title: $title, status: $status, description: $desc,
        };)*
        /// Every problem type the kernel and the HTTP edge can answer with.
        pub const ALL: &[ProblemType] = &[$($name),*];
    };
}

/// The platform's problem types. Domains add their own next to their errors.
pub mod problems {
    use super::ProblemType;

    problem_types! {
        MALFORMED_REQUEST = ("malformed-request", 400, "Malformed request",
            "The body is not valid JSON, or a JSON value has the wrong type. `errors[].field` points at the spot.");
        VALIDATION = ("validation", 400, "Invalid input",
            "The request is well-formed but some fields are invalid or unknown; each is listed in `errors`.");
        UNAUTHENTICATED = ("unauthenticated", 401, "Authentication required",
            "No credentials, or credentials that are invalid or expired.");
        FORBIDDEN = ("forbidden", 403, "Forbidden",
            "Authenticated, but this caller may not perform this action.");
        NOT_FOUND = ("not-found", 404, "Not found",
            "No such resource, or it is not visible to this caller.");
        METHOD_NOT_ALLOWED = ("method-not-allowed", 405, "Method not allowed",
            "The resource exists but does not support this HTTP method.");
        NOT_ACCEPTABLE = ("not-acceptable", 406, "Not acceptable",
            "The resource cannot be represented in any media type listed in `Accept`.");
        CONFLICT = ("conflict", 409, "Conflict",
            "The request conflicts with the current state of the resource.");
        ALREADY_EXISTS = ("already-exists", 409, "Already exists",
            "A resource with the same unique key already exists.");
        IDEMPOTENCY_IN_FLIGHT = ("idempotency-in-flight", 409, "Request with this key in progress",
            "A request with the same `Idempotency-Key` is still being processed; retry after it completes.");
        IDEMPOTENCY_RESPONSE_WITHHELD = ("idempotency-response-withheld", 409, "Answer not kept",
            "The request with this `Idempotency-Key` succeeded, but its answer carried a secret (a token, a key secret, unmasked personal data), which is never stored. `original_status` is the status it had; `location` (also the `Location` header), when there is one, is what it created.");
        PRECONDITION_FAILED = ("precondition-failed", 412, "Precondition failed",
            "`If-Match` does not match the current `ETag`: someone else changed the resource. Fetch it again and reapply your change.");
        PRECONDITION_REQUIRED = ("precondition-required", 428, "Precondition required",
            "This change applies only to the version you read: send `If-Match` with its `ETag`.");
        PAYLOAD_TOO_LARGE = ("payload-too-large", 413, "Payload too large",
            "The request body exceeds the configured limit.");
        UNSUPPORTED_MEDIA_TYPE = ("unsupported-media-type", 415, "Unsupported media type",
            "The request body must be `application/json`.");
        IDEMPOTENCY_KEY_REUSED = ("idempotency-key-reused", 422, "Idempotency key reused",
            "The `Idempotency-Key` was already used with a different request. Use a new key for a new request.");
        RATE_LIMITED = ("rate-limited", 429, "Too many requests",
            "Slow down; `Retry-After` says when to try again.");
        INTERNAL = ("internal", 500, "Internal server error",
            "Something went wrong on our side. The `request_id` helps us find it.");
        UNAVAILABLE = ("unavailable", 503, "Service unavailable",
            "A dependency such as the database is not reachable right now.");
    }
}

/// One invalid input, addressed by a path a client can map to a form field:
/// `lines[0].quantity`, `currency`, `cursor`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(example = json!({"field": "value", "code": "invalid_currency", "message": "'XYZ' is not an ISO 4217 currency code"}))]
pub struct FieldError {
    pub field: String,
    /// Machine-readable: `required`, `length`, `range`, `unknown_field`, `invalid_type`, ...
    pub code: String,
    pub message: String,
    /// The field is well formed and names something that exists, whose current state
    /// refuses the request (a deactivated warehouse): see [`FieldError::state`].
    #[serde(skip)]
    state: bool,
}

impl FieldError {
    /// This error says only that the request names something that does not exist.
    /// The request is well formed, but what this field names is in a state that
    /// refuses it (inactive, not stocked, nothing to reorder): 409 when every error
    /// is one of these, since only a change elsewhere makes the same request succeed.
    pub fn state(
        field: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            state: true,
            ..Self::new(field, code, message)
        }
    }

    pub fn describes_state(&self) -> bool {
        self.state
    }

    pub fn names_nothing(&self) -> bool {
        self.code.starts_with("unknown_")
            && !matches!(self.code.as_str(), "unknown_field" | "unknown_parameter")
    }
}

impl FieldError {
    pub fn new(
        field: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            code: code.into(),
            message: message.into(),
            state: false,
        }
    }
}

/// The error every command and query returns. Boxed, so `Result<T, Error>` stays
/// one pointer wide on the happy path.
#[derive(Debug)]
pub struct Error(Box<ErrorInner>);

#[derive(Debug)]
pub struct ErrorInner {
    pub problem: ProblemType,
    pub detail: Cow<'static, str>,
    pub errors: Vec<FieldError>,
    /// Extra members for the problem document (for example the id of an existing duplicate).
    pub extensions: Option<serde_json::Map<String, serde_json::Value>>,
    /// The underlying cause; logged, never sent to the client.
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl std::ops::Deref for Error {
    type Target = ErrorInner;
    fn deref(&self) -> &ErrorInner {
        &self.0
    }
}

impl Error {
    pub fn new(problem: ProblemType, detail: impl Into<Cow<'static, str>>) -> Self {
        Self(Box::new(ErrorInner {
            problem,
            detail: detail.into(),
            errors: Vec::new(),
            extensions: None,
            source: None,
        }))
    }

    fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.0.source = Some(Box::new(source));
        self
    }

    /// 400 naming every invalid field; or, when the only problem is that the request
    /// names things that do not exist (codes `unknown_*`: a SKU, a warehouse, a
    /// supplier, a user), 404 naming them, as a URL naming nothing would be.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] => format!("{}: {}", one.field, one.message),
            many => format!("{} fields are invalid", many.len()),
        };
        // A request naming something that does not exist cannot succeed whatever else
        // is fixed, as with an unknown id in the path: 404, with every error listed.
        let names_nothing = errors.iter().any(FieldError::names_nothing);
        let kind = if names_nothing {
            problems::NOT_FOUND
        } else if !errors.is_empty() && errors.iter().all(FieldError::describes_state) {
            problems::CONFLICT
        } else {
            problems::VALIDATION
        };
        let mut err = Self::new(kind, detail);
        err.0.errors = errors;
        err
    }

    pub fn invalid_field(
        field: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::validation(vec![FieldError::new(field, code, message)])
    }

    pub fn not_found(what: &str, key: impl fmt::Display) -> Self {
        Self::new(problems::NOT_FOUND, format!("{what} '{key}' was not found"))
    }

    pub fn precondition_failed(current_version: i64) -> Self {
        Self::new(
            problems::PRECONDITION_FAILED,
            format!("If-Match does not match the current version (ETag \"{current_version}\")"),
        )
    }

    pub fn internal(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::new(problems::INTERNAL, "internal error").with_source(source)
    }

    /// Attach per-field problems to an error of any type.
    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.0.errors = errors;
        self
    }

    pub fn with_extension(mut self, key: &str, value: serde_json::Value) -> Self {
        self.0
            .extensions
            .get_or_insert_with(Default::default)
            .insert(key.to_owned(), value);
        self
    }

    pub fn status(&self) -> u16 {
        self.problem.status
    }

    /// The problem document, without the request-specific members the edge adds.
    pub fn to_problem(&self) -> Problem {
        let internal = self.problem.status >= 500;
        Problem {
            type_: self.problem.type_uri(),
            title: self.problem.title.to_owned(),
            status: self.problem.status,
            // A 5xx detail could leak internals, so clients get the title only.
            detail: if internal {
                None
            } else {
                Some(self.detail.to_string())
            },
            instance: None,
            request_id: None,
            errors: self.errors.clone(),
            extensions: self.extensions.clone().unwrap_or_default(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.problem.title, self.detail)?;
        if let Some(source) = &self.source {
            write!(f, " ({source})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<sea_orm::DbErr> for Error {
    fn from(err: sea_orm::DbErr) -> Self {
        match err.sql_err() {
            // Constraint races that slipped past a domain's own check are still a
            // client-visible conflict, never a 500.
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => Self::new(
                problems::ALREADY_EXISTS,
                "a resource with the same key already exists",
            )
            .with_source(err),
            Some(sea_orm::SqlErr::ForeignKeyConstraintViolation(_)) => Self::new(
                problems::CONFLICT,
                "a referenced resource does not exist or is still in use",
            )
            .with_source(err),
            // Every connection busy for the pool's whole wait (the SQLite writer held
            // by a long import, say): the client should come back, not report a bug.
            _ if matches!(err, sea_orm::DbErr::ConnectionAcquire(_)) => {
                Self::new(problems::UNAVAILABLE, "the database is busy; retry shortly")
                    .with_extension("retry_after", serde_json::json!(1))
                    .with_source(err)
            }
            // The database restarted or dropped the connection: the pool is told to
            // check its other connections, the client retries. Lost at COMMIT, the
            // change may have been made: hence the Idempotency-Key advice.
            _ if crate::db::is_connection_lost(&err) => {
                crate::db::connection_lost();
                Self::new(
                    problems::UNAVAILABLE,
                    "the connection to the database was lost; retry shortly, with the same \
                     Idempotency-Key if this request changes something",
                )
                .with_extension("retry_after", serde_json::json!(1))
                .with_source(err)
            }
            // PostgreSQL refuses a date or time beyond what it stores (SQLSTATE 22008,
            // "date/time field value out of range"): the client's value, not our bug.
            _ if is_out_of_range_time(&err) => Self::new(
                problems::VALIDATION,
                "a date or time is outside what can be stored: years 1 to 9999",
            )
            .with_source(err),
            _ => Self::internal(err),
        }
    }
}

fn is_out_of_range_time(err: &sea_orm::DbErr) -> bool {
    let text = err.to_string();
    text.contains("22008")
        || [
            "date out of range",
            "timestamp out of range",
            "field value out of range",
        ]
        .iter()
        .any(|m| text.contains(m))
}

/// RFC 9457 problem details, the body of every error response.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "/problems/validation", "title": "Invalid input", "status": 400,
    "detail": "value: 'XYZ' is not an ISO 4217 currency code", "instance": "/v1/settings",
    "request_id": "0193a6f2-7c1e-7d2a-9b8e-2f0c7b1d4e5f",
    "errors": [{"field": "value", "code": "invalid_currency", "message": "'XYZ' is not an ISO 4217 currency code"}]
}))]
pub struct Problem {
    /// Stable identifier of the problem kind, e.g. `/problems/validation`.
    #[serde(rename = "type")]
    #[schema(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The request path that produced the problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Matches the `X-Request-Id` response header and the server's log lines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Per-field problems, for 400 responses.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub extensions: serde_json::Map<String, serde_json::Value>,
}

impl Problem {
    pub fn from_type(problem: ProblemType, detail: Option<String>) -> Self {
        Self {
            type_: problem.type_uri(),
            title: problem.title.to_owned(),
            status: problem.status,
            detail,
            instance: None,
            request_id: None,
            errors: Vec::new(),
            extensions: Default::default(),
        }
    }
}
