//! A local stand-in for the WG API: deterministic players from a seed, stats that grow from
//! one simulated day to the next, the real response and error formats, a per-application-id
//! rate limit, and optional injected faults. Tests, benchmarks and demos run against it.

use std::{
    collections::{BTreeMap, HashMap},
    net::SocketAddr,
    num::NonZeroU32,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::{
    Json, Router,
    extract::{Query, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::{net::TcpListener, sync::Mutex};

use crate::wg::{AllStats, MAX_IDS, Player, Statistics};

/// How the simulator behaves.
#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    /// Players are a pure function of this seed and the account id.
    pub seed: u64,
    /// The simulated day (0 or more); stats grow with it.
    pub day: u32,
    /// Requests per second each application id may make; `None` for no limit.
    pub rate_limit: Option<NonZeroU32>,
    /// Share of requests (0 to 1) answered with a fault.
    pub fault_rate: f64,
    /// How long a slow fault waits before answering.
    pub slow_for: Duration,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            day: 0,
            rate_limit: None,
            fault_rate: 0.0,
            slow_for: Duration::from_secs(3),
        }
    }
}

/// What the simulator has answered so far (`GET /stats`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SimulatorStats {
    /// Requests answered with data.
    pub ok: u64,
    /// Requests refused with REQUEST_LIMIT_EXCEEDED.
    pub rate_limited: u64,
    /// Requests answered with an injected fault.
    pub faults: u64,
    /// Requests refused as malformed.
    pub refused: u64,
}

struct Counters {
    ok: AtomicU64,
    rate_limited: AtomicU64,
    faults: AtomicU64,
    refused: AtomicU64,
}

struct Shared {
    config: SimulatorConfig,
    limiter: Option<DefaultKeyedRateLimiter<String>>,
    rng: Mutex<StdRng>,
    counters: Counters,
}

/// A 64-bit mix (splitmix64): the same input, the same output, well spread.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn draw(seed: u64, id: i64, salt: u64, below: u64) -> i64 {
    let value = mix(seed ^ mix(id.unsigned_abs() ^ mix(salt))) % below.max(1);
    i64::try_from(value).unwrap_or(0)
}

/// The player with `id` on `day` for `seed`; about 15% of ids have no account.
pub fn player(seed: u64, day: u32, id: i64) -> Option<Player> {
    if draw(seed, id, 1, 100) < 15 || id <= 0 {
        return None;
    }
    let created_at = 1_400_000_000 + draw(seed, id, 2, 300_000_000);
    // Battles played before day 0, then per day: a third of players sit a given day out.
    let mut battles = draw(seed, id, 3, 20_000);
    let mut last_day_played = None;
    for d in 1..=day {
        if draw(seed, id, 100 + u64::from(d), 3) != 0 {
            battles += 1 + draw(seed, id, 1000 + u64::from(d), 25);
            last_day_played = Some(d);
        }
    }
    let share = |salt: u64, of: i64, lo: i64, span: i64| {
        of * (lo + draw(seed, id, salt, span.unsigned_abs())) / 100
    };
    let wins = share(4, battles, 40, 20);
    let survived = share(5, battles, 20, 20);
    let shots = battles * (6 + draw(seed, id, 6, 4));
    let base_time = 1_700_000_000;
    let last_battle_time = base_time + i64::from(last_day_played.unwrap_or(0)) * 86_400;
    Some(Player {
        account_id: id,
        nickname: format!("player-{id:x}"),
        created_at,
        last_battle_time,
        updated_at: last_battle_time + 60,
        statistics: Statistics {
            all: AllStats {
                battles,
                wins,
                losses: battles - wins - share(7, battles, 1, 2),
                damage_dealt: battles * (500 + draw(seed, id, 8, 1500)),
                damage_received: battles * (400 + draw(seed, id, 9, 1200)),
                frags: share(10, battles, 50, 80),
                spotted: share(11, battles, 60, 100),
                xp: battles * (300 + draw(seed, id, 12, 500)),
                survived_battles: survived,
                capture_points: share(13, battles, 20, 80),
                dropped_capture_points: share(14, battles, 20, 80),
                hits: share(15, shots, 60, 25),
                shots,
            },
            max_damage: 2_000 + draw(seed, id, 16, 9_000),
            max_frags: 1 + draw(seed, id, 17, 10),
            max_xp: 800 + draw(seed, id, 18, 2_500),
            trees_cut: battles * draw(seed, id, 19, 4),
        },
    })
}

