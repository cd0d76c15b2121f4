//! `arena-load`: drives a running Arena with many concurrent clients and reports requests per
//! second and latency, beside the rate a plain database client gets for the same SQL in the
//! same run (the machine is shared, so absolute figures drift; the ratio is the result).
//! `bench/backbone.sh` starts the server, fills it and runs this.

use std::time::Duration;

use anyhow::{Context, bail};
use arena_bench::{Target, accounts, drive, post, sql, statements};
use clap::Parser;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::{Value, json};

/// Load against one Arena server.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    target: Target,
    /// The first day of the history the `history` scenarios read (7 days from it).
    #[arg(long, default_value = "2026-11-01")]
    from: String,
}

const PAGE: &str = "{ battlePlayers(first: 20) { edges { node { id nickname statistics { battles wins damageDealt } } } } }";

fn history_page(from: &str, to: &str) -> String {
    format!(
        "{{ battlePlayers(first: 20) {{ edges {{ node {{ id nickname statistics {{ battles wins damageDealt }} \
         history(from: \"{from}\", to: \"{to}\") {{ day total {{ battles }} diff {{ battles }} }} }} }} }} }}"
    )
}

/// The rows the page query reads, as the api's SQL reads them.
const PAGE_SQL: &str = "SELECT * FROM battle_players ORDER BY id DESC LIMIT 21";

