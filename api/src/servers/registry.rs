//! Game servers and provisioning hosts: registration (the token shown once, stored hashed),
//! their pings, and what moderators and admins do to them. A game server is a client of its
//! own kind: it authenticates with `Authorization: Server <token>`, a host with `Host
//! <token>`, and neither token works as a user's (nor a user's as theirs).

use std::{net::IpAddr, sync::Arc};

use arena_entity::{
    catalog::content,
    games::game,
    servers::{
        game_server::{self, Health},
        provisioning_host, server_game,
    },
};
use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr,
};
use serde_json::json;
use uuid::Uuid;

use crate::{
    audit::{self, Entry},
    auth::{
        privileges,
        tokens::{hash_opaque, new_opaque},
        viewer::{Machine, Viewer},
    },
    bus::{Change, Changes, Hook},
    context::AppContext,
    db::lock_rows,
    error::{ApiError, ApiResult},
    expiring::Expiring,
};

/// Most players one server may take.
pub const MAX_SLOTS: i32 = 10_000;
/// Most games one server may run.
pub const MAX_GAMES: usize = 32;

/// A row with the token made for it, shown once.
pub struct Issued<T> {
    /// The row.
    pub row: T,
    /// Its token in plain text; only its hash is kept.
    pub token: String,
}

/// How a server stands, as clients see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    /// Registered, not pinged yet.
    Registering,
    /// Takes players.
    Ready,
    /// Every slot is taken by a live session.
    Full,
    /// Missed its pings: no new sessions, its sessions ended.
    Unhealthy,
    /// A moderator stopped new joins.
    Quarantined,
    /// Deactivated by its owner or an admin: no new sessions.
    Inactive,
    /// Ended; it never comes back.
    ShutDown,
}

/// Where `server` is in its life, given the ping interval: a server silent for three
/// intervals reads as unhealthy even before the sweep writes it so.
pub fn lifecycle(server: &game_server::Model, ping_seconds: u32) -> Lifecycle {
    let silent = server
        .pinged_at
        .is_some_and(|at| at < Utc::now() - silence(ping_seconds));
    match server.health {
        Health::ShutDown => Lifecycle::ShutDown,
        Health::Unhealthy => Lifecycle::Unhealthy,
        Health::Ready if silent => Lifecycle::Unhealthy,
        _ if !server.active => Lifecycle::Inactive,
        _ if server.quarantine => Lifecycle::Quarantined,
        Health::Registering => Lifecycle::Registering,
        Health::Ready if server.live >= server.slots => Lifecycle::Full,
        Health::Ready => Lifecycle::Ready,
    }
}

/// Three missed pings.
pub fn silence(ping_seconds: u32) -> Duration {
    Duration::seconds(3 * i64::from(ping_seconds))
}

/// Refuses a request without a game server's credential, before its arguments are read.
pub fn require_server_credential(viewer: &Viewer) -> ApiResult<()> {
    match viewer.machine {
        Some(Machine::Server(_)) => Ok(()),
        _ => Err(ApiError::Unauthenticated(
            "a game server authenticates with `Authorization: Server <token>`",
        )),
    }
}

/// Refuses a request with neither a signed-in user nor a machine's credential.
pub fn require_someone(viewer: &Viewer) -> ApiResult<()> {
    match viewer.machine {
        Some(_) => Ok(()),
        None => viewer.require_user().map(|_| ()),
    }
}

/// The game server whose token the request carries; refuses anything else (no token, a
/// user's token, a host's, an unknown or shut down server).
pub async fn calling_server(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
) -> ApiResult<game_server::Model> {
    server_by_hash(db, &hash_opaque(server_token(viewer)?)).await
}

fn server_token(viewer: &Viewer) -> ApiResult<&str> {
    match &viewer.machine {
        Some(Machine::Server(token)) => Ok(token),
        _ => Err(ApiError::Unauthenticated(
            "a game server authenticates with `Authorization: Server <token>`",
        )),
    }
}

