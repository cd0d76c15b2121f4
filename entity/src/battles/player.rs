//! `battle_players`: every account seen, with its latest counters.

use sea_orm::entity::prelude::*;

/// One account.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "battle_players")]
pub struct Model {
    /// The WG account id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i64,
    /// `xbox` or `ps`.
    pub platform: String,
    pub nickname: String,
    pub created_at: DateTimeUtc,
    pub last_battle_time: DateTimeUtc,
    pub updated_at: DateTimeUtc,
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
    pub max_damage: i64,
    pub max_frags: i64,
    pub max_xp: i64,
    pub trees_cut: i64,
    /// When a crawl first found the account.
    pub first_seen_at: DateTimeUtc,
    /// When a crawl last wrote the account (only pulls that changed it write).
    pub last_pulled_at: DateTimeUtc,
    /// The crawl day on which its battle count last changed.
    pub last_changed_on: Date,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
