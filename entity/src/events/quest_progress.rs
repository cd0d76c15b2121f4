//! `quest_progress`: where a player stands on a quest.

use sea_orm::entity::prelude::*;

/// One player's progress on one quest.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "quest_progress")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub quest_id: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    /// Matching events towards the next completion.
    pub streak: i32,
    pub completions: i32,
    /// A daily quest's last UTC day counted.
    pub last_day: Option<Date>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
