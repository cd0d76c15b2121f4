//! `arena-events-load`: the event pipeline under load, on the server's PostgreSQL and Redis.
//!
//! 1. Ingest to committed effects: clients send `game_over` batches of `--batch` events
//!    between `--players` players of one game with default statistics, a +1-a-win board, an
//!    ELO board and a quest (every fifth win pays a coin through the ledger); the rate counts
//!    from the first send until the processor has applied the last event. Beside it, the
//!    reference: the same rows bulk-INSERTed by plain clients into a copy of the events table
//!    (its indexes too), in the same run. Meanwhile the database's sessions are sampled
//!    every 20 ms: the share of the time spent in PostgreSQL and inside a transaction
//!    waiting on Arena, and the statements that took most of it.
//! 2. Live push: `--subscribers` websocket clients (each number in turn) follow one board's
//!    top 10 while events are ingested at `--live-rate` a second, each making the same player
//!    the leader by one more win. Two latencies: each push's, from the ingest call's answer
//!    for the newest batch it shows to its arrival; and each batch's, from its answer to the
//!    arrival of the first push that shows it (a batch coalesced into a later push counts
//!    its wait for that push), and the part of it before the processor's transaction began
//!    (from the events' rows). Beside them, the idle figure: one subscriber at ten events a
//!    second.
//!
//! `bench/events.sh` makes the database, starts the server and runs this.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use arena_bench::{Target, account, drained, gql, one_number, post};
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{
    Message, client::IntoClientRequest, protocol::WebSocketConfig,
};

/// Load against one Arena server.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    target: Target,
    /// Players the events name.
    #[arg(long, default_value_t = 10_000)]
    players: usize,
    /// Events per ingest call.
    #[arg(long, default_value_t = 1_000)]
    batch: usize,
    /// Events per second in the live scenarios.
    #[arg(long, default_value_t = 1_000)]
    live_rate: usize,
    /// Subscribers of each live scenario, in turn.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    subscribers: Vec<usize>,
    /// Only the live scenarios (no ingest throughput).
    #[arg(long)]
    live_only: bool,
}

const INGEST: &str =
    "mutation($e: [EventInput!]!) { ingestEvents(events: $e) { accepted duplicates } }";

/// A batch of `n` game_over events, keyed `{prefix}{k}`, between random players.
fn batch(prefix: &str, n: usize, game: &str, players: &[String], seed: &mut u64) -> Value {
    let mut next = || {
        // xorshift: any spread of players will do.
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        (*seed % players.len() as u64) as usize
    };
    let events: Vec<Value> = (0..n)
        .map(|k| {
            let winner = next();
            let mut loser = next();
            if loser == winner {
                loser = (loser + 1) % players.len();
            }
            json!({ "id": format!("{prefix}{k}"), "gameId": game, "type": "GAME_OVER",
                    "winnerId": players[winner], "loserId": players[loser] })
        })
        .collect();
    json!(events)
}

/// The reference: `clients` plain clients bulk-INSERT batches of the same rows into a copy of
/// the events table (with its indexes) for `seconds`; rows a second.
async fn reference(
    db: &DatabaseConnection,
    clients: usize,
    seconds: u64,
    size: usize,
    game: &str,
    players: &[String],
) -> anyhow::Result<f64> {
    db.execute_unprepared(
        "DROP TABLE IF EXISTS bench_game_events; \
         CREATE TABLE bench_game_events (LIKE game_events INCLUDING ALL)",
    )
    .await?;
    let stop = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let loops = (0..clients).map(|c| {
        let db = db.clone();
        let players = players.to_vec();
        let game = game.to_owned();
        async move {
            let mut seed = 0x9E37_79B9_7F4A_7C15 ^ (c as u64 + 1);
            let mut rows = 0usize;
            let mut n = 0;
            while Instant::now() < stop {
                let events = batch(&format!("r{c}x{n}x"), size, &game, &players, &mut seed);
                let values: Vec<String> = events
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|e| {
                        format!(
                            "('game:{game}', '{}', {game}, 'game_over', '{}', '{}', now(), now(), 'backend:bench', 'pending')",
                            e["id"].as_str().unwrap_or_default(),
                            e["winnerId"].as_str().unwrap_or_default(),
                            e["loserId"].as_str().unwrap_or_default(),
                        )
                    })
                    .collect();
                let sql = format!(
                    "INSERT INTO bench_game_events (scope, event_key, game_id, kind, winner_id, loser_id, occurred_at, received_at, source, state) VALUES {} ON CONFLICT DO NOTHING",
                    values.join(",")
                );
                if db.execute_unprepared(&sql).await.is_ok() {
                    rows += size;
                }
                n += 1;
            }
            rows
        }
    });
    let rows: usize = futures_util::future::join_all(loops)
        .await
        .into_iter()
        .sum();
    Ok(rows as f64 / started.elapsed().as_secs_f64())
}

