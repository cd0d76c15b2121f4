//! Game servers, provisioning hosts and host bans over GraphQL.

use arena_entity::servers::{game_server, host_ban, provisioning_host};
use async_graphql::{Context, ID, InputObject, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::{
    NewHostBan,
    registry::{Action, lifecycle},
};
use crate::{
    auth::{
        graphql::{User, parse_int_id, parse_uuid},
        privileges,
    },
    catalog::graphql::{Content, seen_id},
    graphql::{
        app,
        guards::{Privilege, SignedIn},
        load,
        loaders::{GamesOfServer, HostById},
        viewer,
    },
};

/// An address or network banned from hosting game servers.
pub struct HostBan(host_ban::Model);

#[Object]
impl HostBan {
    /// Its id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The network, as `address/prefix`.
    async fn network(&self) -> String {
        format!("{}/{}", self.0.ip, self.0.cidr)
    }
    /// Why.
    async fn reason(&self) -> &str {
        &self.0.reason
    }
    /// Who placed it.
    async fn admin(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        User::load(ctx, Some(self.0.admin_id)).await
    }
    /// The user behind the hosting, when known.
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        User::load(ctx, self.0.user_id).await
    }
    /// When it was placed.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it ends by itself; null never.
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at
    }
    /// When it was lifted.
    async fn lifted_at(&self) -> Option<DateTime<Utc>> {
        self.0.lifted_at
    }
    /// Why it was lifted.
    async fn lift_reason(&self) -> Option<&str> {
        self.0.lift_reason.as_deref()
    }
}

/// A host ban to place.
#[derive(InputObject)]
pub struct HostBanInput {
    /// An address such as `203.0.113.7`, or a network such as `203.0.113.0/24` (no wider
    /// than /8 for IPv4, /16 for IPv6).
    address: String,
    /// The user behind the hosting, when known.
    user_id: Option<ID>,
    /// Why, 1 to 500 characters; kept in the audit log.
    reason: String,
    /// When it ends; never when left out.
    expires_at: Option<DateTime<Utc>>,
}

/// Server queries.
#[derive(Default)]
pub struct ServersQuery;

#[Object]
impl ServersQuery {
    /// Host bans, newest first: in force (`active: true`), lifted or expired
    /// (`active: false`), or all. Needs `server.manage`.
    #[graphql(guard = "Privilege(privileges::SERVER_MANAGE)")]
    async fn host_bans(
        &self,
        ctx: &Context<'_>,
        active: Option<bool>,
    ) -> async_graphql::Result<Vec<HostBan>> {
        Ok(super::host_bans(&app(ctx).db, active)
            .await?
            .into_iter()
            .map(HostBan)
            .collect())
    }
}

/// Server mutations.
#[derive(Default)]
pub struct ServersMutation;

#[Object]
impl ServersMutation {
    /// Bans an address or network from hosting game servers, audited. Needs
    /// `server.manage`.
    #[graphql(guard = "Privilege(privileges::SERVER_MANAGE)")]
    async fn ban_host(
        &self,
        ctx: &Context<'_>,
        input: HostBanInput,
    ) -> async_graphql::Result<HostBan> {
        let new = NewHostBan {
            address: input.address,
            user_id: input
                .user_id
                .map(|id| parse_uuid(&id, "userId"))
                .transpose()?,
            reason: input.reason,
            expires_at: input.expires_at,
        };
        Ok(HostBan(super::ban_host(app(ctx), viewer(ctx), new).await?))
    }
    /// Lifts a host ban with a reason, audited; a lifted one stays as it was. Needs
    /// `server.manage`.
    #[graphql(guard = "Privilege(privileges::SERVER_MANAGE)")]
    async fn lift_host_ban(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: String,
    ) -> async_graphql::Result<HostBan> {
        let id = parse_int_id(&id, "id")?;
        Ok(HostBan(
            super::lift_host_ban(app(ctx), viewer(ctx), id, &reason).await?,
        ))
    }
}

