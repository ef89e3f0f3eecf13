//! Exchange rates: one immutable row per currency pair and effective date. The
//! rate is exact decimal text (never a float); the unique key makes "which rate was
//! in force that day" a single answer.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("exchange_rates")
                    .col(uuid("id").primary_key())
                    .col(string_len("from_currency", 3))
                    .col(string_len("to_currency", 3))
                    .col(string_len("rate", 20))
                    .col(date("effective_on"))
                    .col(timestamp_with_time_zone("created_at"))
                    .check(Expr::cust("from_currency <> to_currency"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("exchange_rates_pair_day")
                    .table("exchange_rates")
                    .col("from_currency")
                    .col("to_currency")
                    .col("effective_on")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("exchange_rates_effective")
                    .table("exchange_rates")
                    .col("effective_on")
                    .col("id")
                    .to_owned(),
            )
            .await
    }
}