/// What one subscriber saw: for each push, the latency of the newest batch it shows; and
/// for each batch, the latency of the first push that shows it (a batch coalesced into a
/// later push waits for that push).
#[derive(Default)]
struct Seen {
    newest: Vec<Duration>,
    every: Vec<Duration>,
}

/// A websocket subscriber of `board`'s top 10 on the server at `ws`, timing each push from
/// the answers to the batches it shows (the leader's score says which).
async fn subscriber(
    ws: String,
    board: String,
    per_batch: i64,
    answered: Arc<Mutex<Vec<Option<Instant>>>>,
    until: Instant,
) -> anyhow::Result<Seen> {
    let mut request = ws.into_client_request()?;
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse()?);
    // A small read buffer: the library zero-fills all of it on every read, which at the
    // default 128 KiB would make this client, on the server's machine, a load of its own.
    let config = WebSocketConfig::default().read_buffer_size(4 * 1024);
    let (mut socket, _) =
        tokio_tungstenite::connect_async_with_config(request, Some(config), false).await?;
    socket
        .send(Message::text(
            json!({ "type": "connection_init", "payload": {} }).to_string(),
        ))
        .await?;
    socket
        .send(Message::text(
            json!({ "type": "subscribe", "id": "1", "payload": {
                "query": "subscription($b: ID!) { leaderboardUpdated(leaderboardId: $b, first: 10) { entries { score } } }",
                "variables": { "b": board } } })
            .to_string(),
        ))
        .await?;
    let mut seen = Seen::default();
    // Batches shown by an earlier push.
    let mut shown = 0;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        let Ok(message) = tokio::time::timeout(left, socket.next()).await else {
            break;
        };
        let Some(Ok(Message::Text(text))) = message else {
            if message.is_none() {
                break;
            }
            continue;
        };
        let arrived = Instant::now();
        let value: Value = serde_json::from_str(&text)?;
        if value["type"] != "next" {
            continue;
        }
        let score = value["payload"]["data"]["leaderboardUpdated"]["entries"][0]["score"]
            .as_i64()
            .unwrap_or(0);
        if score == 0 {
            continue;
        }
        let index = usize::try_from(score / per_batch - 1).unwrap_or(0);
        let Ok(answers) = answered.lock() else {
            continue;
        };
        let since = |b: usize| {
            answers
                .get(b)
                .copied()
                .flatten()
                .map(|at| arrived.saturating_duration_since(at))
        };
        seen.newest.extend(since(index));
        // A batch shown before its answer arrived counts as no wait.
        seen.every
            .extend((shown..=index).map(|b| since(b).unwrap_or(Duration::ZERO)));
        shown = shown.max(index + 1);
    }
    let _ = socket.close(None).await;
    Ok(seen)
}

/// What the database's sessions were doing, sampled: per state and statement (its start),
/// how many samples saw a session there.
#[derive(Default)]
struct Sessions {
    samples: usize,
    seen: HashMap<(String, String), usize>,
}

/// Samples this database's client sessions every 20 ms until `stop`: a session in PostgreSQL
/// (`active`) or inside a transaction waiting for its client (`idle in transaction`).
async fn sample_sessions(db: DatabaseConnection, stop: Arc<AtomicBool>) -> Sessions {
    let mut sessions = Sessions::default();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let probe = Statement::from_string(
        db.get_database_backend(),
        "SELECT state, left(regexp_replace(query, '\\s+', ' ', 'g'), 60) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid() \
         AND state IN ('active', 'idle in transaction')",
    );
    while !stop.load(Ordering::Acquire) {
        tick.tick().await;
        let Ok(rows) = db.query_all_raw(probe.clone()).await else {
            continue;
        };
        sessions.samples += 1;
        for row in rows {
            if let (Ok(state), Ok(query)) = (
                row.try_get_by_index::<String>(0),
                row.try_get_by_index::<String>(1),
            ) {
                *sessions.seen.entry((state, query)).or_default() += 1;
            }
        }
    }
    sessions
}

