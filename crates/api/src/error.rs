//! Domain errors to `application/problem+json`, in one place.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError};
use ordercrm_kernel::{Error, Problem};

use crate::middleware::request_id::RequestId;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// A kernel error on its way out of a handler.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl<E: Into<Error>> From<E> for ApiError {
    fn from(err: E) -> Self {
        Self(err.into())
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The problem document a response carries, for the rendering middleware to complete
/// with the request's path and id.
#[derive(Debug, Clone)]
pub struct ProblemBody(pub Problem);

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        if self.0.status() >= 500 {
            // The request span carries the request id, so this line and the client's
            // `request_id` meet in the logs.
            tracing::error!(error = %self.0, "request failed");
        }
        let problem = self.0.to_problem();
        let mut res = HttpResponse::build(self.status_code()).json(&problem);
        res.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        protocol_headers(&mut res, &self.0);
        res.extensions_mut().insert(ProblemBody(problem));
        res
    }
}

/// A complete problem response for code that runs outside the rendering middleware.
/// The `type` of the problem a response carries, for the test hook that checks it
/// against the document.
#[derive(Debug, Clone)]
pub struct ProblemTypeSent(pub String);

pub fn problem_response(req: &HttpRequest, err: &Error) -> HttpResponse {
    let mut problem = err.to_problem();
    problem.instance = Some(req.path().to_owned());
    problem.request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone());
    let mut res = HttpResponse::build(
        StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
    )
    .json(&problem);
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    protocol_headers(&mut res, err);
    res.extensions_mut().insert(ProblemTypeSent(problem.type_));
    res
}

/// Headers HTTP asks for with some statuses: a challenge with 401, a wait with 429.
fn protocol_headers(res: &mut HttpResponse, err: &Error) {
    if err.status() == 401 {
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"ordercrm\""),
        );
    }
    if let Some(secs) = err
        .extensions
        .as_ref()
        .and_then(|e| e.get("retry_after"))
        .and_then(serde_json::Value::as_i64)
        && let Ok(v) = HeaderValue::from_str(&secs.to_string())
    {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
