//! `battle_diffs`: how much a player's counters grew on each day they changed (a new player's first diff is its whole count).

use sea_orm::entity::prelude::*;

/// One player on one day.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "battle_diffs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub day: Date,
    #[sea_orm(primary_key, auto_increment = false)]
    pub player_id: i64,
    pub platform: String,
    pub battles: i64,
    pub wins: i64,
    pub losses: i64,
    pub damage_dealt: i64,
    pub damage_received: i64,
    pub frags: i64,
    pub spotted: i64,
    pub xp: i64,
    pub survived_battles: i64,
    pub capture_points: i64,
    pub dropped_capture_points: i64,
    pub hits: i64,
    pub shots: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
