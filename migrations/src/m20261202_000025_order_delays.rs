//! The promise watch: when an order's lateness was announced (`order.delayed`,
//! once per order), and the index the watch reads by: approved or held orders
//! with a requested day, not fully shipped, not yet announced, earliest day first.

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
                    .table("orders")
                    .add_column(timestamp_with_time_zone_null("delay_announced_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX orders_promise_watch ON orders (requested_delivery_on) \
                 WHERE delay_announced_at IS NULL AND requested_delivery_on IS NOT NULL \
                 AND status IN ('approved', 'on_hold') \
                 AND fulfillment_status IN ('unfulfilled', 'partially_shipped')",
            )
            .await?;
        Ok(())
    }
}
