//! `/v1/auth/*` and `/v1/me`.

use actix_web::web::Data;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, get, post};
use ordercrm_identity::commands::auth::{self, LoginOutcome};
use ordercrm_identity::commands::users;
use ordercrm_identity::dto::{
    ChangePassword, RefreshRequest, TokenRequest, TokenResponse, UserView,
};
use ordercrm_identity::{IdentityError, queries};
use ordercrm_kernel::Problem;
use ordercrm_kernel::error::problems;

use crate::client_addr::ClientAddr;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, RequestCtx};
use crate::middleware::auth::rate_limit_headers;
use crate::middleware::idempotency::carries_secret;
use crate::state::AppState;
use crate::tx::Writer;

fn outcome(result: LoginOutcome) -> ApiResult<HttpResponse> {
    match result {
        LoginOutcome::Success(tokens) => Ok(carries_secret(HttpResponse::Ok().json(tokens))),
        LoginOutcome::Refused(err) => Err(ApiError(err)),
    }
}

/// The key sign-in limits and failure counts use for this request's client.
fn source(req: &HttpRequest) -> String {
    req.extensions()
        .get::<ClientAddr>()
        .map(ClientAddr::source)
        .unwrap_or_default()
}

/// Sign in with email and password.
///
/// Returns a 15-minute access token and a single-use refresh token. Sign-ins are
/// limited per client address. Wrong passwords are counted per account and client
/// address: after five, that address waits a minute before it may try that account
/// again, twice as long after each further failure (up to an hour); other addresses
/// are not affected, and unknown emails are answered exactly like known ones.
#[utoipa::path(
    operation_id = "createToken",
    tag = "auth",
    security(()),
    request_body = TokenRequest,
    responses(
        (status = 200, description = "Signed in", body = TokenResponse),
        (status = 401, description = "Wrong email or password, or the account is disabled",
            body = Problem, content_type = "application/problem+json"),
        (status = 400, description = "An email longer than 254 bytes or a password longer than 1024",
            body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts from this address, or too many failures for this account from it; see `Retry-After`",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/auth/token")]
pub async fn token(
    req: HttpRequest,
    state: Data<AppState>,
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    Json(input): Json<TokenRequest>,
) -> ApiResult<HttpResponse> {
    auth::check_request(&input)?;
    let source = source(&req);
    let verdict = state.rate_limits.sign_in.check(&source);
    if !verdict.allowed {
        let err = ordercrm_kernel::Error::new(
            problems::RATE_LIMITED,
            format!("too many sign-in attempts; retry in {} s", verdict.reset),
        );
        let mut res = actix_web::ResponseError::error_response(&ApiError(err));
        rate_limit_headers(res.headers_mut(), verdict);
        return Ok(res);
    }
    auth::take_turn(
        state.db.writer(),
        &ctx,
        &state.identity,
        &input.email,
        &source,
    )
    .await?;
    let attempt = auth::check_password(state.db.reader(), &ctx, input).await?;
    let txn = writer.begin().await?;
    let result = auth::login(&txn, &ctx, &state.identity, &source, attempt).await?;
    txn.commit().await?;
    outcome(result)
}

/// Exchange a refresh token for a new access token and refresh token.
///
/// Each refresh token works once. Presenting a used one again means it leaked: every
/// token of that sign-in is revoked and the user must sign in again.
#[utoipa::path(
    operation_id = "refreshToken",
    tag = "auth",
    security(()),
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens", body = TokenResponse),
        (status = 401, description = "Unknown, expired, revoked or reused refresh token",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/auth/refresh")]
pub async fn refresh(
    state: Data<AppState>,
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    Json(input): Json<RefreshRequest>,
) -> ApiResult<HttpResponse> {
    if !auth::known_refresh_token(state.db.reader(), &input.refresh_token).await? {
        return Err(ApiError(IdentityError::BadRefreshToken.into()));
    }
    let txn = writer.begin().await?;
    let result = auth::refresh(&txn, &ctx, &state.identity, &input.refresh_token).await?;
    txn.commit().await?;
    outcome(result)
}

/// Sign out: revoke the refresh token and every token rotated from the same sign-in.
#[utoipa::path(
    operation_id = "revokeToken",
    tag = "auth",
    security(()),
    request_body = RefreshRequest,
    responses((status = 204, description = "Signed out (also when the token was unknown)")),
)]
#[post("/auth/logout")]
pub async fn logout(
    state: Data<AppState>,
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    Json(input): Json<RefreshRequest>,
) -> ApiResult<HttpResponse> {
    if !auth::known_refresh_token(state.db.reader(), &input.refresh_token).await? {
        return Ok(HttpResponse::NoContent().finish());
    }
    let txn = writer.begin().await?;
    auth::logout(&txn, &ctx, &input.refresh_token).await?;
    txn.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The signed-in user.
#[utoipa::path(
    operation_id = "getMe",
    tag = "auth",
    security(("userToken" = [])),
    responses(
        (status = 200, description = "Your profile", body = UserView),
    ),
)]
#[get("/me")]
pub async fn me(state: Data<AppState>, RequestCtx(ctx): RequestCtx) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(queries::me(state.db.reader(), &ctx.actor).await?))
}

/// Change your password. Every refresh token you hold stops working. A wrong current
/// password counts as a failed sign-in from your address.
#[utoipa::path(
    operation_id = "changeMyPassword",
    tag = "auth",
    security(("userToken" = [])),
    request_body = ChangePassword,
    responses(
        (status = 204, description = "Password changed"),
        (status = 400, description = "The new password is too weak (`errors` says why)",
            body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The current password is wrong (`/problems/wrong-password`)",
            body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong passwords from this address; see `Retry-After`",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/me/password")]
pub async fn change_password(
    req: HttpRequest,
    state: Data<AppState>,
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    Json(input): Json<ChangePassword>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let result = users::change_password(&txn, &ctx, &state.identity, &source(&req), input).await;
    // A wrong current password is audited as a failure: keep that row.
    txn.commit().await?;
    result?;
    Ok(HttpResponse::NoContent().finish())
}
