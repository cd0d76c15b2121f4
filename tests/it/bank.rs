//! The bank: currencies, mints and burns with their audit rows, transfers applied once per
//! idempotency key, refusals that leave nothing, and thousands of parallel transfers that
//! conserve every unit.

use std::collections::HashMap;

use arena_api::settings::Settings;
use arena_entity::{
    audit::audit_entry,
    bank::{account_balance, transaction},
    events::platform_event,
};
use arena_tests::{Backend, TestApp, TestUser, UserBuilder};
use futures_util::{StreamExt, future::join_all, stream};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

const RESULT: &str = "alreadyApplied transaction { id kind amount description automated \
                      payer { username } recipient { username } currency { name } }";

async fn coins(app: &TestApp) -> String {
    let listed = app.gql("{ currencies { id name type } }", json!({})).await;
    let all = listed.data()["currencies"].clone();
    assert_eq!(
        all.as_array()
            .unwrap()
            .iter()
            .map(|c| (c["name"].as_str().unwrap(), c["type"].as_str().unwrap()))
            .collect::<Vec<_>>(),
        [("coins", "WHOLE"), ("gems", "DENOM")]
    );
    all[0]["id"].as_str().unwrap().to_owned()
}

async fn issue(
    app: &TestApp,
    admin: &TestUser,
    op: &str,
    who: &TestUser,
    currency: &str,
    amount: i64,
    key: &str,
) -> arena_tests::GqlResponse {
    app.gql_as(
        &admin.access,
        &format!("mutation($i: IssueInput!) {{ {op}(input: $i) {{ {RESULT} }} }}"),
        json!({ "i": { "userId": who.id, "currencyId": currency, "amount": amount, "reason": "test grant", "idempotencyKey": key } }),
    )
    .await
}

async fn send(
    app: &TestApp,
    from: &TestUser,
    to: &str,
    currency: &str,
    amount: i64,
    key: &str,
) -> arena_tests::GqlResponse {
    app.gql_as(
        &from.access,
        &format!("mutation($i: TransferInput!) {{ transfer(input: $i) {{ {RESULT} }} }}"),
        json!({ "i": { "recipientId": to, "currencyId": currency, "amount": amount, "idempotencyKey": key, "description": "for the hat" } }),
    )
    .await
}

async fn balance(app: &TestApp, who: &TestUser) -> i64 {
    let found = app
        .gql_as(
            &who.access,
            "{ balances { amount currency { name } } }",
            json!({}),
        )
        .await;
    let all = found.data()["balances"].clone();
    assert_eq!(all.as_array().unwrap().len(), 2, "every currency is listed");
    all[0]["amount"].as_i64().unwrap()
}

