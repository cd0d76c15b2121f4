//! `quest_completions`: each time a player completed a quest, and whether it was paid.

use sea_orm::entity::prelude::*;

/// One completion.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "quest_completions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub quest_id: i32,
    pub user_id: Uuid,
    /// 1 for the first completion, up to the quest's duplication limit.
    pub number: i32,
    /// The event that completed it.
    pub event_id: i64,
    pub completed_at: DateTimeUtc,
    /// When its reward was paid.
    pub claimed_at: Option<DateTimeUtc>,
    /// The ledger row that paid it.
    pub transaction_id: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
