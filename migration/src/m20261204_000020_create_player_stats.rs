//! Seed 003's player statistics: named integers per game and player, the Rust handler each
//! game's events go through (`games.stats_handler`), and the rules admins add without a
//! release (on an event type, add a field or 1 to a statistic; set, max, min).

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261121_000001_create_auth_tables::fk;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum PlayerStats {
    Table,
    GameId,
    UserId,
    Stat,
    Value,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum StatRules {
    Table,
    Id,
    GameId,
    EventKind,
    EventName,
    Subject,
    Field,
    Stat,
    Op,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Games {
    Table,
    Id,
    StatsHandler,
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
            .alter_table(
                Table::alter()
                    .table(Games::Table)
                    .add_column(string_len(Games::StatsHandler, 32).default("default"))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PlayerStats::Table)
                    .col(integer(PlayerStats::GameId))
                    .col(uuid(PlayerStats::UserId))
                    .col(string_len(PlayerStats::Stat, 64))
                    .col(big_integer(PlayerStats::Value))
                    .col(timestamp_with_time_zone(PlayerStats::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(PlayerStats::GameId)
                            .col(PlayerStats::UserId)
                            .col(PlayerStats::Stat),
                    )
                    .foreign_key(&mut fk(
                        (PlayerStats::Table, PlayerStats::GameId),
                        (Games::Table, Games::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        (PlayerStats::Table, PlayerStats::UserId),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(StatRules::Table)
                    .col(pk_auto(StatRules::Id))
                    .col(integer(StatRules::GameId))
                    .col(string_len(StatRules::EventKind, 32))
                    .col(string_len_null(StatRules::EventName, 64))
                    .col(string_len(StatRules::Subject, 8))
                    .col(string_len_null(StatRules::Field, 128))
                    .col(string_len(StatRules::Stat, 64))
                    .col(string_len(StatRules::Op, 8))
                    .col(timestamp_with_time_zone(StatRules::CreatedAt))
                    .foreign_key(&mut fk(
                        (StatRules::Table, StatRules::GameId),
                        (Games::Table, Games::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        crate::create_indexes(manager, &[("stat_rules_game", "stat_rules (game_id)")]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(StatRules::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(PlayerStats::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Games::Table)
                    .drop_column(Games::StatsHandler)
                    .take(),
            )
            .await
    }
}