arena_tests::on_both_backends! {
    async fn a_transfer_applies_once_per_key_and_never_overdraws(app) {
    let admin = UserBuilder::new("admin").with_role("admin").create(&app).await;
    let ann = UserBuilder::new("ann").create(&app).await;
    let bob = UserBuilder::new("bob").create(&app).await;
    let coins = coins(&app).await;

    // Nothing to send yet: refused, nothing written.
    let broke = send(&app, &ann, &bob.id, &coins, 10, "k0").await;
    assert_eq!(broke.codes(), ["INSUFFICIENT_FUNDS"]);
    assert_eq!(transaction::Entity::find().count(&app.ctx.db).await.unwrap(), 0);

    // Minting needs bank.mint, is audited, and applies once per key.
    assert_eq!(issue(&app, &ann, "mint", &ann, &coins, 100, "m1").await.codes(), ["FORBIDDEN"]);
    let minted = issue(&app, &admin, "mint", &ann, &coins, 100, "m1").await;
    assert_eq!(minted.data()["mint"]["transaction"]["payer"], Value::Null);
    assert_eq!(minted.data()["mint"]["transaction"]["automated"], true);
    let again = issue(&app, &admin, "mint", &ann, &coins, 100, "m1").await;
    assert_eq!(again.data()["mint"]["alreadyApplied"], true);
    assert_eq!(balance(&app, &ann).await, 100);
    let audited = audit_entry::Entity::find()
        .filter(audit_entry::Column::Action.eq("bank.mint"))
        .all(&app.ctx.db)
        .await
        .unwrap();
    assert_eq!(audited.len(), 1);
    assert_eq!(audited[0].reason.as_deref(), Some("test grant"));

    // A transfer, its retry, and a key reused for something else.
    let sent = send(&app, &ann, &bob.id, &coins, 30, "k1").await;
    let first = sent.data()["transfer"].clone();
    assert_eq!(first["alreadyApplied"], false);
    assert_eq!(first["transaction"]["recipient"]["username"], "bob");
    let retried = send(&app, &ann, &bob.id, &coins, 30, "k1").await;
    assert_eq!(retried.data()["transfer"]["alreadyApplied"], true);
    assert_eq!(retried.data()["transfer"]["transaction"]["id"], first["transaction"]["id"]);
    for (to, amount, field) in [(bob.id.as_str(), 31, "amount"), (admin.id.as_str(), 30, "recipientId")] {
        let reused = send(&app, &ann, to, &coins, amount, "k1").await;
        assert_eq!(reused.codes(), ["CONFLICT"]);
        let message = reused.body["errors"][0]["message"].as_str().unwrap().to_owned();
        assert!(message.contains(&format!("{field} differs")), "{message}");
    }
    assert_eq!((balance(&app, &ann).await, balance(&app, &bob).await), (70, 30));

    // Bad input changes nothing.
    for (to, currency, amount, key, code) in [
        (bob.id.as_str(), coins.as_str(), 0, "b1", "BAD_USER_INPUT"),
        (bob.id.as_str(), coins.as_str(), -5, "b2", "BAD_USER_INPUT"),
        (bob.id.as_str(), coins.as_str(), 5, "", "BAD_USER_INPUT"),
        (ann.id.as_str(), coins.as_str(), 5, "b3", "BAD_USER_INPUT"),
        (bob.id.as_str(), "999", 5, "b4", "NOT_FOUND"),
        ("00000000-0000-0000-0000-000000000009", coins.as_str(), 5, "b5", "NOT_FOUND"),
        (bob.id.as_str(), coins.as_str(), 71, "b6", "INSUFFICIENT_FUNDS"),
    ] {
        let refused = send(&app, &ann, to, currency, amount, key).await;
        assert_eq!(refused.codes(), [code], "{amount} {key:?}: {:#}", refused.body);
    }
    assert_eq!((balance(&app, &ann).await, balance(&app, &bob).await), (70, 30));

    // A block stops money both ways.
    app.gql_as(&bob.access, "mutation($u: ID!) { block(userId: $u) { __typename } }", json!({ "u": ann.id }))
        .await
        .data();
    assert_eq!(send(&app, &ann, &bob.id, &coins, 5, "x1").await.codes(), ["FORBIDDEN"]);
    assert_eq!(send(&app, &bob, &ann.id, &coins, 5, "x2").await.codes(), ["FORBIDDEN"]);

    // Burning takes money out of circulation, never more than the player holds.
    assert_eq!(issue(&app, &admin, "burn", &bob, &coins, 31, "b1").await.codes(), ["INSUFFICIENT_FUNDS"]);
    issue(&app, &admin, "burn", &bob, &coins, 10, "b1").await.data();
    assert_eq!(balance(&app, &bob).await, 20);

    // The read side.
    let ledger = app
        .gql_as(&ann.access, "{ ledger(first: 10) { totalCount edges { node { kind amount } } } }", json!({}))
        .await;
    let kinds: Vec<Value> = ledger.data()["ledger"]["edges"].as_array().unwrap().iter().map(|e| e["node"]["kind"].clone()).collect();
    assert_eq!(kinds, [json!("TRANSFER"), json!("MINT")]);
    let gems = app
        .gql_as(&ann.access, "query($c: ID!) { ledger(filter: { currencyId: $c }) { totalCount } }", json!({ "c": "2" }))
        .await;
    assert_eq!(gems.data()["ledger"]["totalCount"], 0);
    let peeking = app
        .gql_as(&bob.access, "query($u: ID!) { balances(userId: $u) { amount } }", json!({ "u": ann.id }))
        .await;
    assert_eq!(peeking.codes(), ["FORBIDDEN"]);
    let audited = app
        .gql_as(&admin.access, "query($u: ID!) { balances(userId: $u) { amount } ledger(userId: $u) { totalCount } }", json!({ "u": ann.id }))
        .await;
    assert_eq!(audited.data()["balances"][0]["amount"], 70);
    assert_eq!(audited.data()["ledger"]["totalCount"], 2);
    let totals = app
        .gql_as(&admin.access, "{ currencyTotals { currency { name } circulating systemBalance minted burned balanced } }", json!({}))
        .await;
    assert_eq!(
        totals.data()["currencyTotals"][0],
        json!({ "currency": { "name": "coins" }, "circulating": 90, "systemBalance": -90, "minted": 100, "burned": 10, "balanced": true })
    );
    // One platform event per applied transaction, none for refusals or retries (beside
    // the sign-ins').
    let events = platform_event::Entity::find()
        .filter(platform_event::Column::Kind.ne("sign_in"))
        .all(&app.ctx.db)
        .await
        .unwrap();
    let mut kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["burn", "mint", "transfer"]);
    }
}

