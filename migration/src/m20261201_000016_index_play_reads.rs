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
        let db = manager.get_connection();
        let sqlite = manager.get_database_backend() == sea_orm::DatabaseBackend::Sqlite;
        for (name, on) in INDEXES {
            // SQLite has no INCLUDE: its index holds the included column as a second key.
            let on = if sqlite {
                on.replace(") INCLUDE (", ", ")
            } else {
                on.to_owned()
            };
            db.execute_unprepared(&format!("CREATE INDEX {name} ON {on}"))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, _) in INDEXES {
            manager
                .get_connection()
                .execute_unprepared(&format!("DROP INDEX {name}"))
                .await?;
        }
        Ok(())
    }
}
