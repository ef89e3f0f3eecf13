//! Cursor pagination on keyset queries. A cursor is the sort key of the last row a
//! client saw, so page 1000 costs what page 1 costs, and rows inserted meanwhile
//! neither shift nor repeat the pages that follow.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Condition, Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, EntityTrait, ModelTrait, Order, QueryFilter, QueryOrder, QuerySelect, Select,
    Value,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::Error;

pub const DEFAULT_LIMIT: u64 = 50;
pub const MAX_LIMIT: u64 = 200;
/// Longer than any cursor this API gives (a 200-character name key, escaped, in base64).
pub const MAX_CURSOR_CHARS: usize = 4096;

/// The opaque `cursor` parameter: the sort it was issued for and the sort-key
/// values of the last row returned. Clients must treat it as an opaque string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(rename = "s")]
    pub sort: String,
    #[serde(rename = "k")]
    pub key: Vec<serde_json::Value>,
}

impl Cursor {
    pub fn encode(&self) -> String {
        // Serializing a struct of strings and JSON values cannot fail.
        let json = serde_json::to_vec(self).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(json)
    }

    pub fn decode(raw: &str) -> Result<Self, Error> {
        Some(raw)
            .filter(|raw| raw.len() <= MAX_CURSOR_CHARS)
            .and_then(|raw| URL_SAFE_NO_PAD.decode(raw).ok())
            .and_then(|bytes| serde_json::from_slice::<Self>(&bytes).ok())
            // No row holds NUL in text (PostgreSQL refuses it, with a 500), so no cursor
            // this API issued does; refused here, for every list, computed keysets too.
            .filter(|cursor| {
                !cursor
                    .key
                    .iter()
                    .any(|v| v.as_str().is_some_and(|s| s.contains('\0')))
            })
            .ok_or_else(|| {
                Error::invalid_field(
                    "cursor",
                    "invalid_cursor",
                    "is not a cursor this API issued",
                )
            })
    }

    /// The key value at `index`, as the type the sort column has.
    pub fn key_at<T: serde::de::DeserializeOwned>(&self, index: usize) -> Result<T, Error> {
        self.key
            .get(index)
            .cloned()
            .and_then(|v| serde_json::from_value(v).ok())
            .ok_or_else(|| {
                Error::invalid_field(
                    "cursor",
                    "invalid_cursor",
                    "is not a cursor this API issued",
                )
            })
    }
}

/// A validated `limit` + `cursor` pair for one sort order.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub limit: u64,
    pub after: Option<Cursor>,
    pub sort: String,
}

impl PageRequest {
    pub fn new(
        limit: Option<crate::input::Limit>,
        cursor: Option<&str>,
        sort: &str,
    ) -> Result<Self, Error> {
        let limit = limit.map_or(DEFAULT_LIMIT, u64::from);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(Error::invalid_field(
                "limit",
                "range",
                format!("must be between 1 and {MAX_LIMIT}"),
            ));
        }
        let after = cursor.map(Cursor::decode).transpose()?;
        if let Some(c) = &after
            && c.sort != sort
        {
            return Err(Error::invalid_field(
                "cursor",
                "cursor_sort_mismatch",
                format!("was issued for sort '{}', not '{sort}'", c.sort),
            ));
        }
        Ok(Self {
            limit,
            after,
            sort: sort.to_owned(),
        })
    }

    /// Rows to fetch: one more than the page, to learn whether another page exists.
    pub fn fetch_limit(&self) -> u64 {
        self.limit + 1
    }
}

/// One page of a list: `{"data": [...], "next_cursor": "..." | null, "has_more": bool}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
    pub has_more: bool,
}

impl<T> Page<T> {
    /// Build a page from up to `fetch_limit()` rows; `key` gives a row's sort key.
    pub fn from_rows<R>(
        mut rows: Vec<R>,
        req: &PageRequest,
        key: impl Fn(&R) -> Vec<serde_json::Value>,
        view: impl FnMut(R) -> T,
    ) -> Self {
        let limit = usize::try_from(req.limit).unwrap_or(usize::MAX);
        let has_more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = has_more.then(|| rows.last()).flatten().map(|last| {
            Cursor {
                sort: req.sort.clone(),
                key: key(last),
            }
            .encode()
        });
        Self {
            data: rows.into_iter().map(view).collect(),
            next_cursor,
            has_more,
        }
    }