/// Many transfers at once among a few accounts, some sent five times at once with one key:
/// no balance below zero, every unit conserved, each key applied once, and every balance
/// equal to a replay of the ledger.
async fn transfers_race(app: TestApp, accounts: usize, transfers: usize, at_once: usize) {
    let admin = UserBuilder::new("admin")
        .with_role("admin")
        .create(&app)
        .await;
    let players: Vec<TestUser> =
        join_all((0..accounts).map(|i| UserBuilder::new(&format!("player{i:02}")).create(&app)))
            .await;
    let coins = coins(&app).await;
    for (i, player) in players.iter().enumerate() {
        issue(
            &app,
            &admin,
            "mint",
            player,
            &coins,
            1000,
            &format!("seed-{i}"),
        )
        .await
        .data();
    }
    let minted = 1000 * i64::try_from(accounts).unwrap();
    // A fixed pseudo-random walk, so a failure can be replayed.
    let mut state = 0x2545_F491_4F6C_DD1D_u64;
    let mut next = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        usize::try_from(state % n as u64).unwrap()
    };
    let mut plan = Vec::new();
    for t in 0..transfers {
        let from = next(accounts);
        let to = (from + 1 + next(accounts - 1)) % accounts;
        let amount = 1 + i64::try_from(next(60)).unwrap();
        // Every 20th transfer is sent five times at once.
        let copies = if t % 20 == 0 { 5 } else { 1 };
        for _ in 0..copies {
            plan.push((from, to, amount, format!("t{t}")));
        }
    }
    let sent = plan.len();
    let outcomes: Vec<(String, Option<String>)> = stream::iter(plan)
        .map(|(from, to, amount, key)| {
            let (app, players, coins) = (&app, &players, &coins);
            async move {
                let done = send(app, &players[from], &players[to].id, coins, amount, &key).await;
                let code = done.body["errors"][0]["extensions"]["code"]
                    .as_str()
                    .map(str::to_owned);
                (key, code)
            }
        })
        .buffer_unordered(at_once)
        .collect()
        .await;
    assert_eq!(outcomes.len(), sent);
    let mut codes: HashMap<Option<String>, usize> = HashMap::new();
    for (_, code) in &outcomes {
        *codes.entry(code.clone()).or_default() += 1;
    }
    for code in codes.keys().flatten() {
        assert_eq!(code, "INSUFFICIENT_FUNDS", "{codes:?}");
    }
    let rows = transaction::Entity::find()
        .filter(transaction::Column::Kind.eq("transfer"))
        .all(&app.ctx.db)
        .await
        .unwrap();
    let mut keys: HashMap<&str, usize> = HashMap::new();
    for row in &rows {
        *keys
            .entry(row.idempotency_key.as_deref().unwrap())
            .or_default() += 1;
    }
    assert!(keys.values().all(|&n| n == 1), "a key applied twice");
    assert!(
        rows.len() <= transfers && rows.len() > transfers / 2,
        "{} of {transfers} applied",
        rows.len()
    );

    let balances = account_balance::Entity::find()
        .all(&app.ctx.db)
        .await
        .unwrap();
    let players_hold: i64 = balances
        .iter()
        .filter(|b| b.user_id.is_some())
        .map(|b| b.amount)
        .sum();
    assert_eq!(players_hold, minted, "every unit conserved");
    assert!(
        balances
            .iter()
            .filter(|b| b.user_id.is_some())
            .all(|b| b.amount >= 0)
    );
    let system: i64 = balances
        .iter()
        .filter(|b| b.user_id.is_none())
        .map(|b| b.amount)
        .sum();
    assert_eq!(system, -minted);
    // Replaying the ledger gives every balance.
    let mut replay: HashMap<Option<uuid::Uuid>, i64> = HashMap::new();
    for row in transaction::Entity::find().all(&app.ctx.db).await.unwrap() {
        *replay.entry(row.user_id).or_default() -= row.amount;
        *replay.entry(row.recipient_id).or_default() += row.amount;
    }
    for account in balances
        .iter()
        .filter(|b| b.currency_id.to_string() == coins)
    {
        assert_eq!(
            replay.get(&account.user_id).copied().unwrap_or(0),
            account.amount
        );
    }
    let totals = app
        .gql_as(
            &admin.access,
            "{ currencyTotals { balanced circulating } }",
            json!({}),
        )
        .await;
    assert_eq!(
        totals.data()["currencyTotals"][0],
        json!({ "balanced": true, "circulating": minted })
    );
}

