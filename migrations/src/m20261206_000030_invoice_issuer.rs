//! Invoices an order's transition asks for are issued moments after it commits,
//! by the issuer, so order intake does not wait on the gap-free invoice counter:
//! `issue_requested_at` marks such a draft until it is issued (or left a draft
//! for finance, when it cannot be).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("invoices")
                    .add_column(timestamp_with_time_zone_null("issue_requested_at"))
                    .to_owned(),
            )
            .await?;
        // Only the few waiting drafts are in it.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX invoices_issue_requested ON invoices (issue_requested_at) \
                 WHERE issue_requested_at IS NOT NULL",
            )
            .await?;
        Ok(())
    }
}
