//! The store: prices, purchases that pay the creator less the platform fee once per key,
//! refusals that leave nothing, free and time-limited items, and buyers racing for a limited
//! stock that get serials 1..stock exactly.

use arena_entity::{bank::transaction, store::ownership};
use arena_tests::{Backend, TestApp, TestUser, UserBuilder, trusting};
use futures_util::{StreamExt, future::join_all, stream};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

const BOUGHT: &str = "alreadyApplied ownership { id source purchasePrice purchaseCurrency serial expiresAt owner { username } content { name } }";

async fn item(app: &TestApp, who: &TestUser, name: &str, extra: Value) -> String {
    let mut input = json!({ "type": "HAT", "name": name, "onsale": true });
    if let (Some(input), Some(extra)) = (input.as_object_mut(), extra.as_object()) {
        input.extend(extra.clone());
    }
    app.published_item(&who.access, input).await
}

async fn price(app: &TestApp, who: &TestUser, id: &str, amount: i64) {
    app.gql_as(
        &who.access,
        "mutation($c: ID!, $p: Int) { setPrice(contentId: $c, currency: WHOLE, price: $p) { currency price } }",
        json!({ "c": id, "p": amount }),
    )
    .await
    .data();
}

async fn mint(app: &TestApp, admin: &TestUser, who: &TestUser, amount: i64) {
    app.gql_as(
        &admin.access,
        "mutation($i: IssueInput!) { mint(input: $i) { alreadyApplied } }",
        json!({ "i": { "userId": who.id, "currencyId": "1", "amount": amount, "reason": "test", "idempotencyKey": format!("seed-{}", who.id) } }),
    )
    .await
    .data();
}

async fn buy(
    app: &TestApp,
    who: &TestUser,
    id: &str,
    currency: &str,
    key: &str,
    days: Option<u32>,
) -> arena_tests::GqlResponse {
    app.gql_as(
        &who.access,
        &format!("mutation($i: PurchaseInput!) {{ purchase(input: $i) {{ {BOUGHT} }} }}"),
        json!({ "i": { "contentId": id, "currency": currency, "idempotencyKey": key, "days": days } }),
    )
    .await
}

async fn coins(app: &TestApp, who: &TestUser) -> i64 {
    let found = app
        .gql_as(&who.access, "{ balances { amount } }", json!({}))
        .await;
    found.data()["balances"][0]["amount"].as_i64().unwrap()
}

