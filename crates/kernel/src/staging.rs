//! Staged imports: all or nothing without holding the writer for minutes.
//!
//! An import checks its rows a few at a time. Each check runs the domain's own
//! commands (every rule, every check, exactly as for a single request) in a write
//! transaction that is then rolled back, after the rows it wrote, and the events and
//! audit rows of the request, are captured. Every [`BATCH_ROWS`] rows they are kept,
//! in one short transaction, in typed mirrors of their tables
//! (`import_staged_<table>`: the target's columns after `import_id` and `ord`). Other
//! writers get in between. When every row passed, one short transaction copies each
//! mirror into its table with one statement that runs inside the database, each
//! versioned row only if nobody changed it since it was checked (else nothing is
//! applied and the import is refused).

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, IntoIden, Query};
use sea_orm::{DatabaseTransaction, Iterable, QueryOrder, QuerySelect};

use crate::context::Ctx;
use crate::csv_import::Checked;
use crate::db::Db;
use crate::id::new_id;
use crate::{audit, events};

/// Rows one check runs before its transaction is rolled back: few enough that the
/// locks a check holds (SQLite's writer; on PostgreSQL the outbox and the counters it
/// touches) are held for a few milliseconds, so a single request waits at most that.
pub const CHECK_ROWS: usize = 4;

/// Rows a staged batch keeps (in one short transaction).
pub const BATCH_ROWS: usize = 500;

/// The tables imports write, each with its mirror (`import_staged_<table>`, made by
/// the migration `import_mirrors`).
pub const MIRRORED: &[&str] = &[
    "customers",
    "customer_external_refs",
    "products",
    "product_external_refs",
    "events",
    "audit_events",
];

/// The mirror of `table`.
pub fn mirror_of(table: &str) -> String {
    format!("import_staged_{table}")
}

/// `ord` values a batch may use: rows keep their order across batches.
const ORDS_PER_BATCH: i64 = 1 << 32;

/// The first `ord` of batch `batch_no`'s rows.
pub fn first_ord(batch_no: i64) -> i64 {
    batch_no.saturating_mul(ORDS_PER_BATCH)
}

mod entity {
    use sea_orm::entity::prelude::*;

    /// One kept batch of an import: the rows it kept tell a complete import from one
    /// that lost some (an erase forgot them), and the newest stamp a running import
    /// from an abandoned one.
    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "import_batches")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub import_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub batch: i64,
        pub kept: i64,
        pub created_at: DateTimeUtc,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// What a batch of checks wrote: the domain's rows (`R`), the ids it created, and the
/// request's events and audit rows.
#[derive(Debug, Clone)]
pub struct Batch<R> {
    pub rows: R,
    pub created: Vec<Uuid>,
    pub events: Vec<events::entity::Model>,
    pub audit: Vec<audit::entity::Model>,
}

