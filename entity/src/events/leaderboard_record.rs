//! `leaderboard_records`: a player's score on a board in a season.

use sea_orm::entity::prelude::*;

/// One record.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "leaderboard_records")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub leaderboard_id: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub season: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    pub score: i64,
    /// When the event that made the score happened: of equal scores, the earlier ranks first.
    pub achieved_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
