//! `game_events`: the stored event stream (seed 003), one row per producer's event id.

use sea_orm::entity::prelude::*;

/// Where an event's processing stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum State {
    /// Stored, not applied yet.
    #[sea_orm(string_value = "pending")]
    Pending,
    /// Applied.
    #[sea_orm(string_value = "processed")]
    Processed,
    /// Refused by processing, with its reason.
    #[sea_orm(string_value = "failed")]
    Failed,
}

/// One event.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "game_events")]
pub struct Model {
    /// Arrival order.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Whose ids `event_key` is unique among: `game:<id>`, or `platform`.
    pub scope: String,
    /// The producer's own id for the event.
    pub event_key: String,
    pub game_id: Option<i32>,
    /// `game_over`, `gameplay`, `state_change`, or a platform kind.
    pub kind: String,
    /// The gameplay event's or the state's name.
    pub name: Option<String>,
    pub user_id: Option<Uuid>,
    pub winner_id: Option<Uuid>,
    pub loser_id: Option<Uuid>,
    pub data: Option<Json>,
    /// When it happened, as the producer says.
    pub occurred_at: DateTimeUtc,
    pub received_at: DateTimeUtc,
    /// Who sent it: `server:<id>`, `backend:<user id>` or `platform`.
    pub source: String,
    pub state: State,
    pub processed_at: Option<DateTimeUtc>,
    /// Why processing refused it.
    pub failure: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