impl<R: Default> Default for Batch<R> {
    fn default() -> Self {
        Self {
            rows: R::default(),
            created: Vec::new(),
            events: Vec::new(),
            audit: Vec::new(),
        }
    }
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

/// Copy `rows` into the mirror of their table, the first as `first_ord`.
pub async fn keep<E>(
    conn: &impl ConnectionTrait,
    import_id: Uuid,
    first_ord: i64,
    rows: &[E::Model],
) -> Result<(), DbErr>
where
    E: EntityTrait,
{
    let columns: Vec<E::Column> = E::Column::iter().collect();
    // Few enough bound values per statement for either engine (SQLite allows 32766).
    let per_statement = (30_000 / (columns.len() + 2)).max(1);
    let mirror = Alias::new(mirror_of(E::default().table_name()));
    let mut ord = first_ord;
    for chunk in rows.chunks(per_statement) {
        let mut insert = Query::insert();
        insert.into_table(mirror.clone()).columns(
            [
                Alias::new("import_id").into_iden(),
                Alias::new("ord").into_iden(),
            ]
            .into_iter()
            .chain(columns.iter().map(|c| c.into_iden())),
        );
        for row in chunk {
            let mut values = vec![Expr::val(import_id), Expr::val(ord)];
            values.extend(columns.iter().map(|c| Expr::val(row.get(*c))));
            insert
                .values(values)
                .map_err(|e| DbErr::Custom(format!("a kept row does not fit: {e}")))?;
            ord += 1;
        }
        conn.execute(&insert).await?;
    }
    Ok(())
}

/// Where `import_id`'s rows in a mirror are.
fn kept_by(import_id: Uuid) -> Expr {
    Expr::col(Alias::new("import_id")).eq(import_id)
}

/// Copy `import_id`'s kept rows of `E` into its table, in the order they were kept:
/// `skip` columns are left to the table (its sequence), `set` ones take the given
/// value instead of the kept one. The number of rows written.
pub async fn copy_kept<E>(
    txn: &DatabaseTransaction,
    import_id: Uuid,
    skip: &[E::Column],
    set: &[(E::Column, sea_orm::Value)],
    only: Option<Expr>,
) -> Result<u64, DbErr>
where
    E: EntityTrait,
{
    let name = |c: &E::Column| c.as_str().to_owned();
    let columns: Vec<E::Column> = E::Column::iter()
        .filter(|c| !skip.iter().any(|s| name(s) == name(c)))
        .collect();
    let mut select = Query::select();
    select
        .from(Alias::new(mirror_of(E::default().table_name())))
        .and_where(kept_by(import_id))
        .order_by(Alias::new("ord"), sea_orm::sea_query::Order::Asc);
    if let Some(only) = only {
        select.and_where(only);
    }
    for c in &columns {
        match set.iter().find(|(s, _)| name(s) == name(c)) {
            Some((_, value)) => select.expr(Expr::val(value.clone())),
            None => select.column(*c),
        };
    }
    let mut insert = Query::insert();
    insert
        .into_table(E::default().table_ref())
        .columns(columns.iter().copied())
        .select_from(select)
        .map_err(|e| DbErr::Custom(format!("kept rows do not fit their table: {e}")))?;
    Ok(txn.execute(&insert).await?.rows_affected())
}

/// How many rows of `E` `import_id` kept (of those `only` admits).
pub async fn count_kept_where<E: EntityTrait>(
    conn: &impl ConnectionTrait,
    import_id: Uuid,
    only: Option<Expr>,
) -> Result<u64, DbErr> {
    let mut select = Query::select();
    select
        .expr(Expr::cust("COUNT(*)"))
        .from(Alias::new(mirror_of(E::default().table_name())))
        .and_where(kept_by(import_id));
    if let Some(only) = only {
        select.and_where(only);
    }
    let count = conn
        .query_one(&select)
        .await?
        .map(|row| row.try_get_by_index::<i64>(0))
        .transpose()?
        .unwrap_or(0);
    Ok(u64::try_from(count).unwrap_or(0))
}

/// The ids (`id` column) of `import_id`'s kept rows of `E`, as a subquery.
pub fn kept_ids<E: EntityTrait>(
    import_id: Uuid,
    id: E::Column,
) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(id)
        .from(Alias::new(mirror_of(E::default().table_name())))
        .and_where(kept_by(import_id))
        .to_owned()
}

