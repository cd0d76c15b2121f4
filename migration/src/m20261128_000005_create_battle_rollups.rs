//! Rollups the crawler keeps beside the daily rows, so analytics over long ranges read a row
//! per day (activity) or per player and month (rankings) instead of every daily row.

use sea_orm_migration::{prelude::*, schema::*};

use crate::BATTLE_COUNTERS;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum BattleDailyActivity {
    Table,
    Day,
    Platform,
    ActivePlayers,
    Battles,
    Wins,
    DamageDealt,
}

#[derive(DeriveIden, Clone, Copy)]
enum BattleMonthlyDiffs {
    Table,
    Month,
    PlayerId,
    Platform,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(BattleDailyActivity::Table)
                    .if_not_exists()
                    .col(date(BattleDailyActivity::Day))
                    .col(string_len(BattleDailyActivity::Platform, 8))
                    .col(big_integer(BattleDailyActivity::ActivePlayers))
                    .col(big_integer(BattleDailyActivity::Battles))
                    .col(big_integer(BattleDailyActivity::Wins))
                    .col(big_integer(BattleDailyActivity::DamageDealt))
                    .primary_key(
                        Index::create()
                            .col(BattleDailyActivity::Day)
                            .col(BattleDailyActivity::Platform),
                    )
                    .to_owned(),
            )
            .await?;
        let mut monthly = Table::create();
        monthly
            .table(BattleMonthlyDiffs::Table)
            .if_not_exists()
            .col(date(BattleMonthlyDiffs::Month))
            .col(big_integer(BattleMonthlyDiffs::PlayerId))
            .col(string_len(BattleMonthlyDiffs::Platform, 8));
        for counter in BATTLE_COUNTERS {
            monthly.col(big_integer(Alias::new(*counter)));
        }
        monthly.primary_key(
            Index::create()
                .col(BattleMonthlyDiffs::Month)
                .col(BattleMonthlyDiffs::PlayerId),
        );
        manager.create_table(monthly.to_owned()).await?;
        backfill(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(BattleMonthlyDiffs::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(BattleDailyActivity::Table).to_owned())
            .await
    }
}

/// Rolls up the daily rows already stored; from then on the crawler keeps both current.
async fn backfill(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let month = match db.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => "CAST(date_trunc('month', day) AS DATE)",
        _ => "date(day, 'start of month')",
    };
    let sums: Vec<String> = BATTLE_COUNTERS
        .iter()
        .map(|c| format!("CAST(SUM({c}) AS BIGINT)"))
        .collect();
    db.execute_unprepared(
        "INSERT INTO battle_daily_activity \
         (day, platform, active_players, battles, wins, damage_dealt) \
         SELECT day, platform, COUNT(*), CAST(SUM(battles) AS BIGINT), \
         CAST(SUM(wins) AS BIGINT), CAST(SUM(damage_dealt) AS BIGINT) \
         FROM battle_diffs GROUP BY day, platform",
    )
    .await?;
    db.execute_unprepared(&format!(
        "INSERT INTO battle_monthly_diffs (month, player_id, platform, {columns}) \
         SELECT {month}, player_id, MIN(platform), {sums} \
         FROM battle_diffs GROUP BY {month}, player_id",
        columns = BATTLE_COUNTERS.join(", "),
        sums = sums.join(", "),
    ))
    .await?;
    Ok(())
}
