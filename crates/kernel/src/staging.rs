//! Staged imports: all or nothing without holding the writer for minutes.
//!
//! An import checks its rows in batches. Each batch runs the domain's own commands
//! (every rule, every check, exactly as for a single request) in a write transaction
//! that is then rolled back, after the rows it wrote, and the events and audit rows of
//! the request, are captured into `import_staging`. Other writers get in between
//! batches. When every row passed, one short transaction writes the captured rows
//! again, a batch per statement, each versioned row only if nobody changed it since
//! it was checked (else nothing is applied and the import is refused).

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::entity::prelude::*;
use sea_orm::{DatabaseTransaction, IntoActiveModel, QueryOrder, QuerySelect};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::context::Ctx;
use crate::db::Db;
use crate::id::new_id;
use crate::{audit, events};

/// Rows one check runs before its transaction is rolled back: few enough that the
/// locks a check holds (SQLite's writer; on PostgreSQL the outbox and the counters it
/// touches) are held for a few milliseconds, so a single request waits at most that.
pub const CHECK_ROWS: usize = 4;

/// Rows a staged batch keeps, and the apply writes with one statement per table.
pub const BATCH_ROWS: usize = 500;

mod entity {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "import_staging")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub import_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub batch: i64,
        pub payload: Json,
        pub created_at: DateTimeUtc,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// What one batch wrote: the domain's rows (`R`), the ids it created, and the
/// request's events and audit rows.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Batch<R> {
    pub rows: R,
    pub created: Vec<Uuid>,
    pub events: Vec<events::entity::Model>,
    pub audit: Vec<audit::entity::Model>,
}

/// Where the outbox and the audit log stood when a batch began.
#[derive(Debug, Clone, Copy)]
pub struct Marks {
    events: i64,
    audit: i64,
}

pub async fn marks(conn: &impl ConnectionTrait) -> Result<Marks, DbErr> {
    let max = |seq: Option<i64>| seq.unwrap_or(0);
    let events = events::entity::Entity::find()
        .select_only()
        .column_as(events::entity::Column::Seq.max(), "m")
        .into_tuple::<Option<i64>>()
        .one(conn)
        .await?
        .flatten();
    let audit = audit::entity::Entity::find()
        .select_only()
        .column_as(audit::entity::Column::Seq.max(), "m")
        .into_tuple::<Option<i64>>()
        .one(conn)
        .await?
        .flatten();
    Ok(Marks {
        events: max(events),
        audit: max(audit),
    })
}

/// The events and audit rows this request wrote since `marks` (the request id tells
/// them from other writers' rows committed meanwhile).
pub async fn written_since(
    conn: &impl ConnectionTrait,
    ctx: &Ctx,
    marks: Marks,
) -> Result<(Vec<events::entity::Model>, Vec<audit::entity::Model>), DbErr> {
    let events = events::entity::Entity::find()
        .filter(events::entity::COLUMN.seq.gt(marks.events))
        .filter(events::entity::COLUMN.request_id.eq(ctx.request_id.clone()))
        .order_by_asc(events::entity::Column::Seq)
        .all(conn)
        .await?;
    let audit = audit::entity::Entity::find()
        .filter(audit::entity::COLUMN.seq.gt(marks.audit))
        .filter(audit::entity::COLUMN.request_id.eq(ctx.request_id.clone()))
        .order_by_asc(audit::entity::Column::Seq)
        .all(conn)
        .await?;
    Ok((events, audit))
}