async fn server_by_hash(db: &impl ConnectionTrait, hash: &str) -> ApiResult<game_server::Model> {
    let server = game_server::Entity::find()
        .filter(game_server::Column::TokenHash.eq(hash))
        .one(db)
        .await?
        .ok_or(ApiError::Unauthenticated("unknown server token"))?;
    if server.health == Health::ShutDown {
        return Err(ApiError::Unauthenticated("this server was shut down"));
    }
    Ok(server)
}

/// Server tokens that authenticated lately, by hash, with their server's id: the calls a
/// server makes for its sessions skip reading the server. A shutdown drops the server's
/// entry on every instance (the change bus); the time limit bounds what a lost message can
/// keep.
pub struct ServerTokens(Expiring<String, i32>);

/// Server tokens held at most.
const TOKENS_KEPT: usize = 100_000;

impl ServerTokens {
    /// Tokens held `ttl` at most.
    pub fn new(ttl: std::time::Duration) -> Self {
        Self(Expiring::new(ttl, TOKENS_KEPT))
    }

    /// The id of the game server whose token the request carries, as [`calling_server`]
    /// refuses or accepts it.
    pub async fn server_id(&self, db: &impl ConnectionTrait, viewer: &Viewer) -> ApiResult<i32> {
        let hash = hash_opaque(server_token(viewer)?);
        let ticket = match self.0.get(&hash) {
            Ok(id) => return Ok(id),
            Err(ticket) => ticket,
        };
        let server = server_by_hash(db, &hash).await?;
        self.0.put(ticket, hash, server.id);
        Ok(server.id)
    }

    /// The bus hook that drops shut down servers' tokens.
    pub fn invalidation(tokens: Arc<Self>) -> Hook {
        Arc::new(move |change| match change {
            Change::ServerShutDown { server_id } => tokens.0.forget_where(|id| id == server_id),
            Change::Resync => tokens.0.forget_all(),
            _ => {}
        })
    }
}

/// The provisioning host whose token the request carries.
pub async fn calling_host(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
) -> ApiResult<provisioning_host::Model> {
    let Some(Machine::Host(token)) = &viewer.machine else {
        return Err(ApiError::Unauthenticated(
            "a provisioning host authenticates with `Authorization: Host <token>`",
        ));
    };
    let host = provisioning_host::Entity::find()
        .filter(provisioning_host::Column::TokenHash.eq(hash_opaque(token)))
        .one(db)
        .await?
        .ok_or(ApiError::Unauthenticated("unknown host token"))?;
    if !host.active {
        return Err(ApiError::Forbidden);
    }
    Ok(host)
}

/// Refuses an address a host ban covers.
async fn refuse_banned(db: &impl ConnectionTrait, ip: Option<IpAddr>) -> ApiResult<()> {
    let Some(ip) = ip else { return Ok(()) };
    match super::covering(db, ip).await?.into_iter().next() {
        Some(ban) => Err(ApiError::Banned {
            reason: ban.reason,
            until: ban.expires_at,
        }),
        None => Ok(()),
    }
}

/// A provisioning host to register.
pub struct NewHost {
    pub name: String,
    pub api_url: String,
    pub capacity: i32,
    pub official: bool,
}

/// An `http(s)://` address.
fn check_url(raw: &str, field: &'static str) -> ApiResult<String> {
    let url = url::Url::parse(raw.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| ApiError::bad_input(field, "an http:// or https:// address"))?;
    Ok(url.to_string())
}