fn many_signups(settings: &mut Settings) {
    settings.bcrypt_queue = 1024;
}

#[tokio::test]
async fn ten_thousand_parallel_transfers_conserve_every_unit_postgres() {
    transfers_race(
        TestApp::spawn_with(Backend::Postgres, many_signups).await,
        50,
        10_000,
        200,
    )
    .await;
}

#[tokio::test]
async fn parallel_transfers_conserve_every_unit_sqlite() {
    transfers_race(
        TestApp::spawn_with(Backend::Sqlite, many_signups).await,
        20,
        1_000,
        50,
    )
    .await;
}

arena_tests::on_both_backends! {
    async fn a_transaction_is_refunded_once_even_when_asked_at_once(app) {
        let admin = UserBuilder::new("admin").with_role("admin").create(&app).await;
        let ann = UserBuilder::new("ann").create(&app).await;
        let bob = UserBuilder::new("bob").create(&app).await;
        let coins = coins(&app).await;
        issue(&app, &admin, "mint", &ann, &coins, 50, "m").await.data();
        let sent = send(&app, &ann, &bob.id, &coins, 20, "k").await;
        let id = sent.data()["transfer"]["transaction"]["id"].as_str().unwrap().to_owned();
        let refund = "mutation($t: ID!, $r: String!) { refund(transactionId: $t, reason: $r) { alreadyApplied transaction { id kind amount previousTransactionId payer { username } recipient { username } } } }";
        assert_eq!(
            app.gql_as(&ann.access, refund, json!({ "t": id, "r": "mistake" })).await.codes(),
            ["FORBIDDEN"]
        );
        let answers = join_all((0..10).map(|_| app.gql_as(&admin.access, refund, json!({ "t": id, "r": "mistake" })))).await;
        let mut refunds = Vec::new();
        for answer in &answers {
            match answer.body["errors"][0]["extensions"]["code"].as_str() {
                None => refunds.push(answer.data()["refund"]["transaction"].clone()),
                Some(code) => assert_eq!(code, "CONFLICT", "{:#}", answer.body),
            }
        }
        assert!(!refunds.is_empty());
        assert!(refunds.iter().all(|r| r["id"] == refunds[0]["id"]), "one refund: {refunds:?}");
        assert_eq!(refunds[0]["kind"], "REFUND");
        assert_eq!(refunds[0]["previousTransactionId"], id);
        assert_eq!(refunds[0]["payer"]["username"], "bob");
        assert_eq!(refunds[0]["recipient"]["username"], "ann");
        assert_eq!((balance(&app, &ann).await, balance(&app, &bob).await), (50, 0));
        let audited = audit_entry::Entity::find()
            .filter(audit_entry::Column::Action.eq("bank.refund"))
            .count(&app.ctx.db)
            .await
            .unwrap();
        assert_eq!(audited, 1);
        // A refund is not refunded; a spent payment cannot be taken back.
        let again = app
            .gql_as(&admin.access, refund, json!({ "t": refunds[0]["id"], "r": "again" }))
            .await;
        assert_eq!(again.codes(), ["BAD_USER_INPUT"]);
        let spent = send(&app, &ann, &bob.id, &coins, 50, "k2").await;
        let spent_id = spent.data()["transfer"]["transaction"]["id"].clone();
        send(&app, &bob, &admin.id, &coins, 10, "k3").await.data();
        let short = app.gql_as(&admin.access, refund, json!({ "t": spent_id, "r": "late" })).await;
        assert_eq!(short.codes(), ["INSUFFICIENT_FUNDS"]);
        let missing = app.gql_as(&admin.access, refund, json!({ "t": "999999", "r": "none" })).await;
        assert_eq!(missing.codes(), ["NOT_FOUND"]);
    }
}

