//! `stat_rules`: a game's declarative statistics, configured by admins: on an event of a
//! type (and name), apply a number (a field of its data, or 1) to a player's statistic.

use sea_orm::entity::prelude::*;

/// Whose statistic a rule changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(8))")]
pub enum Subject {
    /// The event's player (`user_id`).
    #[sea_orm(string_value = "user")]
    User,
    /// A `game_over`'s winner.
    #[sea_orm(string_value = "winner")]
    Winner,
    /// A `game_over`'s loser.
    #[sea_orm(string_value = "loser")]
    Loser,
}

/// How the number meets the statistic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(8))")]
pub enum Op {
    /// Added to it (a sum).
    #[sea_orm(string_value = "add")]
    Add,
    /// Replaces it.
    #[sea_orm(string_value = "set")]
    Set,
    /// Kept when greater.
    #[sea_orm(string_value = "max")]
    Max,
    /// Kept when smaller.
    #[sea_orm(string_value = "min")]
    Min,
}

/// One rule.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stat_rules")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub game_id: i32,
    /// The event type it reacts to: `game_over`, `gameplay`, `state_change`.
    pub event_kind: String,
    /// The gameplay or state name it reacts to; any when empty.
    pub event_name: Option<String>,
    pub subject: Subject,
    /// A JSON pointer into the event's data to an integer; 1 when empty.
    pub field: Option<String>,
    pub stat: String,
    pub op: Op,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
