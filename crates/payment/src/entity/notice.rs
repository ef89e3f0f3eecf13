use sea_orm::entity::prelude::*;

/// A notice sent about an instalment row: once per (invoice, row, kind, level).
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "invoice_notices")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub invoice_id: Uuid,
    pub row_no: i32,
    /// [`OVERDUE`] or [`REMINDER`].
    pub kind: String,
    /// Days past due: 0 for `overdue`, the level for a reminder.
    pub level_days: i32,
    pub created_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}

pub const OVERDUE: &str = "overdue";
pub const REMINDER: &str = "reminder";
