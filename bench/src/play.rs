//! `arena-play-load`: Play under load. Server selection among `--servers` official servers
//! with `--friendships` friendships whose friends sit on those servers (each Play reads the
//! player's friends' servers, their blocks, and the ranked open servers, takes a seat and
//! ends the player's previous session), and game servers validating session tokens and
//! pinging the sessions (two requests each), each beside one client on the idle server and
//! beside the raw rate of single-row INSERTs into the same database in the same run. First
//! it checks PostgreSQL's plans of the selection statements (no sequential scan of a large
//! table); at the end, that every server's count equals its live sessions.
//! `bench/play.sh` makes the database, starts the server and runs this.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use anyhow::{Context, bail};
use arena_bench::{Span, Target, account, loaded, post, post_as, reference_inserts};
use futures_util::StreamExt;

/// Signs `name` in (password `play-long-password`); its access token and id.
async fn sign_in(
    http: &reqwest::Client,
    graphql: &str,
    name: &str,
) -> anyhow::Result<(String, String)> {
    let session = post(
        http,
        graphql,
        None,
        &json!({
            "query": "mutation($i: LoginInput!) { login(input: $i) { accessToken user { id } } }",
            "variables": { "i": { "login": name, "password": "play-long-password" } }
        }),
    )
    .await
    .context("login")?;
    let login = &session["data"]["login"];
    Ok((
        login["accessToken"].as_str().context("token")?.to_owned(),
        login["user"]["id"].as_str().context("id")?.to_owned(),
    ))
}
use clap::Parser;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::json;

/// Load against one Arena server.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    target: Target,
    /// Official game servers of the game.
    #[arg(long, default_value_t = 10_000)]
    servers: usize,
    /// Friendships between the playing players and others already playing.
    #[arg(long, default_value_t = 100_000)]
    friendships: usize,
    /// Players pressing Play (made in the database, signed in through the api).
    #[arg(long, default_value_t = 2_000)]
    players: usize,
    /// Sessions issued for servers to validate (made in the database).
    #[arg(long, default_value_t = 150_000)]
    sessions: usize,
    /// Plays per second in the paced scenario, whose latency counts from when each was due.
    #[arg(long, default_value_t = 1_000.0)]
    play_rate: f64,
    /// Loops sending the paced Plays.
    #[arg(long, default_value_t = 64)]
    paced_loops: usize,
}

const PLAY: &str = "mutation Play($g: ID!) { play(gameId: $g) { token session { id } } }";
const VALIDATE: &str =
    "mutation Validate($t: String!) { validateSession(token: $t) { session { id } } }";
const PING: &str = "mutation Ping($s: ID!) { pingSession(sessionId: $s) { id } }";

async fn exec(db: &DatabaseConnection, sql: String) -> anyhow::Result<u64> {
    Ok(db
        .execute_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?
        .rows_affected())
}

