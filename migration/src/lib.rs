//! The Arena schema migrations. Append-only: `mYYYYMMDD_HHMMSS_verb_object.rs`, each with
//! `up` and `down`, each written once for both PostgreSQL and SQLite.

// MigrationTrait's methods take `&SchemaManager` with the lifetime elided; naming it breaks
// the async_trait expansion.
#![allow(elided_lifetimes_in_paths)]

pub use sea_orm_migration::prelude::*;

mod m20261121_000001_create_auth_tables;
mod m20261121_000002_create_mail_outbox;
mod m20261122_000003_create_battle_tables;
mod m20261128_000004_add_token_address;
mod m20261128_000005_create_battle_rollups;
mod m20261128_000006_create_social_graph;
mod m20261128_000007_create_catalog;
mod m20261128_000008_create_assets;
mod m20261128_000009_create_bank;
mod m20261128_000010_create_store;
mod m20261128_000011_create_trades;
mod m20261128_000012_create_characters;
mod m20261128_000013_create_host_bans;
mod m20261129_000014_create_play;
mod m20261130_000015_index_unjoined_sessions;
mod m20261201_000016_index_play_reads;
mod m20261202_000017_create_game_events;
mod m20261203_000018_index_event_days;
mod m20261203_000019_grant_event_manage;
mod m20261204_000020_create_player_stats;
mod m20261205_000021_create_leaderboards;
mod m20261206_000022_create_quests;

pub use m20261122_000003_create_battle_tables::COUNTERS as BATTLE_COUNTERS;

/// Every migration, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_create_auth_tables::Migration),
            Box::new(m20261121_000002_create_mail_outbox::Migration),
            Box::new(m20261122_000003_create_battle_tables::Migration),
            Box::new(m20261128_000004_add_token_address::Migration),
            Box::new(m20261128_000005_create_battle_rollups::Migration),
            Box::new(m20261128_000006_create_social_graph::Migration),
            Box::new(m20261128_000007_create_catalog::Migration),
            Box::new(m20261128_000008_create_assets::Migration),
            Box::new(m20261128_000009_create_bank::Migration),
            Box::new(m20261128_000010_create_store::Migration),
            Box::new(m20261128_000011_create_trades::Migration),
            Box::new(m20261128_000012_create_characters::Migration),
            Box::new(m20261128_000013_create_host_bans::Migration),
            Box::new(m20261129_000014_create_play::Migration),
            Box::new(m20261130_000015_index_unjoined_sessions::Migration),
            Box::new(m20261201_000016_index_play_reads::Migration),
            Box::new(m20261202_000017_create_game_events::Migration),
            Box::new(m20261203_000018_index_event_days::Migration),
            Box::new(m20261203_000019_grant_event_manage::Migration),
            Box::new(m20261204_000020_create_player_stats::Migration),
            Box::new(m20261205_000021_create_leaderboards::Migration),
            Box::new(m20261206_000022_create_quests::Migration),
        ]
    }
}

use m20261121_000001_create_auth_tables::{Privileges, RolePrivileges, Roles};

/// Adds `privilege` and grants it to `role` by name, whatever ids the roles have by now.
pub(crate) async fn grant_new_privilege(
    manager: &SchemaManager<'_>,
    privilege: &str,
    role: &str,
) -> Result<(), DbErr> {
    let insert = Query::insert()
        .into_table(Privileges::Table)
        .columns([Privileges::Privilege])
        .values_panic([privilege.into()])
        .to_owned();
    manager.exec_stmt(insert).await?;
    let grant = Query::insert()
        .into_table(RolePrivileges::Table)
        .columns([RolePrivileges::RoleId, RolePrivileges::PrivilegeId])
        .select_from(
            Query::select()
                .column((Roles::Table, Roles::Id))
                .column((Privileges::Table, Privileges::Id))
                .from(Roles::Table)
                .cross_join(Privileges::Table)
                .and_where(Expr::col((Roles::Table, Roles::Role)).eq(role))
                .and_where(Expr::col((Privileges::Table, Privileges::Privilege)).eq(privilege))
                .to_owned(),
        )
        .map_err(|err| DbErr::Migration(err.to_string()))?
        .to_owned();
    manager.exec_stmt(grant).await
}

/// Removes `privilege` and its grants.
pub(crate) async fn drop_privilege(
    manager: &SchemaManager<'_>,
    privilege: &str,
) -> Result<(), DbErr> {
    manager
        .exec_stmt(
            Query::delete()
                .from_table(Privileges::Table)
                .and_where(Expr::col(Privileges::Privilege).eq(privilege))
                .to_owned(),
        )
        .await
}

/// Creates indexes given as `(name, "table (columns) …")`. SQLite has no `INCLUDE`: its
/// index keys the included columns too.
pub(crate) async fn create_indexes(
    manager: &SchemaManager<'_>,
    indexes: &[(&str, &str)],
) -> Result<(), DbErr> {
    let sqlite = manager.get_database_backend() == sea_orm::DatabaseBackend::Sqlite;
    for (name, on) in indexes {
        let on = if sqlite {
            on.replace(") INCLUDE (", ", ")
        } else {
            (*on).to_owned()
        };
        manager
            .get_connection()
            .execute_unprepared(&format!("CREATE INDEX {name} ON {on}"))
            .await?;
    }
    Ok(())
}

/// Drops indexes by name.
pub(crate) async fn drop_indexes(manager: &SchemaManager<'_>, names: &[&str]) -> Result<(), DbErr> {
    for name in names {
        manager
            .get_connection()
            .execute_unprepared(&format!("DROP INDEX {name}"))
            .await?;
    }
    Ok(())
}
