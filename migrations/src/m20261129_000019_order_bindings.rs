//! What binds to orders: a reservation names the order it holds stock for (only
//! the order lets it go or ships it), and an API key may be bound to a sales
//! channel (and a shop within it), whose orders are the only ones it sees.

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
                    .table("reservations")
                    .add_column(uuid_null("order_id"))
                    .to_owned(),
            )
            .await?;
        // One column per statement: SQLite adds one at a time.
        for column in [string_null("channel"), string_null("channel_name")] {
            manager
                .alter_table(
                    Table::alter()
                        .table("api_keys")
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