fn error(field: Option<&str>, message: &str, code: u16) -> Response {
    // The real API answers errors with HTTP 200; the body's status decides.
    Json(json!({
        "status": "error",
        "error": { "field": field, "message": message, "code": code, "value": null }
    }))
    .into_response()
}

/// Keeps only the dot-paths in `fields` (a leading `-` removes a path instead).
fn select(value: Value, fields: &[&str]) -> Value {
    fn keep(value: &Value, path: &[&str], out: &mut serde_json::Map<String, Value>) {
        let Some((head, rest)) = path.split_first() else {
            return;
        };
        let Some(inner) = value.get(*head) else {
            return;
        };
        if rest.is_empty() {
            out.insert((*head).to_owned(), inner.clone());
        } else if let Value::Object(existing) =
            out.entry((*head).to_owned()).or_insert_with(|| json!({}))
        {
            keep(inner, rest, existing);
        }
    }
    fn drop_path(value: &mut Value, path: &[&str]) {
        match path {
            [last] => {
                if let Value::Object(map) = value {
                    map.remove(*last);
                }
            }
            [head, rest @ ..] => {
                if let Some(inner) = value.get_mut(*head) {
                    drop_path(inner, rest);
                }
            }
            [] => {}
        }
    }
    let includes: Vec<Vec<&str>> = fields
        .iter()
        .filter(|f| !f.starts_with('-'))
        .map(|f| f.split('.').collect())
        .collect();
    let mut selected = if includes.is_empty() {
        value
    } else {
        let mut out = serde_json::Map::new();
        for path in &includes {
            keep(&value, path, &mut out);
        }
        Value::Object(out)
    };
    for exclude in fields.iter().filter_map(|f| f.strip_prefix('-')) {
        drop_path(&mut selected, &exclude.split('.').collect::<Vec<_>>());
    }
    selected
}

