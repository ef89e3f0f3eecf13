//! Operations endpoints: liveness, readiness, metrics.

use actix_web::web::Data;
use actix_web::{HttpResponse, get};
use ordercrm_kernel::error::problems;
use ordercrm_kernel::{Error, Problem};
use ordercrm_migrations::{Migrator, MigratorTrait};
use sea_orm::ConnectionTrait;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"status": "ok"}))]
pub struct Health {
    pub status: &'static str,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"status": "ready", "database": "sqlite", "schema_version": "m20261123_000001_platform"}))]
pub struct Readiness {
    pub status: &'static str,
    /// `sqlite` or `postgres`.
    pub database: &'static str,
    /// The newest migration applied.
    pub schema_version: Option<String>,
}

/// The process is up and serving HTTP. Touches nothing else.
#[utoipa::path(
    operation_id = "getHealth",
    tag = "operations",
    security(()),
    responses((status = 200, description = "The process is up", body = Health)),
)]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// The database answers and its schema is fully migrated; take traffic.
#[utoipa::path(
    operation_id = "getReadiness",
    tag = "operations",
    security(()),
    responses(
        (status = 200, description = "Ready for traffic", body = Readiness),
        (status = 503, description = "The database is unreachable or not migrated",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/readyz")]
pub async fn readyz(state: Data<AppState>) -> ApiResult<HttpResponse> {
    let db = state.db.reader();
    let unavailable = |detail: String| ApiError(Error::new(problems::UNAVAILABLE, detail));
    db.execute_unprepared("SELECT 1")
        .await
        .map_err(|e| unavailable(format!("database unreachable: {e}")))?;
    let pending = Migrator::get_pending_migrations_read_only(db)
        .await
        .map_err(|e| unavailable(format!("cannot read schema version: {e}")))?;
    if !pending.is_empty() {
        return Err(unavailable(format!("{} migrations pending", pending.len())));
    }
    let database = match state.db.backend() {
        sea_orm::DatabaseBackend::Postgres => "postgres",
        _ => "sqlite",
    };
    Ok(HttpResponse::Ok().json(Readiness {
        status: "ready",
        database,
        schema_version: ordercrm_migrations::known_versions().pop(),
    }))
}

/// Prometheus metrics in the OpenMetrics text format.
#[utoipa::path(
    operation_id = "getMetrics",
    tag = "operations",
    security(()),
    responses((status = 200, description = "Metrics in OpenMetrics text format",
        content_type = "application/openmetrics-text", body = String,
        example = "# TYPE ordercrm_http_requests counter\nordercrm_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 3\n")),
)]
#[get("/metrics")]
pub async fn metrics(state: Data<AppState>) -> HttpResponse {
    let outbox = if state.metrics.outbox_due() {
        let now = state.clock.now();
        let measured = async {
            let lag = ordercrm_kernel::events::lag(state.db.reader(), now).await?;
            let backlog =
                ordercrm_webhook::dispatch::stats::backlog(state.db.reader(), now).await?;
            Ok::<_, sea_orm::DbErr>((lag, backlog))
        };
        measured
            .await
            .inspect_err(|e| {
                tracing::warn!(error = %e, "cannot measure the outbox lag");
                state.metrics.outbox_unknown();
            })
            .ok()
    } else {
        None
    };
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(state.metrics.render(&state, outbox))
}
