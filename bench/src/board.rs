//! `arena-board-load`: one leaderboard of `--players` (1,000,000) players. Its records are
//! written by plain SQL (the rate is the reference), then:
//! 1. the rank index is built from the database (Redis, as the server uses it), timed;
//! 2. in the service (`arena_api::leaderboards`, in this process, on the server's database
//!    and Redis): a player's rank, the players around a player, and the top 100, each from
//!    `--connections` loops for `--seconds`, with their p50 and p99;
//! 3. over GraphQL on the running server: rank queries from `--connections` clients, beside
//!    the same clients sending `{ __typename }` (the server's rate for a query that reads
//!    nothing);
//! 4. score writes: `gameplay` events for random players through `ingestEvents`, each
//!    raising one record of a SUM board, from ingest to committed records in the index,
//!    beside plain SQL updating the same number of records in a copy of the table.
//!
//! `bench/board.sh` makes the database, starts the server and runs this.

use std::time::Instant;

use anyhow::{Context, bail};
use arena_api::{
    leaderboards,
    settings::{Secret, Settings},
    startup::Application,
};
use arena_bench::{Target, account, drained, drive, gql, loaded, one_number, post};
use clap::Parser;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;
use uuid::Uuid;

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    target: Target,
    /// The server's Redis and its key prefix, for the in-process service.
    #[arg(long)]
    redis_url: String,
    #[arg(long)]
    redis_prefix: String,
    /// Players on the board.
    #[arg(long, default_value_t = 1_000_000)]
    players: u64,
    /// Events per ingest call in the write scenario.
    #[arg(long, default_value_t = 500)]
    batch: usize,
}

/// A small, fast spread of indexes (xorshift).
fn next(seed: &mut u64, below: usize) -> usize {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    (*seed % below as u64) as usize
}

