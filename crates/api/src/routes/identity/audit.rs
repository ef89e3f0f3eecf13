//! `/v1/audit-events`: read-only; no route changes or deletes audit rows.

use actix_web::web::Data;
use actix_web::{HttpResponse, get};
use ordercrm_identity::dto::{AuditEventView, ListAuditEvents};
use ordercrm_identity::queries;
use ordercrm_kernel::Page;

use crate::error::ApiResult;
use crate::extract::{Query, RequestCtx};
use crate::state::AppState;

/// The audit log (admins and auditors), newest first.
#[utoipa::path(
    operation_id = "listAuditEvents",
    tag = "audit",
    security(("userToken" = [])),
    params(ListAuditEvents),
    responses((status = 200, description = "One page of audit events", body = Page<AuditEventView>)),
)]
#[get("/audit-events")]
pub async fn list(
    state: Data<AppState>,
    RequestCtx(ctx): RequestCtx,
    Query(q): Query<ListAuditEvents>,
) -> ApiResult<HttpResponse> {
    Ok(
        HttpResponse::Ok()
            .json(queries::list_audit_events(state.db.reader(), &ctx.actor, q).await?),
    )
}
