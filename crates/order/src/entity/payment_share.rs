//! What payments put on orders, as the order shows them: a read-only view of the
//! payment crate's allocation ledger (which writes it).

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payment_allocations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub payment_id: Uuid,
    /// Held for the order, or applied to one of its invoices.
    pub order_id: Option<Uuid>,
    /// Signed.
    pub amount: i64,
}

impl ActiveModelBehavior for ActiveModel {}
