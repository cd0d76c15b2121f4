//! Seed 001's Player service: a player's characters, each of a character content type, with
//! typed properties and the items it wears. A property is one row per name; its type says
//! how its text is read, and a content reference also names the item it points to.

use sea_orm_migration::{prelude::*, schema::*};

use crate::{
    m20261121_000001_create_auth_tables::{Users, fk},
    m20261128_000007_create_catalog::stamps,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Characters {
    Table,
    Id,
    UserId,
    ContentId,
    Name,
}

#[derive(DeriveIden, Clone, Copy)]
enum CharacterProperties {
    Table,
    Id,
    CharacterId,
    Property,
    Value,
    ValueType,
    RelatedContentId,
}

#[derive(DeriveIden, Clone, Copy)]
enum CharacterWornItems {
    Table,
    Id,
    CharacterId,
    ContentId,
}

#[derive(DeriveIden, Clone, Copy)]
enum Contents {
    Table,
    Id,
}

const STATEMENTS: &[&str] = &[
    "CREATE INDEX characters_owner ON characters (user_id, id)",
    "CREATE UNIQUE INDEX character_properties_name ON character_properties (character_id, property)",
    "CREATE UNIQUE INDEX character_worn_items_pair ON character_worn_items (character_id, content_id)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut characters = Table::create();
        characters
            .table(Characters::Table)
            .col(pk_auto(Characters::Id))
            .col(uuid(Characters::UserId))
            .col(integer(Characters::ContentId))
            .col(string_len(Characters::Name, 50))
            .foreign_key(&mut fk(
                (Characters::Table, Characters::UserId),
                (Users::Table, Users::Id),
                ForeignKeyAction::Cascade,
            ))
            .foreign_key(&mut fk(
                (Characters::Table, Characters::ContentId),
                (Contents::Table, Contents::Id),
                ForeignKeyAction::Restrict,
            ));
        manager.create_table(stamps(&mut characters).take()).await?;

        let mut properties = Table::create();
        properties
            .table(CharacterProperties::Table)
            .col(pk_auto(CharacterProperties::Id))
            .col(integer(CharacterProperties::CharacterId))
            .col(string_len(CharacterProperties::Property, 255))
            .col(text(CharacterProperties::Value))
            .col(string_len(CharacterProperties::ValueType, 8))
            .col(integer_null(CharacterProperties::RelatedContentId))
            .foreign_key(&mut fk(
                (CharacterProperties::Table, CharacterProperties::CharacterId),
                (Characters::Table, Characters::Id),
                ForeignKeyAction::Cascade,
            ))
            .foreign_key(&mut fk(
                (
                    CharacterProperties::Table,
                    CharacterProperties::RelatedContentId,
                ),
                (Contents::Table, Contents::Id),
                ForeignKeyAction::Cascade,
            ));
        manager.create_table(stamps(&mut properties).take()).await?;

        let mut worn = Table::create();
        worn.table(CharacterWornItems::Table)
            .col(pk_auto(CharacterWornItems::Id))
            .col(integer(CharacterWornItems::CharacterId))
            .col(integer(CharacterWornItems::ContentId))
            .foreign_key(&mut fk(
                (CharacterWornItems::Table, CharacterWornItems::CharacterId),
                (Characters::Table, Characters::Id),
                ForeignKeyAction::Cascade,
            ))
            .foreign_key(&mut fk(
                (CharacterWornItems::Table, CharacterWornItems::ContentId),
                (Contents::Table, Contents::Id),
                ForeignKeyAction::Cascade,
            ));
        manager.create_table(stamps(&mut worn).take()).await?;
        let db = manager.get_connection();
        for statement in STATEMENTS {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["character_worn_items", "character_properties", "characters"] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
