//! The social graph of seed 001's Player service: friends (a request is a pending row), follows
//! and blocks. A pair of players has at most one friends row, whichever of them asked.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261121_000001_create_auth_tables::{Users, fk};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The three tables share their shape: who, to whom, when.
#[derive(DeriveIden, Clone, Copy)]
enum Edge {
    Id,
    UserId,
    TargetId,
    Pending,
    CreatedAt,
    UpdatedAt,
}

const TABLES: [&str; 3] = ["friends", "follows", "blocks"];

fn edge_table(name: &'static str) -> TableCreateStatement {
    let table = Alias::new(name);
    let mut create = Table::create();
    create
        .table(table.clone())
        .if_not_exists()
        .col(pk_auto(Edge::Id))
        .col(uuid(Edge::UserId))
        .col(uuid(Edge::TargetId));
    if name == "friends" {
        create.col(boolean(Edge::Pending).default(true));
    }
    create
        .col(timestamp_with_time_zone_default_now(Edge::CreatedAt))
        .col(timestamp_with_time_zone_default_now(Edge::UpdatedAt))
        .check(Expr::col(Edge::UserId).ne(Expr::col(Edge::TargetId)))
        .foreign_key(&mut fk(
            (table.clone(), Edge::UserId),
            (Users::Table, Users::Id),
            ForeignKeyAction::Cascade,
        ))
        .foreign_key(&mut fk(
            (table, Edge::TargetId),
            (Users::Table, Users::Id),
            ForeignKeyAction::Cascade,
        ))
        .take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in TABLES {
            manager.create_table(edge_table(name)).await?;
            manager
                .create_index(
                    Index::create()
                        .name(format!("{name}_target"))
                        .table(Alias::new(name))
                        .col(Edge::TargetId)
                        .to_owned(),
                )
                .await?;
        }
        for name in ["follows", "blocks"] {
            manager
                .create_index(
                    Index::create()
                        .name(format!("{name}_pair"))
                        .table(Alias::new(name))
                        .col(Edge::UserId)
                        .col(Edge::TargetId)
                        .unique()
                        .to_owned(),
                )
                .await?;
        }
        // One friends row per pair in either direction: an index on the ordered pair.
        let (low, high) = match manager.get_database_backend() {
            sea_orm::DatabaseBackend::Sqlite => ("min", "max"),
            _ => ("LEAST", "GREATEST"),
        };
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "CREATE UNIQUE INDEX friends_pair ON friends \
                 ({low}(user_id, target_id), {high}(user_id, target_id))"
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in TABLES {
            manager
                .drop_table(Table::drop().table(Alias::new(name)).to_owned())
                .await?;
        }
        Ok(())
    }
}
