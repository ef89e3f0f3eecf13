//! The activity timeline: notes, follow-ups, birthdays.

use actix_web::http::header;
use actix_web::web::{Data, Path};
use actix_web::{HttpResponse, get, patch, post};
use ordercrm_customer::commands::activity;
use ordercrm_customer::dto::{
    BirthdayView, CreateFollowUp, CreateNote, FollowUpView, ListBirthdays, ListFollowUps,
    ListNotes, NoteView, UpdateFollowUp,
};
use ordercrm_customer::queries;
use ordercrm_kernel::{Page, Problem};
use uuid::Uuid;

use crate::error::ApiResult;
use crate::extract::{IfMatch, Json, Query, RequestCtx, json_with_etag};
use crate::state::AppState;
use crate::tx::Writer;

/// A customer's notes of past interactions, newest first.
#[utoipa::path(
    operation_id = "listCustomerNotes", tag = "customers",
    security(("userToken" = []), ("apiKey" = [])),
    params(("id" = Uuid, Path, description = "Customer id"), ListNotes),
    responses(
        (status = 200, description = "One page of notes", body = Page<NoteView>),
        (status = 404, description = "No such customer, or not one you can see", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/customers/{id}/notes")]
pub async fn list_notes(
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    Query(q): Query<ListNotes>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(queries::notes(state.db.reader(), &ctx.actor, *id, q).await?))
}

/// Record an interaction (call, visit, email, meeting, complaint, other).
#[utoipa::path(
    operation_id = "createCustomerNote", tag = "customers",
    security(("userToken" = []), ("apiKey" = [])),
    params(("id" = Uuid, Path, description = "Customer id")),
    request_body = CreateNote,
    responses(
        (status = 201, description = "Recorded", body = NoteView),
        (status = 404, description = "No such customer, or not one you can see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The customer was erased (`/problems/erased`): nothing under it can be written", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/customers/{id}/notes")]
pub async fn create_note(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    Json(input): Json<CreateNote>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = activity::add_note(&txn, &ctx, *id, input).await?;
    txn.commit().await?;
    Ok(HttpResponse::Created().json(view))
}

/// Plan a follow-up with a customer.
#[utoipa::path(
    operation_id = "createFollowUp", tag = "customers",
    security(("userToken" = []), ("apiKey" = [])),
    params(("id" = Uuid, Path, description = "Customer id")),
    request_body = CreateFollowUp,
    responses(
        (status = 201, description = "Planned", body = FollowUpView, headers(("Location" = String, description = "URL of the follow-up"))),
        (status = 404, description = "No such customer, or not one you can see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The customer was erased (`/problems/erased`): nothing under it can be written", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/customers/{id}/follow-ups")]
pub async fn create_follow_up(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    Json(input): Json<CreateFollowUp>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = activity::add_follow_up(&txn, &ctx, *id, input).await?;
    txn.commit().await?;
    Ok(json_with_etag(
        HttpResponse::Created()
            .insert_header((header::LOCATION, format!("/v1/follow-ups/{}", view.id))),
        &view,
    ))
}

/// Follow-ups you can see, soonest due first: `assignee=me&due_before=…` is your to-do list.
#[utoipa::path(
    operation_id = "listFollowUps", tag = "customers",
    security(("userToken" = []), ("apiKey" = [])),
    params(ListFollowUps),
    responses((status = 200, description = "One page of follow-ups", body = Page<FollowUpView>)),
)]
#[get("/follow-ups")]
pub async fn list_follow_ups(
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    Query(q): Query<ListFollowUps>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok()
        .json(queries::follow_ups(state.db.reader(), &ctx.actor, ctx.now, q).await?))
}

/// Change a follow-up: reschedule, reassign, mark done or cancelled.
#[utoipa::path(
    operation_id = "updateFollowUp", tag = "customers",
    security(("userToken" = []), ("apiKey" = [])),
    params(
        ("id" = Uuid, Path, description = "Follow-up id"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read"),
    ),
    request_body = UpdateFollowUp,
    responses(
        (status = 200, description = "The changed follow-up", body = FollowUpView),
        (status = 404, description = "No such follow-up, or not one you can see", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since your ETag", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The customer was erased (`/problems/erased`): nothing under it can be written", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[patch("/follow-ups/{id}")]
pub async fn update_follow_up(
    writer: Writer,
    RequestCtx(ctx): RequestCtx,
    id: Path<Uuid>,
    IfMatch(if_match): IfMatch,
    Json(patch): Json<UpdateFollowUp>,
) -> ApiResult<HttpResponse> {
    let txn = writer.begin().await?;
    let view = activity::update_follow_up(&txn, &ctx, *id, if_match, patch).await?;
    txn.commit().await?;
    Ok(json_with_etag(&mut HttpResponse::Ok(), &view))
}

/// People whose birthday is within the next days (UTC dates), for greetings.
#[utoipa::path(
    operation_id = "listBirthdays", tag = "customers",
    security(("userToken" = []), ("apiKey" = [])),
    params(ListBirthdays),
    responses(
        (status = 200, description = "Coming birthdays, soonest first", body = Page<BirthdayView>),
        (status = 400, description = "An invalid parameter (limit, within_days) or a bad cursor",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/customers/birthdays")]
pub async fn birthdays(
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    Query(q): Query<ListBirthdays>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok()
        .json(queries::birthdays(state.db.reader(), &ctx.actor, ctx.now.date_naive(), q).await?))
}
