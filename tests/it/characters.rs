//! Characters: made from a published character item, with properties checked against their
//! types, worn items the player owns, changed only by their player, and a per-player limit
//! that racing requests cannot pass.

use arena_entity::characters::{character, property};
use arena_tests::{Backend, TestApp, TestUser, UserBuilder, trusting};
use futures_util::future::join_all;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};

const CHARACTER: &str =
    "id name content { name } properties { name value type content { name } } wornItems { name }";

async fn create(app: &TestApp, who: &TestUser, item: &str, name: &str) -> arena_tests::GqlResponse {
    app.gql_as(
        &who.access,
        &format!("mutation($c: ID!, $n: String!) {{ createCharacter(contentId: $c, name: $n) {{ {CHARACTER} }} }}"),
        json!({ "c": item, "n": name }),
    )
    .await
}

async fn set(
    app: &TestApp,
    who: &TestUser,
    id: &str,
    name: &str,
    kind: &str,
    value: Value,
) -> arena_tests::GqlResponse {
    app.gql_as(
        &who.access,
        &format!("mutation($c: ID!, $n: String!, $t: PropertyType!, $v: String) {{ setCharacterProperty(characterId: $c, name: $n, type: $t, value: $v) {{ {CHARACTER} }} }}"),
        json!({ "c": id, "n": name, "t": kind, "v": value }),
    )
    .await
}

async fn wear(
    app: &TestApp,
    who: &TestUser,
    id: &str,
    item: &str,
    on: bool,
) -> arena_tests::GqlResponse {
    app.gql_as(
        &who.access,
        &format!("mutation($c: ID!, $i: ID!, $w: Boolean!) {{ wearItem(characterId: $c, contentId: $i, wear: $w) {{ {CHARACTER} }} }}"),
        json!({ "c": id, "i": item, "w": on }),
    )
    .await
}

