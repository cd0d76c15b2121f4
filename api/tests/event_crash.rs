//! Events across a crash: `arena serve` on PostgreSQL with Redis is killed (SIGKILL) in the
//! middle of 100,000 `game_over` events, then started again. Every accepted event is applied
//! exactly once: each player's wins equal the events naming them winner, the ELO board
//! equals a recomputation from the raw events in the order they were sent, and a quest
//! paying 3 coins every 5 wins paid each completion once.

// Tests fail loudly on anything unexpected, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use arena_api::leaderboards::{ELO_START, elo_delta};
use common::{Server, account, count, drop_database, fresh_database, gql, published, serve};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};

const EVENTS: usize = 100_000;
const BATCH: usize = 1_000;
const PLAYERS: usize = 300;
const INGEST: &str =
    "mutation($e: [EventInput!]!) { ingestEvents(events: $e) { accepted duplicates } }";

/// Every event to send, in order: (winner, loser) as indexes into the players.
fn duels() -> Vec<(usize, usize)> {
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % PLAYERS as u64) as usize
    };
    (0..EVENTS)
        .map(|_| {
            let winner = next();
            let loser = (winner + 1 + next() % (PLAYERS - 1)) % PLAYERS;
            (winner, loser)
        })
        .collect()
}

fn batch(n: usize, game: &str, players: &[String], duels: &[(usize, usize)]) -> Value {
    json!(
        (n * BATCH..(n + 1) * BATCH)
            .map(|k| {
                let (w, l) = duels[k];
                json!({ "id": format!("duel-{k}"), "gameId": game, "type": "GAME_OVER",
                        "winnerId": players[w], "loserId": players[l] })
            })
            .collect::<Vec<_>>()
    )
}

