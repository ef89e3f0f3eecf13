//! `/v1/exchange-rates`

use actix_web::http::header;
use actix_web::web::{Data, Path};
use actix_web::{HttpResponse, delete, get, post};
use ordercrm_kernel::{Page, Problem};
use ordercrm_settings::rates::dto::{
    CreateExchangeRate, EffectiveRateQuery, ExchangeRateView, ListExchangeRates,
};
use ordercrm_settings::rates::{commands, queries};
use uuid::Uuid;

use crate::error::ApiResult;
use crate::extract::{Json, Query, RequestCtx};
use crate::state::AppState;
use crate::tx::Writer;

/// List exchange rates, newest effective date first.
#[utoipa::path(
    operation_id = "listExchangeRates",
    tag = "exchange-rates",
    security(("userToken" = []), ("apiKey" = [])),
    params(ListExchangeRates),
    responses(
        (status = 200, description = "One page of rates", body = Page<ExchangeRateView>),
        (status = 400, description = "An unknown or invalid query parameter, or a bad cursor",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/exchange-rates")]
pub async fn list(
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    Query(query): Query<ListExchangeRates>,
) -> ApiResult<HttpResponse> {
    let page = queries::list(state.db.reader(), &ctx.actor, query).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Publish an exchange rate (finance, admin).
///
/// Rates are never edited: to correct one, delete it and publish again. Orders keep
/// the rate they converted with.
#[utoipa::path(
    operation_id = "createExchangeRate",
    tag = "exchange-rates",
    security(("userToken" = []), ("apiKey" = [])),
    request_body = CreateExchangeRate,
    responses(
        (status = 201, description = "Published", body = ExchangeRateView, headers(
            ("Location" = String, description = "URL of the new rate"),
        )),
        (status = 409, description = "A rate for this pair and day exists (`/problems/already-exists`, with `existing.href`), or the idempotency key is in use",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/exchange-rates")]
pub async fn create(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    Json(input): Json<CreateExchangeRate>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = commands::create(&txn, &ctx, input).await?;
    txn.commit().await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v1/exchange-rates/{}", view.id)))
        .json(view))
}

/// The rate in force for a pair on a day: the latest published on or before it.
#[utoipa::path(
    operation_id = "getEffectiveExchangeRate",
    tag = "exchange-rates",
    security(("userToken" = []), ("apiKey" = [])),
    params(EffectiveRateQuery),
    responses(
        (status = 200, description = "The rate in force", body = ExchangeRateView),
        (status = 400, description = "An unknown or invalid query parameter, or the same currency twice",
            body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No rate for this pair is effective on or before that day",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/exchange-rates/effective")]
pub async fn effective(
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    Query(query): Query<EffectiveRateQuery>,
) -> ApiResult<HttpResponse> {
    let today = ctx.now.date_naive();
    let view = queries::effective(state.db.reader(), &ctx.actor, query, today).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Get an exchange rate.
#[utoipa::path(
    operation_id = "getExchangeRate",
    tag = "exchange-rates",
    security(("userToken" = []), ("apiKey" = [])),
    params(("id" = Uuid, Path, description = "Rate id")),
    responses(
        (status = 200, description = "The rate", body = ExchangeRateView),
        (status = 404, description = "No such rate", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/exchange-rates/{id}")]
pub async fn get(
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let view = queries::get(state.db.reader(), &ctx.actor, *id).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Withdraw an exchange rate (finance, admin).
#[utoipa::path(
    operation_id = "deleteExchangeRate",
    tag = "exchange-rates",
    security(("userToken" = []), ("apiKey" = [])),
    params(("id" = Uuid, Path, description = "Rate id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such rate", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[delete("/exchange-rates/{id}")]
pub async fn delete(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    commands::delete(&txn, &ctx, *id).await?;
    txn.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}