async fn dressing(app: TestApp) {
    let admin = UserBuilder::new("admin")
        .with_role("admin")
        .create(&app)
        .await;
    let cat = UserBuilder::new("cat").create(&app).await;
    let ann = UserBuilder::new("ann").create(&app).await;
    let bob = UserBuilder::new("bob").create(&app).await;
    let knight = app
        .published_item(
            &cat.access,
            json!({ "type": "CHARACTER", "name": "Knight" }),
        )
        .await;
    let hat = app
        .published_item(
            &cat.access,
            json!({ "type": "HAT", "name": "Helm", "onsale": true }),
        )
        .await;
    let level = app
        .published_item(&cat.access, json!({ "type": "CONTENT", "name": "Castle" }))
        .await;

    // Made from a character item only, with a name.
    assert_eq!(
        create(&app, &ann, &hat, "Sir Ann").await.codes(),
        ["BAD_USER_INPUT"]
    );
    assert_eq!(
        create(&app, &ann, &knight, " ").await.codes(),
        ["BAD_USER_INPUT"]
    );
    assert_eq!(
        create(&app, &ann, "999999", "Sir Ann").await.codes(),
        ["NOT_FOUND"]
    );
    let made = create(&app, &ann, &knight, "Sir Ann").await;
    let sir = made.data()["createCharacter"].clone();
    assert_eq!(sir["content"]["name"], "Knight");
    let id = sir["id"].as_str().unwrap().to_owned();

    // Each property reads as its type; a wrong one changes nothing.
    for (name, kind, value, stored) in [
        ("title", "STRING", json!("the Bold"), "the Bold"),
        ("level", "INT", json!(" 12 "), "12"),
        ("speed", "FLOAT", json!("2.50"), "2.5"),
        ("mounted", "BOOL", json!("true"), "true"),
    ] {
        let done = set(&app, &ann, &id, name, kind, value).await;
        let props = done.data()["setCharacterProperty"]["properties"].clone();
        let found = props
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap()
            .clone();
        assert_eq!(
            (
                found["value"].as_str().unwrap(),
                found["type"].as_str().unwrap()
            ),
            (stored, kind)
        );
    }
    let home = set(&app, &ann, &id, "home", "CONTENT", json!(level)).await;
    let home = home.data()["setCharacterProperty"]["properties"].clone();
    assert!(
        home.as_array()
            .unwrap()
            .iter()
            .any(|p| p["content"]["name"] == "Castle")
    );
    for (name, kind, value) in [
        ("level", "INT", json!("twelve")),
        ("speed", "FLOAT", json!("NaN")),
        ("mounted", "BOOL", json!("yes")),
        ("home", "CONTENT", json!("999999")),
        ("bad name", "STRING", json!("x")),
    ] {
        let refused = set(&app, &ann, &id, name, kind, value).await;
        assert_eq!(
            refused.codes(),
            ["BAD_USER_INPUT"],
            "{name}: {:#}",
            refused.body
        );
    }
    assert_eq!(
        property::Entity::find().count(&app.ctx.db).await.unwrap(),
        5
    );
    let removed = set(&app, &ann, &id, "title", "STRING", Value::Null).await;
    assert_eq!(
        removed.data()["setCharacterProperty"]["properties"]
            .as_array()
            .unwrap()
            .len(),
        4
    );

    // Worn items: character items the player owns.
    assert_eq!(
        wear(&app, &ann, &id, &hat, true).await.codes(),
        ["FORBIDDEN"]
    );
    app.gql_as(&ann.access, "mutation($c: ID!) { purchase(input: { contentId: $c, currency: WHOLE, idempotencyKey: \"h\" }) { alreadyApplied } }", json!({ "c": hat }))
        .await
        .data();
    let worn = wear(&app, &ann, &id, &hat, true).await;
    assert_eq!(
        worn.data()["wearItem"]["wornItems"],
        json!([{ "name": "Helm" }])
    );
    assert_eq!(
        wear(&app, &ann, &id, &hat, true).await.data()["wearItem"]["wornItems"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        wear(&app, &ann, &id, &knight, true).await.codes(),
        ["BAD_USER_INPUT"]
    );
    assert_eq!(
        wear(&app, &ann, &id, &level, true).await.codes(),
        ["BAD_USER_INPUT"]
    );
    let off = wear(&app, &ann, &id, &hat, false).await;
    assert_eq!(off.data()["wearItem"]["wornItems"], json!([]));

    // Only the player changes it; others see it with `user.search`.
    assert_eq!(
        set(&app, &bob, &id, "level", "INT", json!("1"))
            .await
            .codes(),
        ["NOT_FOUND"]
    );
    assert_eq!(
        wear(&app, &bob, &id, &hat, false).await.codes(),
        ["NOT_FOUND"]
    );
    let list = "query($u: ID) { characters(userId: $u) { name properties { name } } }";
    assert_eq!(
        app.gql_as(&bob.access, list, json!({ "u": ann.id }))
            .await
            .codes(),
        ["FORBIDDEN"]
    );
    let seen = app
        .gql_as(&admin.access, list, json!({ "u": ann.id }))
        .await;
    assert_eq!(seen.data()["characters"][0]["name"], "Sir Ann");
    let mine = app.gql_as(&ann.access, list, json!({})).await;
    assert_eq!(
        mine.data()["characters"][0]["properties"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
}

#[tokio::test]
async fn characters_wear_what_their_player_owns_postgres() {
    dressing(TestApp::spawn_with(Backend::Postgres, trusting).await).await;
}

#[tokio::test]
async fn characters_wear_what_their_player_owns_sqlite() {
    dressing(TestApp::spawn_with(Backend::Sqlite, trusting).await).await;
}

/// Sixty requests at once for a player with none: exactly fifty characters.
#[tokio::test]
async fn racing_requests_never_pass_the_limit() {
    let app = TestApp::spawn_with(Backend::Postgres, trusting).await;
    let cat = UserBuilder::new("cat").create(&app).await;
    let ann = UserBuilder::new("ann").create(&app).await;
    let knight = app
        .published_item(
            &cat.access,
            json!({ "type": "CHARACTER", "name": "Knight" }),
        )
        .await;
    let answers = join_all((0..60).map(|i| {
        let (app, ann, knight) = (&app, &ann, &knight);
        async move { create(app, ann, knight, &format!("Twin {i}")).await }
    }))
    .await;
    let made = answers
        .iter()
        .filter(|a| a.body["errors"].is_null())
        .count();
    assert_eq!(made, 50);
    for refused in answers.iter().filter(|a| !a.body["errors"].is_null()) {
        assert_eq!(refused.codes(), ["CONFLICT"]);
    }
    assert_eq!(
        character::Entity::find().count(&app.ctx.db).await.unwrap(),
        50
    );
}
