//! Case-insensitive substring search that behaves the same on SQLite and PostgreSQL.

use sea_orm::DatabaseBackend;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, LikeExpr, SimpleExpr};

/// `%`, `_` and `\` taken literally.
pub fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// A LIKE pattern matching `q` (lower-cased) anywhere; compare against lower-cased text.
pub fn contains(q: &str) -> LikeExpr {
    LikeExpr::new(format!("%{}%", escape_like(&q.to_lowercase()))).escape('\\')
}

/// A LIKE pattern matching text that starts with `prefix` (case kept).
pub fn starts_with(prefix: &str) -> LikeExpr {
    LikeExpr::new(format!("{}%", escape_like(prefix))).escape('\\')
}

/// `q` as a case-insensitive substring of `table.search_text` (kept lower-cased). On
/// SQLite a pattern of three or more plain characters goes through the table's FTS5
/// trigram index `<table>_fts` (a plain LIKE would read every row); PostgreSQL's
/// trigram index serves the LIKE itself. `table` is a name from code, never input.
pub fn search_text_contains(backend: DatabaseBackend, table: &'static str, q: &str) -> SimpleExpr {
    let lowered = q.to_lowercase();
    let plain = !lowered.contains(['%', '_', '\\']);
    if backend == DatabaseBackend::Sqlite && plain && lowered.chars().count() >= 3 {
        return Expr::cust_with_values(
            format!(
                "{table}.rowid IN (SELECT rowid FROM {table}_fts WHERE {table}_fts.search_text LIKE ?)"
            ),
            [format!("%{lowered}%")],
        );
    }
    Expr::col((Alias::new(table), Alias::new("search_text"))).like(contains(q))
}

#[cfg(test)]
mod tests {
    #[test]
    fn wildcards_are_literal() {
        assert_eq!(super::escape_like(r"50%_off\"), r"50\%\_off\\");
    }
}
