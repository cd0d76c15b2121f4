//! `leaderboard_seasons`: a board's ended seasons; their records stay under their number.

use sea_orm::entity::prelude::*;

/// One ended season.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "leaderboard_seasons")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub leaderboard_id: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub season: i32,
    pub started_at: DateTimeUtc,
    pub ended_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
