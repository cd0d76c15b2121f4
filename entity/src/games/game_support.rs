//! `game_supports`: what a game supports, and with which content.

use sea_orm::entity::prelude::*;

/// A feature a game supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
pub enum SupportFlag {
    /// Players' characters.
    #[sea_orm(string_value = "character")]
    Character,
    /// Individual character features.
    #[sea_orm(string_value = "individual_character_features")]
    IndividualCharacterFeatures,
    /// Chat.
    #[sea_orm(string_value = "chat")]
    Chat,
}

/// One flag of one game.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "game_supports")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub game_id: i32,
    pub flag: SupportFlag,
    pub enabled: bool,
    /// The supported content (a character).
    pub content_id: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