/// Write the kept rows of `E`, a statement for the new ones (version 1: every
/// create starts there) and one for the updated ones, each of which replaces the
/// stored row only while that still has the version the row was checked at (its own
/// minus one). `None` when any updated row was not written: someone changed or
/// removed it since, and the import must be refused; else the rows written.
pub async fn write_versioned<E: EntityTrait>(
    txn: &DatabaseTransaction,
    import_id: Uuid,
    id: E::Column,
    version: E::Column,
    columns: &[E::Column],
) -> Result<Option<u64>, DbErr> {
    let inserted = copy_kept::<E>(txn, import_id, &[], &[], Some(Expr::col(version).eq(1))).await?;
    let updates = count_kept_where::<E>(txn, import_id, Some(Expr::col(version).gt(1))).await?;
    if updates == 0 {
        return Ok(Some(inserted));
    }
    let backend = txn.get_database_backend();
    let table = E::default().table_name();
    let mirror = mirror_of(table);
    let (id, v) = (id.as_str(), version.as_str());
    let sets = columns
        .iter()
        .map(|c| format!("\"{c}\" = m.\"{c}\"", c = c.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    let param = match backend {
        sea_orm::DatabaseBackend::Postgres => "$1",
        _ => "?",
    };
    let updated = txn
        .execute_raw(sea_orm::Statement::from_sql_and_values(
            backend,
            format!(
                "UPDATE \"{table}\" SET {sets} FROM \"{mirror}\" AS m \
                 WHERE m.import_id = {param} AND m.\"{v}\" > 1 \
                 AND m.\"{id}\" = \"{table}\".\"{id}\" AND \"{table}\".\"{v}\" = m.\"{v}\" - 1"
            ),
            [import_id.into()],
        ))
        .await?
        .rows_affected();
    Ok((updated == updates).then_some(inserted + updated))
}

/// Refuse a batch that updates rows someone changed or removed since they were
/// checked: `kept` holds the id and kept version of each row it updates. The rows
/// stay locked (PostgreSQL) until the batch is kept, so a change that commits
/// meanwhile waits for it and then finds the kept copy (an erase forgets it).
pub async fn refuse_moved<E: EntityTrait>(
    txn: &DatabaseTransaction,
    id: E::Column,
    version: E::Column,
    kept: &[(Uuid, i64)],
) -> Result<(), crate::Error> {
    // Locked in id order, as every other taker of several rows does: no cycle.
    let mut kept = kept.to_vec();
    kept.sort_unstable();
    let mut stored = std::collections::HashMap::new();
    for chunk in kept.chunks(BATCH_ROWS) {
        let rows = E::find()
            .select_only()
            .column(id)
            .column(version)
            .filter(id.is_in(chunk.iter().map(|(i, _)| *i)))
            .order_by_asc(id)
            .lock_shared()
            .into_tuple::<(Uuid, i64)>()
            .all(txn)
            .await?;
        stored.extend(rows);
    }
    if kept
        .iter()
        .any(|(i, v)| stored.get(i) != Some(&v.saturating_sub(1)))
    {
        return Err(changed_meanwhile());
    }
    Ok(())
}

/// The refusal of an import whose records changed while it was checked.
fn changed_meanwhile() -> crate::Error {
    crate::Error::new(
        crate::error::problems::CONFLICT,
        "records in this file changed while it was checked; nothing was imported: send it \
         again",
    )
}

/// Replace the child rows (`C`, whose `parent` column points at `P`'s `id`) of the
/// kept parents with the kept children: what the import checked is what they have.
/// The children written.
pub async fn replace_kept_children<C: EntityTrait, P: EntityTrait>(
    txn: &DatabaseTransaction,
    import_id: Uuid,
    parent: C::Column,
    id: P::Column,
) -> Result<u64, DbErr> {
    C::delete_many()
        .filter(Expr::col(parent).in_subquery(kept_ids::<P>(import_id, id)))
        .exec(txn)
        .await?;
    copy_kept::<C>(txn, import_id, &[], &[], None).await
}

/// Keep a batch: the domain's rows, the request's events and audit rows, and the
/// batch's stamp, in one short transaction of its own.
async fn stage<S: Staging>(
    db: &Db,
    domain: &S,
    import_id: Uuid,
    batch_no: i64,
    batch: &mut Batch<S::Rows>,
    now: DateTime<Utc>,
) -> Result<(), crate::Error> {
    #[allow(clippy::disallowed_methods)] // staging is no business change of its own
    let txn = db.begin().await?;
    let first = first_ord(batch_no);
    let rows = domain.keep(&txn, import_id, first, batch).await?;
    keep::<events::entity::Entity>(&txn, import_id, first, &batch.events).await?;
    keep::<audit::entity::Entity>(&txn, import_id, first, &batch.audit).await?;
    let kept = rows + batch.events.len() + batch.audit.len();
    entity::ActiveModel {
        import_id: Set(import_id),
        batch: Set(batch_no),
        kept: Set(i64::try_from(kept).unwrap_or(i64::MAX)),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Forget an import's kept rows (applied, refused, or abandoned).
pub async fn discard(conn: &impl ConnectionTrait, import_id: Uuid) -> Result<(), DbErr> {
    for table in MIRRORED {
        conn.execute(
            Query::delete()
                .from_table(Alias::new(mirror_of(table)))
                .and_where(kept_by(import_id)),
        )
        .await?;
    }
    entity::Entity::delete_many()
        .filter(entity::COLUMN.import_id.eq(import_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Forget what `import_id` kept, a batch per short transaction of its own, so the
/// rows of a large import leave without holding the writer for long.
pub async fn discard_in_batches(db: &Db, import_id: Uuid) -> Result<(), DbErr> {
    let batches = entity::Entity::find()
        .select_only()
        .column(entity::Column::Batch)
        .filter(entity::COLUMN.import_id.eq(import_id))
        .into_tuple::<i64>()
        .all(db.writer())
        .await?;
    for batch in batches {
        #[allow(clippy::disallowed_methods)] // staging is no business change of its own
        let txn = db.begin().await?;
        for table in MIRRORED {
            txn.execute(
                Query::delete()
                    .from_table(Alias::new(mirror_of(table)))
                    .and_where(kept_by(import_id))
                    .and_where(Expr::col(Alias::new("ord")).gte(first_ord(batch)))
                    .and_where(Expr::col(Alias::new("ord")).lt(first_ord(batch + 1))),
            )
            .await?;
        }
        entity::Entity::delete_by_id((import_id, batch))
            .exec(&txn)
            .await?;
        txn.commit().await?;
    }
    discard(db.writer(), import_id).await
}

/// Drop what imports that never finished kept (the process stopped mid-import):
/// those whose newest batch is older than `before`. A running import keeps a batch
/// every few seconds, so its newest one is always recent, however long it runs.
pub async fn purge(db: &Db, before: DateTime<Utc>) -> Result<u64, DbErr> {
    let stale = entity::Entity::find()
        .select_only()
        .column(entity::Column::ImportId)
        .group_by(entity::Column::ImportId)
        .having(entity::Column::CreatedAt.max().lt(before))
        .into_tuple::<Uuid>()
        .all(db.reader())
        .await?;
    for import_id in &stale {
        discard_in_batches(db, *import_id).await?;
    }
    Ok(u64::try_from(stale.len()).unwrap_or(u64::MAX))
}

/// Forget every import that kept a copy of `id` (a row, event or audit entry about
/// it, or one that mentions it), so that erasing a customer leaves no copy of them
/// behind; such an import is then refused at apply (409) and can be sent again. Every
/// row an import keeps has its event and audit entry, so those tell them all.
pub async fn forget_mentions(conn: &impl ConnectionTrait, id: Uuid) -> Result<u64, DbErr> {
    let text = |column: &str| match conn.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => format!("CAST(\"{column}\" AS TEXT)"),
        _ => format!("\"{column}\""),
    };
    let like = format!("%{id}%");
    let mut imports = std::collections::BTreeSet::new();
    for (table, key, body) in [
        ("events", "resource_id", "payload"),
        ("audit_events", "entity_id", "changes"),
    ] {
        let rows = conn
            .query_all(
                Query::select()
                    .distinct()
                    .column(Alias::new("import_id"))
                    .from(Alias::new(mirror_of(table)))
                    .cond_where(
                        sea_orm::Condition::any()
                            .add(Expr::col(Alias::new(key)).like(like.as_str()))
                            .add(Expr::cust(text(body)).like(like.as_str())),
                    ),
            )
            .await?;
        for row in rows {
            imports.insert(row.try_get_by_index::<Uuid>(0)?);
        }
    }
    for import_id in &imports {
        discard(conn, *import_id).await?;
    }
    Ok(u64::try_from(imports.len()).unwrap_or(u64::MAX))
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

/// Write an import's kept events and audit entries again, as this request's, now.
async fn replay_log(txn: &DatabaseTransaction, ctx: &Ctx, import_id: Uuid) -> Result<u64, DbErr> {
    use sea_orm::Value;
    let request_id = Value::from(Some(ctx.request_id.clone()).filter(|r| !r.is_empty()));
    let audit = copy_kept::<audit::entity::Entity>(
        txn,
        import_id,
        &[audit::entity::Column::Seq],
        &[
            (audit::entity::Column::OccurredAt, Value::from(ctx.now)),
            (audit::entity::Column::RequestId, request_id.clone()),
        ],
        None,
    )
    .await?;
    // The copies get their position once this transaction commits.
    let events = copy_kept::<events::entity::Entity>(
        txn,
        import_id,
        &[
            events::entity::Column::Seq,
            events::entity::Column::Position,
        ],
        &[
            (events::entity::Column::CreatedAt, Value::from(ctx.now)),
            (events::entity::Column::RequestId, request_id),
        ],
        None,
    )
    .await?;
    Ok(audit + events)
}

/// External references earlier rows of a file claimed: a later check cannot see
/// them in the database (earlier checks were rolled back).
#[derive(Debug, Default)]
pub struct SeenRefs(std::collections::HashSet<(String, String)>);

impl SeenRefs {
    /// Claim the references in `row`'s `column`; an error if an earlier row had one.
    pub fn claim(
        &mut self,
        row: &crate::csv_import::Row,
        column: &str,
    ) -> Result<(), crate::csv_import::RowErrors> {
        let mut errors = crate::csv_import::RowErrors::new();
        for r in row.external_refs(column, &mut errors) {
            if !self
                .0
                .insert((r.channel.0.clone(), r.external_id.0.clone()))
            {
                return Err(vec![(
                    column.into(),
                    format!(
                        "an earlier row of this file has {}:{}",
                        r.channel, r.external_id
                    ),
                )]);
            }
        }
        Ok(())
    }
}

/// Begin a check's throwaway transaction (rolled back after its rows are captured).
pub async fn begin_batch(db: &Db) -> Result<DatabaseTransaction, DbErr> {
    #[allow(clippy::disallowed_methods)] // rolled back: a check, not a change
    db.begin().await
}

/// What a domain supplies to import in stages.
pub trait Staging {
    /// The rows a batch captures (the domain's tables).
    type Rows: Default;

    /// Add the rows of one check to a batch's.
    fn merge(&self, into: &mut Self::Rows, more: Self::Rows);

    /// Run one row's command in `txn`: what it did to which record. Also where rows that repeat an earlier batch's are refused (earlier
    /// batches were rolled back, so the database cannot tell).
    fn check_row(
        &mut self,
        txn: &DatabaseTransaction,
        row: &crate::csv_import::Row,
    ) -> impl std::future::Future<
        Output = Result<crate::csv_import::Checked, crate::csv_import::RowErrors>,
    >;

    /// The rows of `ids` as they stand in `txn`.
    fn capture(
        &self,
        txn: &DatabaseTransaction,
        ids: &[Uuid],
    ) -> impl std::future::Future<Output = Result<Self::Rows, DbErr>>;

    /// Keep a batch's rows ([`keep`], from `first_ord`) in `txn`, which commits; the
    /// number kept. Rows it updates that someone changed since must refuse the
    /// import here ([`refuse_moved`]). What new rows must hold uniquely once they are
    /// real, and the check's rollback gave back, they get here (customer numbers).
    fn keep(
        &self,
        txn: &DatabaseTransaction,
        import_id: Uuid,
        first_ord: i64,
        batch: &mut Batch<Self::Rows>,
    ) -> impl std::future::Future<Output = Result<usize, crate::Error>>;

    /// Write every row `import_id` kept (the rows only; events and audit follow); the
    /// number written. A row someone changed since it was checked must make this fail.
    fn write(
        &self,
        txn: &DatabaseTransaction,
        ctx: &Ctx,
        import_id: Uuid,
    ) -> impl std::future::Future<Output = Result<u64, crate::Error>>;
}

/// A checked import: its report, and where its rows wait.
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
        discard_in_batches(db, import_id).await?;
    } else if db.writer().get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        // The mirrors grew from nothing while the import was checked, faster than
        // autovacuum samples them: on the statistics of an empty table the planner
        // joins 100k kept rows by nested loops, and the apply takes minutes.
        let mirrors: Vec<String> = MIRRORED
            .iter()
            .map(|t| format!("\"{}\"", mirror_of(t)))
            .collect();
        db.writer()
            .execute_unprepared(&format!("ANALYZE {}", mirrors.join(", ")))
            .await?;
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
    let mut pending: Batch<S::Rows> = Batch::default();
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
                // An unchanged record has nothing to keep or write.
                match &outcome {
                    Ok(Checked::Created(id)) => {
                        touched.push(*id);
                        created.push(*id);
                    }
                    Ok(Checked::Updated(id)) => touched.push(*id),
                    Ok(Checked::Unchanged(_)) | Err(_) => {}
                }
                import.record(row, outcome);
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
            let began = std::time::Instant::now();
            let mut full = std::mem::take(&mut pending);
            // Stamped with the time it was kept: the newest stamp tells a running
            // import from an abandoned one (see `purge`).
            let kept_at =
                ctx.now + chrono::Duration::from_std(started.elapsed()).unwrap_or_default();
            stage(db, domain, import_id, batches, &mut full, kept_at).await?;
            batches += 1;
            pending_rows = 0;
            tokio::time::sleep(began.elapsed()).await;
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

/// Write everything `staged` kept in `txn` (the request's one write transaction).
/// Once that ends, committed or not, forget what it kept with [`discard_in_batches`]
/// (outside it: the apply holds the writer only as long as the copy takes).
pub async fn apply<S: Staging>(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    staged: &Staged,
    domain: &S,
) -> Result<(), crate::Error> {
    // Kept rows are gone only when a customer they held was erased meanwhile (or the
    // import was purged as abandoned): the file must be checked again.
    let batches = entity::Entity::find()
        .filter(entity::COLUMN.import_id.eq(staged.import_id))
        .all(txn)
        .await?;
    if i64::try_from(batches.len()).ok() != Some(staged.batches) {
        return Err(changed_meanwhile());
    }
    let kept: i64 = batches.iter().map(|b| b.kept).sum();
    let began = std::time::Instant::now();
    let rows = domain.write(txn, ctx, staged.import_id).await?;
    let written = began.elapsed();
    let logged = replay_log(txn, ctx, staged.import_id).await?;
    // Each statement reads the mirrors anew: on PostgreSQL an erase that forgot kept
    // rows after the check above leaves fewer to copy, and the import is refused.
    if u64::try_from(kept).ok() != Some(rows + logged) {
        return Err(changed_meanwhile());
    }
    tracing::debug!(
        written_ms = written.as_secs_f64() * 1e3,
        logged_ms = (began.elapsed() - written).as_secs_f64() * 1e3,
        "import kept rows copied"
    );
    Ok(())
}
