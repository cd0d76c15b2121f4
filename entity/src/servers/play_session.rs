//! `play_sessions`: a player's place on a game server, from Play to its end.

use sea_orm::entity::prelude::*;

/// One row of `play_sessions`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "play_sessions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    /// SHA-256 of its token; the token is shown once, to the player.
    #[sea_orm(unique)]
    pub token_hash: String,
    pub user_id: Uuid,
    pub character_id: Option<i32>,
    pub game_id: i32,
    pub server_id: i32,
    /// `host` on a player's own server, `provision` on an official or provisioned one.
    pub server_type: String,
    pub created_at: DateTimeUtc,
    /// The token is good until then, unless the server validates it first.
    pub expires_at: DateTimeUtc,
    pub joined_at: Option<DateTimeUtc>,
    pub pinged_at: Option<DateTimeUtc>,
    pub ended_at: Option<DateTimeUtc>,
    /// Why it ended: `ended`, `expired`, `timeout`, `server_unhealthy`, `host_ban`, …
    pub end_reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
