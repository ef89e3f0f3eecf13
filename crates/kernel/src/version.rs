//! Optimistic concurrency: an editable row carries a `version`, the API shows it as
//! the `ETag`, and a write names the version it read (`If-Match`).

use crate::error::Error;

/// 412 when the client read another version than the current one; no `If-Match`
/// (or `*`) means the client accepts whatever is current.
pub fn check_if_match(if_match: Option<i64>, current: i64) -> Result<(), Error> {
    match if_match {
        Some(expected) if expected != current => Err(Error::precondition_failed(current)),
        _ => Ok(()),
    }
}
