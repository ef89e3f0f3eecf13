//! The HTTP edge. Handlers extract, call one domain command or query, and shape the
//! response; every rule lives in the domain crates. Cross-cutting machinery
//! (request ids, problem+json, idempotency, ETags, metrics) is implemented once here.

pub mod client_addr;
pub mod error;
pub mod extract;
pub mod middleware;
pub mod openapi;
pub mod rate_limit;
pub mod routes;
pub mod state;
pub mod tx;
pub mod webhooks_doc;

use actix_web::App;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use utoipa_actix_web::AppExt;

pub use state::{AppState, Limits};

/// Build the application: middleware and every route. `doc` is [`openapi()`] made
/// once by the caller: this runs once per worker thread.
pub fn app(
    state: AppState,
    doc: openapi::Document,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let cors = middleware::cors::build(&state.limits.cors_origins);
    let app = App::new()
        .app_data(actix_web::web::Data::new(state))
        .configure(routes::configure_plain)
        .default_service(actix_web::web::to(routes::not_found));
    // Outermost last: the request id wraps everything, so every log line and every
    // response (including framework errors) carries it.
    app.app_data(actix_web::web::Data::new(doc))
        .wrap(actix_web::middleware::from_fn(middleware::problem::render))
        .wrap(actix_web::middleware::from_fn(
            middleware::idempotency::handle,
        ))
        .wrap(actix_web::middleware::from_fn(
            middleware::auth::authenticate,
        ))
        .wrap(actix_web::middleware::from_fn(middleware::metrics::record))
        .wrap(cors)
        .wrap(actix_web::middleware::from_fn(
            middleware::request_id::assign,
        ))
}

/// The OpenAPI document, built from the same route table the server uses; needs no
/// database or server.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, doc) = App::new()
        .into_utoipa_app()
        .openapi(openapi::base())
        .configure(routes::configure)
        .split_for_parts();
    openapi::finish(doc)
}
