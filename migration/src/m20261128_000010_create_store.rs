//! Seed 001's commercial tables of the catalog: object prices and the content ownership
//! relation. An ownership ends (`ended_at`) when its item changes hands, and the next one
//! points to it (`previous_ownership_id`), so every hand an item passed through is kept.
//! Limited items carry serials 1..stock, unique per item.

use sea_orm_migration::{prelude::*, schema::*};

use crate::{
    m20261121_000001_create_auth_tables::{Users, fk},
    m20261128_000007_create_catalog::stamps,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum ObjectPrices {
    Table,
    Id,
    ContentId,
    Price,
    Currency,
    CreatedBy,
    UpdatedBy,
}

#[derive(DeriveIden, Clone, Copy)]
enum ContentOwnerships {
    Table,
    Id,
    ContentId,
    Source,
    UserId,
    PreviousOwnershipId,
    PurchasePrice,
    PurchaseCurrency,
    Serial,
    TransactionId,
    IdempotencyKey,
    CreatedBy,
    UpdatedBy,
    EndedAt,
    ExpiresAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Contents {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Transactions {
    Table,
    Id,
}

const STATEMENTS: &[&str] = &[
    "CREATE UNIQUE INDEX object_prices_pair ON object_prices (content_id, currency)",
    // A serial is sold once; later hands of the copy keep it.
    "CREATE UNIQUE INDEX content_ownerships_serial ON content_ownerships (content_id, serial) WHERE serial IS NOT NULL AND previous_ownership_id IS NULL",
    // A player holds one live copy of an item.
    "CREATE UNIQUE INDEX content_ownerships_live ON content_ownerships (content_id, user_id) WHERE ended_at IS NULL",
    "CREATE UNIQUE INDEX content_ownerships_key ON content_ownerships (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL",
    "CREATE INDEX content_ownerships_owner ON content_ownerships (user_id, id)",
    "CREATE INDEX content_ownerships_previous ON content_ownerships (previous_ownership_id)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut prices = Table::create();
        prices
            .table(ObjectPrices::Table)
            .col(pk_auto(ObjectPrices::Id))
            .col(integer(ObjectPrices::ContentId))
            .col(
                big_integer(ObjectPrices::Price)
                    .default(0)
                    .check(Expr::col(ObjectPrices::Price).gte(0)),
            )
            .col(string_len(ObjectPrices::Currency, 8))
            .col(uuid_null(ObjectPrices::CreatedBy))
            .col(uuid_null(ObjectPrices::UpdatedBy))
            .foreign_key(&mut fk(
                (ObjectPrices::Table, ObjectPrices::ContentId),
                (Contents::Table, Contents::Id),
                ForeignKeyAction::Cascade,
            ));
        manager.create_table(stamps(&mut prices).take()).await?;

        let mut owned = Table::create();
        owned
            .table(ContentOwnerships::Table)
            .col(pk_auto(ContentOwnerships::Id))
            .col(integer(ContentOwnerships::ContentId))
            .col(string_len(ContentOwnerships::Source, 16).default("author"))
            .col(uuid(ContentOwnerships::UserId))
            .col(integer_null(ContentOwnerships::PreviousOwnershipId))
            .col(big_integer_null(ContentOwnerships::PurchasePrice))
            .col(string_len_null(ContentOwnerships::PurchaseCurrency, 8))
            .col(integer_null(ContentOwnerships::Serial))
            .col(integer_null(ContentOwnerships::TransactionId))
            .col(string_len_null(ContentOwnerships::IdempotencyKey, 160))
            .col(uuid_null(ContentOwnerships::CreatedBy))
            .col(uuid_null(ContentOwnerships::UpdatedBy));
        stamps(&mut owned)
            .col(timestamp_with_time_zone_null(ContentOwnerships::EndedAt))
            .col(timestamp_with_time_zone_null(ContentOwnerships::ExpiresAt))
            .foreign_key(&mut fk(
                (ContentOwnerships::Table, ContentOwnerships::ContentId),
                (Contents::Table, Contents::Id),
                ForeignKeyAction::Restrict,
            ))
            .foreign_key(&mut fk(
                (ContentOwnerships::Table, ContentOwnerships::UserId),
                (Users::Table, Users::Id),
                ForeignKeyAction::Restrict,
            ))
            .foreign_key(&mut fk(
                (
                    ContentOwnerships::Table,
                    ContentOwnerships::PreviousOwnershipId,
                ),
                (ContentOwnerships::Table, ContentOwnerships::Id),
                ForeignKeyAction::Restrict,
            ))
            .foreign_key(&mut fk(
                (ContentOwnerships::Table, ContentOwnerships::TransactionId),
                (Transactions::Table, Transactions::Id),
                ForeignKeyAction::Restrict,
            ));
        manager.create_table(owned.take()).await?;
        let db = manager.get_connection();
        for statement in STATEMENTS {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["content_ownerships", "object_prices"] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