/// Publishes a game made by `admin`; its id.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let arena_bench::Opened {
        base,
        graphql,
        http,
        db,
    } = args.target.open().await?;
    let (c, s) = (args.target.connections, args.target.seconds);
    let run = std::process::id();

    let (admin, _) = account(&http, &graphql, &db, &format!("play{run}admin"), true).await?;
    let duel = arena_bench::game(&http, &graphql, &admin, "Duel").await?;
    let arena = arena_bench::game(&http, &graphql, &admin, "Arena").await?;
    // The players, made in the database with one password hash and signed in through the
    // api; client k plays as players k, k + c, k + 2c, … in turn, so no two Plays of one
    // player race.
    let hash = bcrypt::hash("play-long-password", 4)?;
    exec(&db, format!(
        "INSERT INTO users (id, username, email, password, display_name) \
         SELECT gen_random_uuid(), 'play{run}p' || n, 'play{run}p' || n || '@example.com', '{hash}', 'P' || n \
         FROM generate_series(1, {}) AS g(n)",
        args.players
    )).await?;
    let players: Vec<(String, String)> = futures_util::stream::iter(1..=args.players)
        .map(|n| {
            let (http, graphql) = (http.clone(), graphql.clone());
            async move { sign_in(&http, &graphql, &format!("play{run}p{n}")).await }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    exec(
        &db,
        format!("UPDATE users SET country = 'FI' WHERE username LIKE 'play{run}p%' AND right(username, 1) IN ('0', '1', '2')"),
    )
    .await?;

    // The servers: official, in four countries, pinged now (the server is started with an
    // hour between pings). Server n's token is `bench-server-n`, its port 10000 + n.
    let servers = args.servers;
    exec(&db, format!(
        "INSERT INTO game_servers (token_hash, user_id, game_id, socket_host, socket_port, country, \
           official, provisioned, slots, live, health, pinged_at) \
         SELECT encode(sha256(('bench-server-' || n)::bytea), 'hex'), \
           (SELECT id FROM users WHERE username = 'play{run}admin'), {duel}, '127.0.0.1', 10000 + n, \
           (ARRAY['FI', 'SE', 'US', 'DE'])[1 + n % 4], n % 2 = 0, false, 64, 0, 'ready', now() \
         FROM generate_series(1, {servers}) AS g(n)"
    )).await?;
    exec(
        &db,
        format!(
            "INSERT INTO server_games (server_id, game_id) SELECT id, {duel} FROM game_servers"
        ),
    )
    .await?;

    // Others already playing Duel, befriended by the players: `friendships` rows in all.
    let per_player = (args.friendships / args.players.max(1)).max(1);
    let others = (per_player * 4).max(20_000);
    exec(&db, format!(
        "INSERT INTO users (id, username, email, password, display_name) \
         SELECT gen_random_uuid(), 'play{run}f' || n, 'play{run}f' || n || '@example.com', 'x', 'F' || n \
         FROM generate_series(1, {others}) AS g(n)"
    )).await?;
    exec(&db, format!(
        "INSERT INTO play_sessions (token_hash, user_id, game_id, server_id, server_type, created_at, \
           expires_at, joined_at, pinged_at) \
         SELECT encode(sha256(('bench-friend-' || u.username)::bytea), 'hex'), u.id, {duel}, \
           s.id, 'provision', now(), now() + interval '1 day', now(), now() \
         FROM users u JOIN game_servers s \
           ON s.socket_port = 10001 + abs(hashtext(u.username)) % {servers} \
         WHERE u.username LIKE 'play{run}f%'"
    )).await?;
    exec(&db, format!(
        "INSERT INTO friends (user_id, target_id, pending) \
         SELECT p.id, f.id, false FROM \
           (SELECT id, row_number() OVER (ORDER BY username) AS i FROM users WHERE username LIKE 'play{run}p%') p \
           CROSS JOIN generate_series(0, {per_player} - 1) AS k(k) \
           JOIN (SELECT id, row_number() OVER (ORDER BY username) AS j FROM users WHERE username LIKE 'play{run}f%') f \
             ON f.j = 1 + (p.i * 97 + k.k) % {others}"
    )).await?;

    // Blocks among the others and from each player to a few of them, so the planner reads a
    // table of some size.
    exec(&db, format!(
        "INSERT INTO blocks (user_id, target_id) \
         SELECT a.id, b.id FROM users a JOIN users b \
           ON b.username = 'play{run}f' || (substr(a.username, length('play{run}f') + 1)::int % {others} + 1) \
         WHERE a.username LIKE 'play{run}f%'"
    )).await?;
    exec(&db, format!(
        "INSERT INTO blocks (user_id, target_id) \
         SELECT p.id, f.id FROM users p CROSS JOIN generate_series(1, 5) AS k(k) \
           JOIN users f ON f.username = 'play{run}f' || (abs(hashtext(p.username)) % ({others} - 5) + k.k) \
         WHERE p.username LIKE 'play{run}p%' ON CONFLICT DO NOTHING"
    )).await?;

    // Sessions waiting for their servers to validate them, in the second game: session n's
    // token is `bench-session-n`, on server 1 + n % servers.
    let sessions = args.sessions;
    exec(&db, format!(
        "INSERT INTO users (id, username, email, password, display_name) \
         SELECT gen_random_uuid(), 'play{run}v' || n, 'play{run}v' || n || '@example.com', 'x', 'V' || n \
         FROM generate_series(1, {sessions}) AS g(n)"
    )).await?;
    exec(
        &db,
        format!(
            "INSERT INTO server_games (server_id, game_id) SELECT id, {arena} FROM game_servers"
        ),
    )
    .await?;
    exec(&db, format!(
        "INSERT INTO play_sessions (token_hash, user_id, game_id, server_id, server_type, created_at, expires_at) \
         SELECT encode(sha256(('bench-session-' || substr(u.username, length('play{run}v') + 1))::bytea), 'hex'), \
           u.id, {arena}, s.id, 'provision', now(), now() + interval '1 day' \
         FROM users u JOIN game_servers s \
           ON s.socket_port = 10001 + substr(u.username, length('play{run}v') + 1)::int % {servers} \
         WHERE u.username LIKE 'play{run}v%'"
    )).await?;
    exec(
        &db,
        "UPDATE game_servers s SET live = (SELECT COUNT(*) FROM play_sessions p \
               WHERE p.server_id = s.id AND p.ended_at IS NULL)"
            .to_owned(),
    )
    .await?;
    // As autovacuum leaves tables that rarely change: statistics, and the visibility map
    // that lets the selection read friendships from the index alone.
    db.execute_unprepared("VACUUM ANALYZE").await?;
    // The set-up's bulk writes are flushed now, so no checkpoint of them runs during the
    // scenarios: they measure Play, not the write-out of a bulk load.
    if let Err(err) = db.execute_unprepared("CHECKPOINT").await {
        println!("no checkpoint after the set-up ({err}): its write-out may overlap the scenarios");
    }
    let friendships = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM friends".to_owned(),
        ))
        .await?
        .context("count")?
        .try_get::<i64>("", "n")?;
    println!(
        "{c} connections, {s} s per scenario; {servers} servers, {friendships} friendships, \
         {sessions} sessions to validate"
    );

    // The plan: each part of the selection reads an index.
    let me: uuid::Uuid = players[0].1.parse()?;
    let duel_id: i32 = duel.parse()?;
    let plan = arena_api::play::explain_selection(&db, duel_id, me)
        .await
        .map_err(|err| anyhow::anyhow!("explaining the selection: {err:?}"))?;
    println!("plan of the selection:\n{plan}");
    for table in [
        "game_servers",
        "play_sessions",
        "friends",
        "blocks",
        "users",
    ] {
        if plan.contains(&format!("Seq Scan on {table}")) {
            bail!("the selection scans {table} in full");
        }
    }

    reference_inserts(&db, s).await?;

    let players = Arc::new(players);
    let play = {
        let (http, graphql, players, duel) =
            (http.clone(), graphql.clone(), players.clone(), duel.clone());
        move |(slot, turn): (usize, usize)| {
            let (http, graphql, players, duel) =
                (http.clone(), graphql.clone(), players.clone(), duel.clone());
            async move {
                let body =
                    json!({ "query": PLAY, "operationName": "Play", "variables": { "g": duel } });
                let mine = players.len().div_ceil(c).max(1);
                let who = (slot + (turn % mine) * c) % players.len();
                let ok = post(&http, &graphql, Some(&players[who].0), &body)
                    .await
                    .is_some();
                (ok, (slot, turn + 1))
            }
        }
    };
    let mut failed = loaded(
        "idle: one client, play",
        &http,
        &base,
        "Play",
        s,
        vec![(0, 0)],
        play.clone(),
    )
    .await?;
    failed += loaded(
        "api: play",
        &http,
        &base,
        "Play",
        s,
        (0..c).map(|k| (k, 0)).collect(),
        play.clone(),
    )
    .await?;
    failed += loaded(
        &format!("api: play at {}/s (paced)", args.play_rate),
        &http,
        &base,
        "Play",
        Span {
            seconds: s,
            rate: Some(args.play_rate),
        },
        (0..args.paced_loops.min(c)).map(|k| (k, 0)).collect(),
        play,
    )
    .await?;

    // Validation: a server validates the next waiting session and pings it.
    let next = Arc::new(AtomicUsize::new(1));
    let validate = {
        let (http, graphql) = (http.clone(), graphql.clone());
        move |(): ()| {
            let (http, graphql, next) = (http.clone(), graphql.clone(), next.clone());
            async move {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n > sessions {
                    return (false, ());
                }
                let server = format!("Server bench-server-{}", 1 + n % servers);
                let body = json!({ "query": VALIDATE, "operationName": "Validate", "variables": { "t": format!("bench-session-{n}") } });
                let Some(answer) = post_as(&http, &graphql, Some(&server), &body).await else {
                    return (false, ());
                };
                let session = answer["data"]["validateSession"]["session"]["id"].clone();
                let body = json!({ "query": PING, "operationName": "Ping", "variables": { "s": session } });
                let ok = post_as(&http, &graphql, Some(&server), &body)
                    .await
                    .is_some();
                (ok, ())
            }
        }
    };
    failed += loaded(
        "idle: one client, validate + ping (pairs)",
        &http,
        &base,
        "Validate",
        s,
        vec![()],
        validate.clone(),
    )
    .await?;
    failed += loaded(
        "api: validate + ping (pairs, 2 requests each)",
        &http,
        &base,
        "Validate",
        s,
        vec![(); c],
        validate,
    )
    .await?;

    let wrong = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM game_servers s WHERE s.live <> \
             (SELECT COUNT(*) FROM play_sessions p WHERE p.server_id = s.id AND p.ended_at IS NULL)"
                .to_owned(),
        ))
        .await?
        .context("count")?
        .try_get::<i64>("", "n")?;
    if wrong > 0 {
        bail!("{wrong} servers count other than their live sessions");
    }
    println!("every server's count equals its live sessions");
    if failed > 0 {
        bail!("{failed} requests failed");
    }
    Ok(())
}
