//! Staff see the stored events, with where their processing stands.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const EVENT_MANAGE: &str = "event.manage";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::grant_new_privilege(manager, EVENT_MANAGE, "admin").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::drop_privilege(manager, EVENT_MANAGE).await
    }
}
