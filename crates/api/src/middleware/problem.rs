//! Every error leaves as `application/problem+json`: the domain's, and the ones the
//! framework raises by itself (no route, wrong method, unparsable path segment, ...).

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpResponse};
use ordercrm_kernel::Problem;
use ordercrm_kernel::error::problems;

use crate::error::{PROBLEM_JSON, ProblemBody, ProblemTypeSent};
use crate::middleware::request_id::RequestId;

pub async fn render(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody, BoxBody>>, Error> {
    let res = next.call(req).await?;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return Ok(res.map_into_left_body());
    }

    let mut problem = match res.response().extensions().get::<ProblemBody>() {
        Some(body) => body.0.clone(),
        None => framework_problem(&res),
    };
    problem.instance = Some(res.request().path().to_owned());
    problem.request_id = res
        .request()
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone());

    let (req, old) = res.into_parts();
    let mut new = HttpResponse::build(status).json(&problem);
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            new.headers_mut().append(name.clone(), value.clone());
        }
    }
    new.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    new.extensions_mut()
        .insert(ProblemTypeSent(problem.type_.clone()));
    Ok(ServiceResponse::new(req, new).map_into_right_body())
}

/// A problem document for an error the framework produced without one.
fn framework_problem<B>(res: &ServiceResponse<B>) -> Problem {
    let status = res.status();
    let kind = match status.as_u16() {
        400 => problems::MALFORMED_REQUEST,
        404 => problems::NOT_FOUND,
        405 => problems::METHOD_NOT_ALLOWED,
        406 => problems::NOT_ACCEPTABLE,
        413 => problems::PAYLOAD_TOO_LARGE,
        415 => problems::UNSUPPORTED_MEDIA_TYPE,
        _ if status.is_server_error() => problems::INTERNAL,
        _ => {
            let mut p = Problem::from_type(problems::MALFORMED_REQUEST, None);
            p.type_ = "about:blank".into();
            p.title = status.canonical_reason().unwrap_or("Error").into();
            p.status = status.as_u16();
            return p;
        }
    };
    let req = res.request();
    let detail = match status.as_u16() {
        404 => Some(format!("no resource at {} {}", req.method(), req.path())),
        405 => Some(format!(
            "{} is not supported on {}",
            req.method(),
            req.path()
        )),
        _ if status.is_server_error() => None,
        _ => res.response().error().map(ToString::to_string),
    };
    if status.is_server_error()
        && let Some(err) = res.response().error()
    {
        tracing::error!(error = %err, "request failed");
    }
    Problem::from_type(kind, detail)
}
