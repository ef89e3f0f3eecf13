//! `/v1/settings`

use actix_web::http::header;
use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post};
use ordercrm_kernel::{Page, Problem};
use ordercrm_settings::{
    CreateSetting, ListSettings, SettingView, UpdateSetting, commands, queries,
};

use crate::error::ApiResult;
use crate::extract::{IfMatch, Json, Query, RequestCtx, json_with_etag, read_with_etag};
use crate::state::AppState;
use crate::tx::Writer;

/// List settings.
#[utoipa::path(
    operation_id = "listSettings",
    tag = "settings",
    security(("userToken" = []), ("apiKey" = [])),
    params(ListSettings),
    responses(
        (status = 200, description = "One page of settings", body = Page<SettingView>),
        (status = 400, description = "An unknown or invalid query parameter, or a bad cursor",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/settings")]
pub async fn list(
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    Query(query): Query<ListSettings>,
) -> ApiResult<HttpResponse> {
    let page = queries::list(state.db.reader(), &ctx.actor, query).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Create a setting.
#[utoipa::path(
    operation_id = "createSetting",
    tag = "settings",
    security(("userToken" = []), ("apiKey" = [])),
    request_body = CreateSetting,
    responses(
        (status = 201, description = "Created", body = SettingView, headers(
            ("Location" = String, description = "URL of the new setting"),
            ("ETag" = String, description = "Version, for If-Match"),
        )),
        (status = 409, description = "A setting with this key exists (`/problems/already-exists`, with `existing.href`), or the idempotency key is in use",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/settings")]
pub async fn create(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    Json(input): Json<CreateSetting>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = commands::create(&txn, &ctx, input).await?;
    txn.commit().await?;
    Ok(json_with_etag(
        HttpResponse::Created()
            .insert_header((header::LOCATION, format!("/v1/settings/{}", view.key))),
        &view,
    ))
}

/// Get a setting.
#[utoipa::path(
    operation_id = "getSetting",
    tag = "settings",
    security(("userToken" = []), ("apiKey" = [])),
    params(
        ("key" = ordercrm_settings::model::SettingKey, Path, description = "The setting's key", example = "order_number_prefix"),
        ("If-None-Match" = Option<String>, Header, description = "An ETag you hold; 304 if still current"),
    ),
    responses(
        (status = 200, description = "The setting", body = SettingView,
            headers(("ETag" = String, description = "Version, for If-Match"))),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 404, description = "No such setting", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/settings/{key}")]
pub async fn get(
    req: HttpRequest,
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    key: Path<String>,
) -> ApiResult<HttpResponse> {
    let view = queries::get(state.db.reader(), &ctx.actor, &key).await?;
    Ok(read_with_etag(&req, &view))
}

/// Change a setting.
///
/// Send the `ETag` you read as `If-Match`; if someone changed the setting since,
/// the answer is 412 and nothing changes.
#[utoipa::path(
    operation_id = "updateSetting",
    tag = "settings",
    security(("userToken" = []), ("apiKey" = [])),
    request_body = UpdateSetting,
    params(
        ("key" = ordercrm_settings::model::SettingKey, Path, description = "The setting's key", example = "order_number_prefix"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read, e.g. `\"3\"`"),
    ),
    responses(
        (status = 200, description = "The changed setting", body = SettingView,
            headers(("ETag" = String, description = "The new version"))),
        (status = 404, description = "No such setting", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not match the current version",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[patch("/settings/{key}")]
pub async fn update(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    key: Path<String>,
    IfMatch(if_match): IfMatch,
    Json(patch): Json<UpdateSetting>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = commands::update(&txn, &ctx, &key, if_match, patch).await?;
    txn.commit().await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &view))
}

/// Delete a setting.
#[utoipa::path(
    operation_id = "deleteSetting",
    tag = "settings",
    security(("userToken" = []), ("apiKey" = [])),
    params(
        ("key" = ordercrm_settings::model::SettingKey, Path, description = "The setting's key", example = "order_number_prefix"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read, e.g. `\"3\"`"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such setting", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not match the current version",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[delete("/settings/{key}")]
pub async fn delete(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    key: Path<String>,
    IfMatch(if_match): IfMatch,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    commands::delete(&txn, &ctx, &key, if_match).await?;
    txn.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}
