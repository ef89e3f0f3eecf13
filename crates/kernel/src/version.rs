//! Optimistic concurrency: an editable row carries a `version`, the API shows it as
//! the `ETag`, and a write names the version it read (`If-Match`).
//!
//! Every versioned row changes through [`claim`]: one statement bumps the version of
//! the row, only if it still carries the version the caller named
//! (`… WHERE id = $1 AND version = $2`, no row → 412). The row comes back as it now
//! is and stays locked to the transaction (PostgreSQL; SQLite has one writer), so
//! what the command then reads of it is what it changes: nothing written between a
//! read and a write is lost, whether or not the caller sent `If-Match`.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, ModelTrait, QueryFilter, Select, UpdateMany, Value,
};

use crate::error::Error;

/// A view of a versioned row: the API sends its version as the `ETag`.
pub trait Versioned {
    fn version(&self) -> i64;
}

/// `impl Versioned` for views with a `version: i64` field.
#[macro_export]
macro_rules! versioned {
    ($($view:ty),* $(,)?) => {$(
        impl $crate::version::Versioned for $view {
            fn version(&self) -> i64 {
                self.version
            }
        }
    )*};
}

/// 412 when the client read another version than the current one; no `If-Match`
/// (or `*`) means the client accepts whatever is current.
pub fn check_if_match(if_match: Option<i64>, current: i64) -> Result<(), Error> {
    match if_match {
        Some(expected) if expected != current => Err(Error::precondition_failed(current)),
        _ => Ok(()),
    }
}

/// Claim the row `update` names (its filters say which row, and any state it must be
/// in; its SET list may add changes) at version `if_match` when given, bumping its
/// version. When nothing matches, `row` is read again: a row that is there with
/// another version than `if_match` is 412; otherwise `refuse` says why (`None`: no
/// such row, `Some`: the row, in a state `update` does not accept).
pub async fn claim<E>(
    conn: &impl ConnectionTrait,
    update: UpdateMany<E>,
    row: Select<E>,
    version: E::Column,
    if_match: Option<i64>,
    refuse: impl FnOnce(Option<E::Model>) -> Error,
) -> Result<E::Model, Error>
where
    E: EntityTrait,
{
    if let Some(claimed) = try_claim(conn, update, version, if_match).await? {
        return Ok(claimed);
    }
    let found = row.one(conn).await?;
    if let (Some(found), Some(expected)) = (&found, if_match) {
        let current = version_of::<E>(found, version);
        if current != expected {
            return Err(Error::precondition_failed(current));
        }
    }
    Err(refuse(found))
}

/// [`claim`] without the explanation: `None` when no row matched (conditional stock
/// changes, whose misses the caller explains from its own numbers).
pub async fn try_claim<E>(
    conn: &impl ConnectionTrait,
    update: UpdateMany<E>,
    version: E::Column,
    if_match: Option<i64>,
) -> Result<Option<E::Model>, Error>
where
    E: EntityTrait,
{
    let mut update = update.col_expr(version, Expr::col(version).add(1));
    if let Some(v) = if_match {
        update = update.filter(version.eq(v));
    }
    Ok(update.exec_with_returning(conn).await?.pop())
}

/// Change every row `update` names and bump each one's version (a side effect on
/// siblings, such as the previous primary contact losing the flag): their ETags move
/// with them. How many rows changed.
pub async fn bump_all<E>(
    conn: &impl ConnectionTrait,
    update: UpdateMany<E>,
    version: E::Column,
) -> Result<u64, Error>
where
    E: EntityTrait,
{
    Ok(update
        .col_expr(version, Expr::col(version).add(1))
        .exec(conn)
        .await?
        .rows_affected)
}

/// [`bump_all`], returning the rows as they now stand (for their events).
pub async fn bump_all_returning<E>(
    conn: &impl ConnectionTrait,
    update: UpdateMany<E>,
    version: E::Column,
) -> Result<Vec<E::Model>, Error>
where
    E: EntityTrait,
{
    Ok(update
        .col_expr(version, Expr::col(version).add(1))
        .exec_with_returning(conn)
        .await?)
}

/// The version a model carries.
pub fn version_of<E: EntityTrait>(model: &E::Model, version: E::Column) -> i64 {
    match model.get(version) {
        Value::BigInt(Some(v)) => v,
        Value::Int(Some(v)) => i64::from(v),
        _ => 0,
    }
}

/// A change that may turn out to change nothing: a PATCH that names no field, or
/// sets each to what it already was. `change` runs in a savepoint and returns the
/// resource's view (before, after). When the two differ in more than `version` and
/// `updated_at`, the change stays and comes back, for the caller's event and audit
/// entry; otherwise the savepoint is rolled back (no version bump, nothing written)
/// and `None` says so: the caller answers with the resource as it stands.
pub async fn unless_unchanged<V, F>(
    txn: &sea_orm::DatabaseTransaction,
    change: F,
) -> Result<Option<(V, V)>, Error>
where
    V: serde::Serialize,
    F: AsyncFnOnce(&sea_orm::DatabaseTransaction) -> Result<(V, V), Error>,
{
    use sea_orm::TransactionTrait;
    let savepoint = txn.begin().await?;
    let (before, after) = change(&savepoint).await?;
    if same_state(&before, &after) {
        savepoint.rollback().await?;
        Ok(None)
    } else {
        savepoint.commit().await?;
        Ok(Some((before, after)))
    }
}

/// Two views of a resource hold the same state (whatever their version and
/// `updated_at` say).
fn same_state<V: serde::Serialize>(a: &V, b: &V) -> bool {
    let strip = |v: &V| {
        let mut v = serde_json::to_value(v).unwrap_or_default();
        if let Some(fields) = v.as_object_mut() {
            fields.remove("version");
            fields.remove("updated_at");
        }
        v
    };
    strip(a) == strip(b)
}