async fn rows(db: &DatabaseConnection, sql: &str) -> HashMap<String, i64> {
    db.query_all_raw(Statement::from_string(
        db.get_database_backend(),
        sql.to_owned(),
    ))
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

fn start(url: &str, prefix: &str) -> Server {
    serve(
        url,
        &[
            ("REDIS_URL", "redis://127.0.0.1:6379"),
            ("ARENA_REDIS_KEY_PREFIX", prefix),
            ("ARENA_EVENT_REQUEUE_SECONDS", "5"),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_processor_applies_every_accepted_event_exactly_once() {
    let name = format!("arena_event_crash_{}", std::process::id());
    let prefix = format!("arena:test:event-crash:{}:", std::process::id());
    let (url, admin_db) = fresh_database(&name).await;
    let mut server = start(&url, &prefix);
    let db = Database::connect(url.as_str()).await.unwrap();
    let http = reqwest::Client::new();
    let base = server.base.clone();
    let (admin, _) = account(&http, &base, &db, "boss", true).await;
    let game = published(
        &http,
        &base,
        &admin,
        json!({ "type": "GAME", "name": "Duel", "game": { "maxPlayers": 2 } }),
    )
    .await;
    let mut boards = HashMap::new();
    for scoring in ["WINS", "ELO"] {
        let made = gql(
            &http,
            &base,
            Some(&admin),
            "mutation($i: LeaderboardInput!) { createLeaderboard(input: $i) { id } }",
            json!({ "i": { "gameId": game, "name": scoring, "scoring": scoring } }),
        )
        .await
        .unwrap();
        boards.insert(
            scoring,
            made["data"]["createLeaderboard"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    // The quest's payouts also make the processor slower than the ingest, so a backlog
    // waits in the stream when the kill comes.
    let currencies = gql(
        &http,
        &base,
        Some(&admin),
        "{ currencies { id } }",
        json!({}),
    )
    .await
    .unwrap();
    let coin = currencies["data"]["currencies"][0]["id"].clone();
    let quest = gql(&http, &base, Some(&admin), "mutation($i: QuestInput!) { createQuest(input: $i) { id } }",
        json!({ "i": { "name": "Five wins", "triggerType": "game_over", "triggerGameId": game, "streak": 5,
                       "duplication": 10_000, "autoClaim": true, "rewardCurrencyId": coin, "rewardAmount": 3 } }))
        .await
        .unwrap();
    assert!(quest["errors"].is_null(), "{quest}");
    db.execute_unprepared(&format!(
        "INSERT INTO users (id, username, email, password, display_name) \
         SELECT gen_random_uuid(), 'duelist' || n, 'duelist' || n || '@example.com', 'x', 'D' || n \
         FROM generate_series(1, {PLAYERS}) AS g(n)"
    ))
    .await
    .unwrap();
    let players: Vec<String> = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT id::text FROM users WHERE username LIKE 'duelist%' ORDER BY username",
        ))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get_by_index::<String>(0).unwrap())
        .collect();
    let duels = Arc::new(duels());

    // One client sends the batches in order, so events are stored in the order sent; the
    // server is killed once a share of them is applied and more wait.
    let answered = Arc::new(AtomicUsize::new(0));
    let sender = {
        let (http, base, admin, game, players, duels, answered) = (
            http.clone(),
            base.clone(),
            admin.clone(),
            game.clone(),
            players.clone(),
            duels.clone(),
            answered.clone(),
        );
        tokio::spawn(async move {
            for n in 0..EVENTS / BATCH {
                let events = batch(n, &game, &players, &duels);
                let answer = gql(&http, &base, Some(&admin), INGEST, json!({ "e": events })).await;
                match answer {
                    Some(body) if body["errors"].is_null() => {
                        assert_eq!(body["data"]["ingestEvents"]["accepted"], BATCH, "{body}");
                        answered.store(n + 1, Ordering::SeqCst);
                    }
                    // The server died under this batch.
                    _ => return,
                }
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(300);
    let (processed_then, pending_then) = loop {
        assert!(Instant::now() < deadline, "events were never applied");
        let processed = count(
            &db,
            "SELECT count(*) FROM game_events WHERE state = 'processed'",
        )
        .await;
        if processed >= 10_000 {
            server.child.kill().unwrap();
            server.child.wait().unwrap();
            let pending = count(
                &db,
                "SELECT count(*) FROM game_events WHERE state = 'pending'",
            )
            .await;
            break (processed, pending);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    sender.await.unwrap();
    let sent = answered.load(Ordering::SeqCst);
    println!(
        "killed with {processed_then} events applied, {pending_then} pending, {} batches answered",
        sent
    );
    assert!(
        pending_then > 0,
        "the kill came after every stored event was applied"
    );

    // Started again: the batches without an answer are sent again (a stored one is
    // recognised by its ids), then every event is applied once.
    let server = start(&url, &prefix);
    let base = server.base.clone();
    for n in sent..EVENTS / BATCH {
        let events = batch(n, &game, &players, &duels);
        let body = gql(&http, &base, Some(&admin), INGEST, json!({ "e": events }))
            .await
            .unwrap();
        assert!(body["errors"].is_null(), "{body}");
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    while count(
        &db,
        "SELECT count(*) FROM game_events WHERE state = 'pending'",
    )
    .await
        > 0
    {
        assert!(Instant::now() < deadline, "events stayed pending");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Besides the duels, the platform's own events (the admin's sign-in) are stored too.
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM game_events WHERE kind = 'game_over'"
        )
        .await,
        EVENTS as i64
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM game_events WHERE kind = 'game_over' AND state = 'processed'"
        )
        .await,
        EVENTS as i64,
        "an event failed"
    );

    // Wins: the statistics and the +1 board equal the events naming each player winner.
    let mut wins: HashMap<String, i64> = HashMap::new();
    for (w, _) in duels.iter() {
        *wins.entry(players[*w].clone()).or_default() += 1;
    }
    let stats = rows(
        &db,
        "SELECT user_id::text, value FROM player_stats WHERE stat = 'wins'",
    )
    .await;
    assert_eq!(stats, wins, "wins in the statistics");
    let from_events = rows(
        &db,
        "SELECT winner_id::text, count(*) FROM game_events WHERE kind = 'game_over' GROUP BY winner_id",
    )
    .await;
    assert_eq!(from_events, wins, "wins among the stored events");
    let board = rows(
        &db,
        &format!(
            "SELECT user_id::text, score FROM leaderboard_records WHERE leaderboard_id = {}",
            boards["WINS"]
        ),
    )
    .await;
    assert_eq!(board, wins, "the +1 board");

    // ELO: the board equals the ratings recomputed from the events in the order sent.
    let mut ratings: HashMap<String, i64> = HashMap::new();
    for (w, l) in duels.iter() {
        let rw = ratings.get(&players[*w]).copied().unwrap_or(ELO_START);
        let rl = ratings.get(&players[*l]).copied().unwrap_or(ELO_START);
        let delta = elo_delta(rw, rl, 32);
        ratings.insert(players[*w].clone(), rw + delta);
        ratings.insert(players[*l].clone(), rl - delta);
    }
    let elo = rows(
        &db,
        &format!(
            "SELECT user_id::text, score FROM leaderboard_records WHERE leaderboard_id = {}",
            boards["ELO"]
        ),
    )
    .await;
    assert_eq!(elo, ratings, "the ELO board against its recomputation");

    // The quest: one completion per 5 wins, each paid 3 coins once.
    let completions = rows(
        &db,
        "SELECT user_id::text, count(*) FROM quest_completions WHERE claimed_at IS NOT NULL GROUP BY user_id",
    )
    .await;
    let expected: HashMap<String, i64> = wins
        .iter()
        .filter(|(_, w)| **w >= 5)
        .map(|(player, w)| (player.clone(), w / 5))
        .collect();
    assert_eq!(completions, expected, "paid quest completions");
    let balances = rows(
        &db,
        &format!("SELECT user_id::text, amount FROM account_balances WHERE user_id IS NOT NULL AND amount > 0 AND currency_id = {}", coin.as_str().unwrap()),
    )
    .await;
    let paid: HashMap<String, i64> = expected.iter().map(|(p, n)| (p.clone(), n * 3)).collect();
    assert_eq!(balances, paid, "coins paid by the quest");

    // The rank index answers like the database after the crash: the top ten of the ELO board.
    let top = gql(
        &http,
        &base,
        Some(&admin),
        "query($id: ID!) { leaderboard(id: $id) { top(first: 10) { score userId } } }",
        json!({ "id": boards["ELO"] }),
    )
    .await
    .unwrap();
    let mut best: Vec<(&String, &i64)> = ratings.iter().collect();
    best.sort_by(|a, b| b.1.cmp(a.1));
    let scores: Vec<i64> = top["data"]["leaderboard"]["top"]
        .as_array()
        .unwrap_or_else(|| panic!("{top}"))
        .iter()
        .map(|r| r["score"].as_i64().unwrap())
        .collect();
    let expected: Vec<i64> = best.iter().take(10).map(|(_, s)| **s).collect();
    assert_eq!(scores, expected, "the top ten ratings");

    drop(server);
    let mut redis = redis::Client::open("redis://127.0.0.1:6379")
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut redis)
        .await
        .unwrap();
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL")
            .arg(keys)
            .query_async(&mut redis)
            .await
            .unwrap();
    }
    drop_database(&admin_db, &name).await;
}
