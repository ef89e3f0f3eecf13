//! `/v1/users`

use actix_web::http::header;
use actix_web::web::{Data, Path};
use actix_web::{HttpResponse, get, patch, post};
use ordercrm_identity::commands::users;
use ordercrm_identity::dto::{CreateUser, ListUsers, UpdateUser, UserView};
use ordercrm_identity::queries;
use ordercrm_kernel::{Page, Problem};
use uuid::Uuid;

use crate::error::ApiResult;
use crate::extract::{IfMatch, Json, Query, RequestCtx, json_with_etag};
use crate::state::AppState;
use crate::tx::Writer;

/// List the users you can see: admins and auditors all, a manager their team, others themselves.
#[utoipa::path(
    operation_id = "listUsers",
    tag = "users",
    security(("userToken" = [])),
    params(ListUsers),
    responses((status = 200, description = "One page of users", body = Page<UserView>)),
)]
#[get("/users")]
pub async fn list(
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    Query(q): Query<ListUsers>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(queries::list_users(state.db.reader(), &ctx.actor, q).await?))
}

/// Create a user (admins).
#[utoipa::path(
    operation_id = "createUser",
    tag = "users",
    security(("userToken" = [])),
    request_body = CreateUser,
    responses(
        (status = 201, description = "Created", body = UserView,
            headers(("Location" = String, description = "URL of the new user"), ("ETag" = String, description = "Version"))),
        (status = 409, description = "The email is taken (`/problems/already-exists`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/users")]
pub async fn create(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    Json(input): Json<CreateUser>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = users::create(&txn, &ctx, input).await?;
    txn.commit().await?;
    Ok(json_with_etag(
        HttpResponse::Created().insert_header((header::LOCATION, format!("/v1/users/{}", view.id))),
        &view,
    ))
}

/// A user you can see.
#[utoipa::path(
    operation_id = "getUser",
    tag = "users",
    security(("userToken" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 200, description = "The user", body = UserView, headers(("ETag" = String, description = "Version"))),
        (status = 404, description = "No such user, or not one you can see", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/users/{id}")]
pub async fn get(
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let view = queries::get_user(state.db.reader(), &ctx.actor, *id).await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &view))
}

/// Change a user: admins anything; a manager may rename or deactivate their reports.
/// Deactivating or changing the role revokes the user's refresh tokens.
#[utoipa::path(
    operation_id = "updateUser",
    tag = "users",
    security(("userToken" = [])),
    request_body = UpdateUser,
    params(
        ("id" = Uuid, Path, description = "User id"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read"),
    ),
    responses(
        (status = 200, description = "The changed user", body = UserView, headers(("ETag" = String, description = "New version"))),
        (status = 404, description = "No such user, or not one you can see", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since your ETag", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[patch("/users/{id}")]
pub async fn update(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    IfMatch(if_match): IfMatch,
    Json(patch): Json<UpdateUser>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = users::update(&txn, &ctx, *id, if_match, patch).await?;
    txn.commit().await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &view))
}

/// Let every address try this user's password again at once (admins). Wrong
/// passwords make only the address they came from wait, never the account itself;
/// this clears those waits, for instance after the user's own office was caught.
#[utoipa::path(
    operation_id = "unlockUser",
    tag = "users",
    security(("userToken" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 200, description = "The user; no address waits for it any more", body = UserView,
            headers(("ETag" = String, description = "Version"))),
        (status = 403, description = "Only admins unlock", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/users/{id}/unlock")]
pub async fn unlock(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = users::unlock(&txn, &ctx, users::Unlock::Id(*id)).await?;
    txn.commit().await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &view))
}
