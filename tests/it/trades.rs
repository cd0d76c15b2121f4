//! Holds, trades with escrow, resale and gifts: money held can be spent nowhere else and is
//! posted in part or returned; a trade's copies and money are in escrow from the moment it
//! is sent and swap in one transaction; concurrent offers and confirmations of one copy leave
//! it with exactly one owner and an unbroken chain.

use std::time::Duration;

use arena_api::settings::Settings;
use arena_entity::store::ownership;
use arena_tests::{Backend, GqlResponse, TestApp, TestUser, UserBuilder, trusting};
use futures_util::future::join_all;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

/// As [`trusting`], sweeping what ran out every 100 ms.
fn sweeping(settings: &mut Settings) {
    trusting(settings);
    settings.expiry_sweep_ms = 100;
}

const TRADE: &str = "id status reason offeredItems { id content { id } } requestedItems { id } offeredMoney { amount } hold { state amount } history { status actor { username } }";

struct Market {
    app: TestApp,
    admin: TestUser,
    cat: TestUser,
}

impl Market {
    async fn new(app: TestApp) -> Self {
        let admin = UserBuilder::new("admin")
            .with_role("admin")
            .create(&app)
            .await;
        let cat = UserBuilder::new("cat").create(&app).await;
        Self { app, admin, cat }
    }

    /// A tradeable, resellable hat of `cat`'s on sale for free with a stock of 10.
    async fn hat(&self, name: &str) -> String {
        self.app
            .published_item(
                &self.cat.access,
                json!({ "type": "HAT", "name": name, "onsale": true, "tradeable": true, "marketable": true, "stock": 10 }),
            )
            .await
    }

    async fn player(&self, name: &str, coins: i64) -> TestUser {
        let user = UserBuilder::new(name).create(&self.app).await;
        if coins > 0 {
            self.app
                .gql_as(
                    &self.admin.access,
                    "mutation($i: IssueInput!) { mint(input: $i) { alreadyApplied } }",
                    json!({ "i": { "userId": user.id, "currencyId": "1", "amount": coins, "reason": "test", "idempotencyKey": format!("seed-{}", user.id) } }),
                )
                .await
                .data();
        }
        user
    }

    async fn buy(&self, who: &TestUser, item: &str) -> GqlResponse {
        self.purchase(who, json!({ "contentId": item, "currency": "WHOLE", "idempotencyKey": format!("buy-{item}") }))
            .await
    }

    async fn purchase(&self, who: &TestUser, input: Value) -> GqlResponse {
        self.app
            .gql_as(
                &who.access,
                "mutation($i: PurchaseInput!) { purchase(input: $i) { alreadyApplied ownership { id source serial purchasePrice owner { username } } } }",
                json!({ "i": input }),
            )
            .await
    }

    /// (spendable, held) coins.
    async fn coins(&self, who: &TestUser) -> (i64, i64) {
        let found = self
            .app
            .gql_as(&who.access, "{ balances { amount held } }", json!({}))
            .await;
        let coins = &found.data()["balances"][0];
        (
            coins["amount"].as_i64().unwrap(),
            coins["held"].as_i64().unwrap(),
        )
    }

    async fn offer(&self, from: &TestUser, to: &TestUser, input: Value) -> GqlResponse {
        let mut input = input;
        input["recipientId"] = json!(to.id);
        self.app
            .gql_as(
                &from.access,
                &format!(
                    "mutation($i: OfferTradeInput!) {{ offerTrade(input: $i) {{ alreadyApplied trade {{ {TRADE} }} }} }}"
                ),
                json!({ "i": input }),
            )
            .await
    }

    async fn step(&self, who: &TestUser, mutation: &str, id: &Value) -> GqlResponse {
        self.app
            .gql_as(
                &who.access,
                &format!("mutation($id: ID!) {{ {mutation}(id: $id) {{ {TRADE} }} }}"),
                json!({ "id": id }),
            )
            .await
    }

