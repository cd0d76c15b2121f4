//! Seed 001's Server and Session services and the Game service's game play: provisioning
//! hosts, hosted game servers (with the games each may run), play sessions and plays.
//!
//! Tokens are stored as SHA-256 hashes. A server's `live` is Arena's own count of its live
//! sessions, changed in the transaction that starts or ends one, so selection reads it from
//! one index instead of counting sessions; `player_count` is what the server claims.

use sea_orm_migration::{prelude::*, schema::*};

use crate::{
    m20261121_000001_create_auth_tables::{Users, fk},
    m20261128_000007_create_catalog::stamps,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum ProvisioningHosts {
    Table,
    Id,
    Name,
    TokenHash,
    ApiUrl,
    Official,
    Active,
    Address,
    PingedAt,
    Capacity,
    Slots,
    UpdatedBy,
}

#[derive(DeriveIden, Clone, Copy)]
enum GameServers {
    Table,
    Id,
    TokenHash,
    UserId,
    GameId,
    SocketHost,
    SocketPort,
    ApiUrl,
    Country,
    Provisioned,
    Quarantine,
    Official,
    Active,
    ServerInfo,
    PlayerCount,
    Ping,
    ProvisionedBy,
    Slots,
    Live,
    Health,
    Address,
    PingedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ServerGames {
    Table,
    ServerId,
    GameId,
}

#[derive(DeriveIden, Clone, Copy)]
enum PlaySessions {
    Table,
    Id,
    TokenHash,
    UserId,
    CharacterId,
    GameId,
    ServerId,
    ServerType,
    CreatedAt,
    ExpiresAt,
    JoinedAt,
    PingedAt,
    EndedAt,
    EndReason,
}

#[derive(DeriveIden, Clone, Copy)]
enum GamePlays {
    Table,
    Id,
    GameId,
    UserId,
    SessionId,
    StartTime,
    EndTime,
}

#[derive(DeriveIden, Clone, Copy)]
enum Games {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Characters {
    Table,
    Id,
}

const STATEMENTS: &[&str] = &[
    // Selection: the open servers of a game, by official, country and load.
    "CREATE INDEX game_servers_open ON game_servers (game_id, official, country, live) \
     WHERE active AND NOT quarantine AND health = 'ready'",
    "CREATE INDEX game_servers_load ON game_servers (game_id, official, live) \
     WHERE active AND NOT quarantine AND health = 'ready'",
    "CREATE INDEX game_servers_host ON game_servers (provisioned_by)",
    "CREATE INDEX game_servers_owner ON game_servers (user_id, id)",
    "CREATE INDEX server_games_game ON server_games (game_id)",
    // A player has at most one live session per game.
    "CREATE UNIQUE INDEX play_sessions_live ON play_sessions (user_id, game_id) \
     WHERE ended_at IS NULL",
    "CREATE INDEX play_sessions_server_live ON play_sessions (server_id) WHERE ended_at IS NULL",
    "CREATE INDEX play_sessions_owner ON play_sessions (user_id, id)",
    "CREATE INDEX game_plays_game_day ON game_plays (game_id, start_time)",
    "CREATE INDEX game_plays_day ON game_plays (start_time)",
    "CREATE INDEX game_plays_owner ON game_plays (user_id, id)",
    // Friends are looked up from either side: the pair index leads with neither column.
    "CREATE INDEX friends_user ON friends (user_id)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut hosts = Table::create();
        hosts
            .table(ProvisioningHosts::Table)
            .col(pk_auto(ProvisioningHosts::Id))
            .col(string_len(ProvisioningHosts::Name, 100))
            .col(string_len_uniq(ProvisioningHosts::TokenHash, 64))
            .col(text(ProvisioningHosts::ApiUrl))
            .col(boolean(ProvisioningHosts::Official).default(true))
            .col(boolean(ProvisioningHosts::Active).default(true))
            .col(string_len_null(ProvisioningHosts::Address, 45))
            .col(timestamp_with_time_zone_null(ProvisioningHosts::PingedAt))
            .col(integer(ProvisioningHosts::Capacity))
            .col(integer(ProvisioningHosts::Slots).default(0))
            .col(uuid_null(ProvisioningHosts::UpdatedBy))
            .check(Expr::col(ProvisioningHosts::Slots).gte(0))
            .foreign_key(&mut fk(
                (ProvisioningHosts::Table, ProvisioningHosts::UpdatedBy),
                (Users::Table, Users::Id),
                ForeignKeyAction::SetNull,
            ));
        manager.create_table(stamps(&mut hosts).take()).await?;

        let mut servers = Table::create();
        servers
            .table(GameServers::Table)
            .col(pk_auto(GameServers::Id))
            .col(string_len_uniq(GameServers::TokenHash, 64))
            .col(uuid(GameServers::UserId))
            .col(integer_null(GameServers::GameId))
            .col(string_len(GameServers::SocketHost, 255))
            .col(integer(GameServers::SocketPort))
            .col(text_null(GameServers::ApiUrl))
            .col(string_len_null(GameServers::Country, 2))
            .col(boolean(GameServers::Provisioned).default(false))
            .col(boolean(GameServers::Quarantine).default(false))
            .col(boolean(GameServers::Official).default(false))
            .col(boolean(GameServers::Active).default(true))
            .col(json_null(GameServers::ServerInfo))
            .col(integer_null(GameServers::PlayerCount))
            .col(integer_null(GameServers::Ping))
            .col(integer_null(GameServers::ProvisionedBy))
            .col(integer(GameServers::Slots))
            .col(integer(GameServers::Live).default(0))
            .col(string_len(GameServers::Health, 16).default("registering"))
            .col(string_len_null(GameServers::Address, 45))
            .col(timestamp_with_time_zone_null(GameServers::PingedAt))
            .check(Expr::col(GameServers::Live).gte(0))
            .check(Expr::col(GameServers::Live).lte(Expr::col(GameServers::Slots)))
            .foreign_key(&mut fk(
                (GameServers::Table, GameServers::UserId),
                (Users::Table, Users::Id),
                ForeignKeyAction::Cascade,
            ))
            .foreign_key(&mut fk(
                (GameServers::Table, GameServers::GameId),
                (Games::Table, Games::Id),
                ForeignKeyAction::SetNull,
            ))
            .foreign_key(&mut fk(
                (GameServers::Table, GameServers::ProvisionedBy),
                (ProvisioningHosts::Table, ProvisioningHosts::Id),
                ForeignKeyAction::SetNull,
            ));
        manager.create_table(stamps(&mut servers).take()).await?;

        manager
            .create_table(
                Table::create()
                    .table(ServerGames::Table)
                    .col(integer(ServerGames::ServerId))
                    .col(integer(ServerGames::GameId))
                    .primary_key(
                        Index::create()
                            .col(ServerGames::ServerId)
                            .col(ServerGames::GameId),
                    )
                    .foreign_key(&mut fk(
                        (ServerGames::Table, ServerGames::ServerId),
                        (GameServers::Table, GameServers::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        (ServerGames::Table, ServerGames::GameId),
                        (Games::Table, Games::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PlaySessions::Table)
                    .col(pk_auto(PlaySessions::Id))
                    .col(string_len_uniq(PlaySessions::TokenHash, 64))
                    .col(uuid(PlaySessions::UserId))
                    .col(integer_null(PlaySessions::CharacterId))
                    .col(integer(PlaySessions::GameId))
                    .col(integer(PlaySessions::ServerId))
                    .col(string_len(PlaySessions::ServerType, 16).default("provision"))
                    .col(timestamp_with_time_zone(PlaySessions::CreatedAt))
                    .col(timestamp_with_time_zone(PlaySessions::ExpiresAt))
                    .col(timestamp_with_time_zone_null(PlaySessions::JoinedAt))
                    .col(timestamp_with_time_zone_null(PlaySessions::PingedAt))
                    .col(timestamp_with_time_zone_null(PlaySessions::EndedAt))
                    .col(string_len_null(PlaySessions::EndReason, 32))
                    .foreign_key(&mut fk(
                        (PlaySessions::Table, PlaySessions::UserId),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        (PlaySessions::Table, PlaySessions::CharacterId),
                        (Characters::Table, Characters::Id),
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        (PlaySessions::Table, PlaySessions::GameId),
                        (Games::Table, Games::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        (PlaySessions::Table, PlaySessions::ServerId),
                        (GameServers::Table, GameServers::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(GamePlays::Table)
                    .col(pk_auto(GamePlays::Id))
                    .col(integer(GamePlays::GameId))
                    .col(uuid(GamePlays::UserId))
                    .col(integer_uniq(GamePlays::SessionId))
                    .col(timestamp_with_time_zone(GamePlays::StartTime))
                    .col(timestamp_with_time_zone_null(GamePlays::EndTime))
                    .foreign_key(&mut fk(
                        (GamePlays::Table, GamePlays::GameId),
                        (Games::Table, Games::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        (GamePlays::Table, GamePlays::UserId),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        (GamePlays::Table, GamePlays::SessionId),
                        (PlaySessions::Table, PlaySessions::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        let db = manager.get_connection();
        for statement in STATEMENTS {
            db.execute_unprepared(statement).await?;
        }
        crate::grant_new_privilege(manager, QUARANTINE, "moderator").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::drop_privilege(manager, QUARANTINE).await?;
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX friends_user")
            .await?;
        for table in [
            "game_plays",
            "play_sessions",
            "server_games",
            "game_servers",
        ] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        manager
            .drop_table(Table::drop().table(ProvisioningHosts::Table).to_owned())
            .await
    }
}

/// Quarantine game servers: moderators' part of the server domain.
const QUARANTINE: &str = "server.quarantine";
