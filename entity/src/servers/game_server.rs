//! `game_servers`: a hosted game server, official, provisioned or run by a player.

use sea_orm::entity::prelude::*;

/// Where a server is in its life, as Arena last wrote it. `full` and `quarantined` are read
/// off `live`/`slots` and `quarantine` instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum Health {
    /// Registered, not pinged yet.
    #[sea_orm(string_value = "registering")]
    Registering,
    /// Pinging on time.
    #[sea_orm(string_value = "ready")]
    Ready,
    /// Missed its pings; a ping brings it back.
    #[sea_orm(string_value = "unhealthy")]
    Unhealthy,
    /// Ended by its owner, an admin or a host ban; it never comes back.
    #[sea_orm(string_value = "shut_down")]
    ShutDown,
}

/// One row of `game_servers`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "game_servers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    /// SHA-256 of its token; the token is shown once.
    #[sea_orm(unique)]
    pub token_hash: String,
    /// Its owner: the player who runs it, or the admin behind an official one or its host.
    pub user_id: Uuid,
    /// The game it runs now.
    pub game_id: Option<i32>,
    pub socket_host: String,
    pub socket_port: i32,
    pub api_url: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    /// Arena chooses its game.
    pub provisioned: bool,
    /// Set by moderators: no new joins.
    pub quarantine: bool,
    pub official: bool,
    /// When false it takes no new sessions.
    pub active: bool,
    pub server_info: Option<Json>,
    /// Players it claimed at its last ping.
    pub player_count: Option<i32>,
    /// Its latency at its last ping, in milliseconds.
    pub ping: Option<i32>,
    pub provisioned_by: Option<i32>,
    /// Most players at once.
    pub slots: i32,
    /// Its live sessions, counted by Arena.
    pub live: i32,
    pub health: Health,
    /// The address it registered or last pinged from.
    pub address: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub pinged_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
