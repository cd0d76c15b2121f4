//! Seed 001's host ban: an address or network banned from hosting game servers (separate
//! from user bans, which keep players out), with its reason, optional expiry and optionally
//! the user behind it. A ban is lifted, never deleted, so its history stays.

use sea_orm_migration::{prelude::*, schema::*};

use crate::{
    m20261121_000001_create_auth_tables::{Users, fk},
    m20261128_000007_create_catalog::stamps,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum HostBans {
    Table,
    Id,
    Ip,
    Cidr,
    AdminId,
    UserId,
    Reason,
    ExpiresAt,
    LiftedAt,
    LiftedBy,
    LiftReason,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut bans = Table::create();
        bans.table(HostBans::Table)
            .col(pk_auto(HostBans::Id))
            .col(string_len(HostBans::Ip, 45))
            .col(small_integer(HostBans::Cidr).default(32))
            .col(uuid(HostBans::AdminId))
            .col(uuid_null(HostBans::UserId))
            .col(text(HostBans::Reason));
        stamps(&mut bans)
            .col(timestamp_with_time_zone_null(HostBans::ExpiresAt))
            .col(timestamp_with_time_zone_null(HostBans::LiftedAt))
            .col(uuid_null(HostBans::LiftedBy))
            .col(text_null(HostBans::LiftReason))
            .foreign_key(&mut fk(
                (HostBans::Table, HostBans::AdminId),
                (Users::Table, Users::Id),
                ForeignKeyAction::Restrict,
            ))
            .foreign_key(&mut fk(
                (HostBans::Table, HostBans::UserId),
                (Users::Table, Users::Id),
                ForeignKeyAction::SetNull,
            ))
            .foreign_key(&mut fk(
                (HostBans::Table, HostBans::LiftedBy),
                (Users::Table, Users::Id),
                ForeignKeyAction::SetNull,
            ));
        manager.create_table(bans.take()).await?;
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX host_bans_live ON host_bans (id) WHERE lifted_at IS NULL",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(HostBans::Table).to_owned())
            .await
    }
}
