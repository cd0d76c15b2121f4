//! The event pipeline when its Redis goes away: a `redis-server` of the test's own is
//! flushed and later killed and started again in the middle of a stream of events. Nothing
//! accepted is lost, the rank index is rebuilt, and the end state equals a clean run's.

use std::{
    collections::HashMap,
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::Duration,
};

use arena_api::settings::Secret;
use arena_tests::{Backend, TestApp, UserBuilder, trusting};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde_json::{Value, json};

use crate::{
    events::{INGEST, cast},
    leaderboards::board,
    stats::settled,
};

const BATCHES: usize = 20;
const BATCH: usize = 100;
const PLAYERS: usize = 14;

/// A `redis-server` on a port of its own, keeping nothing on disk.
struct OwnRedis {
    child: Child,
    port: u16,
}

impl OwnRedis {
    fn start(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server runs");
        let redis = Self { child, port };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return redis;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server on {port} did not come up");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    async fn conn(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }

    async fn flush(&self) {
        let _: () = redis::cmd("FLUSHALL")
            .query_async(&mut self.conn().await)
            .await
            .unwrap();
    }

    /// The rank index's complete boards (their markers) held now.
    async fn indexed_boards(&self, prefix: &str) -> usize {
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}lbok:*"))
            .query_async(&mut self.conn().await)
            .await
            .unwrap();
        keys.len()
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn rows(db: &DatabaseConnection, sql: &str) -> HashMap<String, i64> {
    db.query_all_raw(Statement::from_string(DbBackend::Postgres, sql.to_owned()))
        .await
        .unwrap()
        .iter()
        .map(|row| {
            (
                row.try_get_by_index::<String>(0).unwrap(),
                row.try_get_by_index::<i64>(1).unwrap(),
            )
        })
        .collect()
}

async fn number(db: &DatabaseConnection, sql: &str) -> i64 {
    db.query_one_raw(Statement::from_string(DbBackend::Postgres, sql.to_owned()))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<i64>(0)
        .unwrap()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Batch `n` of the stream: `game_over` events between the players (indexes).
fn batch(n: usize, game: &str, players: &[String]) -> Value {
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64 ^ n as u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % PLAYERS as u64) as usize
    };
    json!(
        (0..BATCH)
            .map(|k| {
                let winner = next();
                let loser = (winner + 1 + next() % (PLAYERS - 1)) % PLAYERS;
                json!({ "id": format!("b{n}e{k}"), "gameId": game, "type": "GAME_OVER",
                        "winnerId": players[winner], "loserId": players[loser] })
            })
            .collect::<Vec<_>>()
    )
}

/// One run's pieces: the admin's token, the game, the players' ids and the boards.
struct Run {
    admin: String,
    game: String,
    players: Vec<String>,
    boards: Vec<String>,
}

async fn prepare(app: &TestApp) -> Run {
    let cast = cast(app, 7777).await;
    let mut players = vec![cast.ann.id.clone(), cast.bob.id.clone()];
    for n in 2..PLAYERS {
        players.push(UserBuilder::new(&format!("player{n}")).create(app).await.id);
    }
    let mut boards = Vec::new();
    for scoring in ["WINS", "ELO"] {
        boards.push(
            board(
                app,
                &cast.admin,
                json!({ "gameId": cast.duel, "name": scoring, "scoring": scoring }),
            )
            .await,
        );
    }
    Run {
        admin: cast.admin.access,
        game: cast.duel,
        players,
        boards,
    }
}

/// Sends batch `n` until it is accepted (an instance whose Redis is away may refuse).
async fn send(app: &TestApp, run: &Run, n: usize) {
    for _ in 0..200 {
        let answer = app
            .gql_as(
                &run.admin,
                INGEST,
                json!({ "e": batch(n, &run.game, &run.players) }),
            )
            .await;
        if answer.body.get("errors").is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("batch {n} was never accepted");
}

/// Per player (by index): each board's score and rank as the API answers them, and the
/// rank the database's order gives.
async fn standings(app: &TestApp, run: &Run) -> Vec<Vec<(i64, i64)>> {
    let mut out = Vec::new();
    for board in &run.boards {
        let mut by_player = Vec::new();
        for player in &run.players {
            let answer = app
                .gql_as(
                    &run.admin,
                    "query($b: ID!, $u: ID!) { leaderboard(id: $b) { rank(userId: $u) { rank score } } }",
                    json!({ "b": board, "u": player }),
                )
                .await;
            let rank = &answer.data()["leaderboard"]["rank"];
            by_player.push((
                rank["score"].as_i64().unwrap_or(-1),
                rank["rank"].as_i64().unwrap_or(-1),
            ));
        }
        out.push(by_player);
    }
    out
}

/// The ranks in the database's own order (score, then earlier achievement, then id).
async fn database_ranks(app: &TestApp, run: &Run) -> Vec<Vec<i64>> {
    let mut out = Vec::new();
    for board in &run.boards {
        let ranked: HashMap<String, i64> = rows(
            &app.ctx.db,
            &format!(
                "SELECT user_id::text, (row_number() OVER (ORDER BY score DESC, achieved_at, user_id))::bigint \
                 FROM leaderboard_records WHERE leaderboard_id = {board}"
            ),
        )
        .await;
        out.push(
            run.players
                .iter()
                .map(|p| ranked.get(p).copied().unwrap_or(-1))
                .collect(),
        );
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flushed_then_restarted_redis_loses_nothing_and_the_rank_index_is_rebuilt() {
    let port = free_port();
    let mut own = OwnRedis::start(port);
    let app = TestApp::spawn_with(Backend::Postgres, |settings| {
        trusting(settings);
        settings.redis_url = Some(Secret::new(own.url()));
        settings.event_requeue_seconds = 1;
    })
    .await;
    let run = prepare(&app).await;

    for n in 0..6 {
        send(&app, &run, n).await;
    }
    settled(&app).await;
    let before = standings(&app, &run).await;
    let prefix = app.settings.redis_key_prefix.clone();
    assert_eq!(own.indexed_boards(&prefix).await, 2, "both boards indexed");
    // Flushed: the stream, its group, the rank index, all gone at once.
    own.flush().await;
    assert_eq!(standings(&app, &run).await, before, "ranks after the flush");
    assert_eq!(
        own.indexed_boards(&prefix).await,
        2,
        "the index rebuilt by the reads"
    );
    for n in 6..12 {
        send(&app, &run, n).await;
    }
    // Killed mid-stream, and started again while events keep coming.
    own.kill();
    for n in 12..15 {
        send(&app, &run, n).await;
    }
    let own = OwnRedis::start(port);
    for n in 15..BATCHES {
        send(&app, &run, n).await;
    }
    for _ in 0..40 {
        settled(&app).await;
        let stored = number(
            &app.ctx.db,
            "SELECT count(*) FROM game_events WHERE state = 'processed'",
        )
        .await;
        if stored == (BATCHES * BATCH) as i64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let faulted = standings(&app, &run).await;
    assert_eq!(
        own.indexed_boards(&prefix).await,
        2,
        "both boards indexed again"
    );
    let truth = database_ranks(&app, &run).await;
    for (board, (api, db)) in faulted.iter().zip(&truth).enumerate() {
        let ranks: Vec<i64> = api.iter().map(|(_, rank)| *rank).collect();
        assert_eq!(
            &ranks, db,
            "board {board}: the rank index against the database"
        );
    }

    // A clean run of the same stream on a Redis nobody touches.
    let clean = TestApp::spawn_with(Backend::Postgres, trusting).await;
    let clean_run = prepare(&clean).await;
    for n in 0..BATCHES {
        send(&clean, &clean_run, n).await;
    }
    settled(&clean).await;
    let expected = standings(&clean, &clean_run).await;
    let scores = |s: &[Vec<(i64, i64)>]| -> Vec<Vec<i64>> {
        s.iter()
            .map(|board| board.iter().map(|(score, _)| *score).collect())
            .collect()
    };
    assert_eq!(
        scores(&faulted),
        scores(&expected),
        "scores against a clean run"
    );
    let processed = number(
        &app.ctx.db,
        "SELECT count(*) FROM game_events WHERE state = 'processed'",
    )
    .await;
    assert_eq!(processed, (BATCHES * BATCH) as i64);
    drop(own);
}
