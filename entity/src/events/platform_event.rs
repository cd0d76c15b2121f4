//! `platform_events`: the outbox of platform events (purchases, trades, transfers).

use sea_orm::entity::prelude::*;

/// One event.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "platform_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// What happened: `transfer`, `purchase`, `trade.confirmed`.
    pub kind: String,
    pub payload: Json,
    pub created_at: DateTimeUtc,
    /// Copied into the event stream (`game_events`) by the relay.
    pub relayed: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
