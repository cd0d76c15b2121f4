//! Seed 002's quests: a trigger (an event type, optionally of one game and name), a streak,
//! a duplication limit, auto-claim, a reward paid through the bank's ledger, an active
//! window and daily streaks; each player's progress and completions. Also marks which
//! platform events the relay has copied into the event stream.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261121_000001_create_auth_tables::fk;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Quests {
    Table,
    Id,
    Name,
    Description,
    TriggerKind,
    TriggerGameId,
    TriggerName,
    Streak,
    Duplication,
    AutoClaim,
    Daily,
    RewardCurrencyId,
    RewardAmount,
    StartsAt,
    EndsAt,
    Active,
}

#[derive(DeriveIden, Clone, Copy)]
enum QuestProgress {
    Table,
    QuestId,
    UserId,
    Streak,
    Completions,
    LastDay,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum QuestCompletions {
    Table,
    Id,
    QuestId,
    UserId,
    Number,
    EventId,
    CompletedAt,
    ClaimedAt,
    TransactionId,
}

#[derive(DeriveIden, Clone, Copy)]
enum PlatformEvents {
    Table,
    Relayed,
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

#[derive(DeriveIden, Clone, Copy)]
enum Currencies {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut quests = Table::create();
        quests
            .table(Quests::Table)
            .col(pk_auto(Quests::Id))
            .col(string_len_uniq(Quests::Name, 64))
            .col(text(Quests::Description))
            .col(string_len(Quests::TriggerKind, 32))
            .col(integer_null(Quests::TriggerGameId))
            .col(string_len_null(Quests::TriggerName, 64))
            .col(integer(Quests::Streak))
            .col(integer(Quests::Duplication))
            .col(boolean(Quests::AutoClaim))
            .col(boolean(Quests::Daily))
            .col(integer(Quests::RewardCurrencyId))
            .col(big_integer(Quests::RewardAmount))
            .col(timestamp_with_time_zone_null(Quests::StartsAt))
            .col(timestamp_with_time_zone_null(Quests::EndsAt))
            .col(boolean(Quests::Active))
            .check(Expr::col(Quests::Streak).gte(1))
            .check(Expr::col(Quests::Duplication).gte(1))
            .check(Expr::col(Quests::RewardAmount).gte(1))
            .foreign_key(&mut fk(
                (Quests::Table, Quests::TriggerGameId),
                (Games::Table, Games::Id),
                ForeignKeyAction::Cascade,
            ))
            .foreign_key(&mut fk(
                (Quests::Table, Quests::RewardCurrencyId),
                (Currencies::Table, Currencies::Id),
                ForeignKeyAction::Restrict,
            ));
        manager
            .create_table(crate::m20261128_000007_create_catalog::stamps(&mut quests).take())
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(QuestProgress::Table)
                    .col(integer(QuestProgress::QuestId))
                    .col(uuid(QuestProgress::UserId))
                    .col(integer(QuestProgress::Streak))
                    .col(integer(QuestProgress::Completions))
                    .col(date_null(QuestProgress::LastDay))
                    .col(timestamp_with_time_zone(QuestProgress::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(QuestProgress::QuestId)
                            .col(QuestProgress::UserId),
                    )
                    .foreign_key(&mut fk(
                        (QuestProgress::Table, QuestProgress::QuestId),
                        (Quests::Table, Quests::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        (QuestProgress::Table, QuestProgress::UserId),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(QuestCompletions::Table)
                    .col(pk_auto(QuestCompletions::Id))
                    .col(integer(QuestCompletions::QuestId))
                    .col(uuid(QuestCompletions::UserId))
                    .col(integer(QuestCompletions::Number))
                    .col(big_integer(QuestCompletions::EventId))
                    .col(timestamp_with_time_zone(QuestCompletions::CompletedAt))
                    .col(timestamp_with_time_zone_null(QuestCompletions::ClaimedAt))
                    .col(integer_null(QuestCompletions::TransactionId))
                    .foreign_key(&mut fk(
                        (QuestCompletions::Table, QuestCompletions::QuestId),
                        (Quests::Table, Quests::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        (QuestCompletions::Table, QuestCompletions::UserId),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(PlatformEvents::Table)
                    .add_column(boolean(PlatformEvents::Relayed).default(false))
                    .take(),
            )
            .await?;
        let db = manager.get_connection();
        for statement in [
            // A completion is one of the quest's numbered completions for the player, once.
            "CREATE UNIQUE INDEX quest_completions_number \
             ON quest_completions (quest_id, user_id, number)",
            "CREATE INDEX quest_completions_user ON quest_completions (user_id, quest_id)",
            "CREATE INDEX quests_trigger ON quests (trigger_kind) WHERE active",
            "CREATE INDEX platform_events_unrelayed ON platform_events (id) WHERE NOT relayed",
        ] {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX platform_events_unrelayed")
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(PlatformEvents::Table)
                    .drop_column(PlatformEvents::Relayed)
                    .take(),
            )
            .await?;
        for table in ["quest_completions", "quest_progress", "quests"] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
