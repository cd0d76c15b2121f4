//! Seed 001's Bank service: currencies, conversions, account balances and transactions, as a
//! double-entry ledger, plus the platform event outbox.
//!
//! Each transaction debits the payer's account (`user_id`) and credits the recipient's
//! (`recipient_id`); a missing side is the platform's system account of the currency, whose
//! balance is minus what is in circulation. So the balances of a currency always sum to zero,
//! and what players hold changes only by mint and burn. A player's balance never goes below
//! zero: a `CHECK` backs the service's own test. A transfer's idempotency key is unique per
//! payer, so a retried request applies once.

use sea_orm_migration::{prelude::*, schema::*};

use crate::{
    m20261121_000001_create_auth_tables::{Users, fk},
    m20261128_000007_create_catalog::stamps,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Currencies {
    Table,
    Id,
    Type,
    Name,
}

#[derive(DeriveIden, Clone, Copy)]
enum CurrencyConversions {
    Table,
    Id,
    CurrencySourceId,
    CurrencyDestinationId,
    Ratio,
    Volume,
    ValidFrom,
    ValidTo,
}

#[derive(DeriveIden, Clone, Copy)]
enum AccountBalances {
    Table,
    Id,
    CurrencyId,
    UserId,
    Amount,
}

#[derive(DeriveIden, Clone, Copy)]
enum Transactions {
    Table,
    Id,
    CurrencyId,
    UserId,
    RecipientId,
    PreviousTransactionId,
    Description,
    Amount,
    Confirmed,
    Automated,
    Kind,
    IdempotencyKey,
    ConversionId,
}

#[derive(DeriveIden, Clone, Copy)]
enum PlatformEvents {
    Table,
    Id,
    Kind,
    Payload,
    CreatedAt,
}

const STATEMENTS: &[&str] = &[
    "CREATE UNIQUE INDEX currencies_name ON currencies (name)",
    "CREATE INDEX currency_conversions_pair ON currency_conversions (currency_source_id, currency_destination_id, valid_from)",
    // One account per player and currency, and one system account per currency.
    "CREATE UNIQUE INDEX account_balances_owner ON account_balances (currency_id, user_id) WHERE user_id IS NOT NULL",
    "CREATE UNIQUE INDEX account_balances_system ON account_balances (currency_id) WHERE user_id IS NULL",
    "CREATE INDEX account_balances_user ON account_balances (user_id)",
    "CREATE UNIQUE INDEX transactions_idempotency ON transactions (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL AND user_id IS NOT NULL",
    "CREATE UNIQUE INDEX transactions_system_idempotency ON transactions (idempotency_key) WHERE idempotency_key IS NOT NULL AND user_id IS NULL",
    "CREATE INDEX transactions_payer ON transactions (user_id, id)",
    "CREATE INDEX transactions_recipient ON transactions (recipient_id, id)",
    "CREATE INDEX transactions_conversion ON transactions (conversion_id) WHERE conversion_id IS NOT NULL",
    // A transaction is rolled back once.
    "CREATE UNIQUE INDEX transactions_rollback ON transactions (previous_transaction_id) WHERE previous_transaction_id IS NOT NULL",
    "INSERT INTO currencies (type, name) VALUES ('whole', 'coins'), ('denom', 'gems')",
    "INSERT INTO account_balances (currency_id, user_id, amount) SELECT id, NULL, 0 FROM currencies",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut currencies = Table::create();
        currencies
            .table(Currencies::Table)
            .col(pk_auto(Currencies::Id))
            .col(string_len(Currencies::Type, 8))
            .col(string_len(Currencies::Name, 255));
        manager.create_table(stamps(&mut currencies).take()).await?;

        let currency = |table: Alias, column: Alias| {
            fk(
                (table, column),
                (Currencies::Table, Currencies::Id),
                ForeignKeyAction::Restrict,
            )
        };
        let mut conversions = Table::create();
        conversions
            .table(CurrencyConversions::Table)
            .col(pk_auto(CurrencyConversions::Id))
            .col(integer(CurrencyConversions::CurrencySourceId))
            .col(integer(CurrencyConversions::CurrencyDestinationId))
            .col(
                integer(CurrencyConversions::Ratio)
                    .check(Expr::col(CurrencyConversions::Ratio).gt(0)),
            )
            .col(big_integer_null(CurrencyConversions::Volume))
            .col(timestamp_with_time_zone(CurrencyConversions::ValidFrom))
            .col(timestamp_with_time_zone_null(CurrencyConversions::ValidTo))
            .foreign_key(&mut currency(
                Alias::new("currency_conversions"),
                Alias::new("currency_source_id"),
            ))
            .foreign_key(&mut currency(
                Alias::new("currency_conversions"),
                Alias::new("currency_destination_id"),
            ));
        manager
            .create_table(stamps(&mut conversions).take())
            .await?;

        let mut balances = Table::create();
        balances
            .table(AccountBalances::Table)
            .col(pk_auto(AccountBalances::Id))
            .col(integer(AccountBalances::CurrencyId))
            .col(uuid_null(AccountBalances::UserId))
            .col(big_integer(AccountBalances::Amount).default(0))
            // Players never owe; the system account holds minus what circulates.
            .check(
                Expr::col(AccountBalances::UserId)
                    .is_null()
                    .or(Expr::col(AccountBalances::Amount).gte(0)),
            )
            .foreign_key(&mut currency(
                Alias::new("account_balances"),
                Alias::new("currency_id"),
            ))
            .foreign_key(&mut fk(
                (AccountBalances::Table, AccountBalances::UserId),
                (Users::Table, Users::Id),
                ForeignKeyAction::Restrict,
            ));
        manager.create_table(stamps(&mut balances).take()).await?;

        let mut transactions = Table::create();
        transactions
            .table(Transactions::Table)
            .col(pk_auto(Transactions::Id))
            .col(integer(Transactions::CurrencyId))
            .col(uuid_null(Transactions::UserId))
            .col(uuid_null(Transactions::RecipientId))
            .col(integer_null(Transactions::PreviousTransactionId))
            .col(text_null(Transactions::Description))
            .col(big_integer(Transactions::Amount).check(Expr::col(Transactions::Amount).gt(0)))
            .col(boolean(Transactions::Confirmed).default(false))
            .col(boolean(Transactions::Automated).default(false))
            .col(string_len(Transactions::Kind, 16))
            .col(string_len_null(Transactions::IdempotencyKey, 200))
            .col(integer_null(Transactions::ConversionId))
            .check(
                Expr::col(Transactions::UserId)
                    .is_not_null()
                    .or(Expr::col(Transactions::RecipientId).is_not_null()),
            )
            .foreign_key(&mut currency(
                Alias::new("transactions"),
                Alias::new("currency_id"),
            ))
            .foreign_key(&mut fk(
                (Transactions::Table, Transactions::UserId),
                (Users::Table, Users::Id),
                ForeignKeyAction::Restrict,
            ))
            .foreign_key(&mut fk(
                (Transactions::Table, Transactions::RecipientId),
                (Users::Table, Users::Id),
                ForeignKeyAction::Restrict,
            ))
            .foreign_key(&mut fk(
                (Transactions::Table, Transactions::PreviousTransactionId),
                (Transactions::Table, Transactions::Id),
                ForeignKeyAction::Restrict,
            ))
            .foreign_key(&mut fk(
                (Transactions::Table, Transactions::ConversionId),
                (CurrencyConversions::Table, CurrencyConversions::Id),
                ForeignKeyAction::Restrict,
            ));
        manager
            .create_table(stamps(&mut transactions).take())
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PlatformEvents::Table)
                    .col(big_pk_auto(PlatformEvents::Id))
                    .col(string_len(PlatformEvents::Kind, 32))
                    .col(json(PlatformEvents::Payload))
                    .col(timestamp_with_time_zone_default_now(
                        PlatformEvents::CreatedAt,
                    ))
                    .take(),
            )
            .await?;
        let db = manager.get_connection();
        for statement in STATEMENTS {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "platform_events",
            "transactions",
            "account_balances",
            "currency_conversions",
            "currencies",
        ] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
