//! Two-phase transfers, resale listings and seed 001's trades.
//!
//! A pending transfer (`state = 'pending'`, not `confirmed`) moves its amount from the
//! payer's balance to the payer's `held`, so it can be spent nowhere else; posting it writes a
//! confirmed transfer of at most that amount pointing to it (`pending_id`) and returns the
//! rest, voiding returns it all. A trade holds its sender's money as such a transfer and its
//! sender's copies by `content_ownerships.trade_id`, so neither can go elsewhere while the
//! trade is open; `trade_events` keeps every step of it.

use sea_orm_migration::{prelude::*, schema::*};

use crate::{
    m20261121_000001_create_auth_tables::{Users, fk},
    m20261128_000007_create_catalog::stamps,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Transactions {
    Table,
    Id,
    State,
    PendingId,
    TimeoutAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum AccountBalances {
    Table,
    Held,
}

#[derive(DeriveIden, Clone, Copy)]
enum ContentOwnerships {
    Table,
    Id,
    TradeId,
    ListPrice,
    ListCurrency,
    ListedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Trades {
    Table,
    Id,
    UserId,
    RecipientId,
    Status,
    Description,
    OfferedCurrencyId,
    OfferedAmount,
    RequestedCurrencyId,
    RequestedAmount,
    HoldTransactionId,
    IdempotencyKey,
    Reason,
    ExpiresAt,
    ClosedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum TradeUserOwnerships {
    Table,
    TradeId,
    OwnershipId,
}

#[derive(DeriveIden, Clone, Copy)]
enum TradeRecipientOwnerships {
    Table,
    TradeId,
    OwnershipId,
}

#[derive(DeriveIden, Clone, Copy)]
enum TradeEvents {
    Table,
    Id,
    TradeId,
    Status,
    ActorId,
    Reason,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Currencies {
    Table,
    Id,
}

const STATEMENTS: &[&str] = &[
    // A pending transfer is posted once.
    "CREATE UNIQUE INDEX transactions_pending ON transactions (pending_id) WHERE pending_id IS NOT NULL",
    "CREATE INDEX transactions_timeout ON transactions (timeout_at) WHERE state = 'pending'",
    "CREATE INDEX content_ownerships_trade ON content_ownerships (trade_id) WHERE trade_id IS NOT NULL",
    "CREATE INDEX content_ownerships_listed ON content_ownerships (content_id, list_price) WHERE list_price IS NOT NULL",
    "CREATE UNIQUE INDEX trades_key ON trades (user_id, idempotency_key)",
    "CREATE INDEX trades_sender ON trades (user_id, id)",
    "CREATE INDEX trades_recipient ON trades (recipient_id, id)",
    "CREATE INDEX trades_open ON trades (expires_at) WHERE status IN ('sent', 'opened')",
    "CREATE INDEX trade_events_trade ON trade_events (trade_id, id)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per statement.
        for column in [
            string_len(Transactions::State, 8).default("posted").take(),
            integer_null(Transactions::PendingId).take(),
            timestamp_with_time_zone_null(Transactions::TimeoutAt).take(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Transactions::Table)
                        .add_column(column)
                        .take(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(AccountBalances::Table)
                    .add_column(
                        big_integer(AccountBalances::Held)
                            .default(0)
                            .check(Expr::col(AccountBalances::Held).gte(0)),
                    )
                    .take(),
            )
            .await?;

        let mut trades = Table::create();
        trades
            .table(Trades::Table)
            .col(pk_auto(Trades::Id))
            .col(uuid(Trades::UserId))
            .col(uuid(Trades::RecipientId))
            .col(string_len(Trades::Status, 16).default("sent"))
            .col(text_null(Trades::Description))
            .col(integer_null(Trades::OfferedCurrencyId))
            .col(big_integer_null(Trades::OfferedAmount))
            .col(integer_null(Trades::RequestedCurrencyId))
            .col(big_integer_null(Trades::RequestedAmount))
            .col(integer_null(Trades::HoldTransactionId))
            .col(string_len(Trades::IdempotencyKey, 200))
            .col(text_null(Trades::Reason))
            .col(timestamp_with_time_zone(Trades::ExpiresAt))
            .col(timestamp_with_time_zone_null(Trades::ClosedAt))
            .foreign_key(&mut fk(
                (Trades::Table, Trades::UserId),
                (Users::Table, Users::Id),
                ForeignKeyAction::Restrict,
            ))
            .foreign_key(&mut fk(
                (Trades::Table, Trades::RecipientId),
                (Users::Table, Users::Id),
                ForeignKeyAction::Restrict,
            ))
            .foreign_key(&mut fk(
                (Trades::Table, Trades::OfferedCurrencyId),
                (Currencies::Table, Currencies::Id),
                ForeignKeyAction::Restrict,
            ))
            .foreign_key(&mut fk(
                (Trades::Table, Trades::RequestedCurrencyId),
                (Currencies::Table, Currencies::Id),
                ForeignKeyAction::Restrict,
            ))
            .foreign_key(&mut fk(
                (Trades::Table, Trades::HoldTransactionId),
                (Transactions::Table, Transactions::Id),
                ForeignKeyAction::Restrict,
            ));
        manager.create_table(stamps(&mut trades).take()).await?;

        for (table, trade, copy) in [
            (
                TradeUserOwnerships::Table.into_iden(),
                TradeUserOwnerships::TradeId.into_iden(),
                TradeUserOwnerships::OwnershipId.into_iden(),
            ),
            (
                TradeRecipientOwnerships::Table.into_iden(),
                TradeRecipientOwnerships::TradeId.into_iden(),
                TradeRecipientOwnerships::OwnershipId.into_iden(),
            ),
        ] {
            manager
                .create_table(
                    Table::create()
                        .table(table.clone())
                        .col(integer(trade.clone()))
                        .col(integer(copy.clone()))
                        .primary_key(Index::create().col(trade.clone()).col(copy.clone()))
                        .foreign_key(&mut fk(
                            (table.clone(), trade),
                            (Trades::Table, Trades::Id),
                            ForeignKeyAction::Cascade,
                        ))
                        .foreign_key(&mut fk(
                            (table, copy),
                            (ContentOwnerships::Table, ContentOwnerships::Id),
                            ForeignKeyAction::Restrict,
                        ))
                        .take(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(TradeEvents::Table)
                    .col(pk_auto(TradeEvents::Id))
                    .col(integer(TradeEvents::TradeId))
                    .col(string_len(TradeEvents::Status, 16))
                    .col(uuid_null(TradeEvents::ActorId))
                    .col(text_null(TradeEvents::Reason))
                    .col(timestamp_with_time_zone_default_now(TradeEvents::CreatedAt))
                    .foreign_key(&mut fk(
                        (TradeEvents::Table, TradeEvents::TradeId),
                        (Trades::Table, Trades::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .take(),
            )
            .await?;

        for column in [
            integer_null(ContentOwnerships::TradeId).take(),
            big_integer_null(ContentOwnerships::ListPrice).take(),
            string_len_null(ContentOwnerships::ListCurrency, 8).take(),
            timestamp_with_time_zone_null(ContentOwnerships::ListedAt).take(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(ContentOwnerships::Table)
                        .add_column(column)
                        .take(),
                )
                .await?;
        }
        let db = manager.get_connection();
        for statement in STATEMENTS {
            db.execute_unprepared(statement).await?;
        }
        // Creators own what they made, as seed 001's `author` source says.
        db.execute_unprepared(
            "INSERT INTO content_ownerships (content_id, source, user_id, created_by, updated_by) \
             SELECT id, 'author', user_id, user_id, user_id FROM contents \
             WHERE user_id IS NOT NULL AND type NOT IN ('comment', 'status') AND NOT derived",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DELETE FROM content_ownerships WHERE source = 'author'")
            .await?;
        for table in [
            "trade_events",
            "trade_recipient_ownerships",
            "trade_user_ownerships",
            "trades",
        ] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        for index in [
            "transactions_pending",
            "transactions_timeout",
            "content_ownerships_trade",
            "content_ownerships_listed",
        ] {
            manager
                .drop_index(Index::drop().name(index).to_owned())
                .await?;
        }
        for (table, column) in [
            ("transactions", "state"),
            ("transactions", "pending_id"),
            ("transactions", "timeout_at"),
            ("account_balances", "held"),
            ("content_ownerships", "trade_id"),
            ("content_ownerships", "list_price"),
            ("content_ownerships", "list_currency"),
            ("content_ownerships", "listed_at"),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new(table))
                        .drop_column(Alias::new(column))
                        .take(),
                )
                .await?;
        }
        Ok(())
    }
}