/// Transactions PostgreSQL has finished in the database, once its statistics are current.
async fn transactions(db: &DatabaseConnection) -> anyhow::Result<f64> {
    // Backends report their statistics when idle, at most a second late.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT CAST(xact_commit + xact_rollback AS DOUBLE PRECISION) AS n \
             FROM pg_stat_database WHERE datname = current_database()",
        ))
        .await?
        .context("pg_stat_database has the database")?;
    Ok(row.try_get("", "n")?)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let graphql = format!("{}/graphql", args.target.url.trim_end_matches('/'));
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.target.connections)
        .build()?;
    // The server's own pool settings, so the reference differs from it only by the api.
    let db = arena_api::db::connect_url(&args.target.database_url, 10).await?;
    let (c, s) = (args.target.connections, args.target.seconds);
    let from = args.from.clone();
    let to = {
        let day: chrono::NaiveDate = from.parse()?;
        (day + chrono::Days::new(6)).to_string()
    };
    println!("{c} connections, {s} s per scenario, history {from}..={to}");

    // A request that needs no state: the query `body`, as `token` when given.
    let request = |body: Value| {
        let (http, graphql) = (http.clone(), graphql.clone());
        move |token: Option<String>| {
            let (http, graphql, body) = (http.clone(), graphql.clone(), body.clone());
            async move {
                let ok = post(&http, &graphql, token.as_deref(), &body)
                    .await
                    .is_some();
                (ok, token)
            }
        }
    };
    let page = request(json!({ "query": PAGE }));
    let history = request(json!({ "query": history_page(&from, &to) }));
    let nobody = |n: usize| vec![None::<String>; n];

    // References: one client with the server otherwise idle, and the database's own rate for
    // the same SQL with a plain client.
    drive(s, nobody(1), page.clone())
        .await
        .report("idle: one client, public page");
    let plain = |sqls: Vec<String>| {
        let db = db.clone();
        move |(): ()| {
            let (db, sqls) = (db.clone(), sqls.clone());
            async move {
                for one in &sqls {
                    if !sql(&db, one).await {
                        return (false, ());
                    }
                }
                (true, ())
            }
        }
    };
    drive(s, vec![(); c], plain(vec![PAGE_SQL.into()]))
        .await
        .report("plain SQL: page");
    // The floor of the stack: a query that reads nothing, through the same HTTP, GraphQL and
    // middleware path as the page.
    drive(s, nobody(c), request(json!({ "query": "{ __typename }" })))
        .await
        .report("api: { __typename }, no database");
    let anonymous = drive(s, nobody(c), page.clone()).await;
    anonymous.report("api: public 20-row page");

    // The history reads for the page's players, as the DataLoader batches them.
    let ids = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), PAGE_SQL))
        .await?
        .iter()
        .filter_map(|r| r.try_get::<i64>("", "id").ok())
        .map(|id| id.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let range =
        format!("player_id IN ({ids}) AND day BETWEEN '{from}' AND '{to}' ORDER BY day DESC");
    let history_sql = vec![
        PAGE_SQL.to_owned(),
        format!("SELECT * FROM battle_totals WHERE {range}"),
        format!("SELECT * FROM battle_diffs WHERE {range}"),
    ];
    drive(s, vec![(); c], plain(history_sql))
        .await
        .report("plain SQL: page + 7 days history");
    drive(s, nobody(c), history)
        .await
        .report("api: page + 7 days history");

    let tokens = accounts(&http, &graphql, c).await?;
    let signed_in = drive(s, tokens.iter().map(|t| Some(t.0.clone())).collect(), page).await;
    signed_in.report("api: signed-in 20-row page");
    println!(
        "signed-in page at {:.1}% of the anonymous rate",
        100.0 * signed_in.rate() / anonymous.rate()
    );
    // Counted over a quiet, fixed number of requests, so nothing else adds to the count: by
    // the server's own counter, and by PostgreSQL, where each statement outside a
    // transaction is one committed transaction (this works for builds without the counter).
    let sample = 2_000;
    let body = json!({ "query": PAGE });
    let counted = statements(&http, &args.target.url).await.ok();
    let committed = transactions(&db).await?;
    for n in 0..sample {
        post(&http, &graphql, Some(&tokens[n % tokens.len()].0), &body)
            .await
            .context("signed-in page")?;
    }
    let by_server = match (counted, statements(&http, &args.target.url).await.ok()) {
        (Some(before), Some(after)) => format!("{:.3}", (after - before) / sample as f64),
        _ => "not reported".to_owned(),
    };
    // The reads of the count are transactions too: one before the sample, one after.
    let by_database = (transactions(&db).await? - committed - 1.0) / sample as f64;
    println!(
        "statements per signed-in page request: {by_server} (server's count), {by_database:.3} \
         (PostgreSQL's transactions) over {sample} requests; the page itself is 1"
    );

    // Each connection rotates its own sign-in's refresh token: every call presents the one
    // the previous call returned.
    let refresh = {
        let (http, graphql) = (http.clone(), graphql.clone());
        move |token: String| {
            let (http, graphql) = (http.clone(), graphql.clone());
            async move {
                let body = json!({
                    "query": "mutation($t: String!) { refreshToken(refreshToken: $t) { refreshToken } }",
                    "variables": { "t": token }
                });
                let next = post(&http, &graphql, None, &body).await.and_then(|a| {
                    a["data"]["refreshToken"]["refreshToken"]
                        .as_str()
                        .map(str::to_owned)
                });
                match next {
                    Some(next) => (true, next),
                    None => (false, token_of(&body)),
                }
            }
        }
    };
    // The same statements a refresh makes, by a plain client: look the token up, then in one
    // transaction claim it, read the account and its bans, and store the next token.
    let user: String = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT CAST(id AS TEXT) AS id FROM users ORDER BY created_at DESC LIMIT 1",
        ))
        .await?
        .context("an account")?
        .try_get("", "id")?;
    let plain_refresh = {
        let db = db.clone();
        move |(): ()| {
            let (db, user) = (db.clone(), user.clone());
            async move {
                let steps = [
                    "SELECT * FROM user_tokens WHERE token = 'no-such-token' AND type = 'refresh'"
                        .to_owned(),
                    "BEGIN".to_owned(),
                    "UPDATE user_tokens SET used_at = now() WHERE id = -1 AND used_at IS NULL"
                        .to_owned(),
                    format!("SELECT * FROM users WHERE id = '{user}' AND deleted_at IS NULL"),
                    format!("SELECT * FROM bans WHERE user_id = '{user}' AND lifted_at IS NULL"),
                    format!(
                        "INSERT INTO user_tokens (token, type, user_id, series, expires_at) \
                         VALUES (md5(random()::text), 'refresh', '{user}', gen_random_uuid(), now() + interval '30 days')"
                    ),
                    "COMMIT".to_owned(),
                ];
                // One connection for the whole exchange, as the api's transaction has.
                let Ok(conn) = db.get_postgres_connection_pool().acquire().await else {
                    return (false, ());
                };
                let mut conn = conn;
                for step in steps {
                    if sea_orm::sqlx::raw_sql(sea_orm::sqlx::AssertSqlSafe(step))
                        .execute(&mut *conn)
                        .await
                        .is_err()
                    {
                        return (false, ());
                    }
                }
                (true, ())
            }
        }
    };
    drive(s, vec![(); c], plain_refresh)
        .await
        .report("plain SQL: a refresh's statements");
    let rotated = drive(s, tokens.into_iter().map(|t| t.1).collect(), refresh).await;
    rotated.report("api: token refresh (rotation)");
    if rotated.errors + anonymous.errors + signed_in.errors > 0 {
        bail!("some requests failed");
    }
    Ok(())
}

/// The refresh token a refresh request presented.
fn token_of(body: &Value) -> String {
    body["variables"]["t"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}