/// Registers a provisioning host (`server.manage`), audited; its token is shown once.
pub async fn register_host(
    ctx: &AppContext,
    viewer: &Viewer,
    new: NewHost,
) -> ApiResult<Issued<provisioning_host::Model>> {
    let admin = viewer.require_privilege(privileges::SERVER_MANAGE)?.id;
    let name = crate::catalog::text_field(&new.name, "name", 1, 100)?;
    let api_url = check_url(&new.api_url, "apiUrl")?;
    if !(1..=MAX_SLOTS).contains(&new.capacity) {
        return Err(ApiError::bad_input(
            "capacity",
            format!("a host runs 1 to {MAX_SLOTS} servers"),
        ));
    }
    let (token, hash) = new_opaque();
    let row = ctx
        .write(async |db, _changes| {
            let now = Utc::now();
            let made = provisioning_host::ActiveModel {
                name: Set(name.clone()),
                token_hash: Set(hash.clone()),
                api_url: Set(api_url.clone()),
                official: Set(new.official),
                active: Set(true),
                address: Set(None),
                pinged_at: Set(None),
                capacity: Set(new.capacity),
                slots: Set(0),
                updated_by: Set(Some(admin)),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(db)
            .await?;
            audit::record(
                db,
                Some(admin),
                Entry {
                    action: "host.register",
                    target_type: "provisioning_host",
                    target_id: Some(made.id.to_string()),
                    reason: None,
                    details: Some(json!({ "name": made.name, "apiUrl": made.api_url })),
                },
            )
            .await?;
            Ok(made)
        })
        .await?;
    Ok(Issued { row, token })
}

/// A host's keepalive with the servers it can still start; refused from a banned address.
pub async fn ping_host(
    ctx: &AppContext,
    viewer: &Viewer,
    slots: i32,
) -> ApiResult<provisioning_host::Model> {
    let host = calling_host(&ctx.db, viewer).await?;
    if !(0..=host.capacity).contains(&slots) {
        return Err(ApiError::bad_input(
            "slots",
            format!("0 to the host's capacity, {}", host.capacity),
        ));
    }
    refuse_banned(&ctx.db, Some(viewer.ip)).await?;
    let now = Utc::now();
    let mut row: provisioning_host::ActiveModel = host.into();
    row.slots = Set(slots);
    row.pinged_at = Set(Some(now));
    row.address = Set(Some(viewer.ip.to_string()));
    row.updated_at = Set(now);
    Ok(row.update(&ctx.db).await?)
}

/// Turns a host on or off (`server.manage`), audited.
pub async fn set_host_active(
    ctx: &AppContext,
    viewer: &Viewer,
    id: i32,
    active: bool,
) -> ApiResult<provisioning_host::Model> {
    let admin = viewer.require_privilege(privileges::SERVER_MANAGE)?.id;
    ctx.write(async |db, _changes| {
        let host =
            lock_rows::<provisioning_host::Entity, _>(db, provisioning_host::Column::Id, [id])
                .await?
                .pop()
                .ok_or(ApiError::NotFound("provisioning host"))?;
        let mut row: provisioning_host::ActiveModel = host.into();
        row.active = Set(active);
        row.updated_by = Set(Some(admin));
        row.updated_at = Set(Utc::now());
        let saved = row.update(db).await?;
        audit::record(
            db,
            Some(admin),
            Entry {
                action: if active {
                    "host.activate"
                } else {
                    "host.deactivate"
                },
                target_type: "provisioning_host",
                target_id: Some(id.to_string()),
                reason: None,
                details: None,
            },
        )
        .await?;
        Ok(saved)
    })
    .await
}

/// Every host, newest first.
pub async fn hosts(db: &impl ConnectionTrait) -> ApiResult<Vec<provisioning_host::Model>> {
    Ok(provisioning_host::Entity::find()
        .order_by_desc(provisioning_host::Column::Id)
        .all(db)
        .await?)
}

/// The hosts to ask for servers now: on, pinged lately, with room; official first.
pub async fn usable_hosts(
    db: &impl ConnectionTrait,
    ping_seconds: u32,
) -> ApiResult<Vec<provisioning_host::Model>> {
    Ok(provisioning_host::Entity::find()
        .filter(provisioning_host::Column::Active.eq(true))
        .filter(provisioning_host::Column::Slots.gt(0))
        .filter(provisioning_host::Column::PingedAt.gt(Utc::now() - silence(ping_seconds)))
        .order_by_desc(provisioning_host::Column::Official)
        .order_by_desc(provisioning_host::Column::Slots)
        .all(db)
        .await?)
}

/// A game server to register.
pub struct NewServer {
    /// The games it may run; the first is the one it runs now.
    pub game_ids: Vec<i32>,
    pub socket_host: String,
    pub socket_port: i32,
    pub api_url: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    /// Most players at once; the first game's most players when left out.
    pub slots: Option<i32>,
}

/// Who a server is registered by, which decides its kind.
enum Registrar {
    /// An admin: an official static server.
    Admin(Uuid),
    /// A provisioning host: a provisioned server Arena chooses games for.
    Host(provisioning_host::Model),
    /// A player: their own server for their own games.
    Player(Uuid),
}

/// Registers a game server. A provisioning host (with its token) registers the servers it
/// started; an admin (`server.manage`) an official static one; any other player a server
/// for games they made. The token is shown once.
pub async fn register_server(
    ctx: &AppContext,
    viewer: &Viewer,
    new: NewServer,
) -> ApiResult<Issued<game_server::Model>> {
    let registrar = match &viewer.machine {
        Some(Machine::Host(_)) => Registrar::Host(calling_host(&ctx.db, viewer).await?),
        Some(Machine::Server(_)) => return Err(ApiError::Forbidden),
        None if viewer.has_privilege(privileges::SERVER_MANAGE) => {
            Registrar::Admin(viewer.require_user()?.id)
        }
        None => Registrar::Player(viewer.require_user()?.id),
    };
    let socket_host = crate::catalog::text_field(&new.socket_host, "socketHost", 1, 255)?;
    if !(1..=65535).contains(&new.socket_port) {
        return Err(ApiError::bad_input("socketPort", "a port is 1 to 65535"));
    }
    let api_url = new
        .api_url
        .as_deref()
        .map(|u| check_url(u, "apiUrl"))
        .transpose()?;
    let country = new
        .country
        .as_deref()
        .map(crate::auth::inputs::parse_country)
        .transpose()?;
    // Each game once, the first (the one it runs now) kept first.
    let mut seen = std::collections::HashSet::new();
    let game_ids: Vec<i32> = new
        .game_ids
        .iter()
        .copied()
        .filter(|id| seen.insert(*id))
        .collect();
    if game_ids.is_empty() || game_ids.len() > MAX_GAMES {
        return Err(ApiError::bad_input(
            "gameIds",
            format!("a server runs 1 to {MAX_GAMES} games"),
        ));
    }
    // A machine registering itself is where it says it is; an admin's server is checked
    // by its socket address when it has one.
    let address = match registrar {
        Registrar::Admin(_) => socket_host.parse::<IpAddr>().ok(),
        _ => Some(viewer.ip),
    };
    refuse_banned(&ctx.db, address).await?;
    let (token, hash) = new_opaque();
    let row = ctx
        .write(async |db, _changes| {
            let games = game::Entity::find()
                .filter(game::Column::Id.is_in(game_ids.clone()))
                .all(db)
                .await?;
            if games.len() != game_ids.len() {
                return Err(ApiError::NotFound("game"));
            }
            let (owner, official, provisioned, host_id) = match &registrar {
                Registrar::Admin(admin) => (*admin, true, false, None),
                Registrar::Host(host) => {
                    let owner = host.updated_by.ok_or(ApiError::Forbidden)?;
                    (owner, host.official, true, Some(host.id))
                }
                Registrar::Player(me) => {
                    let made = content::Entity::find()
                        .filter(content::Column::Id.is_in(game_ids.clone()))
                        .filter(content::Column::UserId.eq(*me))
                        .count(db)
                        .await?;
                    if made != game_ids.len() as u64 {
                        return Err(ApiError::Forbidden);
                    }
                    (*me, false, false, None)
                }
            };
            let first = games
                .iter()
                .find(|g| g.id == game_ids[0])
                .ok_or(ApiError::NotFound("game"))?;
            let slots = new.slots.unwrap_or(first.max_players);
            if !(1..=MAX_SLOTS).contains(&slots) {
                return Err(ApiError::bad_input(
                    "slots",
                    format!("a server takes 1 to {MAX_SLOTS} players"),
                ));
            }
            let now = Utc::now();
            let made = game_server::ActiveModel {
                token_hash: Set(hash.clone()),
                user_id: Set(owner),
                game_id: Set(Some(first.id)),
                socket_host: Set(socket_host.clone()),
                socket_port: Set(new.socket_port),
                api_url: Set(api_url.clone()),
                country: Set(country.clone()),
                provisioned: Set(provisioned),
                quarantine: Set(false),
                official: Set(official),
                active: Set(true),
                server_info: Set(None),
                player_count: Set(None),
                ping: Set(None),
                provisioned_by: Set(host_id),
                slots: Set(slots),
                live: Set(0),
                health: Set(Health::Registering),
                address: Set(address.map(|a| a.to_string())),
                created_at: Set(now),
                updated_at: Set(now),
                pinged_at: Set(None),
                ..Default::default()
            }
            .insert(db)
            .await?;
            server_game::Entity::insert_many(game_ids.iter().map(|&game_id| {
                server_game::ActiveModel {
                    server_id: Set(made.id),
                    game_id: Set(game_id),
                }
            }))
            .exec(db)
            .await?;
            if let Some(host) = host_id {
                // One fewer server it can start, until its next ping says otherwise.
                provisioning_host::Entity::update_many()
                    .col_expr(
                        provisioning_host::Column::Slots,
                        Expr::cust("CASE WHEN slots > 0 THEN slots - 1 ELSE 0 END"),
                    )
                    .filter(provisioning_host::Column::Id.eq(host))
                    .exec(db)
                    .await?;
            }
            if let Registrar::Admin(admin) = registrar {
                audit::record(
                    db,
                    Some(admin),
                    Entry {
                        action: "server.register",
                        target_type: "game_server",
                        target_id: Some(made.id.to_string()),
                        reason: None,
                        details: Some(json!({ "games": game_ids })),
                    },
                )
                .await?;
            }
            Ok(made)
        })
        .await?;
    Ok(Issued { row, token })
}

/// What a server reports at each ping.
pub struct Ping {
    /// Players it counts itself.
    pub player_count: Option<i32>,
    /// Its latency, in milliseconds.
    pub ping: Option<i32>,
    /// Anything it wants known about itself (JSON, at most 8 KiB).
    pub server_info: Option<serde_json::Value>,
    /// Sessions it holds; each is kept alive.
    pub session_ids: Vec<i32>,
}

/// Most bytes of a server's `server_info`.
const MAX_INFO_BYTES: usize = 8 * 1024;

/// A server's keepalive: it is ready again (unless shut down), and the sessions it names
/// are kept alive. Refused from a banned address, which also shuts the server down.
pub async fn ping_server(
    ctx: &AppContext,
    viewer: &Viewer,
    ping: Ping,
) -> ApiResult<game_server::Model> {
    let server = calling_server(&ctx.db, viewer).await?;
    if ping
        .player_count
        .is_some_and(|n| !(0..=MAX_SLOTS).contains(&n))
    {
        return Err(ApiError::bad_input("playerCount", "0 to 10000"));
    }
    if ping.ping.is_some_and(|n| !(0..=60_000).contains(&n)) {
        return Err(ApiError::bad_input("ping", "0 to 60000 milliseconds"));
    }
    if ping
        .server_info
        .as_ref()
        .is_some_and(|info| info.to_string().len() > MAX_INFO_BYTES)
    {
        return Err(ApiError::bad_input("serverInfo", "at most 8 KiB of JSON"));
    }
    if ping.session_ids.len() > MAX_SLOTS as usize {
        return Err(ApiError::bad_input("sessionIds", "at most 10000 sessions"));
    }
    if let Err(banned) = refuse_banned(&ctx.db, Some(viewer.ip)).await {
        ctx.write(async |db, changes| shut_down_in(db, changes, &[server.id], "host_ban").await)
            .await?;
        return Err(banned);
    }
    let now = Utc::now();
    ctx.write(async |db, _changes| {
        let mut update = game_server::Entity::update_many()
            .col_expr(game_server::Column::PingedAt, Expr::value(now))
            .col_expr(game_server::Column::UpdatedAt, Expr::value(now))
            .col_expr(game_server::Column::Health, Expr::value(Health::Ready))
            .col_expr(
                game_server::Column::Address,
                Expr::value(viewer.ip.to_string()),
            )
            .col_expr(
                game_server::Column::PlayerCount,
                Expr::value(ping.player_count),
            )
            .col_expr(game_server::Column::Ping, Expr::value(ping.ping));
        if let Some(info) = &ping.server_info {
            update = update.col_expr(game_server::Column::ServerInfo, Expr::value(info.clone()));
        }
        let saved = update
            .filter(game_server::Column::Id.eq(server.id))
            .filter(game_server::Column::Health.ne(Health::ShutDown))
            .exec_with_returning(db)
            .await?
            .pop()
            .ok_or(ApiError::Unauthenticated("this server was shut down"))?;
        if !ping.session_ids.is_empty() {
            crate::play::keep_alive_in(db, server.id, &ping.session_ids, now).await?;
        }
        Ok(saved)
    })
    .await
}

/// Shuts servers down for good and ends their sessions with `reason`.
pub async fn shut_down_in(
    db: &impl ConnectionTrait,
    changes: &mut Changes,
    ids: &[i32],
    reason: &'static str,
) -> ApiResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    game_server::Entity::update_many()
        .col_expr(game_server::Column::Health, Expr::value(Health::ShutDown))
        .col_expr(game_server::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(game_server::Column::Id.is_in(ids.iter().copied()))
        .exec(db)
        .await?;
    for &server_id in ids {
        changes.push(Change::ServerShutDown { server_id });
    }
    crate::play::end_on_servers_in(db, changes, ids, reason).await
}

/// What a moderator or admin does to a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// No new joins (`server.quarantine`); its sessions go on.
    Quarantine,
    /// Joins again (`server.quarantine`).
    Release,
    /// No new sessions (`server.manage`, or the owner of a player's server).
    Deactivate,
    /// New sessions again.
    Activate,
    /// Ends it and its sessions for good (`server.manage`, or the owner).
    ShutDown,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Self::Quarantine => "server.quarantine",
            Self::Release => "server.release",
            Self::Deactivate => "server.deactivate",
            Self::Activate => "server.activate",
            Self::ShutDown => "server.shut_down",
        }
    }
}

