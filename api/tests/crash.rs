//! The economy across a crash: `arena serve` on PostgreSQL is killed (SIGKILL) in the middle
//! of a stream of transfers, purchases and trades. After a restart on the same database,
//! every operation that was answered as done is complete, every refused one left nothing,
//! nothing is half done, the books balance, and requests whose answer was lost apply once
//! when sent again.

// Tests fail loudly on anything unexpected, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use common::{account, count, drop_database, fresh_database, gql, published, serve};
use sea_orm::{Database, DatabaseConnection};
use serde_json::{Value, json};

/// Each request of the stream: its kind, key, what was sent, and what became of it.
type Log = Arc<Mutex<Vec<(String, String, Value, Outcome)>>>;

/// What became of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Done,
    Refused(String),
    /// No answer: the server died first.
    Lost,
}

fn outcome(answer: Option<Value>) -> Outcome {
    match answer {
        None => Outcome::Lost,
        Some(body) => match body["errors"][0]["extensions"]["code"].as_str() {
            Some(code) => Outcome::Refused(code.to_owned()),
            None if body["data"].is_object() => Outcome::Done,
            None => Outcome::Lost,
        },
    }
}

/// Whether every currency's books balance and nothing is half done.
async fn books_balance(db: &DatabaseConnection) {
    let unbalanced = count(db, "SELECT count(*) FROM currencies c WHERE \
        COALESCE((SELECT SUM(amount + held) FROM account_balances WHERE currency_id = c.id AND user_id IS NOT NULL), 0) \
        <> COALESCE((SELECT SUM(amount) FROM transactions WHERE currency_id = c.id AND kind = 'mint'), 0) \
         - COALESCE((SELECT SUM(amount) FROM transactions WHERE currency_id = c.id AND kind = 'burn'), 0) \
        OR COALESCE((SELECT SUM(amount + held) FROM account_balances WHERE currency_id = c.id), 0) <> 0").await;
    assert_eq!(unbalanced, 0, "a currency's books do not balance");
    let unpaid = count(db, "SELECT count(*) FROM content_ownerships o WHERE o.source = 'purchase' \
        AND o.purchase_price > 0 AND NOT EXISTS (SELECT 1 FROM transactions t WHERE t.id = o.transaction_id)").await;
    assert_eq!(unpaid, 0, "an ownership without its payment");
    let unowned = count(
        db,
        "SELECT count(*) FROM transactions t WHERE t.kind = 'purchase' \
        AND NOT EXISTS (SELECT 1 FROM content_ownerships o WHERE o.transaction_id = t.id)",
    )
    .await;
    assert_eq!(unowned, 0, "a payment without its ownership");
    let loose = count(db, "SELECT count(*) FROM trades t WHERE t.offered_amount IS NOT NULL AND t.hold_transaction_id IS NULL").await;
    assert_eq!(loose, 0, "a trade without its escrow");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_loses_no_accepted_operation_and_leaves_nothing_half_done() {
    let name = format!("arena_crash_{}", std::process::id());
    let (url, admin_db) = fresh_database(&name).await;

    let mut server = serve(&url, &[]);
    let db = Database::connect(url.as_str()).await.unwrap();
    let http = reqwest::Client::new();
    let base = server.base.clone();
    let (admin, _) = account(&http, &base, &db, "boss", true).await;
    let mut players = Vec::new();
    for i in 0..8 {
        let (token, id) = account(&http, &base, &db, &format!("player{i}"), false).await;
        gql(&http, &base, Some(&admin), "mutation($i: IssueInput!) { mint(input: $i) { alreadyApplied } }",
            json!({ "i": { "userId": id, "currencyId": "1", "amount": 2000, "reason": "test", "idempotencyKey": format!("seed-{i}") } }))
            .await
            .unwrap();
        players.push((token, id));
    }
    let (maker, _) = account(&http, &base, &db, "maker", false).await;
    let mut items = Vec::new();
    for i in 0..30 {
        let id = published(
            &http,
            &base,
            &maker,
            json!({ "type": "HAT", "name": format!("Hat {i}"), "onsale": true }),
        )
        .await;
        gql(
            &http,
            &base,
            Some(&maker),
            "mutation($c: ID!) { setPrice(contentId: $c, currency: WHOLE, price: 7) { price } }",
            json!({ "c": id }),
        )
        .await
        .unwrap();
        items.push(id);
    }

    // Every request of the stream, by kind and key, with what became of it.
    let log: Log = Arc::default();
    let players = Arc::new(players);
    let items = Arc::new(items);
    let mut clients = Vec::new();
    for client in 0..16_usize {
        let (http, base, log, players, items) = (
            http.clone(),
            base.clone(),
            log.clone(),
            players.clone(),
            items.clone(),
        );
        clients.push(tokio::spawn(async move {
            for n in 0..10_000_usize {
                let me = (client + n) % players.len();
                let other = (me + 1 + n % (players.len() - 1)) % players.len();
                let key = format!("c{client}n{n}");
                let (kind, query, variables) = match n % 3 {
                    0 => ("transfer", "mutation($i: TransferInput!) { transfer(input: $i) { alreadyApplied } }",
                        json!({ "i": { "recipientId": players[other].1, "currencyId": "1", "amount": 1 + (n * 37) % 400, "idempotencyKey": key } })),
                    1 => ("purchase", "mutation($i: PurchaseInput!) { purchase(input: $i) { alreadyApplied } }",
                        json!({ "i": { "contentId": items[(client * 7 + n) % items.len()], "currency": "WHOLE", "idempotencyKey": key } })),
                    _ => ("trade", "mutation($i: OfferTradeInput!) { offerTrade(input: $i) { alreadyApplied trade { id } } }",
                        json!({ "i": { "recipientId": players[other].1, "offeredMoney": { "currencyId": "1", "amount": 5 }, "requestedMoney": { "currencyId": "1", "amount": 1 }, "idempotencyKey": key } })),
                };
                let answer = gql(&http, &base, Some(&players[me].0), query, variables.clone()).await;
                let done = outcome(answer.clone());
                let lost = done == Outcome::Lost;
                if kind == "trade" && done == Outcome::Done {
                    // The recipient takes it at once.
                    let id = answer.unwrap()["data"]["offerTrade"]["trade"]["id"].clone();
                    let confirm = gql(&http, &base, Some(&players[other].0), "mutation($id: ID!) { confirmTrade(id: $id) { status } }", json!({ "id": id })).await;
                    let confirmed = outcome(confirm);
                    log.lock().unwrap().push(("confirm".into(), id.as_str().unwrap_or_default().to_owned(), json!({ "by": other }), confirmed));
                }
                log.lock().unwrap().push((kind.into(), key, json!({ "me": me, "variables": variables, "query": query }), done));
                if lost {
                    break;
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    for client in clients {
        client.await.unwrap();
    }

    // After the restart: everything answered as done is there, whole; nothing refused is.
    let server = serve(&url, &[]);
    let base = server.base.clone();
    books_balance(&db).await;
    let log = log.lock().unwrap().clone();
    let mut tally: HashMap<(String, String), usize> = HashMap::new();
    for (kind, key, details, done) in &log {
        let label = match done {
            Outcome::Done => "done".to_owned(),
            Outcome::Refused(code) => code.clone(),
            Outcome::Lost => "lost".to_owned(),
        };
        *tally.entry((kind.clone(), label)).or_default() += 1;
        let me = details["me"].as_u64().unwrap_or_default() as usize;
        let rows = match kind.as_str() {
            "transfer" => count(&db, &format!("SELECT count(*) FROM transactions WHERE user_id = '{}' AND idempotency_key = 'transfer:{key}'", players[me].1)).await,
            "purchase" => count(&db, &format!("SELECT count(*) FROM content_ownerships WHERE user_id = '{}' AND idempotency_key = 'purchase:{key}'", players[me].1)).await,
            "trade" => count(&db, &format!("SELECT count(*) FROM trades WHERE user_id = '{}' AND idempotency_key = 'trade:{key}'", players[me].1)).await,
            _ => {
                if *done == Outcome::Done {
                    let status = count(&db, &format!("SELECT count(*) FROM trades WHERE id = {key} AND status = 'confirmed'")).await;
                    assert_eq!(status, 1, "confirmed trade {key} is not");
                }
                continue;
            }
        };
        match done {
            Outcome::Done => {
                assert_eq!(rows, 1, "{kind} {key} was answered as done but is missing")
            }
            Outcome::Refused(code) => {
                assert_eq!(rows, 0, "{kind} {key} was refused ({code}) but left a row")
            }
            Outcome::Lost => {
                assert!(rows <= 1);
                // Sent again, it applies once: now, or it had before the crash.
                let variables = details["variables"].clone();
                let query = details["query"].as_str().unwrap().to_owned();
                let again = gql(&http, &base, Some(&players[me].0), &query, variables).await;
                let again = again.unwrap();
                if again["errors"].is_null() {
                    let field = again["data"]
                        .as_object()
                        .unwrap()
                        .values()
                        .next()
                        .unwrap()
                        .clone();
                    assert_eq!(field["alreadyApplied"], rows == 1, "{kind} {key}: {again}");
                }
            }
        }
    }
    println!("outcomes by kind: {tally:?}");
    let done = tally
        .iter()
        .filter(|((_, l), _)| l == "done")
        .map(|(_, n)| n)
        .sum::<usize>();
    assert!(done > 0, "nothing was accepted before the kill: {tally:?}");
    assert!(
        tally.keys().any(|(_, l)| l == "lost"),
        "the kill came after the stream: {tally:?}"
    );
    books_balance(&db).await;
    drop(server);
    drop_database(&admin_db, &name).await;
}
