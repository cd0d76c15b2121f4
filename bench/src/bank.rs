//! `arena-bank-load`: the economy under load. Transfers through GraphQL among many players
//! (each answered only after its commit, committed in batches), beside the raw rate of
//! single-row INSERTs into the same database in the same run; and gifts of one unlimited
//! item (one purchase each: the payment to its one creator less the fee, the new ownership
//! and its event), beside one client on the idle server. At the end the books must balance.
//! `bench/bank.sh` makes the database, starts the server and runs this.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use anyhow::{Context, bail};
use arena_bench::{Target, account, gql, loaded, post, reference_inserts};
use clap::Parser;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

/// Load against one Arena server.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    target: Target,
    /// Players sending each other money.
    #[arg(long, default_value_t = 50)]
    players: usize,
    /// Players who receive gifts (made in the database, they never sign in).
    #[arg(long, default_value_t = 60_000)]
    receivers: usize,
}

const TRANSFER: &str = "mutation Transfer($i: TransferInput!) { transfer(input: $i) { alreadyApplied transaction { id } } }";
const GIFT: &str = "mutation Purchase($i: PurchaseInput!) { purchase(input: $i) { alreadyApplied ownership { id } } }";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let arena_bench::Opened {
        base,
        graphql,
        http,
        db,
    } = args.target.open().await?;
    let backend = db.get_database_backend();
    let (c, s) = (args.target.connections, args.target.seconds);
    let run = std::process::id();

    let (admin, _) = account(&http, &graphql, &db, &format!("bank{run}admin"), true).await?;
    let mut players = Vec::with_capacity(args.players);
    for i in 0..args.players {
        let (token, id) = account(&http, &graphql, &db, &format!("bank{run}p{i}"), false).await?;
        gql(&http, &graphql, &admin, "mutation($i: IssueInput!) { mint(input: $i) { alreadyApplied } }",
            json!({ "i": { "userId": id, "currencyId": "1", "amount": 1_000_000_000, "reason": "load", "idempotencyKey": format!("load-{id}") } }))
            .await?;
        players.push((token, id));
    }
    let players = Arc::new(players);
    println!(
        "{c} connections, {s} s per scenario; {} players holding 1,000,000,000 coins each",
        players.len()
    );

    // The reference: single-row INSERTs, one transaction each, by a plain client.
    reference_inserts(&db, s).await?;

    // Transfers: each client a loop of its own, from one player to another, one unit, a
    // fresh key each time.
    let sent = Arc::new(AtomicU64::new(0));
    let transfer = {
        let (http, graphql, players, sent) =
            (http.clone(), graphql.clone(), players.clone(), sent.clone());
        move |slot: usize| {
            let (http, graphql, players, sent) =
                (http.clone(), graphql.clone(), players.clone(), sent.clone());
            async move {
                let n = sent.fetch_add(1, Ordering::Relaxed) as usize;
                let from = (slot + n) % players.len();
                let to = (from + 1 + n % (players.len() - 1)) % players.len();
                let body = json!({
                    "query": TRANSFER,
                    "operationName": "Transfer",
                    "variables": { "i": { "recipientId": players[to].1, "currencyId": "1", "amount": 1, "idempotencyKey": format!("load-{run}-{n}") } }
                });
                let ok = post(&http, &graphql, Some(&players[from].0), &body)
                    .await
                    .is_some();
                (ok, slot)
            }
        }
    };
    let mut failed = 0;
    failed += loaded(
        "idle: one client, transfer",
        &http,
        &base,
        "Transfer",
        s,
        vec![0],
        transfer.clone(),
    )
    .await?;
    failed += loaded(
        "api: transfer, committed in batches",
        &http,
        &base,
        "Transfer",
        s,
        (0..c).collect(),
        transfer,
    )
    .await?;

    // Gifts of one unlimited item with a price, by its creator's players, to receivers made
    // in the database: each request is a purchase (payment, fee, ownership, event).
    let (creator, _) = account(&http, &graphql, &db, &format!("bank{run}maker"), false).await?;
    let made = gql(
        &http,
        &graphql,
        &creator,
        "mutation($i: CreateContentInput!) { createContent(input: $i) { id } }",
        json!({ "i": { "type": "HAT", "name": "Load hat", "onsale": true } }),
    )
    .await?;
    let item = made["data"]["createContent"]["id"]
        .as_str()
        .context("item")?
        .to_owned();
    gql(
        &http,
        &graphql,
        &creator,
        "mutation($id: ID!) { publishContent(id: $id) { id } }",
        json!({ "id": item }),
    )
    .await?;
    gql(
        &http,
        &graphql,
        &creator,
        "mutation($c: ID!) { setPrice(contentId: $c, currency: WHOLE, price: 10) { price } }",
        json!({ "c": item }),
    )
    .await?;
    db.execute_raw(Statement::from_string(
        backend,
        format!(
            "INSERT INTO users (id, username, email, password, display_name) \
             SELECT gen_random_uuid(), 'bank{run}r' || n, 'bank{run}r' || n || '@example.com', 'x', 'R' || n \
             FROM generate_series(1, {}) AS g(n)",
            args.receivers
        ),
    ))
    .await?;
    let receivers: Arc<Vec<String>> = Arc::new(
        db.query_all_raw(Statement::from_string(
            backend,
            format!("SELECT id FROM users WHERE username LIKE 'bank{run}r%'"),
        ))
        .await?
        .iter()
        .filter_map(|r| r.try_get::<uuid::Uuid>("", "id").ok())
        .map(|id| id.to_string())
        .collect(),
    );
    let given = Arc::new(AtomicU64::new(0));
    let gift = {
        let (http, graphql, players, receivers, item) = (
            http.clone(),
            graphql.clone(),
            players.clone(),
            receivers.clone(),
            item.clone(),
        );
        move |slot: usize| {
            let (http, graphql, players, receivers, item, given) = (
                http.clone(),
                graphql.clone(),
                players.clone(),
                receivers.clone(),
                item.clone(),
                given.clone(),
            );
            async move {
                let n = given.fetch_add(1, Ordering::Relaxed) as usize;
                let Some(to) = receivers.get(n) else {
                    return (false, slot);
                };
                let body = json!({
                    "query": GIFT,
                    "operationName": "Purchase",
                    "variables": { "i": { "contentId": item, "currency": "WHOLE", "idempotencyKey": format!("gift-{n}"), "giftTo": to } }
                });
                let from = &players[slot % players.len()].0;
                let ok = post(&http, &graphql, Some(from), &body).await.is_some();
                (ok, slot)
            }
        }
    };
    failed += loaded(
        "idle: one client, purchase (gift)",
        &http,
        &base,
        "Purchase",
        s,
        vec![0],
        gift.clone(),
    )
    .await?;
    failed += loaded(
        "api: purchase of one unlimited item (gift)",
        &http,
        &base,
        "Purchase",
        s,
        (0..c).collect(),
        gift,
    )
    .await?;

    let totals = gql(
        &http,
        &graphql,
        &admin,
        "{ currencyTotals { currency { name } circulating minted burned balanced } }",
        json!({}),
    )
    .await?;
    println!("books: {}", totals["data"]["currencyTotals"]);
    let balanced = totals["data"]["currencyTotals"]
        .as_array()
        .is_some_and(|all| all.iter().all(|t| t["balanced"] == true));
    if !balanced {
        bail!("the books do not balance");
    }
    if failed > 0 {
        bail!("{failed} requests failed");
    }
    Ok(())
}
