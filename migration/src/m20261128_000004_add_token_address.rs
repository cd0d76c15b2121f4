//! The client address each refresh token was issued to, so a ban on an address can tell
//! whose live sign-ins it would cover.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum UserTokens {
    Table,
    Ip,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(UserTokens::Table)
                    .add_column(string_len_null(UserTokens::Ip, 45))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(UserTokens::Table)
                    .drop_column(UserTokens::Ip)
                    .to_owned(),
            )
            .await
    }
}
