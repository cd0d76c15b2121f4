//! `battle_daily_activity`: per day and platform, the players whose battle count grew and
//! what they played; kept by the crawler from `battle_diffs`.

use sea_orm::entity::prelude::*;

/// One day on one platform.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "battle_daily_activity")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub day: Date,
    #[sea_orm(primary_key, auto_increment = false)]
    pub platform: String,
    pub active_players: i64,
    pub battles: i64,
    pub wins: i64,
    pub damage_dealt: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