    /// Like [`Page::from_rows`], for views built from all rows in one batch (one query
    /// for their children): `views` holds one view per row, in row order.
    pub fn from_batch<R>(
        rows: &[R],
        req: &PageRequest,
        key: impl Fn(&R) -> Vec<serde_json::Value>,
        views: Vec<T>,
    ) -> Self {
        let paired: Vec<(Vec<serde_json::Value>, T)> = rows.iter().map(key).zip(views).collect();
        Page::from_rows(paired, req, |(k, _)| k.clone(), |(_, v)| v)
    }
}

/// A list's sort order as a seek key: columns with their directions, the last one
/// unique (an id) so every row has exactly one place. The one mechanism every keyset
/// list uses: it orders the query and filters it to the rows after the cursor
/// (reading the cursor's values as the columns' types), and writes the next cursor
/// from the last row's columns. A sort enum maps each variant to one `Seek`, so no
/// list matches on its sort more than once.
pub struct Seek<E: EntityTrait> {
    columns: Vec<(E::Column, Order)>,
}

impl<E: EntityTrait> Seek<E> {
    pub fn new(columns: impl IntoIterator<Item = (E::Column, Order)>) -> Self {
        Self {
            columns: columns.into_iter().collect(),
        }
    }

    /// Every column in one direction, the usual case.
    pub fn by(order: Order, columns: impl IntoIterator<Item = E::Column>) -> Self {
        Self::new(columns.into_iter().map(|c| (c, order.clone())))
    }

    /// Newest first, the order of every log-like list: `(time, id)` descending.
    pub fn newest_first(time: E::Column, id: E::Column) -> Self {
        Self::by(Order::Desc, [time, id])
    }

    /// `select` in this order, after the page's cursor, one row more than the page.
    pub fn select(&self, select: Select<E>, page: &PageRequest) -> Result<Select<E>, Error> {
        let mut select = select;
        if let Some(cursor) = &page.after {
            let values = self
                .columns
                .iter()
                .enumerate()
                .map(|(i, (column, _))| cursor_value(cursor, i, column))
                .collect::<Result<Vec<_>, _>>()?;
            select = select.filter(keyset_after(&self.columns, values));
        }
        for (column, order) in &self.columns {
            select = select.order_by(*column, order.clone());
        }
        Ok(select.limit(page.fetch_limit()))
    }

    /// A row's cursor key: its values in the sort columns.
    pub fn key(&self, row: &E::Model) -> Vec<serde_json::Value>
    where
        E::Model: ModelTrait<Entity = E>,
    {
        self.columns
            .iter()
            .map(|(column, _)| json_of(row.get(*column)))
            .collect()
    }

    /// The page of `rows` (fetched by [`Seek::select`]), each turned into a view.
    pub fn page<T>(
        &self,
        rows: Vec<E::Model>,
        page: &PageRequest,
        view: impl FnMut(E::Model) -> T,
    ) -> Page<T>
    where
        E::Model: ModelTrait<Entity = E>,
    {
        Page::from_rows(rows, page, |r| self.key(r), view)
    }

    /// Like [`Seek::page`], for views built from all rows in one batch.
    pub fn page_of<T>(&self, rows: &[E::Model], page: &PageRequest, views: Vec<T>) -> Page<T>
    where
        E::Model: ModelTrait<Entity = E>,
    {
        Page::from_batch(rows, page, |r| self.key(r), views)
    }
}

/// The cursor's value at `index`, as the type `column` holds.
fn cursor_value<C: ColumnTrait>(cursor: &Cursor, index: usize, column: &C) -> Result<Value, Error> {
    use chrono::Datelike;
    use sea_orm::sea_query::ColumnType as T;
    // A cursor is the client's to forge: its values must be ones a row could hold, or
    // the database refuses them (NUL in text, a year PostgreSQL cannot store) with a 500.
    let forged = || {
        Error::invalid_field(
            "cursor",
            "invalid_cursor",
            "is not a cursor this API issued",
        )
    };
    Ok(match column.def().get_column_type() {
        T::Uuid => cursor.key_at::<Uuid>(index)?.into(),
        T::TimestampWithTimeZone | T::Timestamp | T::DateTime => {
            let at = cursor.key_at::<DateTime<Utc>>(index)?;
            if !(1..=9999).contains(&at.year()) {
                return Err(forged());
            }
            at.into()
        }
        T::Date => {
            let day = cursor.key_at::<chrono::NaiveDate>(index)?;
            if !(1..=9999).contains(&day.year()) {
                return Err(forged());
            }
            day.into()
        }
        T::BigInteger | T::Integer | T::SmallInteger | T::TinyInteger => {
            cursor.key_at::<i64>(index)?.into()
        }
        T::Boolean => cursor.key_at::<bool>(index)?.into(),
        _ => {
            let text = cursor.key_at::<String>(index)?;
            if text.contains('\0') {
                return Err(forged());
            }
            text.into()
        }
    })
}

