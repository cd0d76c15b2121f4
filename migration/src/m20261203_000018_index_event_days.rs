//! Counts of events per day read the days asked for, not the whole stream.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::create_indexes(manager, &[("game_events_day", "game_events (occurred_at)")]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::drop_indexes(manager, &["game_events_day"]).await
    }
}
