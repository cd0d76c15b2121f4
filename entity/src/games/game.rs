//! `games`: the game row of a content item of type `game`; its id is the content id.

use sea_orm::entity::prelude::*;

/// One game.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "games")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    /// Plays only on self-hosted servers.
    pub hosted: bool,
    pub max_players: i32,
    /// The Rust handler its events' statistics go through, by name.
    pub stats_handler: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
