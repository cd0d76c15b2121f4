//! `game_plays`: one player's play of one game, from join to end.

use sea_orm::entity::prelude::*;

/// One row of `game_plays`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "game_plays")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub game_id: i32,
    pub user_id: Uuid,
    /// The session it was played in.
    #[sea_orm(unique)]
    pub session_id: i32,
    pub start_time: DateTimeUtc,
    pub end_time: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
