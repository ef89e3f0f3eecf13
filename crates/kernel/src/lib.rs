//! Building blocks every OrderCRM domain stands on. Nothing here knows about HTTP:
//! the `api` crate maps these types to the wire.

pub mod audit;
pub mod authz;
pub mod clock;
pub mod context;
pub mod crypto;
pub mod csv_import;
pub mod db;
pub mod error;
pub mod events;
pub mod hooks;
pub mod id;
pub mod input;
pub mod money;
pub mod numbers;
pub mod pagination;
pub mod patch;
pub mod rate;
pub mod staging;
pub mod text;
pub mod validation;
pub mod version;

pub use clock::{Clock, ManualClock, SystemClock};
pub use context::{Actor, Ctx};
pub use db::Db;
pub use error::{Error, FieldError, Problem, ProblemType};
pub use hooks::Hooks;
pub use money::{Currency, Money, NonNegativeMoney};
pub use pagination::{Cursor, Page, PageRequest};

/// Result alias used by every domain command and query.
pub type Result<T, E = Error> = std::result::Result<T, E>;