async fn send_linked(
    app: &TestApp,
    from: &TestUser,
    currency: &str,
    legs: &[(&str, i64)],
    key: &str,
) -> arena_tests::GqlResponse {
    let legs: Vec<Value> = legs
        .iter()
        .map(|(to, amount)| json!({ "recipientId": to, "amount": amount }))
        .collect();
    app.gql_as(
        &from.access,
        "mutation($i: LinkedTransferInput!) { transferLinked(input: $i) { alreadyApplied transactions { id amount recipient { username } } } }",
        json!({ "i": { "currencyId": currency, "legs": legs, "idempotencyKey": key } }),
    )
    .await
}

arena_tests::on_both_backends! {
    async fn linked_legs_apply_together_or_not_at_all(app) {
        let admin = UserBuilder::new("admin").with_role("admin").create(&app).await;
        let ann = UserBuilder::new("ann").create(&app).await;
        let bob = UserBuilder::new("bob").create(&app).await;
        let cat = UserBuilder::new("cat").create(&app).await;
        let coins = coins(&app).await;
        issue(&app, &admin, "mint", &ann, &coins, 100, "m").await.data();
        let split = [(bob.id.as_str(), 30), (cat.id.as_str(), 20)];

        // Five copies at once: one applies, the others return it.
        let answers = join_all((0..5).map(|_| send_linked(&app, &ann, &coins, &split, "L1"))).await;
        let firsts: Vec<&Value> = answers.iter().map(|a| &a.data()["transferLinked"]).collect();
        assert_eq!(firsts.iter().filter(|a| a["alreadyApplied"] == false).count(), 1, "{firsts:?}");
        assert!(firsts.iter().all(|a| a["transactions"] == firsts[0]["transactions"]));
        let legs = firsts[0]["transactions"].as_array().unwrap();
        assert_eq!(legs.iter().map(|t| t["recipient"]["username"].as_str().unwrap()).collect::<Vec<_>>(), ["bob", "cat"]);
        let three = || async { (balance(&app, &ann).await, balance(&app, &bob).await, balance(&app, &cat).await) };
        assert_eq!(three().await, (50, 30, 20));

        // The key with other content.
        let more = send_linked(&app, &ann, &coins, &[(bob.id.as_str(), 30), (cat.id.as_str(), 21)], "L1").await;
        assert_eq!(more.codes(), ["CONFLICT"]);
        assert!(more.body["errors"][0]["message"].as_str().unwrap().contains("amount differs"));
        let longer = send_linked(&app, &ann, &coins, &[split[0], split[1], (admin.id.as_str(), 1)], "L1").await;
        assert_eq!(longer.codes(), ["CONFLICT"]);
        let shorter = send_linked(&app, &ann, &coins, &split[..1], "L1").await;
        assert_eq!(shorter.codes(), ["CONFLICT"]);

        // One leg refused refuses them all, and writes nothing.
        let rows = transaction::Entity::find().count(&app.ctx.db).await.unwrap();
        let too_much = send_linked(&app, &ann, &coins, &[(bob.id.as_str(), 30), (cat.id.as_str(), 21)], "L2").await;
        assert_eq!(too_much.codes(), ["INSUFFICIENT_FUNDS"]);
        let nobody = send_linked(&app, &ann, &coins, &[(bob.id.as_str(), 1), ("00000000-0000-0000-0000-000000000009", 1)], "L3").await;
        assert_eq!(nobody.codes(), ["NOT_FOUND"]);
        app.gql_as(&cat.access, "mutation($u: ID!) { block(userId: $u) { __typename } }", json!({ "u": ann.id }))
            .await
            .data();
        let blocked = send_linked(&app, &ann, &coins, &split, "L4").await;
        assert_eq!(blocked.codes(), ["FORBIDDEN"]);
        for (legs, key) in [(&[][..], "L5"), (&[(bob.id.as_str(), 0)][..], "L6"), (&[(ann.id.as_str(), 1)][..], "L7")] {
            assert_eq!(send_linked(&app, &ann, &coins, legs, key).await.codes(), ["BAD_USER_INPUT"], "{key}");
        }
        assert_eq!(transaction::Entity::find().count(&app.ctx.db).await.unwrap(), rows);
        assert_eq!(three().await, (50, 30, 20));
    }
}