/// Applies `action` to server `id` with a reason, audited.
pub async fn act_on_server(
    ctx: &AppContext,
    viewer: &Viewer,
    id: i32,
    action: Action,
    reason: &str,
) -> ApiResult<game_server::Model> {
    let me = viewer.require_user()?.id;
    let reason = crate::catalog::text_field(reason, "reason", 1, 500)?;
    ctx.write(async |db, changes| {
        let server = lock_rows::<game_server::Entity, _>(db, game_server::Column::Id, [id])
            .await?
            .pop()
            .ok_or(ApiError::NotFound("game server"))?;
        let owner_may = !server.official && !server.provisioned && server.user_id == me;
        let allowed = match action {
            Action::Quarantine | Action::Release => {
                viewer.has_privilege(privileges::SERVER_QUARANTINE)
            }
            Action::Deactivate | Action::Activate | Action::ShutDown => {
                owner_may || viewer.has_privilege(privileges::SERVER_MANAGE)
            }
        };
        if !allowed {
            return Err(ApiError::Forbidden);
        }
        if server.health == Health::ShutDown {
            return Err(ApiError::Conflict("this server was shut down".into()));
        }
        let now = Utc::now();
        let mut row: game_server::ActiveModel = server.clone().into();
        match action {
            Action::Quarantine => row.quarantine = Set(true),
            Action::Release => row.quarantine = Set(false),
            Action::Deactivate => row.active = Set(false),
            Action::Activate => row.active = Set(true),
            Action::ShutDown => row.health = Set(Health::ShutDown),
        }
        row.updated_at = Set(now);
        let saved = row.update(db).await?;
        if action == Action::ShutDown {
            changes.push(Change::ServerShutDown { server_id: id });
            crate::play::end_on_servers_in(db, changes, &[id], "shut_down").await?;
        }
        audit::record(
            db,
            Some(me),
            Entry {
                action: action.name(),
                target_type: "game_server",
                target_id: Some(id.to_string()),
                reason: Some(reason.clone()),
                details: None,
            },
        )
        .await?;
        Ok(saved)
    })
    .await
}