    /// The live owners of `item` (not its author).
    async fn owners(&self, item: &str) -> Vec<uuid::Uuid> {
        ownership::Entity::find()
            .filter(ownership::Column::ContentId.eq(item.parse::<i32>().unwrap()))
            .filter(ownership::Column::EndedAt.is_null())
            .filter(ownership::Column::Source.ne("author"))
            .all(&self.app.ctx.db)
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.user_id)
            .collect()
    }

    async fn balanced(&self) {
        let totals = self
            .app
            .gql_as(
                &self.admin.access,
                "{ currencyTotals { balanced } }",
                json!({}),
            )
            .await;
        for currency in totals.data()["currencyTotals"].as_array().unwrap() {
            assert_eq!(currency["balanced"], true, "{totals:?}");
        }
    }
}

fn statuses(trade: &Value) -> Vec<String> {
    trade["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap().to_owned())
        .collect()
}

async fn trading(app: TestApp) {
    let market = Market::new(app).await;
    let ann = market.player("ann", 100).await;
    let bob = market.player("bob", 100).await;
    let sword = market.hat("Sword").await;
    let shield = market.hat("Shield").await;
    market.buy(&ann, &sword).await.data();
    market.buy(&bob, &shield).await.data();

    // Ann offers her sword and 30 coins for Bob's shield.
    let input = json!({
        "offeredItems": [sword], "requestedItems": [shield],
        "offeredMoney": { "currencyId": "1", "amount": 30 }, "idempotencyKey": "t1",
    });
    let sent = market.offer(&ann, &bob, input.clone()).await;
    let trade = sent.data()["offerTrade"]["trade"].clone();
    assert_eq!(trade["status"], "SENT");
    assert_eq!(trade["hold"], json!({ "state": "PENDING", "amount": 30 }));
    assert_eq!(market.coins(&ann).await, (70, 30));
    // The same request again is the same trade; the escrow holds once.
    let again = market.offer(&ann, &bob, input).await;
    assert_eq!(again.data()["offerTrade"]["alreadyApplied"], true);
    assert_eq!(again.data()["offerTrade"]["trade"]["id"], trade["id"]);
    assert_eq!(market.coins(&ann).await, (70, 30));

    // In escrow: the sword goes into no other trade and onto no listing, and the held
    // coins are spent nowhere.
    let carl = market.player("carl", 0).await;
    let elsewhere = market
        .offer(&ann, &carl, json!({ "offeredItems": [sword], "requestedMoney": { "currencyId": "1", "amount": 1 }, "idempotencyKey": "t2" }))
        .await;
    assert_eq!(elsewhere.codes(), ["CONFLICT"]);
    let listed = market
        .app
        .gql_as(
            &ann.access,
            "mutation($c: ID!) { listForResale(contentId: $c, currency: WHOLE, price: 5) { id } }",
            json!({ "c": sword }),
        )
        .await;
    assert_eq!(listed.codes(), ["CONFLICT"]);
    let spend = market
        .app
        .gql_as(&ann.access, "mutation($i: TransferInput!) { transfer(input: $i) { alreadyApplied } }", json!({ "i": { "recipientId": carl.id, "currencyId": "1", "amount": 71, "idempotencyKey": "x" } }))
        .await;
    assert_eq!(spend.codes(), ["INSUFFICIENT_FUNDS"]);
    // Only the recipient acts on it, and only the sender cancels it.
    assert_eq!(
        market
            .step(&ann, "confirmTrade", &trade["id"])
            .await
            .codes(),
        ["FORBIDDEN"]
    );
    assert_eq!(
        market
            .step(&carl, "confirmTrade", &trade["id"])
            .await
            .codes(),
        ["NOT_FOUND"]
    );

    market.step(&bob, "openTrade", &trade["id"]).await.data();
    let done = market.step(&bob, "confirmTrade", &trade["id"]).await;
    let done = done.data()["confirmTrade"].clone();
    assert_eq!(done["status"], "CONFIRMED");
    assert_eq!(statuses(&done), ["SENT", "OPENED", "CONFIRMED"]);
    assert_eq!(done["hold"]["state"], "POSTED");
    assert_eq!(market.coins(&ann).await, (70, 0));
    assert_eq!(market.coins(&bob).await, (130, 0));
    assert_eq!(market.owners(&sword).await, [bob.uuid()]);
    assert_eq!(market.owners(&shield).await, [ann.uuid()]);
    // Confirming again changes nothing.
    let twice = market.step(&bob, "confirmTrade", &trade["id"]).await;
    assert_eq!(twice.data()["confirmTrade"]["status"], "CONFIRMED");
    assert_eq!(market.coins(&bob).await, (130, 0));
    // Both chains go on: the purchase ended, the trade began.
    let chain = market
        .app
        .gql_as(&bob.access, "query($c: ID!) { ownershipChain(contentId: $c, serial: 1) { source endedAt owner { username } } }", json!({ "c": sword }))
        .await;
    let hands = chain.data()["ownershipChain"].as_array().unwrap().clone();
    assert_eq!(hands.len(), 2);
    assert_eq!(
        (
            hands[0]["source"].clone(),
            hands[0]["owner"]["username"].clone(),
            hands[0]["endedAt"].is_string()
        ),
        (json!("PURCHASE"), json!("ann"), true)
    );
    assert_eq!(
        (
            hands[1]["source"].clone(),
            hands[1]["owner"]["username"].clone()
        ),
        (json!("TRADE"), json!("bob"))
    );

    // Rejected and cancelled trades give everything back.
    let back = market
        .offer(&bob, &ann, json!({ "offeredItems": [sword], "offeredMoney": { "currencyId": "1", "amount": 50 }, "requestedItems": [shield], "idempotencyKey": "t3" }))
        .await;
    let back = back.data()["offerTrade"]["trade"].clone();
    assert_eq!(market.coins(&bob).await, (80, 50));
    let rejected = market.step(&ann, "rejectTrade", &back["id"]).await;
    assert_eq!(rejected.data()["rejectTrade"]["status"], "REJECTED");
    assert_eq!(rejected.data()["rejectTrade"]["hold"]["state"], "VOIDED");
    assert_eq!(market.coins(&bob).await, (130, 0));
    assert_eq!(
        market.step(&ann, "confirmTrade", &back["id"]).await.codes(),
        ["CONFLICT"]
    );
    let cancel = market
        .offer(&bob, &ann, json!({ "offeredItems": [sword], "requestedMoney": { "currencyId": "1", "amount": 5 }, "idempotencyKey": "t4" }))
        .await;
    let cancel = cancel.data()["offerTrade"]["trade"].clone();
    let cancelled = market.step(&bob, "cancelTrade", &cancel["id"]).await;
    assert_eq!(cancelled.data()["cancelTrade"]["status"], "CANCELLED");
    // The sword is free again.
    let free = ownership::Entity::find()
        .filter(ownership::Column::TradeId.is_not_null())
        .all(&market.app.ctx.db)
        .await
        .unwrap();
    assert!(free.is_empty(), "{free:?}");

    // An offered copy that stopped being tradeable returns the trade to its sender.
    let stale = market
        .offer(&bob, &ann, json!({ "offeredItems": [sword], "offeredMoney": { "currencyId": "1", "amount": 10 }, "requestedMoney": { "currencyId": "1", "amount": 1 }, "idempotencyKey": "t5" }))
        .await;
    let stale = stale.data()["offerTrade"]["trade"].clone();
    arena_entity::catalog::content::Entity::update_many()
        .col_expr(
            arena_entity::catalog::content::Column::Tradeable,
            sea_orm::sea_query::Expr::value(false),
        )
        .filter(arena_entity::catalog::content::Column::Id.eq(sword.parse::<i32>().unwrap()))
        .exec(&market.app.ctx.db)
        .await
        .unwrap();
    let returned = market.step(&ann, "confirmTrade", &stale["id"]).await;
    let returned = returned.data()["confirmTrade"].clone();
    assert_eq!(returned["status"], "RETURN_TO_SENDER");
    assert!(returned["reason"].as_str().unwrap().contains("no longer"));
    assert_eq!(market.coins(&bob).await, (130, 0));
    assert_eq!(market.owners(&sword).await, [bob.uuid()]);

    // Blocked players do not trade.
    market
        .app
        .gql_as(
            &ann.access,
            "mutation($u: ID!) { block(userId: $u) { __typename } }",
            json!({ "u": bob.id }),
        )
        .await
        .data();
    let blocked = market
        .offer(&bob, &ann, json!({ "offeredMoney": { "currencyId": "1", "amount": 1 }, "requestedItems": [shield], "idempotencyKey": "t6" }))
        .await;
    assert_eq!(blocked.codes(), ["FORBIDDEN"]);

    // The inbox and outbox.
    let inbox = market
        .app
        .gql_as(
            &ann.access,
            "{ trades(box: INBOX) { totalCount } outbox: trades(box: OUTBOX) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(inbox.data()["trades"]["totalCount"], 3);
    assert_eq!(inbox.data()["outbox"]["totalCount"], 1);
    market.balanced().await;
}

#[tokio::test]
async fn trades_swap_items_and_money_from_escrow_postgres() {
    trading(TestApp::spawn_with(Backend::Postgres, trusting).await).await;
}

#[tokio::test]
async fn trades_swap_items_and_money_from_escrow_sqlite() {
    trading(TestApp::spawn_with(Backend::Sqlite, trusting).await).await;
}

async fn holding(app: TestApp) {
    let market = Market::new(app).await;
    let ann = market.player("ann", 100).await;
    let bob = market.player("bob", 0).await;
    let hold = |amount: i64, key: &str, timeout: u32| json!({ "i": { "transfer": { "recipientId": bob.id, "currencyId": "1", "amount": amount, "idempotencyKey": key }, "timeoutSeconds": timeout } });
    let held = market
        .app
        .gql_as(&ann.access, "mutation($i: HoldInput!) { holdTransfer(input: $i) { transaction { id state confirmed } } }", hold(40, "h1", 600))
        .await;
    let first = held.data()["holdTransfer"]["transaction"].clone();
    assert_eq!(
        (first["state"].clone(), first["confirmed"].clone()),
        (json!("PENDING"), json!(false))
    );
    assert_eq!(market.coins(&ann).await, (60, 40));
    let too_much = market
        .app
        .gql_as(
            &ann.access,
            "mutation($i: HoldInput!) { holdTransfer(input: $i) { transaction { id } } }",
            hold(61, "h2", 600),
        )
        .await;
    assert_eq!(too_much.codes(), ["INSUFFICIENT_FUNDS"]);

    let settle = |who: &TestUser, mutation: &str, amount: Option<i64>| {
        let (app, token, id) = (&market.app, who.access.clone(), first["id"].clone());
        let query = if mutation == "postTransfer" {
            "mutation($id: ID!, $a: Int) { postTransfer(transactionId: $id, amount: $a) { alreadyApplied transaction { amount pendingId } } }"
        } else {
            "mutation($id: ID!) { voidTransfer(transactionId: $id) { alreadyApplied transaction { state } } }"
        };
        async move {
            app.gql_as(&token, query, json!({ "id": id, "a": amount }))
                .await
        }
    };
    // The payer cannot take a hold back early; the recipient takes part of it.
    assert_eq!(
        settle(&ann, "voidTransfer", None).await.codes(),
        ["FORBIDDEN"]
    );
    assert_eq!(
        settle(&bob, "postTransfer", Some(41)).await.codes(),
        ["BAD_USER_INPUT"]
    );
    let posted = settle(&bob, "postTransfer", Some(25)).await;
    assert_eq!(
        posted.data()["postTransfer"]["transaction"],
        json!({ "amount": 25, "pendingId": first["id"] })
    );
    assert_eq!(market.coins(&ann).await, (75, 0));
    assert_eq!(market.coins(&bob).await, (25, 0));
    let again = settle(&bob, "postTransfer", Some(25)).await;
    assert_eq!(again.data()["postTransfer"]["alreadyApplied"], true);
    assert_eq!(
        settle(&bob, "voidTransfer", None).await.codes(),
        ["CONFLICT"]
    );
    assert_eq!(market.coins(&bob).await, (25, 0));

    // A hold past its timeout returns by itself.
    market
        .app
        .gql_as(
            &ann.access,
            "mutation($i: HoldInput!) { holdTransfer(input: $i) { transaction { id } } }",
            hold(30, "h3", 1),
        )
        .await
        .data();
    assert_eq!(market.coins(&ann).await, (45, 30));
    let mut waited = 0;
    while market.coins(&ann).await != (75, 0) {
        assert!(waited < 100, "the hold did not expire");
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += 1;
    }
    market.balanced().await;
}

#[tokio::test]
async fn holds_post_in_part_void_and_expire_postgres() {
    holding(TestApp::spawn_with(Backend::Postgres, sweeping).await).await;
}

#[tokio::test]
async fn holds_post_in_part_void_and_expire_sqlite() {
    holding(TestApp::spawn_with(Backend::Sqlite, sweeping).await).await;
}

#[tokio::test]
async fn an_unanswered_trade_expires_back_to_its_sender() {
    let app = TestApp::spawn_with(Backend::Postgres, |s| {
        sweeping(s);
        s.trade_expiry_seconds = 1;
    })
    .await;
    let market = Market::new(app).await;
    let ann = market.player("ann", 50).await;
    let bob = market.player("bob", 0).await;
    let sword = market.hat("Sword").await;
    market.buy(&ann, &sword).await.data();
    let sent = market
        .offer(&ann, &bob, json!({ "offeredItems": [sword], "offeredMoney": { "currencyId": "1", "amount": 20 }, "requestedMoney": { "currencyId": "1", "amount": 1 }, "idempotencyKey": "t" }))
        .await;
    let id = sent.data()["offerTrade"]["trade"]["id"].clone();
    let mut waited = 0;
    loop {
        let found = market
            .app
            .gql_as(
                &ann.access,
                &format!("query($id: ID!) {{ trade(id: $id) {{ {TRADE} }} }}"),
                json!({ "id": id }),
            )
            .await;
        let trade = found.data()["trade"].clone();
        if trade["status"] == "RETURN_TO_SENDER" {
            assert_eq!(trade["reason"], "expired");
            assert_eq!(trade["hold"]["state"], "EXPIRED");
            assert_eq!(statuses(&trade), ["SENT", "RETURN_TO_SENDER"]);
            break;
        }
        assert!(waited < 100, "the trade did not expire: {trade}");
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += 1;
    }
    assert_eq!(market.coins(&ann).await, (50, 0));
    assert_eq!(
        market.step(&bob, "confirmTrade", &id).await.codes(),
        ["CONFLICT"]
    );
}

/// One copy offered in many trades at once goes into one; copies asked for by two trades
/// confirmed at once go to one of them; each ends with exactly one owner and an unbroken
/// chain, and the money balances.
#[tokio::test]
async fn concurrent_trades_of_one_copy_leave_one_owner() {
    let app = TestApp::spawn_with(Backend::Postgres, trusting).await;
    let market = Market::new(app).await;
    let ann = market.player("ann", 0).await;
    let sword = market.hat("Sword").await;
    market.buy(&ann, &sword).await.data();
    let names: Vec<String> = (0..20).map(|i| format!("bidder{i:02}")).collect();
    let bidders: Vec<TestUser> = join_all(names.iter().map(|n| market.player(n, 100))).await;

    // Ann offers her one sword to twenty players at once: one trade takes it.
    let offers = join_all(bidders.iter().enumerate().map(|(i, to)| {
        market.offer(&ann, to, json!({ "offeredItems": [sword], "requestedMoney": { "currencyId": "1", "amount": 10 }, "idempotencyKey": format!("o{i}") }))
    }))
    .await;
    let sent: Vec<&GqlResponse> = offers
        .iter()
        .filter(|o| o.body["errors"].is_null())
        .collect();
    assert_eq!(sent.len(), 1);
    assert!(
        offers
            .iter()
            .filter(|o| !o.body["errors"].is_null())
            .all(|o| o.codes() == ["CONFLICT"])
    );
    market
        .step(
            &ann,
            "cancelTrade",
            &sent[0].data()["offerTrade"]["trade"]["id"],
        )
        .await
        .data();

    // Every bidder asks for the sword at once, then Ann confirms all of them at once.
    let asks = join_all(bidders.iter().enumerate().map(|(i, from)| {
        market.offer(from, &ann, json!({ "offeredMoney": { "currencyId": "1", "amount": 10 + i }, "requestedItems": [sword], "idempotencyKey": "ask" }))
    }))
    .await;
    let ids: Vec<Value> = asks
        .iter()
        .map(|a| a.data()["offerTrade"]["trade"]["id"].clone())
        .collect();
    let confirmed = join_all(ids.iter().map(|id| market.step(&ann, "confirmTrade", id))).await;
    let winners: Vec<&GqlResponse> = confirmed
        .iter()
        .filter(|c| c.body["errors"].is_null())
        .collect();
    assert_eq!(winners.len(), 1, "{confirmed:?}");
    assert!(
        confirmed
            .iter()
            .filter(|c| !c.body["errors"].is_null())
            .all(|c| c.codes() == ["CONFLICT"])
    );
    let owners = market.owners(&sword).await;
    assert_eq!(owners.len(), 1);
    assert_ne!(owners[0], ann.uuid());
    // The chain: Ann's purchase, ended, then the winner's trade pointing to it.
    let hands = ownership::Entity::find()
        .filter(ownership::Column::ContentId.eq(sword.parse::<i32>().unwrap()))
        .filter(ownership::Column::Source.ne("author"))
        .all(&market.app.ctx.db)
        .await
        .unwrap();
    assert_eq!(hands.len(), 2);
    assert_eq!(hands[1].previous_ownership_id, Some(hands[0].id));
    assert!(hands[0].ended_at.is_some() && hands[1].ended_at.is_none());
    // The losers still hold their offers in escrow until they cancel or it expires.
    let held: i64 = join_all(bidders.iter().map(|b| market.coins(b)))
        .await
        .iter()
        .map(|c| c.1)
        .sum();
    let offered: i64 = (0..20).map(|i| 10 + i).sum();
    let won = winners[0].data()["confirmTrade"]["offeredMoney"]["amount"]
        .as_i64()
        .unwrap();
    assert_eq!(held, offered - won);
    market.balanced().await;
}

async fn reselling(app: TestApp) {
    let market = Market::new(app).await;
    let ann = market.player("ann", 0).await;
    let bob = market.player("bob", 100).await;
    let carl = market.player("carl", 0).await;
    let sword = market.hat("Sword").await;
    market.buy(&ann, &sword).await.data();

    let listed = market
        .app
        .gql_as(&ann.access, "mutation($c: ID!) { listForResale(contentId: $c, currency: WHOLE, price: 50) { id listPrice } }", json!({ "c": sword }))
        .await;
    let listing = listed.data()["listForResale"]["id"].clone();
    let found = market
        .app
        .gql(
            "query($c: ID!) { listings(contentId: $c) { id listPrice owner { username } } }",
            json!({ "c": sword }),
        )
        .await;
    assert_eq!(
        found.data()["listings"],
        json!([{ "id": listing, "listPrice": 50, "owner": { "username": "ann" } }])
    );
    let bought = market
        .purchase(&bob, json!({ "contentId": sword, "currency": "WHOLE", "idempotencyKey": "resale", "listingId": listing }))
        .await;
    let bought = bought.data()["purchase"]["ownership"].clone();
    assert_eq!(
        (
            bought["source"].clone(),
            bought["serial"].clone(),
            bought["purchasePrice"].clone()
        ),
        (json!("PURCHASE"), json!(1), json!(50))
    );
    // The seller gets the price less the 10% fee.
    assert_eq!(market.coins(&ann).await, (45, 0));
    assert_eq!(market.coins(&bob).await, (50, 0));
    assert_eq!(market.owners(&sword).await, [bob.uuid()]);
    let sold_again = market
        .purchase(&carl, json!({ "contentId": sword, "currency": "WHOLE", "idempotencyKey": "late", "listingId": listing }))
        .await;
    assert_eq!(sold_again.codes(), ["NOT_FOUND"]);

    // A gift: Bob pays, Carl owns.
    let gift = market
        .purchase(&bob, json!({ "contentId": sword, "currency": "WHOLE", "idempotencyKey": "gift", "giftTo": carl.id }))
        .await;
    let gift = gift.data()["purchase"]["ownership"].clone();
    assert_eq!(
        (
            gift["source"].clone(),
            gift["owner"]["username"].clone(),
            gift["serial"].clone()
        ),
        (json!("GIFT"), json!("carl"), json!(2))
    );
    let twice = market
        .purchase(&bob, json!({ "contentId": sword, "currency": "WHOLE", "idempotencyKey": "gift2", "giftTo": carl.id }))
        .await;
    assert_eq!(twice.codes(), ["CONFLICT"]);
    // Creators own what they make.
    let inventory = market
        .app
        .gql_as(
            &market.cat.access,
            "{ inventory { source content { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        inventory.data()["inventory"],
        json!([{ "source": "AUTHOR", "content": { "name": "Sword" } }])
    );
    market.balanced().await;
}

#[tokio::test]
async fn resale_moves_the_copy_and_gifts_reach_the_receiver_postgres() {
    reselling(TestApp::spawn_with(Backend::Postgres, trusting).await).await;
}

#[tokio::test]
async fn resale_moves_the_copy_and_gifts_reach_the_receiver_sqlite() {
    reselling(TestApp::spawn_with(Backend::Sqlite, trusting).await).await;
}

/// Two players offering each other's copies at the same moment, again and again: every offer
/// goes through (neither waits on the other crosswise).
#[tokio::test]
async fn crosswise_offers_never_deadlock() {
    let app = TestApp::spawn_with(Backend::Postgres, trusting).await;
    let market = Market::new(app).await;
    let ann = market.player("ann", 0).await;
    let bob = market.player("bob", 0).await;
    let sword = market.hat("Sword").await;
    let shield = market.hat("Shield").await;
    market.buy(&ann, &sword).await.data();
    market.buy(&bob, &shield).await.data();
    for round in 0..10 {
        let (mine, theirs) = futures_util::join!(
            market.offer(&ann, &bob, json!({ "offeredItems": [sword], "requestedItems": [shield], "idempotencyKey": format!("a{round}") })),
            market.offer(&bob, &ann, json!({ "offeredItems": [shield], "requestedItems": [sword], "idempotencyKey": format!("b{round}") })),
        );
        for (who, sent) in [(&ann, mine), (&bob, theirs)] {
            let id = sent.data()["offerTrade"]["trade"]["id"].clone();
            market.step(who, "cancelTrade", &id).await.data();
        }
    }
}
