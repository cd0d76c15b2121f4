//! Asking provisioning hosts for game servers when no server has room.
//!
//! The contract: Arena sends `POST <api_url>` with the JSON body `{"requestId": "<uuid>",
//! "gameId": 7, "count": 2}` and the header `X-Arena-Signature: sha256=<hex>`, an
//! HMAC-SHA256 of the body keyed with the hex SHA-256 of the host's token (the host knows its
//! token; Arena keeps only that hash). The host answers `2xx` with `{"accepted": n}`, n ≥ 1,
//! then starts the servers, which register with the host's token (`registerServer`) and ping
//! (`pingServer`). Each request has `ARENA_PROVISION_TIMEOUT_MS`; a timeout, a `5xx` or an
//! unreadable answer is tried twice more, then the next host. Nothing is written for a host
//! that fails: the servers it registers are all there is.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
};

use arena_entity::{games::game, servers::provisioning_host};
use hmac::Mac;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};
use tokio::time::Instant;

use crate::{
    context::AppContext,
    error::{ApiError, ApiResult},
    servers::registry::{self, silence},
};

/// Most servers asked for at once.
const MAX_ASK: usize = 16;
/// Attempts per host.
const ATTEMPTS: u32 = 3;
/// How long the leader waits for the rest of the servers it asked for once one has room.
const GRACE: std::time::Duration = std::time::Duration::from_secs(1);
/// How often the leader looks for the new servers.
const POLL: std::time::Duration = std::time::Duration::from_millis(50);

/// The players of one game waiting for servers on this instance.
#[derive(Default)]
struct Waiting {
    /// Held by the one caller asking hosts for this game.
    turn: tokio::sync::Mutex<()>,
    /// Callers waiting, to size the request.
    count: AtomicUsize,
    /// Bumped each time servers came, so those who waited try again instead of asking.
    rounds: AtomicU64,
}

/// Asks hosts for servers, one request per game at a time on this instance.
pub struct Provisioner {
    http: reqwest::Client,
    games: Mutex<HashMap<i32, Arc<Waiting>>>,
}

impl Default for Provisioner {
    fn default() -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
            games: Mutex::new(HashMap::new()),
        }
    }
}