/// Keep a batch (its own short transaction).
pub async fn stage<R: Serialize>(
    db: &Db,
    import_id: Uuid,
    batch_no: i64,
    batch: &Batch<R>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let payload = serde_json::to_value(batch)
        .map_err(|e| DbErr::Custom(format!("a staged batch does not serialize: {e}")))?;
    #[allow(clippy::disallowed_methods)] // staging is no business change of its own
    let txn = db.begin().await?;
    entity::ActiveModel {
        import_id: Set(import_id),
        batch: Set(batch_no),
        payload: Set(payload),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    txn.commit().await
}

/// The staged batch `batch_no`, if there is one.
pub async fn batch<R: DeserializeOwned>(
    conn: &impl ConnectionTrait,
    import_id: Uuid,
    batch_no: i64,
) -> Result<Option<Batch<R>>, DbErr> {
    let Some(row) = entity::Entity::find_by_id((import_id, batch_no))
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    serde_json::from_value(row.payload)
        .map(Some)
        .map_err(|e| DbErr::Custom(format!("a staged batch does not read back: {e}")))
}

/// Forget an import's batches (applied, refused, or abandoned).
pub async fn discard(conn: &impl ConnectionTrait, import_id: Uuid) -> Result<(), DbErr> {
    entity::Entity::delete_many()
        .filter(entity::COLUMN.import_id.eq(import_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Drop batches of imports that never finished (the process stopped mid-import):
/// those whose newest batch is older than `before`. A running import stages a batch
/// every few seconds, so its newest one is always recent, however long it runs.
pub async fn purge(db: &Db, before: DateTime<Utc>) -> Result<u64, DbErr> {
    use sea_orm::ExprTrait;
    let live = entity::Entity::find()
        .select_only()
        .column(entity::Column::ImportId)
        .group_by(entity::Column::ImportId)
        .having(entity::Column::CreatedAt.max().gte(before))
        .into_tuple::<Uuid>()
        .all(db.reader())
        .await?;
    Ok(entity::Entity::delete_many()
        .filter(entity::COLUMN.created_at.lt(before))
        .filter(entity::COLUMN.import_id.is_not_in(live))
        .exec(db.writer())
        .await?
        .rows_affected)
}

/// Forget staged batches that hold a copy of `id` (its row, events or audit), so
/// that erasing a customer leaves no copy of them behind; an import that held them
/// is then refused at apply (409) and can be sent again.
pub async fn forget_mentions(conn: &impl ConnectionTrait, id: Uuid) -> Result<u64, DbErr> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    let text = match conn.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => "CAST(payload AS TEXT)",
        _ => "payload",
    };
    Ok(entity::Entity::delete_many()
        .filter(Expr::cust(text).like(format!("%{id}%")))
        .exec(conn)
        .await?
        .rows_affected)
}

/// The context an import's checks run in: the caller's, under a request id of the
/// server's own, so the rows a check wrote are told apart from anyone else's (a
/// caller's `X-Request-Id` may be anything, another request's included).
pub fn checking(ctx: &Ctx) -> Ctx {
    Ctx {
        request_id: format!("import-check-{}", new_id()),
        ..ctx.clone()
    }
}

/// Write a batch's events and audit rows again, as this request's, now.
pub async fn replay_log(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    events_: Vec<events::entity::Model>,
    audit_: Vec<audit::entity::Model>,
) -> Result<(), DbErr> {
    if !events_.is_empty() {
        events::lock_outbox(txn).await?;
        events::entity::Entity::insert_many(events_.into_iter().map(|e| {
            let mut row = e.into_active_model();
            row.seq = NotSet;
            row.id = Set(new_id());
            row.created_at = Set(ctx.now);
            row.request_id = Set(Some(ctx.request_id.clone()).filter(|r| !r.is_empty()));
            row
        }))
        .exec_without_returning(txn)
        .await?;
    }
    if !audit_.is_empty() {
        audit::entity::Entity::insert_many(audit_.into_iter().map(|a| {
            let mut row = a.into_active_model();
            row.seq = NotSet;
            row.id = Set(new_id());
            row.occurred_at = Set(ctx.now);
            row.request_id = Set(Some(ctx.request_id.clone()).filter(|r| !r.is_empty()));
            row
        }))
        .exec_without_returning(txn)
        .await?;
    }
    Ok(())
}

/// Replace every string in `value` that is exactly `from` (a provisional number
/// given again at apply time).
pub fn replace_exact(value: &mut serde_json::Value, from: &str, to: &str) {
    match value {
        serde_json::Value::String(s) if s == from => *s = to.to_owned(),
        serde_json::Value::Array(items) => {
            for v in items {
                replace_exact(v, from, to);
            }
        }
        serde_json::Value::Object(map) => {
            for v in map.values_mut() {
                replace_exact(v, from, to);
            }
        }
        _ => {}
    }
}

/// Begin a batch's throwaway transaction (rolled back after its rows are captured).
pub async fn begin_batch(db: &Db) -> Result<DatabaseTransaction, DbErr> {
    #[allow(clippy::disallowed_methods)] // rolled back: a check, not a change
    db.begin().await
}

/// What a domain supplies to import in stages.
pub trait Staging {
    /// The rows a batch captures (the domain's tables).
    type Rows: Serialize + DeserializeOwned + Default;

    /// Add the rows of one check to a batch's.
    fn merge(&self, into: &mut Self::Rows, more: Self::Rows);

    /// Run one row's command in `txn`: `Ok((true, id))` created `id`, `Ok((false, id))`
    /// updated it. Also where rows that repeat an earlier batch's are refused (earlier
    /// batches were rolled back, so the database cannot tell).
    fn check_row(
        &mut self,
        txn: &DatabaseTransaction,
        row: &crate::csv_import::Row,
    ) -> impl std::future::Future<Output = Result<(bool, Uuid), crate::csv_import::RowErrors>>;

    /// The rows of `ids` as they stand in `txn`.
    fn capture(
        &self,
        txn: &DatabaseTransaction,
        ids: &[Uuid],
    ) -> impl std::future::Future<Output = Result<Self::Rows, DbErr>>;

    /// Write one staged batch again (the rows only; events and audit follow). A row
    /// someone changed since it was checked must make this fail.
    fn write(
        &self,
        txn: &DatabaseTransaction,
        ctx: &Ctx,
        batch: &mut Batch<Self::Rows>,
    ) -> impl std::future::Future<Output = Result<(), crate::Error>>;
}

/// A checked import: its report, and where its batches wait.
#[derive(Debug)]
pub struct Staged {
    pub import_id: Uuid,
    pub batches: i64,
    pub report: crate::csv_import::ImportReport,
}

impl Staged {
    /// Every row passed and it is no dry run: apply it.
    pub fn ready(&self) -> bool {
        self.report.applied
    }
}

/// Check every row of `import` (see the module's description): [`CHECK_ROWS`] at a
/// time, kept in batches of about [`BATCH_ROWS`]. `ctx` is the one the domain's
/// commands run in, made by [`checking`]. Whatever way it ends short of a
/// [`Staged::ready`] import, nothing of it stays behind.
pub async fn check<S: Staging, R: std::io::Read>(
    db: &Db,
    ctx: &Ctx,
    import: crate::csv_import::Import<R>,
    domain: &mut S,
) -> Result<Staged, crate::Error> {
    let import_id = new_id();
    let checked = check_into(db, ctx, import_id, import, domain).await;
    if !checked.as_ref().is_ok_and(Staged::ready) {
        discard(db.writer(), import_id).await?;
    }
    checked
}

async fn check_into<S: Staging, R: std::io::Read>(
    db: &Db,
    ctx: &Ctx,
    import_id: Uuid,
    mut import: crate::csv_import::Import<R>,
    domain: &mut S,
) -> Result<Staged, crate::Error> {
    let started = std::time::Instant::now();
    let mut batches = 0;
    let mut pending: Batch<S::Rows> = Batch {
        rows: S::Rows::default(),
        created: Vec::new(),
        events: Vec::new(),
        audit: Vec::new(),
    };
    let mut pending_rows = 0;
    loop {
        let mut rows = Vec::with_capacity(CHECK_ROWS);
        while rows.len() < CHECK_ROWS {
            match import.next_row() {
                Some(row) => rows.push(row),
                None => break,
            }
        }
        let last = rows.is_empty();
        let keeping = import.report.failed == 0 && !import.report.dry_run;
        if !last {
            let began = std::time::Instant::now();
            let txn = begin_batch(db).await?;
            let marks = marks(&txn).await?;
            let (mut touched, mut created) = (Vec::new(), Vec::new());
            for row in &rows {
                let outcome = domain.check_row(&txn, row).await;
                if let Ok((is_new, id)) = &outcome {
                    touched.push(*id);
                    if *is_new {
                        created.push(*id);
                    }
                }
                import.record(row, outcome.map(|(is_new, _)| is_new));
            }
            // Once a row failed nothing will be applied: go on checking, keep nothing.
            if keeping && import.report.failed == 0 {
                let captured = domain.capture(&txn, &touched).await?;
                let (events, audit) = written_since(&txn, ctx, marks).await?;
                txn.rollback().await?;
                domain.merge(&mut pending.rows, captured);
                pending.created.extend(created);
                pending.events.extend(events);
                pending.audit.extend(audit);
                pending_rows += touched.len();
            } else {
                txn.rollback().await?;
            }
            // An import is bulk work beside people waiting on single writes: it takes
            // at most half of the writer's time (and of the CPU), so requests that
            // queued behind a check go first, and it cannot starve them.
            tokio::time::sleep(began.elapsed()).await;
            ctx.hooks.at("import.rows_checked").await;
        }
        let keeping = import.report.failed == 0 && !import.report.dry_run;
        if keeping && pending_rows > 0 && (pending_rows >= BATCH_ROWS || last) {
            let full = std::mem::replace(
                &mut pending,
                Batch {
                    rows: S::Rows::default(),
                    created: Vec::new(),
                    events: Vec::new(),
                    audit: Vec::new(),
                },
            );
            // Stamped with the time it was kept: the newest stamp tells a running
            // import from an abandoned one (see `purge`).
            let kept_at =
                ctx.now + chrono::Duration::from_std(started.elapsed()).unwrap_or_default();
            stage(db, import_id, batches, &full, kept_at).await?;
            batches += 1;
            pending_rows = 0;
            ctx.hooks.at("import.batch_checked").await;
        }
        if last {
            break;
        }
    }
    let report = import.finish();
    Ok(Staged {
        import_id,
        batches,
        report,
    })
}

/// Write every staged batch in `txn` (the request's one write transaction) and
/// forget them.
pub async fn apply<S: Staging>(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    staged: &Staged,
    domain: &S,
) -> Result<(), crate::Error> {
    for n in 0..staged.batches {
        // Gone only when a customer it held was erased meanwhile (or the batch was
        // purged as abandoned): the file must be checked again.
        let mut batch: Batch<S::Rows> =
            batch(txn, staged.import_id, n).await?.ok_or_else(|| {
                crate::Error::new(
                    crate::error::problems::CONFLICT,
                    "records in this file changed while it was checked; nothing was \
                     imported: send it again",
                )
            })?;
        domain.write(txn, ctx, &mut batch).await?;
        replay_log(txn, ctx, batch.events, batch.audit).await?;
    }
    discard(txn, staged.import_id).await?;
    Ok(())
}

/// Write a staged batch's `rows` with one statement: new rows go in, a checked row
/// replaces the stored one only while that still has the version the row was checked
/// at (its own version minus one). `false` when any row was not written: someone
/// changed it since, and the import must be refused.
pub async fn upsert_checked<E>(
    txn: &DatabaseTransaction,
    rows: Vec<E::Model>,
    id: E::Column,
    version: E::Column,
    columns: &[E::Column],
) -> Result<bool, DbErr>
where
    E: EntityTrait,
    E::Model: IntoActiveModel<E::ActiveModel>,
{
    use sea_orm::sea_query::{Expr, OnConflict};
    if rows.is_empty() {
        return Ok(true);
    }
    let expected = u64::try_from(rows.len()).unwrap_or(u64::MAX);
    let table = E::default().table_name().to_owned();
    let v = version.as_str().to_owned();
    let written = E::insert_many(rows.into_iter().map(IntoActiveModel::into_active_model))
        .on_conflict(
            OnConflict::column(id)
                .update_columns(columns.iter().copied())
                .action_and_where(Expr::cust(format!(
                    "\"{table}\".\"{v}\" = excluded.\"{v}\" - 1"
                )))
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    Ok(written == expected)
}

/// Replace the child rows (`rows`) of `parents`: what the batch captured is what
/// they have now.
pub async fn replace_children<E>(
    txn: &DatabaseTransaction,
    parent: E::Column,
    parents: Vec<Uuid>,
    rows: Vec<E::Model>,
) -> Result<(), DbErr>
where
    E: EntityTrait,
    E::Model: IntoActiveModel<E::ActiveModel>,
{
    E::delete_many()
        .filter(parent.is_in(parents))
        .exec(txn)
        .await?;
    if !rows.is_empty() {
        E::insert_many(rows.into_iter().map(IntoActiveModel::into_active_model))
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}
