//! `trade_events`: every step of a trade, with who took it.

use sea_orm::entity::prelude::*;

pub use super::trade::TradeStatus;

/// One step.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "trade_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub trade_id: i32,
    /// The status it reached.
    pub status: TradeStatus,
    /// None: the platform (an expiry).
    pub actor_id: Option<Uuid>,
    pub reason: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