impl Sessions {
    /// The totals per state and the `top` statements, as shares of the sampled time (a
    /// share of 1.0 is one session busy all along; sessions add up).
    fn report(&self, top: usize) -> String {
        let share = |n: usize| n as f64 / self.samples.max(1) as f64;
        let state = |wanted: &str| {
            share(
                self.seen
                    .iter()
                    .filter(|((s, _), _)| s == wanted)
                    .map(|(_, n)| n)
                    .sum(),
            )
        };
        let mut lines = vec![format!(
            "database sessions meanwhile ({} samples, 20 ms apart): in PostgreSQL {:.2}, in a transaction waiting on its client {:.2}",
            self.samples,
            state("active"),
            state("idle in transaction"),
        )];
        let mut seen: Vec<_> = self.seen.iter().collect();
        seen.sort_by(|a, b| b.1.cmp(a.1));
        lines.extend(
            seen.into_iter()
                .take(top)
                .map(|((state, query), n)| format!("  {:.3} {state:<19} {query}", share(*n))),
        );
        lines.join("\n")
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(at).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// One live scenario: `subscribers` follow a new board while events make one player its
/// leader `rate` times a second (in batches of ten) for `seconds`.
#[allow(clippy::too_many_arguments)]
async fn live(
    o: &arena_bench::Opened,
    admin: &str,
    game: &str,
    champion: &str,
    rival: &str,
    subscribers: usize,
    rate: usize,
    seconds: u64,
) -> anyhow::Result<()> {
    let run = std::process::id();
    // A new board, after the last scenario's events: the leader's score counts batches.
    drained(&o.db).await?;
    let made = gql(
        &o.http,
        &o.graphql,
        admin,
        "mutation($i: LeaderboardInput!) { createLeaderboard(input: $i) { id } }",
        json!({ "i": { "gameId": game, "name": format!("live{run}x{subscribers}x{rate}"), "scoring": "WINS" } }),
    )
    .await?;
    let board = made["data"]["createLeaderboard"]["id"]
        .as_str()
        .context("board id")?
        .to_owned();
    let per_batch: usize = 10.min(rate.max(1));
    let batches_per_second = (rate / per_batch).max(1);
    let total_batches = batches_per_second * seconds as usize;
    let answered = Arc::new(Mutex::new(vec![None; total_batches + 1]));
    let ws = format!("{}/graphql/ws", o.base.replacen("http", "ws", 1));
    // Subscribers connect first; the sending starts once they have had time to.
    let connect_for = Duration::from_millis(500 + subscribers as u64 / 2);
    let until = Instant::now() + connect_for + Duration::from_secs(seconds + 2);
    let mut tasks = Vec::with_capacity(subscribers);
    for _ in 0..subscribers {
        tasks.push(tokio::spawn(subscriber(
            ws.clone(),
            board.clone(),
            per_batch as i64,
            answered.clone(),
            until,
        )));
        if tasks.len() % 200 == 0 {
            tokio::task::yield_now().await;
        }
    }
    tokio::time::sleep(connect_for).await;
    let every = Duration::from_secs_f64(1.0 / batches_per_second as f64);
    let mut tick = tokio::time::interval(every);
    let mut errors = 0;
    for b in 0..total_batches {
        tick.tick().await;
        let events: Vec<Value> = (0..per_batch)
            .map(|k| json!({ "id": format!("live{run}x{board}x{b}x{k}"), "gameId": game, "type": "GAME_OVER", "winnerId": champion, "loserId": rival }))
            .collect();
        let http = o.http.clone();
        let (graphql, admin) = (o.graphql.clone(), admin.to_owned());
        let answers = answered.clone();
        // Each batch in its own task: a slow answer does not hold back the next batch.
        tokio::spawn(async move {
            let sent = post(
                &http,
                &graphql,
                Some(&admin),
                &json!({ "query": INGEST, "variables": { "e": events } }),
            )
            .await;
            if sent.is_some()
                && let Ok(mut answers) = answers.lock()
            {
                answers[b] = Some(Instant::now());
            }
        });
        if b % batches_per_second == 0 && b > 0 {
            // Keep the sender honest: count batches whose answer never came.
            let missing = answered
                .lock()
                .map(|a| {
                    a[..b.saturating_sub(batches_per_second)]
                        .iter()
                        .filter(|x| x.is_none())
                        .count()
                })
                .unwrap_or(0);
            errors = missing;
        }
    }
    let (mut latencies, mut every) = (Vec::new(), Vec::new());
    let mut failed = 0;
    for task in tasks {
        match task.await {
            Ok(Ok(mine)) => {
                latencies.extend(mine.newest);
                every.extend(mine.every);
            }
            _ => failed += 1,
        }
    }
    latencies.sort_unstable();
    every.sort_unstable();
    println!(
        "live push, {subscribers} subscribers, {rate} events/s: {} pushes, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (newest batch of each push); every batch until a push shows it: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; subscribers failed {failed}, batches unanswered {errors}",
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
        percentile(&every, 0.5),
        percentile(&every, 0.99),
        percentile(&every, 1.0),
    );
    // Where the first part of that went: from an event's storing to the start of the
    // processor's transaction that applied it (its processed_at).
    drained(&o.db).await?;
    let row = o
        .db
        .query_one_raw(Statement::from_string(
            o.db.get_database_backend(),
            format!(
                "SELECT COUNT(DISTINCT processed_at), \
                 percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM processed_at - received_at)), \
                 percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM processed_at - received_at)) \
                 FROM game_events WHERE event_key LIKE 'live{run}x{board}x%'"
            ),
        ))
        .await?
        .context("a row")?;
    let (batches, p50, p99): (i64, f64, f64) = (
        row.try_get_by_index(0)?,
        row.try_get_by_index(1)?,
        row.try_get_by_index(2)?,
    );
    println!(
        "  stored to the start of the processor's transaction: p50 {:.1} ms, p99 {:.1} ms ({batches} transactions)",
        p50 * 1000.0,
        p99 * 1000.0
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let o = args.target.open().await?;
    let s = args.target.seconds;
    let run = std::process::id();
    let (admin, _) = account(&o.http, &o.graphql, &o.db, &format!("ev{run}admin"), true).await?;
    let game = arena_bench::game(&o.http, &o.graphql, &admin, "Duel").await?;
    o.db.execute_unprepared(&format!(
        "INSERT INTO users (id, username, email, password, display_name) \
         SELECT gen_random_uuid(), 'ev{run}p' || n, 'ev{run}p' || n || '@example.com', 'x', 'P' || n \
         FROM generate_series(1, {}) AS g(n)",
        args.players
    ))
    .await?;
    let players: Vec<String> =
        o.db.query_all_raw(Statement::from_string(
            o.db.get_database_backend(),
            format!("SELECT id::text FROM users WHERE username LIKE 'ev{run}p%' ORDER BY username"),
        ))
        .await?
        .iter()
        .map(|row| row.try_get_by_index::<String>(0))
        .collect::<Result<_, _>>()?;
    for (name, scoring) in [("Wins", "WINS"), ("Rating", "ELO")] {
        gql(
            &o.http,
            &o.graphql,
            &admin,
            "mutation($i: LeaderboardInput!) { createLeaderboard(input: $i) { id } }",
            json!({ "i": { "gameId": game, "name": name, "scoring": scoring } }),
        )
        .await?;
    }
    let coins = gql(
        &o.http,
        &o.graphql,
        &admin,
        "{ currencies { id } }",
        json!({}),
    )
    .await?;
    let quest = gql(
        &o.http,
        &o.graphql,
        &admin,
        "mutation($i: QuestInput!) { createQuest(input: $i) { id } }",
        json!({ "i": { "name": format!("Five wins {run}"), "triggerType": "game_over", "triggerGameId": game,
                       "streak": 5, "duplication": 10_000, "autoClaim": true,
                       "rewardCurrencyId": coins["data"]["currencies"][0]["id"], "rewardAmount": 1 } }),
    )
    .await?;
    if quest["data"]["createQuest"]["id"].is_null() {
        bail!("no quest: {quest}");
    }
    o.db.execute_unprepared("VACUUM ANALYZE").await?;
    o.db.execute_unprepared("CHECKPOINT").await?;

    if !args.live_only {
        throughput(&args, &o, &admin, &game, &players).await?;
    }

    // 2. Live push, beside the idle figure.
    let (champion, rival) = (&players[0], &players[1]);
    live(&o, &admin, &game, champion, rival, 1, 10, s).await?;
    for &n in &args.subscribers {
        live(&o, &admin, &game, champion, rival, n, args.live_rate, s).await?;
    }
    Ok(())
}

/// Ingest to committed effects, beside the raw bulk INSERT of the same rows.
async fn throughput(
    args: &Args,
    o: &arena_bench::Opened,
    admin: &str,
    game: &str,
    players: &[String],
) -> anyhow::Result<()> {
    let (c, s) = (args.target.connections, args.target.seconds);
    let run = std::process::id();
    let raw = reference(&o.db, c, s, args.batch, game, players).await?;
    println!(
        "plain SQL: bulk INSERT of the same rows, {c} clients, {} a statement: {raw:.0} rows/s",
        args.batch
    );
    let stop_sampling = Arc::new(AtomicBool::new(false));
    let sampler = tokio::spawn(sample_sessions(o.db.clone(), stop_sampling.clone()));
    let started = Instant::now();
    let stop = started + Duration::from_secs(s);
    let senders = (0..c).map(|client| {
        let (http, graphql, admin, game) = (
            o.http.clone(),
            o.graphql.clone(),
            admin.to_owned(),
            game.to_owned(),
        );
        let players = players.to_vec();
        let size = args.batch;
        async move {
            let mut seed = 0x2545_F491_4F6C_DD1D ^ (client as u64 + 1);
            let (mut accepted, mut errors, mut n) = (0u64, 0u64, 0);
            while Instant::now() < stop {
                let events = batch(
                    &format!("t{run}c{client}x{n}x"),
                    size,
                    &game,
                    &players,
                    &mut seed,
                );
                match post(
                    &http,
                    &graphql,
                    Some(&admin),
                    &json!({ "query": INGEST, "variables": { "e": events } }),
                )
                .await
                {
                    Some(answer) => {
                        accepted += answer["data"]["ingestEvents"]["accepted"]
                            .as_u64()
                            .unwrap_or(0)
                    }
                    None => errors += 1,
                }
                n += 1;
            }
            (accepted, errors)
        }
    });
    let sent = futures_util::future::join_all(senders).await;
    let ingested = started.elapsed();
    let accepted: u64 = sent.iter().map(|(a, _)| a).sum();
    let errors: u64 = sent.iter().map(|(_, e)| e).sum();
    let applied_at = drained(&o.db).await?;
    let total = applied_at.duration_since(started).as_secs_f64();
    println!(
        "ingest alone: {accepted} events in {:.1} s, {:.0} events/s ({errors} failed calls)",
        ingested.as_secs_f64(),
        accepted as f64 / ingested.as_secs_f64()
    );
    println!(
        "ingest to committed effects (stats, +1 board, ELO board, quest): {:.0} events/s ({:.1} s until the last was applied)",
        accepted as f64 / total,
        total
    );
    stop_sampling.store(true, Ordering::Release);
    println!("{}", sampler.await?.report(12));
    // The effects add up: one win on the +1 board per game_over, ELO points only move.
    let wins = one_number(
        &o.db,
        "SELECT COALESCE(SUM(r.score), 0)::bigint FROM leaderboard_records r JOIN leaderboards b ON b.id = r.leaderboard_id WHERE b.name = 'Wins'",
    )
    .await?;
    let games = one_number(
        &o.db,
        "SELECT COUNT(*) FROM game_events WHERE kind = 'game_over' AND state = 'processed'",
    )
    .await?;
    let failed = one_number(
        &o.db,
        "SELECT COUNT(*) FROM game_events WHERE state = 'failed'",
    )
    .await?;
    let rated = one_number(
        &o.db,
        "SELECT (COALESCE(SUM(r.score), 0) - 1000 * COUNT(*))::bigint FROM leaderboard_records r JOIN leaderboards b ON b.id = r.leaderboard_id WHERE b.name = 'Rating'",
    )
    .await?;
    println!(
        "checks: wins on the board {wins} = processed game_over {games}; failed {failed}; ELO drift {rated}"
    );
    if wins != games || failed != 0 || rated != 0 {
        bail!("the effects do not add up");
    }
    Ok(())
}
