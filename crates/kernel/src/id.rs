//! Identifiers. UUID v7 sorts by creation time, so a primary-key index stays
//! append-mostly and ids double as a stable tiebreak in keyset pagination.

use uuid::Uuid;

/// A fresh UUID v7.
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}
