//! Indexes for Play's reads at scale: a player's accepted friends, both ways, read from the
//! index alone (the selection reads them on every Play), and the joined live sessions by
//! their last ping, so the sweep that ends silent ones reads only those it ends.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEXES: [(&str, &str); 3] = [
    (
        "friends_accepted_out",
        "friends (user_id) INCLUDE (target_id) WHERE NOT pending",
    ),
    (
        "friends_accepted_in",
        "friends (target_id) INCLUDE (user_id) WHERE NOT pending",
    ),
    (
        "play_sessions_silent",
        "play_sessions (pinged_at) WHERE ended_at IS NULL AND joined_at IS NOT NULL",
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::create_indexes(manager, &INDEXES).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::drop_indexes(manager, &INDEXES.map(|(name, _)| name)).await
    }
}
