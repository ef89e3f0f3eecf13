//! API keys gain a default owner: the user who owns what the key creates when a
//! request names no owner, so the reps of an integration's customers see them.

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
                    .table("api_keys")
                    .add_column(uuid_null("default_owner_id"))
                    .to_owned(),
            )
            .await
    }
}
