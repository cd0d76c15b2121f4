//! The `battles` domain, written by the crawler and read by the api: players with their
//! latest counters, daily totals and diffs (range-partitioned by day on PostgreSQL; the
//! coordinator creates the partitions ahead), crawl runs, their batches with leases, their
//! workers and progress samples, the stored id ranges, and the export backlog.

use sea_orm_migration::{
    prelude::*,
    schema::*,
    sea_orm::{ConnectionTrait, DbBackend},
};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The `statistics.all` counters kept per player, per day and per diff (the crawler writes
/// exactly these columns).
pub const COUNTERS: &[&str] = &[
    "battles",
    "wins",
    "losses",
    "damage_dealt",
    "damage_received",
    "frags",
    "spotted",
    "xp",
    "survived_battles",
    "capture_points",
    "dropped_capture_points",
    "hits",
    "shots",
];

/// Records kept on the player only.
const RECORDS: &[&str] = &["max_damage", "max_frags", "max_xp", "trees_cut"];

const CRAWLER_READ: &str = "crawler.read";

#[derive(DeriveIden, Clone, Copy)]
enum BattlePlayers {
    Table,
    Id,
    Platform,
    Nickname,
    CreatedAt,
    LastBattleTime,
    UpdatedAt,
    FirstSeenAt,
    LastPulledAt,
    LastChangedOn,
}

#[derive(DeriveIden, Clone, Copy)]
enum BattleTotals {
    Table,
}

#[derive(DeriveIden, Clone, Copy)]
enum BattleDiffs {
    Table,
}

#[derive(DeriveIden, Clone, Copy)]
enum Daily {
    Day,
    PlayerId,
    Platform,
}

#[derive(DeriveIden, Clone, Copy)]
enum CrawlRanges {
    Table,
    Platform,
    MinId,
    MaxId,
    GrownAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum CrawlRuns {
    Table,
    Id,
    Day,
    Status,
    StartedAt,
    FinishedAt,
    BatchesTotal,
    BatchesDone,
    AccountsDone,
    PlayersFound,
    PlayersChanged,
    AccountsPerSecond,
    Errors,
    WorkersConnected,
    Summary,
    ProgressAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum CrawlBatches {
    Table,
    Id,
    RunId,
    Platform,
    FirstId,
    LastId,
    State,
    WorkerId,
    LeaseUntil,
    Attempts,
    Players,
    DoneAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum CrawlWorkers {
    Table,
    Id,
    RunId,
    Name,
    ApplicationId,
    RequestsPerSecond,
    ConnectedAt,
    LastSeenAt,
    DisconnectedAt,
    BatchesDone,
    AccountsDone,
    Errors,
}

#[derive(DeriveIden, Clone, Copy)]
enum CrawlSamples {
    Table,
    Id,
    RunId,
    At,
    BatchesDone,
    AccountsDone,
    AccountsPerSecond,
}

#[derive(DeriveIden, Clone, Copy)]
enum ExportBacklog {
    Table,
    Id,
    IndexName,
    DocId,
    Body,
    Attempts,
    LastError,
    CreatedAt,
}

fn counter_columns(table: &mut TableCreateStatement, names: &[&str]) {
    for name in names {
        table.col(big_integer(Alias::new(*name)));
    }
}

/// `battle_totals` or `battle_diffs`: one row per player per day on which its battle count
/// changed. PostgreSQL partitions them by day range.
async fn create_daily(manager: &SchemaManager<'_>, table: impl IntoIden) -> Result<(), DbErr> {
    let table = table.into_iden();
    let mut create = Table::create();
    create
        .table(table.clone())
        .col(date(Daily::Day))
        .col(big_integer(Daily::PlayerId))
        .col(string_len(Daily::Platform, 8));
    counter_columns(&mut create, COUNTERS);
    create.primary_key(Index::create().col(Daily::Day).col(Daily::PlayerId));
    let db = manager.get_connection();
    let backend = db.get_database_backend();
    if backend == DbBackend::Postgres {
        let sql = format!(
            "{} PARTITION BY RANGE (day)",
            backend.build(&create.to_owned())
        );
        db.execute_unprepared(&sql).await?;
    } else {
        manager.create_table(create.to_owned()).await?;
    }
    // History of one player; on PostgreSQL the index is made on every partition.
    manager
        .create_index(
            Index::create()
                .name(format!("{table}_player"))
                .table(table)
                .col(Daily::PlayerId)
                .col(Daily::Day)
                .to_owned(),
        )
        .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut players = Table::create();
        players
            .table(BattlePlayers::Table)
            .col(big_integer(BattlePlayers::Id).primary_key())
            .col(string_len(BattlePlayers::Platform, 8))
            .col(string_len(BattlePlayers::Nickname, 64))
            .col(timestamp_with_time_zone(BattlePlayers::CreatedAt))
            .col(timestamp_with_time_zone(BattlePlayers::LastBattleTime))
            .col(timestamp_with_time_zone(BattlePlayers::UpdatedAt));
        counter_columns(&mut players, COUNTERS);
        counter_columns(&mut players, RECORDS);
        players
            .col(timestamp_with_time_zone(BattlePlayers::FirstSeenAt))
            .col(timestamp_with_time_zone(BattlePlayers::LastPulledAt))
            .col(date(BattlePlayers::LastChangedOn));
        manager.create_table(players.to_owned()).await?;
        let db = manager.get_connection();
        // Prefix search by nickname whatever the case.
        let nickname_index = match db.get_database_backend() {
            DbBackend::Postgres => {
                "CREATE INDEX battle_players_nickname ON battle_players (lower(nickname) text_pattern_ops)"
            }
            _ => "CREATE INDEX battle_players_nickname ON battle_players (lower(nickname))",
        };
        db.execute_unprepared(nickname_index).await?;
        // No index on platform: two values, never selective enough to use.
        manager
            .create_index(
                Index::create()
                    .name("battle_players_last_battle")
                    .table(BattlePlayers::Table)
                    .col(BattlePlayers::LastBattleTime)
                    .to_owned(),
            )
            .await?;
        create_daily(manager, BattleTotals::Table).await?;
        create_daily(manager, BattleDiffs::Table).await?;

        manager
            .create_table(
                Table::create()
                    .table(CrawlRanges::Table)
                    .col(string_len(CrawlRanges::Platform, 8).primary_key())
                    .col(big_integer(CrawlRanges::MinId))
                    .col(big_integer(CrawlRanges::MaxId))
                    .col(timestamp_with_time_zone_null(CrawlRanges::GrownAt))
                    .col(timestamp_with_time_zone(CrawlRanges::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CrawlRuns::Table)
                    .col(big_pk_auto(CrawlRuns::Id))
                    .col(date(CrawlRuns::Day))
                    .col(string_len(CrawlRuns::Status, 16))
                    .col(timestamp_with_time_zone(CrawlRuns::StartedAt))
                    .col(timestamp_with_time_zone_null(CrawlRuns::FinishedAt))
                    .col(big_integer(CrawlRuns::BatchesTotal).default(0))
                    .col(big_integer(CrawlRuns::BatchesDone).default(0))
                    .col(big_integer(CrawlRuns::AccountsDone).default(0))
                    .col(big_integer(CrawlRuns::PlayersFound).default(0))
                    .col(big_integer(CrawlRuns::PlayersChanged).default(0))
                    .col(double(CrawlRuns::AccountsPerSecond).default(0.0))
                    .col(text(CrawlRuns::Errors).default("{}"))
                    .col(integer(CrawlRuns::WorkersConnected).default(0))
                    .col(text_null(CrawlRuns::Summary))
                    .col(timestamp_with_time_zone(CrawlRuns::ProgressAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("crawl_runs_status")
                    .table(CrawlRuns::Table)
                    .col(CrawlRuns::Status)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CrawlBatches::Table)
                    .col(big_pk_auto(CrawlBatches::Id))
                    .col(big_integer(CrawlBatches::RunId))
                    .col(string_len(CrawlBatches::Platform, 8))
                    .col(big_integer(CrawlBatches::FirstId))
                    .col(big_integer(CrawlBatches::LastId))
                    .col(string_len(CrawlBatches::State, 8))
                    .col(uuid_null(CrawlBatches::WorkerId))
                    .col(timestamp_with_time_zone_null(CrawlBatches::LeaseUntil))
                    .col(integer(CrawlBatches::Attempts).default(0))
                    .col(integer_null(CrawlBatches::Players))
                    .col(timestamp_with_time_zone_null(CrawlBatches::DoneAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(CrawlBatches::Table, CrawlBatches::RunId)
                            .to(CrawlRuns::Table, CrawlRuns::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("crawl_batches_run_state")
                    .table(CrawlBatches::Table)
                    .col(CrawlBatches::RunId)
                    .col(CrawlBatches::State)
                    .col(CrawlBatches::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CrawlWorkers::Table)
                    .col(pk_uuid(CrawlWorkers::Id))
                    .col(big_integer(CrawlWorkers::RunId))
                    .col(string_len(CrawlWorkers::Name, 128))
                    .col(string_len(CrawlWorkers::ApplicationId, 128))
                    .col(integer(CrawlWorkers::RequestsPerSecond))
                    .col(timestamp_with_time_zone(CrawlWorkers::ConnectedAt))
                    .col(timestamp_with_time_zone(CrawlWorkers::LastSeenAt))
                    .col(timestamp_with_time_zone_null(CrawlWorkers::DisconnectedAt))
                    .col(big_integer(CrawlWorkers::BatchesDone).default(0))
                    .col(big_integer(CrawlWorkers::AccountsDone).default(0))
                    .col(big_integer(CrawlWorkers::Errors).default(0))
                    .foreign_key(
                        ForeignKey::create()
                            .from(CrawlWorkers::Table, CrawlWorkers::RunId)
                            .to(CrawlRuns::Table, CrawlRuns::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("crawl_workers_run")
                    .table(CrawlWorkers::Table)
                    .col(CrawlWorkers::RunId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CrawlSamples::Table)
                    .col(big_pk_auto(CrawlSamples::Id))
                    .col(big_integer(CrawlSamples::RunId))
                    .col(timestamp_with_time_zone(CrawlSamples::At))
                    .col(big_integer(CrawlSamples::BatchesDone))
                    .col(big_integer(CrawlSamples::AccountsDone))
                    .col(double(CrawlSamples::AccountsPerSecond))
                    .foreign_key(
                        ForeignKey::create()
                            .from(CrawlSamples::Table, CrawlSamples::RunId)
                            .to(CrawlRuns::Table, CrawlRuns::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("crawl_samples_run")
                    .table(CrawlSamples::Table)
                    .col(CrawlSamples::RunId)
                    .col(CrawlSamples::At)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ExportBacklog::Table)
                    .col(big_pk_auto(ExportBacklog::Id))
                    .col(string_len(ExportBacklog::IndexName, 255))
                    .col(string_len(ExportBacklog::DocId, 64))
                    .col(text(ExportBacklog::Body))
                    .col(integer(ExportBacklog::Attempts).default(0))
                    .col(text_null(ExportBacklog::LastError))
                    .col(timestamp_with_time_zone(ExportBacklog::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("export_backlog_document")
                    .table(ExportBacklog::Table)
                    .col(ExportBacklog::IndexName)
                    .col(ExportBacklog::DocId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        crate::grant_new_privilege(manager, CRAWLER_READ, "admin").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::drop_privilege(manager, CRAWLER_READ).await?;
        for table in [
            ExportBacklog::Table.into_iden(),
            CrawlSamples::Table.into_iden(),
            CrawlWorkers::Table.into_iden(),
            CrawlBatches::Table.into_iden(),
            CrawlRuns::Table.into_iden(),
            CrawlRanges::Table.into_iden(),
            BattleDiffs::Table.into_iden(),
            BattleTotals::Table.into_iden(),
            BattlePlayers::Table.into_iden(),
        ] {
            // Dropping a partitioned table drops its partitions.
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
