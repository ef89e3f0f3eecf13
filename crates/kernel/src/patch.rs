//! PATCH semantics: a field that is absent leaves the value alone, `null` clears it.
//! Use as `#[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]`
//! on an `Option<Option<T>>`.
//!
//! Every PATCH is applied the same way: claim the row (`version::claim`, inside
//! `version::unless_unchanged`), check the fields, turn the claimed model into its
//! active model and give each patched column [`set`] of its checked value (absent
//! fields stay untouched), then `update` it, which writes the `Set` columns only.

use serde::{Deserialize, Deserializer};

/// The column's new value when the patch names it; untouched otherwise.
pub fn set<T: Into<sea_orm::Value>>(value: Option<T>) -> sea_orm::ActiveValue<T> {
    match value {
        Some(v) => sea_orm::ActiveValue::Set(v),
        None => sea_orm::ActiveValue::NotSet,
    }
}

pub fn nullable<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}