async fn account_info(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let refuse = |field, message, code| {
        shared.counters.refused.fetch_add(1, Ordering::Relaxed);
        error(field, message, code)
    };
    let Some(app_id) = params.get("application_id").filter(|a| !a.is_empty()) else {
        return refuse(Some("application_id"), "APPLICATION_ID_NOT_SPECIFIED", 402);
    };
    let Some(raw_ids) = params.get("account_id").filter(|a| !a.is_empty()) else {
        return refuse(Some("account_id"), "ACCOUNT_ID_NOT_SPECIFIED", 402);
    };
    let ids: Result<Vec<i64>, _> = raw_ids
        .split(',')
        .map(|id| id.trim().parse::<i64>())
        .collect();
    let Ok(ids) = ids else {
        return refuse(Some("account_id"), "INVALID_ACCOUNT_ID", 407);
    };
    if ids.len() > MAX_IDS {
        return refuse(Some("account_id"), "ACCOUNT_ID_LIST_LIMIT_EXCEEDED", 407);
    }
    if let Some(limiter) = &shared.limiter
        && limiter.check_key(app_id).is_err()
    {
        shared.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
        return error(None, "REQUEST_LIMIT_EXCEEDED", 407);
    }
    let config = &shared.config;
    if config.fault_rate > 0.0 {
        let (faulty, kind) = {
            let mut rng = shared.rng.lock().await;
            (
                rng.random_bool(config.fault_rate.clamp(0.0, 1.0)),
                rng.random_range(0..4u8),
            )
        };
        if faulty {
            shared.counters.faults.fetch_add(1, Ordering::Relaxed);
            match kind {
                0 => return error(None, "SOURCE_NOT_AVAILABLE", 504),
                1 => {
                    return (StatusCode::INTERNAL_SERVER_ERROR, "internal server error")
                        .into_response();
                }
                2 => {
                    return (
                        [(header::CONTENT_TYPE, "application/json")],
                        r#"{"status":"ok","meta":{"count":1},"data":{"#,
                    )
                        .into_response();
                }
                _ => tokio::time::sleep(config.slow_for).await,
            }
        }
    }
    let fields: Vec<&str> = params
        .get("fields")
        .map(|f| {
            f.split(',')
                .map(str::trim)
                .filter(|f| !f.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let mut data = BTreeMap::new();
    for id in &ids {
        let found = player(config.seed, config.day, *id)
            .and_then(|p| serde_json::to_value(p).ok())
            .map(|v| select(v, &fields));
        data.insert(id.to_string(), found.unwrap_or(Value::Null));
    }
    shared.counters.ok.fetch_add(1, Ordering::Relaxed);
    Json(json!({ "status": "ok", "meta": { "count": ids.len() }, "data": data })).into_response()
}

async fn stats(State(shared): State<Arc<Shared>>) -> Json<SimulatorStats> {
    let c = &shared.counters;
    Json(SimulatorStats {
        ok: c.ok.load(Ordering::Relaxed),
        rate_limited: c.rate_limited.load(Ordering::Relaxed),
        faults: c.faults.load(Ordering::Relaxed),
        refused: c.refused.load(Ordering::Relaxed),
    })
}

/// The simulator's routes: `/wotx/account/info/`, `/stats`; any other path is
/// METHOD_NOT_FOUND, as the real API answers.
pub fn router(config: SimulatorConfig) -> Router {
    let shared = Arc::new(Shared {
        limiter: config
            .rate_limit
            .map(|rps| RateLimiter::keyed(Quota::per_second(rps))),
        rng: Mutex::new(StdRng::seed_from_u64(config.seed)),
        counters: Counters {
            ok: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            faults: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        },
        config,
    });
    Router::new()
        .route("/wotx/account/info/", get(account_info))
        .route("/stats", get(stats))
        .fallback(|| async { error(None, "METHOD_NOT_FOUND", 404) })
        .with_state(shared)
}

/// Serves the simulator on `listener` until the future is dropped.
pub async fn serve(listener: TcpListener, config: SimulatorConfig) -> std::io::Result<()> {
    axum::serve(listener, router(config)).await
}

/// Asks the simulator at `addr` what it has answered so far.
pub async fn fetch_stats(addr: SocketAddr) -> Result<SimulatorStats, reqwest::Error> {
    reqwest::get(format!("http://{addr}/stats"))
        .await?
        .error_for_status()?
        .json()
        .await
}

/// Binds `addr` and serves; returns the bound address and the server task.
pub async fn spawn(
    addr: SocketAddr,
    config: SimulatorConfig,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn(async move {
        if let Err(err) = serve(listener, config).await {
            tracing::error!(%err, "simulator stopped");
        }
    });
    Ok((bound, task))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn players_are_deterministic_and_grow_day_by_day() {
        assert_eq!(player(7, 3, 12_345), player(7, 3, 12_345));
        let empty = (1..1_000).filter(|id| player(7, 0, *id).is_none()).count();
        assert!((100..220).contains(&empty), "about 15% empty: {empty}");
        let mut grew = 0;
        for id in 1..500 {
            let (Some(before), Some(after)) = (player(7, 4, id), player(7, 5, id)) else {
                continue;
            };
            assert!(after.statistics.all.battles >= before.statistics.all.battles);
            assert!(after.statistics.all.wins >= before.statistics.all.wins);
            if after.statistics.all.battles > before.statistics.all.battles {
                grew += 1;
                assert!(after.last_battle_time > before.last_battle_time);
            }
        }
        assert!(grew > 100, "most players play on a given day: {grew}");
        assert_ne!(
            player(7, 0, 99),
            player(8, 0, 99).map(|mut p| {
                p.account_id = 99;
                p
            })
        );
    }

    #[test]
    fn fields_select_and_exclude_paths() {
        let value = json!({ "a": 1, "b": { "c": 2, "d": 3 }, "e": 4 });
        assert_eq!(
            select(value.clone(), &["a", "b.c"]),
            json!({ "a": 1, "b": { "c": 2 } })
        );
        assert_eq!(
            select(value.clone(), &["-b.d", "-e"]),
            json!({ "a": 1, "b": { "c": 2 } })
        );
        assert_eq!(select(value.clone(), &[]), value);
    }
}