async fn balances_of(app: &TestApp, who: &TestUser) -> (i64, i64) {
    let found = app
        .gql_as(&who.access, "{ balances { amount } }", json!({}))
        .await;
    let all = &found.data()["balances"];
    (
        all[0]["amount"].as_i64().unwrap(),
        all[1]["amount"].as_i64().unwrap(),
    )
}

arena_tests::on_both_backends! {
    async fn conversions_follow_the_rule_valid_now_and_its_volume(app) {
        let admin = UserBuilder::new("admin").with_role("admin").create(&app).await;
        let ann = UserBuilder::new("ann").create(&app).await;
        let coins = coins(&app).await;
        let gems = "2";
        let rule = "mutation($i: ConversionInput!) { createConversion(input: $i) { id ratio volume source { name } destination { name } } }";
        let hour = chrono::Duration::hours(1);
        let now = chrono::Utc::now();
        assert_eq!(
            app.gql_as(&ann.access, rule, json!({ "i": { "sourceId": coins, "destinationId": gems, "ratio": 10 } })).await.codes(),
            ["FORBIDDEN"]
        );
        for bad in [
            json!({ "sourceId": coins, "destinationId": coins, "ratio": 10 }),
            json!({ "sourceId": coins, "destinationId": gems, "ratio": 0 }),
            json!({ "sourceId": coins, "destinationId": gems, "ratio": 2, "validFrom": now, "validTo": now - hour }),
        ] {
            assert_eq!(app.gql_as(&admin.access, rule, json!({ "i": bad })).await.codes(), ["BAD_USER_INPUT"]);
        }
        let made = app
            .gql_as(&admin.access, rule, json!({ "i": { "sourceId": coins, "destinationId": gems, "ratio": 10, "volume": 50 } }))
            .await;
        assert_eq!(made.data()["createConversion"]["destination"]["name"], "gems");
        // Rules that ended, or have not begun, apply to nobody.
        for (from, to) in [(now - hour * 2, Some(now - hour)), (now + hour, None)] {
            app.gql_as(&admin.access, rule, json!({ "i": { "sourceId": gems, "destinationId": coins, "ratio": 1, "validFrom": from, "validTo": to } }))
                .await
                .data();
        }
        issue(&app, &admin, "mint", &ann, &coins, 100, "m").await.data();
        let convert = |from: &str, to: &str, amount: i64, key: &str| {
            let (app, token) = (&app, ann.access.clone());
            let variables = json!({ "i": { "fromCurrencyId": from, "toCurrencyId": to, "amount": amount, "idempotencyKey": key } });
            async move {
                app.gql_as(&token, "mutation($i: ConvertInput!) { convert(input: $i) { alreadyApplied paid { kind amount } received { kind amount } } }", variables).await
            }
        };
        assert_eq!(convert(gems, &coins, 1, "g").await.codes(), ["BAD_USER_INPUT"]);
        let first = convert(&coins, gems, 30, "c1").await;
        assert_eq!(
            first.data()["convert"],
            json!({ "alreadyApplied": false, "paid": { "kind": "BURN", "amount": 30 }, "received": { "kind": "MINT", "amount": 300 } })
        );
        assert_eq!(convert(&coins, gems, 30, "c1").await.data()["convert"]["alreadyApplied"], true);
        assert_eq!(balances_of(&app, &ann).await, (70, 300));
        let over = convert(&coins, gems, 30, "c2").await;
        assert_eq!(over.codes(), ["CONFLICT"]);
        assert!(over.body["errors"][0]["message"].as_str().unwrap().contains("20 of its 50"));
        convert(&coins, gems, 20, "c3").await.data();
        assert_eq!(balances_of(&app, &ann).await, (50, 500));
        // A newer unlimited rule takes over; a conversion beyond the balance moves nothing.
        app.gql_as(&admin.access, rule, json!({ "i": { "sourceId": coins, "destinationId": gems, "ratio": 2 } }))
            .await
            .data();
        assert_eq!(convert(&coins, gems, 60, "c4").await.codes(), ["INSUFFICIENT_FUNDS"]);
        assert_eq!(balances_of(&app, &ann).await, (50, 500));
        let totals = app
            .gql_as(&admin.access, "{ currencyTotals { circulating minted burned balanced } }", json!({}))
            .await;
        assert_eq!(
            totals.data()["currencyTotals"],
            json!([
                { "circulating": 50, "minted": 100, "burned": 50, "balanced": true },
                { "circulating": 500, "minted": 500, "burned": 0, "balanced": true },
            ])
        );
        let listed = app.gql("{ conversions { ratio volume } }", json!({})).await;
        assert_eq!(listed.data()["conversions"].as_array().unwrap().len(), 4);
    }
}