async fn buying(app: TestApp) {
    let admin = UserBuilder::new("admin")
        .with_role("admin")
        .create(&app)
        .await;
    let cat = UserBuilder::new("cat").create(&app).await;
    let ann = UserBuilder::new("ann").create(&app).await;
    let crown = item(&app, &cat, "Crown", json!({})).await;
    price(&app, &cat, &crown, 100).await;

    assert_eq!(
        buy(&app, &ann, &crown, "WHOLE", "b1", None).await.codes(),
        ["INSUFFICIENT_FUNDS"]
    );
    assert_eq!(
        ownership::Entity::find()
            .filter(ownership::Column::Source.ne("author"))
            .count(&app.ctx.db)
            .await
            .unwrap(),
        0
    );
    mint(&app, &admin, &ann, 150).await;
    let bought = buy(&app, &ann, &crown, "WHOLE", "b1", None).await;
    let first = bought.data()["purchase"].clone();
    assert_eq!(first["alreadyApplied"], false);
    assert_eq!(first["ownership"]["source"], "PURCHASE");
    assert_eq!(first["ownership"]["purchasePrice"], 100);
    assert_eq!(first["ownership"]["purchaseCurrency"], "WHOLE");
    assert_eq!(first["ownership"]["serial"], Value::Null);
    // The creator gets the price less the 10% fee, which leaves circulation.
    assert_eq!((coins(&app, &ann).await, coins(&app, &cat).await), (50, 90));
    let again = buy(&app, &ann, &crown, "WHOLE", "b1", None).await;
    assert_eq!(again.data()["purchase"]["alreadyApplied"], true);
    assert_eq!(
        again.data()["purchase"]["ownership"]["id"],
        first["ownership"]["id"]
    );
    assert_eq!(
        buy(&app, &ann, &crown, "WHOLE", "b2", None).await.codes(),
        ["CONFLICT"]
    );
    assert_eq!(coins(&app, &ann).await, 50);

    // Refusals.
    assert_eq!(
        buy(&app, &ann, &crown, "DENOM", "b3", None).await.codes(),
        ["BAD_USER_INPUT"]
    );
    assert_eq!(
        buy(&app, &cat, &crown, "WHOLE", "b4", None).await.codes(),
        ["BAD_USER_INPUT"]
    );
    let shelved = item(&app, &cat, "Shelved", json!({ "onsale": false })).await;
    assert_eq!(
        buy(&app, &ann, &shelved, "WHOLE", "b5", None).await.codes(),
        ["BAD_USER_INPUT"]
    );
    let hidden = item(&app, &cat, "Hidden", json!({ "privacy": "PRIVATE" })).await;
    assert_eq!(
        buy(&app, &ann, &hidden, "WHOLE", "b6", None).await.codes(),
        ["NOT_FOUND"]
    );
    assert_eq!(
        buy(&app, &ann, &crown, "WHOLE", "b7", Some(0))
            .await
            .codes(),
        ["BAD_USER_INPUT"]
    );

    // Free, and time-limited: an expired copy no longer counts and can be bought again.
    let cape = item(&app, &cat, "Cape", json!({})).await;
    let rented = buy(&app, &ann, &cape, "WHOLE", "r1", Some(7)).await;
    assert_eq!(rented.data()["purchase"]["ownership"]["purchasePrice"], 0);
    assert!(rented.data()["purchase"]["ownership"]["expiresAt"].is_string());
    let inventory = "{ inventory { content { name } } }";
    let names = |v: Value| -> Vec<String> {
        v["inventory"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["content"]["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        names(
            app.gql_as(&ann.access, inventory, json!({}))
                .await
                .data()
                .clone()
        ),
        ["Cape", "Crown"]
    );
    ownership::Entity::update_many()
        .col_expr(
            ownership::Column::ExpiresAt,
            sea_orm::sea_query::Expr::value(chrono::Utc::now() - chrono::Duration::hours(1)),
        )
        .filter(ownership::Column::Source.eq("purchase"))
        .filter(ownership::Column::PurchasePrice.eq(0))
        .exec(&app.ctx.db)
        .await
        .unwrap();
    assert_eq!(
        names(
            app.gql_as(&ann.access, inventory, json!({}))
                .await
                .data()
                .clone()
        ),
        ["Crown"]
    );
    buy(&app, &ann, &cape, "WHOLE", "r2", None).await.data();
    assert_eq!(
        names(
            app.gql_as(&ann.access, inventory, json!({}))
                .await
                .data()
                .clone()
        ),
        ["Cape", "Crown"]
    );

    // The books balance; the ledger shows the purchase.
    let totals = app
        .gql_as(
            &admin.access,
            "{ currencyTotals { circulating burned balanced } }",
            json!({}),
        )
        .await;
    assert_eq!(
        totals.data()["currencyTotals"][0],
        json!({ "circulating": 140, "burned": 10, "balanced": true })
    );
    let ledger = app
        .gql_as(
            &ann.access,
            "{ ledger { edges { node { kind amount } } } }",
            json!({}),
        )
        .await;
    let kinds: Vec<Value> = ledger.data()["ledger"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["kind"].clone())
        .collect();
    assert_eq!(kinds, [json!("BURN"), json!("PURCHASE"), json!("MINT")]);
    let listed = app
        .gql(
            "query($id: ID!) { content(id: $id) { prices { currency price } } }",
            json!({ "id": crown }),
        )
        .await;
    assert_eq!(
        listed.data()["content"]["prices"],
        json!([{ "currency": "WHOLE", "price": 100 }])
    );
}

#[tokio::test]
async fn purchases_pay_the_creator_once_per_key_postgres() {
    buying(TestApp::spawn_with(Backend::Postgres, trusting).await).await;
}

#[tokio::test]
async fn purchases_pay_the_creator_once_per_key_sqlite() {
    buying(TestApp::spawn_with(Backend::Sqlite, trusting).await).await;
}

/// Buyers race for a limited item: exactly `stock` ownerships with serials 1..stock, as many
/// payments, clean refusals for the rest, and money conserved.
async fn stock_race(app: TestApp, buyers: usize, stock: i32, at_once: usize) {
    let admin = UserBuilder::new("admin")
        .with_role("admin")
        .create(&app)
        .await;
    let cat = UserBuilder::new("cat").create(&app).await;
    let crowd: Vec<TestUser> =
        join_all((0..buyers).map(|i| UserBuilder::new(&format!("buyer{i:03}")).create(&app))).await;
    for buyer in &crowd {
        mint(&app, &admin, buyer, 10).await;
    }
    let crown = item(&app, &cat, "Limited crown", json!({ "stock": stock })).await;
    price(&app, &cat, &crown, 5).await;
    let codes: Vec<Option<String>> = stream::iter(&crowd)
        .map(|buyer| {
            let (app, crown) = (&app, &crown);
            async move {
                let done = buy(app, buyer, crown, "WHOLE", "race", None).await;
                done.body["errors"][0]["extensions"]["code"]
                    .as_str()
                    .map(str::to_owned)
            }
        })
        .buffer_unordered(at_once)
        .collect()
        .await;
    let stock_n = usize::try_from(stock).unwrap();
    assert_eq!(codes.iter().filter(|c| c.is_none()).count(), stock_n);
    assert!(codes.iter().flatten().all(|c| c == "CONFLICT"), "{codes:?}");
    let owned = ownership::Entity::find()
        .filter(ownership::Column::Source.ne("author"))
        .all(&app.ctx.db)
        .await
        .unwrap();
    let mut serials: Vec<i32> = owned.iter().map(|o| o.serial.unwrap()).collect();
    serials.sort_unstable();
    assert_eq!(serials, (1..=stock).collect::<Vec<_>>());
    let payments = transaction::Entity::find()
        .filter(transaction::Column::Kind.eq("purchase"))
        .count(&app.ctx.db)
        .await
        .unwrap();
    assert_eq!(payments, u64::try_from(stock).unwrap());
    assert_eq!(coins(&app, &cat).await, 5 * i64::from(stock));
    let chain = app
        .gql_as(&cat.access, "query($c: ID!) { ownershipChain(contentId: $c, serial: 1) { serial source endedAt owner { username } } }", json!({ "c": crown }))
        .await;
    let hands = chain.data()["ownershipChain"].as_array().unwrap().clone();
    assert_eq!(hands.len(), 1);
    assert_eq!(
        (hands[0]["serial"].clone(), hands[0]["source"].clone()),
        (json!(1), json!("PURCHASE"))
    );
    let totals = app
        .gql_as(
            &admin.access,
            "{ currencyTotals { circulating balanced } }",
            json!({}),
        )
        .await;
    assert_eq!(
        totals.data()["currencyTotals"][0],
        json!({ "circulating": 10 * i64::try_from(buyers).unwrap(), "balanced": true })
    );
}

#[tokio::test]
async fn five_hundred_buyers_race_for_a_hundred_postgres() {
    stock_race(
        TestApp::spawn_with(Backend::Postgres, trusting).await,
        500,
        100,
        100,
    )
    .await;
}

#[tokio::test]
async fn buyers_race_for_a_limited_stock_sqlite() {
    stock_race(
        TestApp::spawn_with(Backend::Sqlite, trusting).await,
        60,
        20,
        20,
    )
    .await;
}
