//! Leaderboards: per game, any number, each scoring events its own way (+1 a win, ELO,
//! best, sum, last), in seasons that end on a schedule or by hand; an ended season's
//! records stay, readable by its number.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261121_000001_create_auth_tables::fk;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Creating, changing and resetting leaderboards.
const LEADERBOARD_MANAGE: &str = "leaderboard.manage";

#[derive(DeriveIden, Clone, Copy)]
enum Leaderboards {
    Table,
    Id,
    GameId,
    Name,
    Scoring,
    EventName,
    Field,
    KFactor,
    Descending,
    ResetEvery,
    Season,
    SeasonStartedAt,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum LeaderboardRecords {
    Table,
    LeaderboardId,
    Season,
    UserId,
    Score,
    AchievedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum LeaderboardSeasons {
    Table,
    LeaderboardId,
    Season,
    StartedAt,
    EndedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Games {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Leaderboards::Table)
                    .col(pk_auto(Leaderboards::Id))
                    .col(integer(Leaderboards::GameId))
                    .col(string_len(Leaderboards::Name, 64))
                    .col(string_len(Leaderboards::Scoring, 8))
                    .col(string_len_null(Leaderboards::EventName, 64))
                    .col(string_len_null(Leaderboards::Field, 128))
                    .col(integer(Leaderboards::KFactor))
                    .col(boolean(Leaderboards::Descending))
                    .col(string_len(Leaderboards::ResetEvery, 8))
                    .col(integer(Leaderboards::Season))
                    .col(timestamp_with_time_zone(Leaderboards::SeasonStartedAt))
                    .col(timestamp_with_time_zone(Leaderboards::CreatedAt))
                    .foreign_key(&mut fk(
                        (Leaderboards::Table, Leaderboards::GameId),
                        (Games::Table, Games::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LeaderboardRecords::Table)
                    .col(integer(LeaderboardRecords::LeaderboardId))
                    .col(integer(LeaderboardRecords::Season))
                    .col(uuid(LeaderboardRecords::UserId))
                    .col(big_integer(LeaderboardRecords::Score))
                    .col(timestamp_with_time_zone(LeaderboardRecords::AchievedAt))
                    .col(timestamp_with_time_zone(LeaderboardRecords::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(LeaderboardRecords::LeaderboardId)
                            .col(LeaderboardRecords::Season)
                            .col(LeaderboardRecords::UserId),
                    )
                    .foreign_key(&mut fk(
                        (LeaderboardRecords::Table, LeaderboardRecords::LeaderboardId),
                        (Leaderboards::Table, Leaderboards::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        (LeaderboardRecords::Table, LeaderboardRecords::UserId),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LeaderboardSeasons::Table)
                    .col(integer(LeaderboardSeasons::LeaderboardId))
                    .col(integer(LeaderboardSeasons::Season))
                    .col(timestamp_with_time_zone(LeaderboardSeasons::StartedAt))
                    .col(timestamp_with_time_zone(LeaderboardSeasons::EndedAt))
                    .primary_key(
                        Index::create()
                            .col(LeaderboardSeasons::LeaderboardId)
                            .col(LeaderboardSeasons::Season),
                    )
                    .foreign_key(&mut fk(
                        (LeaderboardSeasons::Table, LeaderboardSeasons::LeaderboardId),
                        (Leaderboards::Table, Leaderboards::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE UNIQUE INDEX leaderboards_name ON leaderboards (game_id, name)",
        )
        .await?;
        // A season's order, either way round: top N, ranks, and the rank index's rebuild.
        db.execute_unprepared(
            "CREATE INDEX leaderboard_records_order \
             ON leaderboard_records (leaderboard_id, season, score, achieved_at, user_id)",
        )
        .await?;
        // The minute's re-index of the rank index reads the newest records.
        db.execute_unprepared(
            "CREATE INDEX leaderboard_records_updated ON leaderboard_records (updated_at)",
        )
        .await?;
        crate::grant_new_privilege(manager, LEADERBOARD_MANAGE, "admin").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::drop_privilege(manager, LEADERBOARD_MANAGE).await?;
        for table in ["leaderboard_seasons", "leaderboard_records", "leaderboards"] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
