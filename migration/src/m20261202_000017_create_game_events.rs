//! Seed 003's event stream, stored: every event a game server, a trusted backend or the
//! platform sends, kept once per producer's id (`scope`, `event_key`), in the order it
//! arrived (`id`), with where its processing stands.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Sending events as a trusted backend.
const EVENT_INGEST: &str = "event.ingest";

#[derive(DeriveIden, Clone, Copy)]
enum GameEvents {
    Table,
    Id,
    Scope,
    EventKey,
    GameId,
    Kind,
    Name,
    UserId,
    WinnerId,
    LoserId,
    Data,
    OccurredAt,
    ReceivedAt,
    Source,
    State,
    ProcessedAt,
    Failure,
}

const STATEMENTS: &[&str] = &[
    // A producer's id names one event: a duplicate is accepted and ignored.
    "CREATE UNIQUE INDEX game_events_key ON game_events (scope, event_key)",
    // What the processor has still to do, in arrival order.
    "CREATE INDEX game_events_pending ON game_events (id) WHERE state = 'pending'",
    "CREATE INDEX game_events_game ON game_events (game_id, id)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // No foreign keys on the game or the players: an event naming an unknown one is
        // stored and then refused by the processor with its reason, not lost at ingest.
        manager
            .create_table(
                Table::create()
                    .table(GameEvents::Table)
                    .col(big_pk_auto(GameEvents::Id))
                    .col(string_len(GameEvents::Scope, 48))
                    .col(string_len(GameEvents::EventKey, 128))
                    .col(integer_null(GameEvents::GameId))
                    .col(string_len(GameEvents::Kind, 32))
                    .col(string_len_null(GameEvents::Name, 64))
                    .col(uuid_null(GameEvents::UserId))
                    .col(uuid_null(GameEvents::WinnerId))
                    .col(uuid_null(GameEvents::LoserId))
                    .col(json_null(GameEvents::Data))
                    .col(timestamp_with_time_zone(GameEvents::OccurredAt))
                    .col(timestamp_with_time_zone(GameEvents::ReceivedAt))
                    .col(string_len(GameEvents::Source, 64))
                    .col(string_len(GameEvents::State, 16).default("pending"))
                    .col(timestamp_with_time_zone_null(GameEvents::ProcessedAt))
                    .col(text_null(GameEvents::Failure))
                    .to_owned(),
            )
            .await?;
        for statement in STATEMENTS {
            manager
                .get_connection()
                .execute_unprepared(statement)
                .await?;
        }
        crate::grant_new_privilege(manager, EVENT_INGEST, "admin").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::drop_privilege(manager, EVENT_INGEST).await?;
        manager
            .drop_table(Table::drop().table(GameEvents::Table).to_owned())
            .await
    }
}