/// A service answer as a load-command error.
fn served<T>(answer: arena_api::error::ApiResult<T>) -> anyhow::Result<T> {
    answer.map_err(|err| anyhow::anyhow!("{err:?}"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let o = args.target.open().await?;
    let (c, s) = (args.target.connections, args.target.seconds);
    let run = std::process::id();
    let (admin, _) = account(&o.http, &o.graphql, &o.db, &format!("bl{run}admin"), true).await?;
    let game = arena_bench::game(&o.http, &o.graphql, &admin, "Million").await?;
    let made = gql(&o.http, &o.graphql, &admin,
        "mutation($i: LeaderboardInput!) { createLeaderboard(input: $i) { id } }",
        json!({ "i": { "gameId": game, "name": "Points", "scoring": "SUM", "eventName": "round", "field": "/points" } })).await?;
    let board_id: i32 = made["data"]["createLeaderboard"]["id"]
        .as_str()
        .context("board id")?
        .parse()?;

    // The players and their records, by plain SQL: the reference write rate.
    let started = Instant::now();
    let step = 100_000;
    let mut from = 1;
    while from <= args.players {
        let to = (from + step - 1).min(args.players);
        o.db.execute_unprepared(&format!(
            "INSERT INTO users (id, username, email, password, display_name) \
             SELECT gen_random_uuid(), 'bl{run}p' || n, 'bl{run}p' || n || '@example.com', 'x', 'P' || n \
             FROM generate_series({from}, {to}) AS g(n)"
        ))
        .await?;
        from = to + 1;
    }
    let users_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    o.db.execute_unprepared(&format!(
        "INSERT INTO leaderboard_records (leaderboard_id, season, user_id, score, achieved_at, updated_at) \
         SELECT {board_id}, 1, id, (random() * 1000000)::bigint, now() - random() * interval '30 days', now() \
         FROM users WHERE username LIKE 'bl{run}p%'"
    ))
    .await?;
    let records_seconds = started.elapsed().as_secs_f64();
    println!(
        "plain SQL: {} players inserted in {users_seconds:.1} s, their records in {records_seconds:.1} s ({:.0} rows/s)",
        args.players,
        args.players as f64 / records_seconds
    );
    o.db.execute_unprepared("VACUUM ANALYZE leaderboard_records")
        .await?;
    let sample: Vec<Uuid> =
        o.db.query_all_raw(Statement::from_string(
            o.db.get_database_backend(),
            format!(
                "SELECT user_id FROM leaderboard_records TABLESAMPLE SYSTEM (2) \
             WHERE leaderboard_id = {board_id} LIMIT 20000"
            ),
        ))
        .await?
        .iter()
        .map(|row| row.try_get_by_index::<Uuid>(0))
        .collect::<Result<_, _>>()?;
    if sample.is_empty() {
        bail!("no players sampled");
    }

    // The service in this process, on the server's database and Redis.
    let settings = Settings {
        database_url: Secret::new(args.target.database_url.clone()),
        redis_url: Some(Secret::new(args.redis_url.clone())),
        redis_key_prefix: args.redis_prefix.clone(),
        bind: "127.0.0.1:0".parse()?,
        event_processor: false,
        database_max_connections: 20,
        dashboard_dir: "/nonexistent".into(),
        ..Settings::default()
    };
    let app = Application::build(settings)
        .await
        .map_err(|err| anyhow::anyhow!("{err}"))?;
    let ctx = app.context().clone();
    let board = served(leaderboards::find(&ctx.db, board_id).await)?;
    let started = Instant::now();
    let top = served(leaderboards::ranked(&ctx, &board, 1, 0, 100).await)?;
    println!(
        "rank index built from the database: {} records in {:.1} s (top score {})",
        args.players,
        started.elapsed().as_secs_f64(),
        top.first().map_or(0, |e| e.score)
    );
    let sample = std::sync::Arc::new(sample);
    let loops = |salt: u64| {
        (0..c)
            .map(|k| {
                (
                    ctx.clone(),
                    board.clone(),
                    sample.clone(),
                    salt + k as u64 * 7919 + 1,
                )
            })
            .collect::<Vec<_>>()
    };
    let rank = drive(s, loops(1), |(ctx, board, sample, mut seed)| async move {
        let user = sample[next(&mut seed, sample.len())];
        let ok = matches!(
            leaderboards::rank_of(&ctx, &board, 1, user).await,
            Ok(Some(_))
        );
        (ok, (ctx, board, sample, seed))
    })
    .await;
    rank.report("service: rank of a player");
    let around = drive(s, loops(2), |(ctx, board, sample, mut seed)| async move {
        let user = sample[next(&mut seed, sample.len())];
        let ok = leaderboards::around_of(&ctx, &board, 1, user, 5)
            .await
            .is_ok_and(|entries| !entries.is_empty());
        (ok, (ctx, board, sample, seed))
    })
    .await;
    around.report("service: 5 around a player");
    let top100 = drive(s, loops(3), |(ctx, board, sample, seed)| async move {
        let ok = leaderboards::ranked(&ctx, &board, 1, 0, 100)
            .await
            .is_ok_and(|entries| entries.len() == 100);
        (ok, (ctx, board, sample, seed))
    })
    .await;
    top100.report("service: top 100");

    // GraphQL rank queries on the running server, beside the rate of a query that reads nothing.
    let clients = |salt: u64| {
        (0..c)
            .map(|k| {
                (
                    o.http.clone(),
                    o.graphql.clone(),
                    sample.clone(),
                    salt + k as u64 * 104_729 + 1,
                )
            })
            .collect::<Vec<_>>()
    };
    let idle = drive(s, clients(4), |(http, url, sample, seed)| async move {
        let ok = post(&http, &url, None, &json!({ "query": "{ __typename }" }))
            .await
            .is_some();
        (ok, (http, url, sample, seed))
    })
    .await;
    idle.report("GraphQL { __typename } (reference)");
    let board_gid = board_id.to_string();
    loaded(
        "GraphQL rank of a player",
        &o.http,
        &o.base,
        "Rank",
        s,
        clients(5),
        move |(http, url, sample, mut seed)| {
            let board = board_gid.clone();
            async move {
                let user = sample[next(&mut seed, sample.len())];
                let body = json!({
                    "query": "query Rank($b: ID!, $u: ID!) { leaderboard(id: $b) { rank(userId: $u) { rank score } } }",
                    "operationName": "Rank",
                    "variables": { "b": board, "u": user.to_string() }
                });
                let ok = post(&http, &url, None, &body)
                    .await
                    .is_some_and(|a| a["data"]["leaderboard"]["rank"]["rank"].is_i64());
                (ok, (http, url, sample, seed))
            }
        },
    )
    .await?;

    // Score writes through the pipeline, beside plain SQL updates of as many records.
    o.db.execute_unprepared(&format!(
        "CREATE TABLE bench_records AS SELECT * FROM leaderboard_records WHERE leaderboard_id = {board_id}; \
         ALTER TABLE bench_records ADD PRIMARY KEY (leaderboard_id, season, user_id)"
    ))
    .await?;
    let sql_updates = drive(
        s,
        (0..c)
            .map(|k| (o.db.clone(), sample.clone(), 31 + k as u64))
            .collect(),
        move |(db, sample, mut seed)| async move {
            let users: Vec<String> = (0..500)
                .map(|_| format!("'{}'", sample[next(&mut seed, sample.len())]))
                .collect();
            let ok = arena_bench::sql(
                &db,
                &format!(
                    "UPDATE bench_records SET score = score + 7, updated_at = now() \
                     WHERE leaderboard_id = {board_id} AND season = 1 AND user_id IN ({})",
                    users.join(",")
                ),
            )
            .await;
            (ok, (db, sample, seed))
        },
    )
    .await;
    println!(
        "plain SQL: UPDATE of 500 records a statement, {c} clients: {:.0} records/s",
        sql_updates.rate() * 500.0
    );
    let processed_before = one_number(
        &o.db,
        "SELECT count(*) FROM game_events WHERE state = 'processed'",
    )
    .await?;
    let ingest_started = Instant::now();
    let batch = args.batch;
    let ingest = drive(
        s,
        (0..c)
            .map(|k| {
                (
                    o.http.clone(),
                    o.graphql.clone(),
                    admin.clone(),
                    game.clone(),
                    sample.clone(),
                    (k as u64 + 1) * 65_537,
                    0_u64,
                )
            })
            .collect(),
        move |(http, url, admin, game, sample, mut seed, mut n)| async move {
            let events: Vec<_> = (0..batch)
                .map(|_| {
                    n += 1;
                    let user = sample[next(&mut seed, sample.len())];
                    json!({ "id": format!("w{seed}-{n}"), "gameId": game, "type": "GAMEPLAY",
                            "name": "round", "userId": user.to_string(), "data": { "points": 7 } })
                })
                .collect();
            let ok = post(
                &http,
                &url,
                Some(&admin),
                &json!({ "query": "mutation($e: [EventInput!]!) { ingestEvents(events: $e) { accepted } }",
                         "variables": { "e": events } }),
            )
            .await
            .is_some();
            (ok, (http, url, admin, game, sample, seed, n))
        },
    )
    .await;
    let applied_at = drained(&o.db).await?;
    let drained = (applied_at - ingest_started).as_secs_f64();
    let processed = one_number(
        &o.db,
        "SELECT count(*) FROM game_events WHERE state = 'processed'",
    )
    .await?
        - processed_before;
    let failed = one_number(
        &o.db,
        "SELECT count(*) FROM game_events WHERE state = 'failed'",
    )
    .await?;
    println!(
        "score writes through ingestEvents ({c} clients, {batch} a call; {} calls answered): \
         {processed} events applied in {drained:.1} s from the first call to the last commit: \
         {:.0} score writes/s (failed {failed})",
        ingest.requests,
        processed as f64 / drained
    );
    // The index agrees with the database after the writes.
    let top = served(leaderboards::ranked(&ctx, &board, 1, 0, 10).await)?;
    let database = served(leaderboards::top(&ctx.db, &board, 1, 0, 10).await)?;
    let same = top == database;
    println!("rank index top 10 equals the database's: {same}");
    if !same || failed > 0 {
        bail!("the board does not add up");
    }
    Ok(())
}
