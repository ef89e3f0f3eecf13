//! Case-insensitive substring search that behaves the same on SQLite and PostgreSQL.

use sea_orm::sea_query::LikeExpr;

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

#[cfg(test)]
mod tests {
    #[test]
    fn wildcards_are_literal() {
        assert_eq!(super::escape_like(r"50%_off\"), r"50\%\_off\\");
    }
}