/// Where a game server is in its life.
#[derive(async_graphql::Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "super::registry::Lifecycle")]
pub enum ServerState {
    /// Registered, not pinged yet.
    Registering,
    /// Takes players.
    Ready,
    /// Every slot is taken by a live session.
    Full,
    /// Missed three pings: no new sessions, its sessions ended. A ping brings it back.
    Unhealthy,
    /// A moderator stopped new joins; its sessions go on.
    Quarantined,
    /// Deactivated: no new sessions.
    Inactive,
    /// Ended for good.
    ShutDown,
}

/// A hosted game server. Its socket address is public for official and provisioned servers;
/// for a player's own server only its owner and admins see it.
pub struct GameServer(pub game_server::Model);

impl GameServer {
    /// Whether the caller runs or manages it.
    fn mine(&self, ctx: &Context<'_>) -> bool {
        viewer(ctx).is_self_or(self.0.user_id, privileges::SERVER_MANAGE)
    }
    fn shows_address(&self, ctx: &Context<'_>) -> bool {
        self.0.official || self.0.provisioned || self.mine(ctx)
    }
}

#[Object]
impl GameServer {
    /// Its id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Where it is in its life.
    async fn state(&self, ctx: &Context<'_>) -> ServerState {
        lifecycle(&self.0, app(ctx).settings.server_ping_seconds).into()
    }
    /// The game it runs now: the one a provisioned server should load.
    async fn game(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Content>> {
        match self.0.game_id {
            Some(id) => seen_id(ctx, id).await,
            None => Ok(None),
        }
    }
    /// Every game it may run.
    async fn games(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Content>> {
        let ids = load(ctx)
            .load_one(GamesOfServer(self.0.id))
            .await?
            .unwrap_or_default();
        let mut games = Vec::with_capacity(ids.len());
        for id in ids {
            games.extend(seen_id(ctx, id).await?);
        }
        Ok(games)
    }
    /// Serves the whole site.
    async fn official(&self) -> bool {
        self.0.official
    }
    /// Started by a provisioning host; Arena chooses its game.
    async fn provisioned(&self) -> bool {
        self.0.provisioned
    }
    /// A moderator stopped new joins.
    async fn quarantined(&self) -> bool {
        self.0.quarantine
    }
    /// Takes new sessions (unless quarantined, full or silent).
    async fn active(&self) -> bool {
        self.0.active
    }
    /// Players on it now: its live sessions, counted by Arena.
    async fn players(&self) -> i32 {
        self.0.live
    }
    /// Most players at once.
    async fn slots(&self) -> i32 {
        self.0.slots
    }
    /// Players it counted itself at its last ping.
    async fn reported_players(&self) -> Option<i32> {
        self.0.player_count
    }
    /// Its latency at its last ping, in milliseconds.
    async fn ping(&self) -> Option<i32> {
        self.0.ping
    }
    /// Its country (ISO 3166-1 alpha-2).
    async fn country(&self) -> Option<&str> {
        self.0.country.as_deref()
    }
    /// Where players connect; hidden on a player's server from others than its owner.
    async fn socket_host(&self, ctx: &Context<'_>) -> Option<&str> {
        self.shows_address(ctx)
            .then_some(self.0.socket_host.as_str())
    }
    /// Its socket port; hidden as `socketHost` is.
    async fn socket_port(&self, ctx: &Context<'_>) -> Option<i32> {
        self.shows_address(ctx).then_some(self.0.socket_port)
    }
    /// Its HTTP API; for its owner and admins.
    async fn api_url(&self, ctx: &Context<'_>) -> Option<&str> {
        self.mine(ctx)
            .then_some(self.0.api_url.as_deref())
            .flatten()
    }
    /// The address it last pinged from; for its owner and admins.
    async fn address(&self, ctx: &Context<'_>) -> Option<&str> {
        self.mine(ctx)
            .then_some(self.0.address.as_deref())
            .flatten()
    }
    /// What it says about itself; for its owner and admins.
    async fn server_info(&self, ctx: &Context<'_>) -> Option<Json<serde_json::Value>> {
        self.mine(ctx)
            .then(|| self.0.server_info.clone().map(Json))
            .flatten()
    }
    /// Who runs it: the player, or the admin behind an official server or its host.
    async fn owner(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        User::load(ctx, Some(self.0.user_id)).await
    }
    /// The host that started it; for admins.
    async fn host(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ProvisioningHost>> {
        match self.0.provisioned_by {
            Some(id) if viewer(ctx).has_privilege(privileges::SERVER_MANAGE) => Ok(load(ctx)
                .load_one(HostById(id))
                .await?
                .map(ProvisioningHost)),
            _ => Ok(None),
        }
    }
    /// When it registered.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Its last ping.
    async fn pinged_at(&self) -> Option<DateTime<Utc>> {
        self.0.pinged_at
    }
}

/// A machine that starts game servers when Arena asks.
pub struct ProvisioningHost(pub provisioning_host::Model);

#[Object]
impl ProvisioningHost {
    /// Its id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Its name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Where Arena asks it for servers.
    async fn api_url(&self) -> &str {
        &self.0.api_url
    }
    /// Its servers serve the whole site.
    async fn official(&self) -> bool {
        self.0.official
    }
    /// When false it is never asked.
    async fn active(&self) -> bool {
        self.0.active
    }
    /// Most servers it runs.
    async fn capacity(&self) -> i32 {
        self.0.capacity
    }
    /// Servers it can still start, from its last ping.
    async fn slots(&self) -> i32 {
        self.0.slots
    }
    /// Its last ping.
    async fn pinged_at(&self) -> Option<DateTime<Utc>> {
        self.0.pinged_at
    }
    /// The address of its last ping.
    async fn address(&self) -> Option<&str> {
        self.0.address.as_deref()
    }
    /// Pinged within three intervals: Arena may ask it.
    async fn online(&self, ctx: &Context<'_>) -> bool {
        let silence = super::registry::silence(app(ctx).settings.host_ping_seconds);
        self.0.pinged_at.is_some_and(|at| at > Utc::now() - silence)
    }
}

/// A game server just registered, with its token (shown this once).
#[derive(SimpleObject)]
pub struct RegisteredServer {
    /// The server.
    server: GameServer,
    /// Its token: send `Authorization: Server <token>`. Only its hash is kept.
    token: String,
}

/// A provisioning host just registered, with its token (shown this once).
#[derive(SimpleObject)]
pub struct RegisteredHost {
    /// The host.
    host: ProvisioningHost,
    /// Its token: send `Authorization: Host <token>`. Only its hash is kept.
    token: String,
}

/// A game server to register.
#[derive(InputObject)]
pub struct ServerInput {
    /// The games it may run, 1 to 32; it runs the first now.
    game_ids: Vec<ID>,
    /// Where players connect.
    socket_host: String,
    /// Its port, 1 to 65535.
    socket_port: i32,
    /// Its HTTP API, if it has one.
    api_url: Option<String>,
    /// Its country (ISO 3166-1 alpha-2).
    country: Option<String>,
    /// Most players at once, 1 to 10000; the first game's most players when left out.
    slots: Option<i32>,
}

/// A provisioning host to register.
#[derive(InputObject)]
pub struct HostInput {
    /// Its name, 1 to 100 characters.
    name: String,
    /// Where Arena asks it for servers (`http://` or `https://`).
    api_url: String,
    /// Most servers it runs, 1 to 10000.
    capacity: i32,
    /// Its servers serve the whole site.
    #[graphql(default = true)]
    official: bool,
}

/// What a game server reports at each ping.
#[derive(InputObject, Default)]
pub struct ServerPingInput {
    /// Players it counts itself.
    player_count: Option<i32>,
    /// Its latency, in milliseconds.
    ping: Option<i32>,
    /// Anything it wants known about itself (JSON, at most 8 KiB).
    server_info: Option<Json<serde_json::Value>>,
    /// Sessions it holds; each is kept alive.
    #[graphql(default)]
    session_ids: Vec<ID>,
}

/// Which servers an admin list shows.
#[derive(InputObject, Default)]
pub struct ServerFilterInput {
    /// Those that may run this game.
    game_id: Option<ID>,
    /// Official or not.
    official: Option<bool>,
    /// Quarantined or not.
    quarantined: Option<bool>,
    /// Shut down ones too.
    #[graphql(default)]
    include_shut_down: bool,
}

/// Most servers a list returns.
const MAX_LISTED: u64 = 500;

/// Game server and provisioning host queries.
#[derive(Default)]
pub struct PlayServersQuery;

#[Object]
impl PlayServersQuery {
    /// The servers running a game now, with their live player counts, fewest players first.
    /// Public: no tokens, and no socket address of a player's own server. At most 500.
    async fn servers(
        &self,
        ctx: &Context<'_>,
        game_id: ID,
    ) -> async_graphql::Result<Vec<GameServer>> {
        let game_id = parse_int_id(&game_id, "gameId")?;
        let mut rows = super::registry::running(&app(ctx).db, game_id, MAX_LISTED).await?;
        rows.sort_by_key(|s| (s.live, s.id));
        Ok(rows.into_iter().map(GameServer).collect())
    }
    /// The servers the caller registered for their own games, newest first. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn my_servers(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<GameServer>> {
        let me = viewer(ctx).require_user()?.id;
        Ok(super::registry::owned_by(&app(ctx).db, me, MAX_LISTED)
            .await?
            .into_iter()
            .map(GameServer)
            .collect())
    }
    /// Every server by filter, newest first, at most 500. Needs `server.quarantine`.
    #[graphql(guard = "Privilege(privileges::SERVER_QUARANTINE)")]
    async fn all_servers(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] filter: ServerFilterInput,
    ) -> async_graphql::Result<Vec<GameServer>> {
        let filter = super::registry::ServerFilter {
            game_id: filter
                .game_id
                .map(|id| parse_int_id(&id, "gameId"))
                .transpose()?,
            official: filter.official,
            quarantined: filter.quarantined,
            live_only: !filter.include_shut_down,
        };
        Ok(
            super::registry::list_servers(&app(ctx).db, &filter, MAX_LISTED)
                .await?
                .into_iter()
                .map(GameServer)
                .collect(),
        )
    }
    /// Every provisioning host, newest first. Needs `server.manage`.
    #[graphql(guard = "Privilege(privileges::SERVER_MANAGE)")]
    async fn provisioning_hosts(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<ProvisioningHost>> {
        Ok(super::registry::hosts(&app(ctx).db)
            .await?
            .into_iter()
            .map(ProvisioningHost)
            .collect())
    }
}

/// Game server and provisioning host mutations.
#[derive(Default)]
pub struct PlayServersMutation;

#[Object]
impl PlayServersMutation {
    /// Registers a provisioning host, audited; returns its token once. Needs
    /// `server.manage`.
    #[graphql(guard = "Privilege(privileges::SERVER_MANAGE)")]
    async fn register_provisioning_host(
        &self,
        ctx: &Context<'_>,
        input: HostInput,
    ) -> async_graphql::Result<RegisteredHost> {
        let new = super::registry::NewHost {
            name: input.name,
            api_url: input.api_url,
            capacity: input.capacity,
            official: input.official,
        };
        let issued = super::registry::register_host(app(ctx), viewer(ctx), new).await?;
        Ok(RegisteredHost {
            host: ProvisioningHost(issued.row),
            token: issued.token,
        })
    }
    /// Turns a provisioning host on or off, audited. Needs `server.manage`.
    #[graphql(guard = "Privilege(privileges::SERVER_MANAGE)")]
    async fn set_provisioning_host_active(
        &self,
        ctx: &Context<'_>,
        id: ID,
        active: bool,
    ) -> async_graphql::Result<ProvisioningHost> {
        let id = parse_int_id(&id, "id")?;
        Ok(ProvisioningHost(
            super::registry::set_host_active(app(ctx), viewer(ctx), id, active).await?,
        ))
    }
    /// A provisioning host's keepalive, with how many servers it can still start. Send
    /// `Authorization: Host <token>`; refused from an address a host ban covers.
    async fn ping_host(
        &self,
        ctx: &Context<'_>,
        slots: i32,
    ) -> async_graphql::Result<ProvisioningHost> {
        Ok(ProvisioningHost(
            super::registry::ping_host(app(ctx), viewer(ctx), slots).await?,
        ))
    }
    /// Registers a game server and returns its token once: a provisioning host (with its
    /// token) for a server it started, an admin (`server.manage`) for an official one, any
    /// other player for their own games only (`FORBIDDEN` otherwise). Refused from an
    /// address a host ban covers (`BANNED`). Signed in or a host.
    async fn register_server(
        &self,
        ctx: &Context<'_>,
        input: ServerInput,
    ) -> async_graphql::Result<RegisteredServer> {
        super::registry::require_someone(viewer(ctx))?;
        let new = super::registry::NewServer {
            game_ids: input
                .game_ids
                .iter()
                .map(|id| parse_int_id(id, "gameIds"))
                .collect::<Result<_, _>>()?,
            socket_host: input.socket_host,
            socket_port: input.socket_port,
            api_url: input.api_url,
            country: input.country,
            slots: input.slots,
        };
        let issued = super::registry::register_server(app(ctx), viewer(ctx), new).await?;
        Ok(RegisteredServer {
            server: GameServer(issued.row),
            token: issued.token,
        })
    }
    /// A game server's keepalive, every `ARENA_SERVER_PING_SECONDS` (5): it is ready (again),
    /// its report is kept and the sessions it names stay alive. Answers the server as
    /// Arena sees it, with the game to run. Send `Authorization: Server <token>`.
    async fn ping_server(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] input: ServerPingInput,
    ) -> async_graphql::Result<GameServer> {
        super::registry::require_server_credential(viewer(ctx))?;
        let ping = super::registry::Ping {
            player_count: input.player_count,
            ping: input.ping,
            server_info: input.server_info.map(|j| j.0),
            session_ids: input
                .session_ids
                .iter()
                .map(|id| parse_int_id(id, "sessionIds"))
                .collect::<Result<_, _>>()?,
        };
        Ok(GameServer(
            super::registry::ping_server(app(ctx), viewer(ctx), ping).await?,
        ))
    }
    /// Stops new joins on a server (its sessions go on), audited. Needs
    /// `server.quarantine`.
    #[graphql(guard = "Privilege(privileges::SERVER_QUARANTINE)")]
    async fn quarantine_server(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: String,
    ) -> async_graphql::Result<GameServer> {
        act(ctx, &id, Action::Quarantine, &reason).await
    }
    /// Lets a quarantined server take joins again, audited. Needs `server.quarantine`.
    #[graphql(guard = "Privilege(privileges::SERVER_QUARANTINE)")]
    async fn release_server(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: String,
    ) -> async_graphql::Result<GameServer> {
        act(ctx, &id, Action::Release, &reason).await
    }
    /// Turns a server's new sessions off or on, audited: `server.manage`, or the owner of a
    /// player's server. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn set_server_active(
        &self,
        ctx: &Context<'_>,
        id: ID,
        active: bool,
        reason: String,
    ) -> async_graphql::Result<GameServer> {
        let action = if active {
            Action::Activate
        } else {
            Action::Deactivate
        };
        act(ctx, &id, action, &reason).await
    }
    /// Ends a server for good and its sessions with it, audited: `server.manage`, or the
    /// owner of a player's server. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn shut_down_server(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: String,
    ) -> async_graphql::Result<GameServer> {
        act(ctx, &id, Action::ShutDown, &reason).await
    }
}

async fn act(
    ctx: &Context<'_>,
    id: &ID,
    action: Action,
    reason: &str,
) -> async_graphql::Result<GameServer> {
    let id = parse_int_id(id, "id")?;
    Ok(GameServer(
        super::registry::act_on_server(app(ctx), viewer(ctx), id, action, reason).await?,
    ))
}
