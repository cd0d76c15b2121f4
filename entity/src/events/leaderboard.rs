//! `leaderboards`: a game's board, how it scores events, and its current season.

use sea_orm::entity::prelude::*;

/// How a board turns events into scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(8))")]
pub enum Scoring {
    /// +1 for each `game_over` won (seed 003's default).
    #[sea_orm(string_value = "wins")]
    Wins,
    /// An ELO rating from `game_over`, starting at 1000, moved by the K-factor.
    #[sea_orm(string_value = "elo")]
    Elo,
    /// The best value a named gameplay event carried.
    #[sea_orm(string_value = "best")]
    Best,
    /// The sum of the values.
    #[sea_orm(string_value = "sum")]
    Sum,
    /// The last value.
    #[sea_orm(string_value = "last")]
    Last,
}

/// When a board's season ends by itself (UTC calendar boundaries).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(8))")]
pub enum ResetEvery {
    #[sea_orm(string_value = "never")]
    Never,
    /// At midnight.
    #[sea_orm(string_value = "daily")]
    Daily,
    /// At midnight starting a Monday.
    #[sea_orm(string_value = "weekly")]
    Weekly,
    /// At midnight starting a month's first day.
    #[sea_orm(string_value = "monthly")]
    Monthly,
}

/// One board.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "leaderboards")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub game_id: i32,
    /// Unique within its game.
    pub name: String,
    pub scoring: Scoring,
    /// `best`, `sum`, `last`: the gameplay events it reads, by name.
    pub event_name: Option<String>,
    /// `best`, `sum`, `last`: a JSON pointer to the integer in their data.
    pub field: Option<String>,
    /// `elo`: how far one game moves a rating.
    pub k_factor: i32,
    /// Higher scores rank first.
    pub descending: bool,
    pub reset_every: ResetEvery,
    /// The current season, from 1.
    pub season: i32,
    pub season_started_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