/// Counts a caller as waiting while it lives.
struct Counted<'a>(&'a AtomicUsize);

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Provisioner {
    fn waiting(&self, game: i32) -> Arc<Waiting> {
        self.games
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(game)
            .or_default()
            .clone()
    }

    /// Returns when `game` may have a server with room: another caller's request brought
    /// servers, or this one asked a host and a server came. `UNAVAILABLE` when no host could
    /// be asked or none brought a server by `deadline`.
    pub async fn provide(
        &self,
        ctx: &AppContext,
        game: &game::Model,
        deadline: Instant,
    ) -> ApiResult<()> {
        let waiting = self.waiting(game.id);
        waiting.count.fetch_add(1, Ordering::AcqRel);
        let _counted = Counted(&waiting.count);
        let round = waiting.rounds.load(Ordering::Acquire);
        let Ok(_turn) = tokio::time::timeout_at(deadline, waiting.turn.lock()).await else {
            return Err(timed_out());
        };
        if waiting.rounds.load(Ordering::Acquire) != round || has_room(ctx, game.id).await? {
            return Ok(());
        }
        let players = waiting.count.load(Ordering::Acquire).max(1);
        let per_server = usize::try_from(game.max_players.max(1)).unwrap_or(1);
        let count = players.div_ceil(per_server).clamp(1, MAX_ASK);
        let hosts = registry::usable_hosts(&ctx.db, ctx.settings.host_ping_seconds).await?;
        if hosts.is_empty() {
            return Err(ApiError::Unavailable(
                "no game server has room and no provisioning host is available".into(),
            ));
        }
        let mut failures = Vec::new();
        for host in hosts {
            if Instant::now() >= deadline {
                break;
            }
            let ask = count.min(usize::try_from(host.slots).unwrap_or(0)).max(1);
            let asked_at = chrono::Utc::now();
            match self.ask(ctx, &host, game.id, ask, deadline).await {
                Ok(()) => {
                    if wait_for_servers(ctx, game.id, (host.id, asked_at, ask), deadline).await? {
                        waiting.rounds.fetch_add(1, Ordering::AcqRel);
                        return Ok(());
                    }
                    return Err(timed_out());
                }
                Err(why) => {
                    tracing::warn!(host = host.id, error = %why, "provisioning host failed");
                    failures.push(format!("host {}: {why}", host.id));
                }
            }
        }
        if failures.is_empty() {
            return Err(timed_out());
        }
        Err(ApiError::Unavailable(format!(
            "no game server has room and no provisioning host could start one ({})",
            failures.join("; ")
        )))
    }

    /// One host's answer to a request for `count` servers, retried on timeouts, `5xx` and
    /// unreadable answers.
    async fn ask(
        &self,
        ctx: &AppContext,
        host: &provisioning_host::Model,
        game: i32,
        count: usize,
        deadline: Instant,
    ) -> Result<(), String> {
        let body = serde_json::json!({
            "requestId": uuid::Uuid::new_v4(),
            "gameId": game,
            "count": count,
        })
        .to_string();
        let mac = crate::auth::tokens::hmac_sha256(host.token_hash.as_bytes(), body.as_bytes());
        let signature: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let timeout = std::time::Duration::from_millis(ctx.settings.provision_timeout_ms);
        let mut last = String::new();
        for attempt in 0..ATTEMPTS {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            if attempt > 0 {
                tokio::time::sleep((POLL * 2 * attempt).min(left)).await;
            }
            let sent = self
                .http
                .post(&host.api_url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header("X-Arena-Signature", format!("sha256={signature}"))
                .body(body.clone())
                .timeout(timeout.min(left))
                .send()
                .await;
            let response = match sent {
                Ok(response) => response,
                Err(err) => {
                    last = if err.is_timeout() {
                        "no answer in time".into()
                    } else {
                        "could not be reached".into()
                    };
                    continue;
                }
            };
            let status = response.status();
            if status.is_client_error() {
                return Err(format!("refused the request ({status})"));
            }
            if !status.is_success() {
                last = format!("answered {status}");
                continue;
            }
            match response.json::<Accepted>().await {
                Ok(Accepted { accepted }) if accepted >= 1 => return Ok(()),
                Ok(_) => return Err("accepted no server".into()),
                Err(_) => last = "answered something other than {\"accepted\": n}".into(),
            }
        }
        Err(last)
    }
}

/// A host's answer.
#[derive(serde::Deserialize)]
struct Accepted {
    accepted: i64,
}

pub(super) fn timed_out() -> ApiError {
    ApiError::Unavailable(
        "no game server has room and none was started in time; retry later".into(),
    )
}

/// Waits until the host registered the `want` servers asked of it at `since`, or a server
/// of `game` has room and a moment passed (the rest may be slow to start): the next caller
/// who finds no room then asks for more, not for these again. `false` at `deadline`.
async fn wait_for_servers(
    ctx: &AppContext,
    game: i32,
    (host, since, want): (i32, chrono::DateTime<chrono::Utc>, usize),
    deadline: Instant,
) -> ApiResult<bool> {
    let grace = Instant::now() + GRACE;
    loop {
        let db = &ctx.db;
        let arrived = arena_entity::servers::game_server::Entity::find()
            .filter(arena_entity::servers::game_server::Column::ProvisionedBy.eq(host))
            .filter(arena_entity::servers::game_server::Column::CreatedAt.gte(since))
            .count(db)
            .await?;
        let room = has_room(ctx, game).await?;
        if room && (arrived >= want as u64 || Instant::now() >= grace) {
            return Ok(true);
        }
        if Instant::now() + POLL >= deadline {
            return Ok(room);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Whether `game` has a server with an open seat now. Only games that provision ask, never
/// one its players host.
async fn has_room(ctx: &AppContext, game: i32) -> ApiResult<bool> {
    let cut = chrono::Utc::now() - silence(ctx.settings.server_ping_seconds);
    let sql = format!(
        "SELECT id FROM game_servers WHERE game_id = $2 AND {} LIMIT 1",
        super::open("", false)
    );
    let db = &ctx.db;
    Ok(db
        .query_one_raw(crate::db::raw(db, &sql, vec![cut.into(), game.into()]))
        .await?
        .is_some())
}
