//! PATCH semantics: a field that is absent leaves the value alone, `null` clears it.
//! Use as `#[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]`
//! on an `Option<Option<T>>`.

use serde::{Deserialize, Deserializer};

pub fn nullable<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}
