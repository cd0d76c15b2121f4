//! The sweep that ends sessions whose token expired before a server validated it reads
//! them by expiry from an index of those sessions alone, so it costs the same however long
//! the history of ended sessions grows.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::create_indexes(
            manager,
            &[(
                "play_sessions_unjoined",
                "play_sessions (expires_at) WHERE ended_at IS NULL AND joined_at IS NULL",
            )],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::drop_indexes(manager, &["play_sessions_unjoined"]).await
    }
}
