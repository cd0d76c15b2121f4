//! `quests`: seed 002's quests.

use sea_orm::entity::prelude::*;

/// One quest.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "quests")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub name: String,
    pub description: String,
    /// The event type that advances it: `game_over` (its winner), `gameplay`,
    /// `state_change`, or a platform type such as `sign_in`.
    pub trigger_kind: String,
    /// Only events of this game.
    pub trigger_game_id: Option<i32>,
    /// Only events with this name (gameplay, state changes).
    pub trigger_name: Option<String>,
    /// Matching events that complete it.
    pub streak: i32,
    /// How many times a player can complete it.
    pub duplication: i32,
    /// Completion pays at once; otherwise `claimQuestReward` does.
    pub auto_claim: bool,
    /// One matching event a UTC day, on consecutive days; a missed day starts again.
    pub daily: bool,
    pub reward_currency_id: i32,
    pub reward_amount: i64,
    pub starts_at: Option<DateTimeUtc>,
    pub ends_at: Option<DateTimeUtc>,
    pub active: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