/// Marks the servers silent for three pings unhealthy and ends their sessions; returns how
/// many it marked.
pub async fn sweep_silent(ctx: &AppContext) -> ApiResult<usize> {
    let cut = Utc::now() - silence(ctx.settings.server_ping_seconds);
    let silent: Vec<i32> = game_server::Entity::find()
        .select_only()
        .column(game_server::Column::Id)
        .filter(game_server::Column::Health.eq(Health::Ready))
        .filter(game_server::Column::PingedAt.lt(cut))
        .limit(500)
        .into_tuple()
        .all(&ctx.db)
        .await?;
    let mut marked = 0;
    for id in silent {
        let this = ctx
            .write(async move |db, changes| mark_unhealthy_in(db, changes, id, cut).await)
            .await?;
        marked += usize::from(this);
    }
    Ok(marked)
}

/// Marks server `id` unhealthy if it is still ready and silent since `cut`, and ends its
/// sessions.
async fn mark_unhealthy_in(
    db: &impl ConnectionTrait,
    changes: &mut Changes,
    id: i32,
    cut: DateTime<Utc>,
) -> ApiResult<bool> {
    let marked = game_server::Entity::update_many()
        .col_expr(game_server::Column::Health, Expr::value(Health::Unhealthy))
        .col_expr(game_server::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(game_server::Column::Id.eq(id))
        .filter(game_server::Column::Health.eq(Health::Ready))
        .filter(game_server::Column::PingedAt.lt(cut))
        .exec(db)
        .await?
        .rows_affected;
    if marked == 1 {
        crate::play::end_on_servers_in(db, changes, &[id], "server_unhealthy").await?;
    }
    Ok(marked == 1)
}

/// Shuts down the live servers at addresses `net` covers and stops using the hosts there:
/// what a new host ban does at once.
pub async fn enforce_ban_in(
    db: &impl ConnectionTrait,
    changes: &mut Changes,
    ban_ip: &str,
    cidr: i16,
) -> ApiResult<usize> {
    let live: Vec<(i32, Option<String>)> = game_server::Entity::find()
        .select_only()
        .column(game_server::Column::Id)
        .column(game_server::Column::Address)
        .filter(game_server::Column::Health.ne(Health::ShutDown))
        .filter(game_server::Column::Address.is_not_null())
        .into_tuple()
        .all(db)
        .await?;
    let covered = |address: &str| {
        address
            .parse::<IpAddr>()
            .is_ok_and(|ip| crate::auth::viewer::ban_covers(ban_ip, Some(cidr), ip))
    };
    let hit: Vec<i32> = live
        .into_iter()
        .filter(|(_, address)| address.as_deref().is_some_and(covered))
        .map(|(id, _)| id)
        .collect();
    shut_down_in(db, changes, &hit, "host_ban").await?;
    let hosts: Vec<(i32, Option<String>)> = provisioning_host::Entity::find()
        .select_only()
        .column(provisioning_host::Column::Id)
        .column(provisioning_host::Column::Address)
        .filter(provisioning_host::Column::PingedAt.is_not_null())
        .into_tuple()
        .all(db)
        .await?;
    let banned_hosts: Vec<i32> = hosts
        .into_iter()
        .filter(|(_, address)| address.as_deref().is_some_and(covered))
        .map(|(id, _)| id)
        .collect();
    if !banned_hosts.is_empty() {
        // Not asked again until it pings, which the ban refuses.
        provisioning_host::Entity::update_many()
            .col_expr(
                provisioning_host::Column::PingedAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(provisioning_host::Column::Id.is_in(banned_hosts))
            .exec(db)
            .await?;
    }
    Ok(hit.len())
}

/// Which servers a list shows.
#[derive(Debug, Clone, Default)]
pub struct ServerFilter {
    pub game_id: Option<i32>,
    pub official: Option<bool>,
    pub quarantined: Option<bool>,
    /// Leave out the shut down ones.
    pub live_only: bool,
}

/// Servers by filter, newest first, at most `limit`.
pub async fn list_servers(
    db: &impl ConnectionTrait,
    filter: &ServerFilter,
    limit: u64,
) -> ApiResult<Vec<game_server::Model>> {
    let mut query = game_server::Entity::find();
    if let Some(game) = filter.game_id {
        query = query.filter(
            Condition::any()
                .add(game_server::Column::GameId.eq(game))
                .add(
                    game_server::Column::Id.in_subquery(
                        sea_orm::sea_query::Query::select()
                            .column(server_game::Column::ServerId)
                            .from(server_game::Entity)
                            .and_where(server_game::Column::GameId.eq(game))
                            .to_owned(),
                    ),
                ),
        );
    }
    if let Some(official) = filter.official {
        query = query.filter(game_server::Column::Official.eq(official));
    }
    if let Some(quarantined) = filter.quarantined {
        query = query.filter(game_server::Column::Quarantine.eq(quarantined));
    }
    if filter.live_only {
        query = query.filter(game_server::Column::Health.ne(Health::ShutDown));
    }
    Ok(query
        .order_by_desc(game_server::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// The games each of `servers` may run.
pub async fn games_of(
    db: &impl ConnectionTrait,
    servers: &[i32],
) -> ApiResult<std::collections::HashMap<i32, Vec<i32>>> {
    let rows = server_game::Entity::find()
        .filter(server_game::Column::ServerId.is_in(servers.iter().copied()))
        .order_by_asc(server_game::Column::GameId)
        .all(db)
        .await?;
    Ok(crate::db::group_by(rows, |r| r.server_id)
        .into_iter()
        .map(|(k, v)| (k, v.into_iter().map(|r| r.game_id).collect()))
        .collect())
}

/// Servers by id.
pub async fn servers_by_id(
    db: &impl ConnectionTrait,
    ids: &[i32],
) -> ApiResult<std::collections::HashMap<i32, game_server::Model>> {
    Ok(
        crate::db::rows_by::<game_server::Entity, _>(db, game_server::Column::Id, ids, |r| r.id)
            .await?,
    )
}

/// Hosts by id.
pub async fn hosts_by_id(
    db: &impl ConnectionTrait,
    ids: &[i32],
) -> ApiResult<std::collections::HashMap<i32, provisioning_host::Model>> {
    Ok(crate::db::rows_by::<provisioning_host::Entity, _>(
        db,
        provisioning_host::Column::Id,
        ids,
        |r| r.id,
    )
    .await?)
}

/// The servers running `game` now (not shut down, active), at most `limit`.
pub async fn running(
    db: &impl ConnectionTrait,
    game: i32,
    limit: u64,
) -> ApiResult<Vec<game_server::Model>> {
    Ok(game_server::Entity::find()
        .filter(game_server::Column::GameId.eq(game))
        .filter(game_server::Column::Active.eq(true))
        .filter(game_server::Column::Health.is_in([Health::Ready, Health::Registering]))
        .order_by_asc(game_server::Column::Live)
        .limit(limit)
        .all(db)
        .await?)
}

/// The servers `owner` registered for their own games, newest first.
pub async fn owned_by(
    db: &impl ConnectionTrait,
    owner: Uuid,
    limit: u64,
) -> ApiResult<Vec<game_server::Model>> {
    Ok(game_server::Entity::find()
        .filter(game_server::Column::UserId.eq(owner))
        .filter(game_server::Column::Official.eq(false))
        .filter(game_server::Column::Provisioned.eq(false))
        .order_by_desc(game_server::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}