/// A sort column's value as the cursor stores it (what [`cursor_value`] reads back).
fn json_of(value: Value) -> serde_json::Value {
    match value {
        Value::Uuid(Some(v)) => serde_json::json!(v),
        Value::ChronoDateTimeUtc(Some(v)) => serde_json::json!(v),
        Value::ChronoDate(Some(v)) => serde_json::json!(v),
        Value::String(Some(v)) => serde_json::json!(v),
        Value::BigInt(Some(v)) => serde_json::json!(v),
        Value::Int(Some(v)) => serde_json::json!(v),
        Value::SmallInt(Some(v)) => serde_json::json!(v),
        Value::Bool(Some(v)) => serde_json::json!(v),
        _ => serde_json::Value::Null,
    }
}

/// Rows strictly after `values` in the order `columns`. With one direction for all
/// columns (every sort here) this is a row-value comparison, `(a, b) < (x, y)`, which
/// both SQLite and PostgreSQL turn into an index range seek: page 1000 costs what page
/// 1 costs. Mixed directions fall back to `(a > x) OR (a = x AND b > y) ...`.
pub fn keyset_after<C: ColumnTrait>(columns: &[(C, Order)], values: Vec<Value>) -> Condition {
    let pairs: Vec<(&(C, Order), Value)> = columns.iter().zip(values).collect();
    let after = |col: &C, order: &Order, value: Value| match order {
        Order::Desc => col.lt(value),
        _ => col.gt(value),
    };
    if let [((_, first), _), rest @ ..] = pairs.as_slice()
        && !rest.is_empty()
        && rest.iter().all(|((_, order), _)| order == first)
    {
        let left = Expr::tuple(pairs.iter().map(|((col, _), _)| col.into_expr()));
        let right = Expr::tuple(pairs.iter().map(|(_, value)| Expr::val(value.clone())));
        let step = match first {
            Order::Desc => left.lt(right),
            _ => left.gt(right),
        };
        return Condition::all().add(step);
    }
    let mut any = Condition::any();
    let mut equal_so_far = Condition::all();
    for ((col, order), value) in pairs {
        any = any.add(equal_so_far.clone().add(after(col, order, value.clone())));
        equal_so_far = equal_so_far.add(col.eq(value));
    }
    any
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::Limit;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let c = Cursor {
            sort: "-updated_at".into(),
            key: vec![
                serde_json::json!("2026-01-01T00:00:00Z"),
                serde_json::json!("k"),
            ],
        };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        assert!(Cursor::decode("not-a-cursor").is_err());
        assert!(Cursor::decode("").is_err());
    }

    #[test]
    fn limits_are_bounded_and_cursor_tied_to_sort() {
        assert_eq!(PageRequest::new(None, None, "key").unwrap().limit, 50);
        assert!(PageRequest::new(Some(Limit(0)), None, "key").is_err());
        assert!(PageRequest::new(Some(Limit(201)), None, "key").is_err());
        let c = Cursor {
            sort: "key".into(),
            key: vec![],
        }
        .encode();
        assert!(PageRequest::new(None, Some(&c), "key").is_ok());
        assert!(PageRequest::new(None, Some(&c), "-key").is_err());
    }

    #[test]
    fn page_has_more_only_when_extra_row_fetched() {
        let req = PageRequest::new(Some(Limit(2)), None, "key").unwrap();
        let page = Page::from_rows(vec![1, 2, 3], &req, |r| vec![serde_json::json!(r)], |r| r);
        assert_eq!(page.data, vec![1, 2]);
        assert!(page.has_more);
        let next = Cursor::decode(page.next_cursor.as_deref().unwrap()).unwrap();
        assert_eq!(next.key, vec![serde_json::json!(2)]);
        let last = Page::from_rows(vec![1, 2], &req, |r| vec![serde_json::json!(r)], |r| r);
        assert!(!last.has_more);
        assert!(last.next_cursor.is_none());
    }
}