/// The longest key a client may send works for every kind of request, with the prefix each
/// kind stores it under; one character more is refused.
#[tokio::test]
async fn the_longest_idempotency_key_fits_every_request() {
    let app = TestApp::spawn_on(Backend::Postgres).await;
    let admin = UserBuilder::new("admin")
        .with_role("admin")
        .create(&app)
        .await;
    let ann = UserBuilder::new("ann").create(&app).await;
    let bob = UserBuilder::new("bob").create(&app).await;
    let coins = coins(&app).await;
    let longest = "k".repeat(128);
    issue(&app, &admin, "mint", &ann, &coins, 10, &longest)
        .await
        .data();
    send(&app, &ann, &bob.id, &coins, 1, &longest).await.data();
    issue(&app, &admin, "burn", &bob, &coins, 1, &longest)
        .await
        .data();
    app.gql_as(&admin.access, "mutation { createConversion(input: { sourceId: \"1\", destinationId: \"2\", ratio: 2 }) { id } }", json!({}))
        .await
        .data();
    let converted = app
        .gql_as(&ann.access, "mutation($k: String!) { convert(input: { fromCurrencyId: \"1\", toCurrencyId: \"2\", amount: 1, idempotencyKey: $k }) { alreadyApplied } }", json!({ "k": longest }))
        .await;
    converted.data();
    let too_long = "k".repeat(129);
    assert_eq!(
        send(&app, &ann, &bob.id, &coins, 1, &too_long)
            .await
            .codes(),
        ["BAD_USER_INPUT"]
    );
    assert_eq!(
        issue(&app, &admin, "mint", &ann, &coins, 1, &too_long)
            .await
            .codes(),
        ["BAD_USER_INPUT"]
    );
}
