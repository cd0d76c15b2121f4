//! The catalog: categories, content and who sees it, revisions, relations, listings and
//! search, votes, favorites and comments under concurrency, games, and the moderation queue
//! with its claims, decisions, penalties and audit rows.

use std::time::Duration;

use arena_api::settings::Settings;
use arena_entity::catalog::{content, vote};
use arena_tests::{Backend, TestApp, TestUser, UserBuilder};
use futures_util::future::join_all;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

const ITEM: &str = "id name description type published restricted privacy upVotes downVotes \
                    favoriteCount commentCount score myVote favorited";

/// Two tests, one per backend, running `$body` on an app configured by `$configure`.
fn trusting(settings: &mut Settings) {
    settings.trusted_creator_approvals = 0;
}

fn cautious(settings: &mut Settings) {
    settings.trusted_creator_approvals = 1;
}

async fn create(app: &TestApp, who: &TestUser, input: Value) -> Value {
    let made = app
        .gql_as(
            &who.access,
            &format!(
                "mutation($i: CreateContentInput!) {{ createContent(input: $i) {{ {ITEM} }} }}"
            ),
            json!({ "i": input }),
        )
        .await;
    made.data()["createContent"].clone()
}

async fn item(app: &TestApp, who: &TestUser, kind: &str, name: &str) -> String {
    let made = create(app, who, json!({ "type": kind, "name": name })).await;
    made["id"].as_str().unwrap().to_owned()
}

async fn publish(app: &TestApp, who: &TestUser, id: &str) -> Value {
    let done = app
        .gql_as(
            &who.access,
            &format!("mutation($id: ID!) {{ publishContent(id: $id) {{ {ITEM} }} }}"),
            json!({ "id": id }),
        )
        .await;
    done.data()["publishContent"].clone()
}

async fn read(app: &TestApp, who: Option<&TestUser>, id: &str) -> arena_tests::GqlResponse {
    let query = format!("query($id: ID!) {{ content(id: $id) {{ {ITEM} }} }}");
    match who {
        Some(who) => app.gql_as(&who.access, &query, json!({ "id": id })).await,
        None => app.gql(&query, json!({ "id": id })).await,
    }
}

async fn update(app: &TestApp, who: &TestUser, id: &str, input: Value) -> arena_tests::GqlResponse {
    app.gql_as(
        &who.access,
        &format!("mutation($id: ID!, $i: UpdateContentInput!) {{ updateContent(id: $id, input: $i) {{ {ITEM} }} }}"),
        json!({ "id": id, "i": input }),
    )
    .await
}

/// The names a listing shows `who`, in order; checks `totalCount` against them.
async fn listing(app: &TestApp, who: Option<&TestUser>, args: &str) -> Vec<String> {
    let args = if args.is_empty() {
        String::new()
    } else {
        format!("({args})")
    };
    let query = format!("{{ contents{args} {{ totalCount edges {{ node {{ name }} }} }} }}");
    let response = match who {
        Some(who) => app.gql_as(&who.access, &query, json!({})).await,
        None => app.gql(&query, json!({})).await,
    };
    let page = &response.data()["contents"];
    let names: Vec<String> = page["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(page["totalCount"], names.len(), "{args}: {page:#}");
    names
}

async fn category(app: &TestApp, admin: &TestUser, input: Value) -> arena_tests::GqlResponse {
    app.gql_as(
        &admin.access,
        "mutation($i: CategoryInput!) { createCategory(input: $i) { id name contentTypes } }",
        json!({ "i": input }),
    )
    .await
}

async fn contents_count(app: &TestApp) -> u64 {
    content::Entity::find().count(&app.ctx.db).await.unwrap()
}

async fn users(app: &TestApp, names: &[&str]) -> Vec<TestUser> {
    join_all(names.iter().map(|name| UserBuilder::new(name).create(app))).await
}

arena_tests::both_configured!(categories_content_and_who_sees_it, trusting, |app| {
    let admin = UserBuilder::new("admin")
        .with_role("admin")
        .create(&app)
        .await;
    let [ann, bob, cat] =
        <[TestUser; 3]>::try_from(users(&app, &["ann", "bob", "cat"]).await).unwrap();

    // A tree of categories, each holding types.
    let wear = category(&app, &admin, json!({ "name": "Wearables" }))
        .await
        .data()["createCategory"]["id"]
        .clone();
    let hats = category(
        &app,
        &admin,
        json!({ "name": "Hats", "parentId": wear, "contentTypes": ["HAT"] }),
    )
    .await
    .data()["createCategory"]["id"]
        .clone();
    let tools = category(
        &app,
        &admin,
        json!({ "name": "Tools", "parentId": wear, "contentTypes": ["TOOL"] }),
    )
    .await
    .data()["createCategory"]["id"]
        .clone();
    assert_eq!(
        category(&app, &admin, json!({ "name": "Hats" }))
            .await
            .codes(),
        ["CONFLICT"]
    );
    assert_eq!(
        category(&app, &ann, json!({ "name": "Mine" }))
            .await
            .codes(),
        ["FORBIDDEN"]
    );
    let cycle = app
        .gql_as(&admin.access, "mutation($id: ID!, $p: ID!) { updateCategory(id: $id, input: { parentId: $p }) { id } }", json!({ "id": wear, "p": hats }))
        .await;
    assert_eq!(
        cycle.codes(),
        ["BAD_USER_INPUT"],
        "a category cannot move below itself"
    );
    let tree = app
        .gql(
            "{ categories(roots: true) { name children { name contentTypes } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        tree.data()["categories"],
        json!([{ "name": "Wearables", "children": [
            { "name": "Hats", "contentTypes": ["HAT"] },
            { "name": "Tools", "contentTypes": ["TOOL"] }
        ] }])
    );

    // Character-item flags are refused elsewhere, and the refusal stores nothing.
    let before = contents_count(&app).await;
    for input in [
        json!({ "type": "CONTENT", "name": "x", "tradeable": true }),
        json!({ "type": "MESH", "name": "x", "stock": 5 }),
        json!({ "type": "GAME", "name": "x", "marketable": true }),
        json!({ "type": "HAT", "name": "x", "stock": -1 }),
        json!({ "type": "HAT", "name": "" }),
        json!({ "type": "HAT", "name": "x".repeat(256) }),
        json!({ "type": "HAT", "name": "x", "description": "d".repeat(20_001) }),
        json!({ "type": "COMMENT", "name": "x" }),
        json!({ "type": "HAT", "name": "x", "game": { "maxPlayers": 4 } }),
        json!({ "type": "HAT", "name": "x", "parentId": "../1" }),
    ] {
        let refused = app
            .gql_as(
                &ann.access,
                "mutation($i: CreateContentInput!) { createContent(input: $i) { id } }",
                json!({ "i": input }),
            )
            .await;
        assert_eq!(refused.codes(), ["BAD_USER_INPUT"], "{input}");
    }
    let unknown = app
        .gql_as(
            &ann.access,
            "mutation { createContent(input: { type: SPACESHIP, name: \"x\" }) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(unknown.codes(), ["BAD_USER_INPUT"]);
    assert_eq!(contents_count(&app).await, before);

    let hat = create(&app, &ann, json!({ "type": "HAT", "name": "Red cap", "description": "a woollen cap", "tradeable": true, "stock": 100 })).await;
    assert_eq!(hat["published"], false);
    let hat = hat["id"].as_str().unwrap().to_owned();
    let hammer = item(&app, &ann, "TOOL", "Blue hammer").await;
    let notes = item(&app, &bob, "CONTENT", "Notes").await;

    // Unpublished: its creator sees it, nobody else does.
    assert_eq!(
        read(&app, Some(&ann), &hat).await.data()["content"]["name"],
        "Red cap"
    );
    assert_eq!(read(&app, Some(&bob), &hat).await.codes(), ["NOT_FOUND"]);
    assert_eq!(read(&app, None, &hat).await.codes(), ["NOT_FOUND"]);
    assert!(listing(&app, None, "").await.is_empty());
    let own = format!("filter: {{ creatorId: \"{}\" }}", ann.id);
    assert_eq!(
        listing(&app, Some(&ann), &own).await,
        ["Blue hammer", "Red cap"]
    );
    assert!(listing(&app, Some(&bob), &own).await.is_empty());

    // A trusted creator's item is live once published.
    for id in [&hat, &hammer, &notes] {
        let owner = if *id == notes { &bob } else { &ann };
        assert_eq!(publish(&app, owner, id).await["published"], true);
    }
    assert_eq!(
        read(&app, None, &hat).await.data()["content"]["name"],
        "Red cap"
    );
    assert_eq!(
        listing(&app, None, "").await,
        ["Notes", "Blue hammer", "Red cap"]
    );
    assert_eq!(
        listing(&app, None, &format!("filter: {{ categoryId: {wear} }}")).await,
        ["Blue hammer", "Red cap"]
    );
    assert_eq!(
        listing(&app, None, &format!("filter: {{ categoryId: {hats} }}")).await,
        ["Red cap"]
    );
    assert_eq!(
        listing(
            &app,
            None,
            &format!("filter: {{ categoryId: {tools}, types: [HAT] }}")
        )
        .await,
        Vec::<String>::new()
    );
    assert_eq!(
        listing(&app, None, "filter: { text: \"woollen\" }").await,
        ["Red cap"]
    );
    assert_eq!(
        listing(&app, None, "filter: { text: \"blue HAMMER\" }").await,
        ["Blue hammer"]
    );
    assert!(
        listing(&app, None, "filter: { text: \"cap hammer\" }")
            .await
            .is_empty()
    );
    let hidden = app
        .gql_as(
            &bob.access,
            "{ contents(filter: { includeHidden: true }) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(hidden.codes(), ["FORBIDDEN"]);
    let bad = app
        .gql(
            "{ contents(filter: { text: \"\\\"  \" }) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(bad.codes(), ["BAD_USER_INPUT"]);

    // A new name is a new revision; search follows it; everyone sees the approved history.
    let renamed = update(&app, &ann, &hat, json!({ "name": "Crimson cap" })).await;
    assert_eq!(renamed.data()["updateContent"]["name"], "Crimson cap");
    assert_eq!(
        listing(&app, None, "filter: { text: \"crimson\" }").await,
        ["Crimson cap"]
    );
    assert!(
        listing(&app, None, "filter: { text: \"red\" }")
            .await
            .is_empty()
    );
    let history = app
        .gql_as(&bob.access, "query($id: ID!) { content(id: $id) { revisions { name status } liveRevision { name } } }", json!({ "id": hat }))
        .await;
    assert_eq!(
        history.data()["content"],
        json!({ "revisions": [{ "name": "Crimson cap", "status": "APPROVED" }, { "name": "Red cap", "status": "APPROVED" }], "liveRevision": { "name": "Crimson cap" } })
    );
    let settings_only = update(&app, &ann, &hat, json!({ "onsale": true })).await;
    assert_eq!(settings_only.data()["updateContent"]["name"], "Crimson cap");
    let revisions = app
        .gql_as(
            &ann.access,
            "query($id: ID!) { content(id: $id) { revisions { id } } }",
            json!({ "id": hat }),
        )
        .await;
    assert_eq!(
        revisions.data()["content"]["revisions"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "a setting is not a revision"
    );
    assert_eq!(
        update(&app, &bob, &hat, json!({ "name": "mine" }))
            .await
            .codes(),
        ["FORBIDDEN"]
    );

    // Friends privacy follows the friendship, and a block ends it.
    update(&app, &ann, &hat, json!({ "privacy": "FRIENDS" }))
        .await
        .data();
    assert_eq!(read(&app, Some(&bob), &hat).await.codes(), ["NOT_FOUND"]);
    assert!(
        !listing(&app, Some(&bob), "")
            .await
            .contains(&"Crimson cap".to_owned())
    );
    let befriend = |who: &TestUser, name: &str, other: &TestUser| {
        let query = format!("mutation($u: ID!) {{ {name}(userId: $u) {{ friend }} }}");
        let (token, other) = (who.access.clone(), other.id.clone());
        let app = &app;
        async move {
            app.gql_as(&token, &query, json!({ "u": other }))
                .await
                .data()
                .clone()
        }
    };
    befriend(&ann, "requestFriend", &bob).await;
    befriend(&bob, "acceptFriend", &ann).await;
    assert_eq!(
        read(&app, Some(&bob), &hat).await.data()["content"]["name"],
        "Crimson cap"
    );
    assert!(
        listing(&app, Some(&bob), "")
            .await
            .contains(&"Crimson cap".to_owned())
    );
    assert!(
        !listing(&app, Some(&cat), "")
            .await
            .contains(&"Crimson cap".to_owned())
    );
    assert_eq!(read(&app, Some(&cat), &hat).await.codes(), ["NOT_FOUND"]);
    befriend(&ann, "block", &bob).await;
    assert_eq!(read(&app, Some(&bob), &hat).await.codes(), ["NOT_FOUND"]);

    // Unlisted: by id, not in listings; private: its creator alone.
    update(&app, &ann, &hat, json!({ "privacy": "UNLISTED" }))
        .await
        .data();
    assert_eq!(
        read(&app, Some(&cat), &hat).await.data()["content"]["privacy"],
        "UNLISTED"
    );
    assert_eq!(listing(&app, None, "").await, ["Notes", "Blue hammer"]);
    update(&app, &ann, &hat, json!({ "privacy": "PRIVATE" }))
        .await
        .data();
    assert_eq!(read(&app, Some(&cat), &hat).await.codes(), ["NOT_FOUND"]);
    assert_eq!(
        read(&app, Some(&ann), &hat).await.data()["content"]["privacy"],
        "PRIVATE"
    );

    // Relations both ways, and parts under a set.
    update(&app, &ann, &hat, json!({ "privacy": "PUBLIC" }))
        .await
        .data();
    let related = app
        .gql_as(
            &ann.access,
            "mutation($a: ID!, $b: ID!) { relateContent(input: { firstId: $a, secondId: $b, relation: VARIANT, relationName: \"blue\" }) { relation relationName other { name } } }",
            json!({ "a": hat, "b": hammer }),
        )
        .await;
    assert_eq!(
        related.data()["relateContent"],
        json!({ "relation": "VARIANT", "relationName": "blue", "other": { "name": "Blue hammer" } })
    );
    let again = app
        .gql_as(&ann.access, "mutation($a: ID!, $b: ID!) { relateContent(input: { firstId: $a, secondId: $b, relation: VARIANT }) { id } }", json!({ "a": hat, "b": hammer }))
        .await;
    assert_eq!(again.codes(), ["CONFLICT"]);
    let foreign = app
        .gql_as(&bob.access, "mutation($a: ID!, $b: ID!) { relateContent(input: { firstId: $a, secondId: $b, relation: RELATED }) { id } }", json!({ "a": hat, "b": notes }))
        .await;
    assert_eq!(foreign.codes(), ["FORBIDDEN"]);
    let ways = app
        .gql(
            "query($a: ID!, $b: ID!) { a: content(id: $a) { relations { relation other { name } } } b: content(id: $b) { relations(direction: INCOMING) { relation other { name } } } }",
            json!({ "a": hat, "b": hammer }),
        )
        .await;
    assert_eq!(
        ways.data()["a"]["relations"],
        json!([{ "relation": "VARIANT", "other": { "name": "Blue hammer" } }])
    );
    assert_eq!(
        ways.data()["b"]["relations"],
        json!([{ "relation": "VARIANT", "other": { "name": "Crimson cap" } }])
    );
    let set = create(&app, &ann, json!({ "type": "SET", "name": "Outfit" })).await["id"].clone();
    let part = create(
        &app,
        &ann,
        json!({ "type": "HAT", "name": "Part hat", "parentId": set }),
    )
    .await;
    publish(&app, &ann, part["id"].as_str().unwrap()).await;
    let nested = app
        .gql("query($p: ID!) { contents(filter: { parentId: $p }) { edges { node { name parent { name } } } } }", json!({ "p": set }))
        .await;
    assert_eq!(
        nested.data()["contents"]["edges"][0]["node"],
        json!({ "name": "Part hat", "parent": null }),
        "the unpublished set is not shown"
    );
    let loop_back = update(
        &app,
        &ann,
        set.as_str().unwrap(),
        json!({ "parentId": part["id"] }),
    )
    .await;
    assert_eq!(loop_back.codes(), ["BAD_USER_INPUT"]);
    let not_mine = create_refused(
        &app,
        &bob,
        json!({ "type": "HAT", "name": "x", "parentId": set }),
    )
    .await;
    assert_eq!(not_mine, ["BAD_USER_INPUT"]);

    // Deleted: gone for everyone but moderators.
    let deleted = app
        .gql_as(
            &ann.access,
            "mutation($id: ID!) { deleteContent(id: $id) }",
            json!({ "id": hammer }),
        )
        .await;
    assert_eq!(deleted.data()["deleteContent"], true);
    assert_eq!(read(&app, Some(&ann), &hammer).await.codes(), ["NOT_FOUND"]);
    assert_eq!(
        read(&app, Some(&admin), &hammer).await.data()["content"]["name"],
        "Blue hammer"
    );
    assert_eq!(
        listing(&app, None, "").await,
        ["Part hat", "Notes", "Crimson cap"]
    );
});

async fn create_refused(app: &TestApp, who: &TestUser, input: Value) -> Vec<String> {
    let response = app
        .gql_as(
            &who.access,
            "mutation($i: CreateContentInput!) { createContent(input: $i) { id } }",
            json!({ "i": input }),
        )
        .await;
    response.codes().into_iter().map(str::to_owned).collect()
}

async fn vote(
    app: &TestApp,
    who: &TestUser,
    id: &str,
    vote: Option<&str>,
) -> arena_tests::GqlResponse {
    app.gql_as(
        &who.access,
        "mutation($id: ID!, $v: ContentVote) { vote(contentId: $id, vote: $v) { upVotes downVotes myVote } }",
        json!({ "id": id, "v": vote }),
    )
    .await
}

arena_tests::both_configured!(orders_votes_favorites_and_comments, trusting, |app| {
    let [ann, bob, cat, dan] =
        <[TestUser; 4]>::try_from(users(&app, &["ann", "bob", "cat", "dan"]).await).unwrap();
    let mut ids = Vec::new();
    for name in ["first", "second", "third"] {
        let id = item(&app, &ann, "CONTENT", name).await;
        publish(&app, &ann, &id).await;
        ids.push(id);
    }
    // second: 3 up; third: 1 up; first: 2 up 1 down.
    for (who, id, v) in [
        (&bob, 1, "UP"),
        (&cat, 1, "UP"),
        (&dan, 1, "UP"),
        (&bob, 2, "UP"),
        (&bob, 0, "UP"),
        (&cat, 0, "UP"),
        (&dan, 0, "DOWN"),
    ] {
        vote(&app, who, &ids[id], Some(v)).await.data();
    }
    assert_eq!(
        listing(&app, None, "orderBy: BEST").await,
        ["second", "first", "third"]
    );
    assert_eq!(
        listing(&app, None, "orderBy: NEWEST").await,
        ["third", "second", "first"]
    );
    // A vote changes and withdraws; its own creator may not vote.
    let changed = vote(&app, &dan, &ids[0], Some("UP")).await;
    assert_eq!(
        changed.data()["vote"],
        json!({ "upVotes": 3, "downVotes": 0, "myVote": "UP" })
    );
    let withdrawn = vote(&app, &dan, &ids[0], None).await;
    assert_eq!(
        withdrawn.data()["vote"],
        json!({ "upVotes": 2, "downVotes": 0, "myVote": null })
    );
    assert_eq!(
        vote(&app, &ann, &ids[0], Some("UP")).await.codes(),
        ["BAD_USER_INPUT"]
    );
    assert_eq!(
        vote(&app, &bob, "999999", Some("UP")).await.codes(),
        ["NOT_FOUND"]
    );

    for who in [&bob, &cat] {
        let fav = app
            .gql_as(
                &who.access,
                "mutation($id: ID!) { favorite(contentId: $id) { favoriteCount favorited } }",
                json!({ "id": ids[2] }),
            )
            .await;
        assert_eq!(fav.data()["favorite"]["favorited"], true);
    }
    let twice = app
        .gql_as(
            &cat.access,
            "mutation($id: ID!) { favorite(contentId: $id) { favoriteCount } }",
            json!({ "id": ids[2] }),
        )
        .await;
    assert_eq!(
        twice.data()["favorite"]["favoriteCount"],
        2,
        "favoriting twice counts once"
    );
    assert_eq!(
        listing(&app, None, "orderBy: MOST_FAVORITED").await[0],
        "third"
    );
    assert_eq!(listing(&app, None, "orderBy: HOT").await.len(), 3);
    // Pages walk every order without repeats.
    for order in ["NEWEST", "BEST", "HOT", "MOST_FAVORITED"] {
        let mut seen = Vec::new();
        let mut after = Value::Null;
        loop {
            let page = app
                .gql(
                    &format!("query($a: String) {{ contents(orderBy: {order}, first: 1, after: $a) {{ edges {{ cursor node {{ name }} }} pageInfo {{ hasNextPage }} }} }}"),
                    json!({ "a": after }),
                )
                .await;
            let page = page.data()["contents"].clone();
            seen.push(
                page["edges"][0]["node"]["name"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
            if page["pageInfo"]["hasNextPage"] == false {
                break;
            }
            after = page["edges"][0]["cursor"].clone();
        }
        assert_eq!(
            seen,
            listing(&app, None, &format!("orderBy: {order}")).await,
            "{order}"
        );
    }

    // Threaded comments, counted; none where comments are off; a block hides and refuses.
    let say = |who: &TestUser, on: &str, text: &str| {
        let (token, on, text) = (who.access.clone(), on.to_owned(), text.to_owned());
        let app = &app;
        async move {
            app.gql_as(&token, "mutation($id: ID!, $t: String!) { comment(contentId: $id, text: $t) { id description parent { id } } }", json!({ "id": on, "t": text }))
                .await
        }
    };
    let top = say(&bob, &ids[0], "nice").await.data()["comment"].clone();
    assert_eq!(top["parent"]["id"], ids[0]);
    let top = top["id"].as_str().unwrap().to_owned();
    say(&cat, &top, "agreed").await.data();
    say(&dan, &ids[0], "meh").await.data();
    let thread = app
        .gql_as(
            &ann.access,
            "query($id: ID!) { content(id: $id) { commentCount comments { totalCount edges { node { description commentCount creator { username } comments { edges { node { description } } } } } } } }",
            json!({ "id": ids[0] }),
        )
        .await;
    let thread = &thread.data()["content"];
    assert_eq!(thread["commentCount"], 2);
    assert_eq!(thread["comments"]["totalCount"], 2);
    assert_eq!(
        thread["comments"]["edges"][1]["node"]["description"],
        "nice"
    );
    assert_eq!(thread["comments"]["edges"][1]["node"]["commentCount"], 1);
    assert_eq!(
        thread["comments"]["edges"][1]["node"]["comments"]["edges"][0]["node"]["description"],
        "agreed"
    );
    // Its author edits a comment: live at once, with its history.
    update(&app, &bob, &top, json!({ "description": "very nice" }))
        .await
        .data();
    let edited = app
        .gql_as(
            &cat.access,
            "query($id: ID!) { content(id: $id) { description revisions { description status } } }",
            json!({ "id": top }),
        )
        .await;
    assert_eq!(
        edited.data()["content"],
        json!({ "description": "very nice", "revisions": [
            { "description": "very nice", "status": "APPROVED" },
            { "description": "nice", "status": "APPROVED" }
        ] })
    );
    assert_eq!(say(&bob, &ids[0], "").await.codes(), ["BAD_USER_INPUT"]);
    assert_eq!(
        say(&bob, &ids[0], &"x".repeat(5001)).await.codes(),
        ["BAD_USER_INPUT"]
    );
    update(&app, &ann, &ids[1], json!({ "commentsEnabled": false }))
        .await
        .data();
    assert_eq!(say(&bob, &ids[1], "hello").await.codes(), ["FORBIDDEN"]);
    // dan blocks bob: neither sees the other's comments; bob cannot reply to dan's.
    let dans = say(&dan, &ids[2], "mine").await.data()["comment"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.gql_as(
        &dan.access,
        "mutation($u: ID!) { block(userId: $u) { blocked } }",
        json!({ "u": bob.id }),
    )
    .await
    .data();
    let comments_seen = |who: &TestUser| {
        let token = who.access.clone();
        let id = ids[0].clone();
        let app = &app;
        async move {
            let page = app
                .gql_as(&token, "query($id: ID!) { content(id: $id) { comments { totalCount edges { node { description } } } } }", json!({ "id": id }))
                .await;
            page.data()["content"]["comments"]["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"]["description"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(comments_seen(&bob).await, ["very nice"]);
    assert_eq!(comments_seen(&dan).await, ["meh"]);
    assert_eq!(comments_seen(&cat).await, ["meh", "very nice"]);
    assert_eq!(say(&bob, &dans, "reply").await.codes(), ["FORBIDDEN"]);
    // A comment on an item the reader may not see is not seen either.
    update(&app, &ann, &ids[0], json!({ "privacy": "PRIVATE" }))
        .await
        .data();
    assert_eq!(read(&app, Some(&cat), &top).await.codes(), ["NOT_FOUND"]);
    // Deleting a comment takes it from the count.
    update(&app, &ann, &ids[0], json!({ "privacy": "PUBLIC" }))
        .await
        .data();
    app.gql_as(
        &bob.access,
        "mutation($id: ID!) { deleteContent(id: $id) }",
        json!({ "id": top }),
    )
    .await
    .data();
    assert_eq!(
        read(&app, Some(&cat), &ids[0]).await.data()["content"]["commentCount"],
        1
    );
});

/// Room for the sign-ups of hundreds of players at once.
fn many_signups(settings: &mut Settings) {
    trusting(settings);
    settings.bcrypt_queue = 1024;
}

/// Many players vote on one item at once, changing their votes as they go: the counts in
/// the item equal a recount of the vote rows.
async fn votes_race(app: TestApp, players: usize) {
    let ann = UserBuilder::new("ann").create(&app).await;
    let id = item(&app, &ann, "CONTENT", "contested").await;
    publish(&app, &ann, &id).await;
    let mut voters = Vec::new();
    for chunk in (0..players).collect::<Vec<_>>().chunks(50) {
        voters.extend(
            join_all(
                chunk
                    .iter()
                    .map(|i| UserBuilder::new(&format!("voter{i}")).create(&app)),
            )
            .await,
        );
    }
    let plan = [Some("UP"), Some("DOWN"), Some("UP"), None];
    let runs = voters.iter().enumerate().map(|(i, voter)| {
        let (app, id) = (&app, id.clone());
        async move {
            // Each voter ends on a different step of the plan.
            for step in plan.iter().cycle().skip(i % 4).take(4) {
                vote(app, voter, &id, *step).await.data();
            }
        }
    });
    join_all(runs).await;
    let row = content::Entity::find_by_id(id.parse::<i32>().unwrap())
        .one(&app.ctx.db)
        .await
        .unwrap()
        .unwrap();
    let count = |kind: vote::VoteKind| {
        vote::Entity::find()
            .filter(vote::Column::ContentId.eq(row.id))
            .filter(vote::Column::Vote.eq(kind))
            .count(&app.ctx.db)
    };
    let (up, down) = (
        count(vote::VoteKind::Up).await.unwrap(),
        count(vote::VoteKind::Down).await.unwrap(),
    );
    assert_eq!((row.up_votes as u64, row.down_votes as u64), (up, down));
    assert!(
        up > 0 && down > 0,
        "the plan leaves both kinds: {up} {down}"
    );
    assert!((row.best - arena_api::catalog::wilson(row.up_votes, row.down_votes)).abs() < 1e-12);
}

#[tokio::test]
async fn two_thousand_votes_from_500_players_all_count_postgres() {
    votes_race(
        TestApp::spawn_with(Backend::Postgres, many_signups).await,
        500,
    )
    .await;
}

#[tokio::test]
async fn votes_at_once_all_count_sqlite() {
    votes_race(
        TestApp::spawn_with(Backend::Sqlite, many_signups).await,
        100,
    )
    .await;
}

const QUEUE_ITEM: &str = "id action forwarded reportCount overdue content { name restricted } revision { name status } moderator { username } reports { reason status }";

async fn claim(app: &TestApp, who: &TestUser) -> Value {
    let claimed = app
        .gql_as(
            &who.access,
            &format!("mutation {{ claimModeration {{ {QUEUE_ITEM} }} }}"),
            json!({}),
        )
        .await;
    claimed.data()["claimModeration"].clone()
}

async fn decide(app: &TestApp, who: &TestUser, input: Value) -> arena_tests::GqlResponse {
    app.gql_as(
        &who.access,
        &format!("mutation($i: DecideModerationInput!) {{ decideModeration(input: $i) {{ {QUEUE_ITEM} banIds }} }}"),
        json!({ "i": input }),
    )
    .await
}

async fn report(app: &TestApp, who: &TestUser, id: &str, reason: &str) -> arena_tests::GqlResponse {
    app.gql_as(
        &who.access,
        "mutation($id: ID!, $r: ContentReportReason!) { reportContent(input: { contentId: $id, reason: $r, description: \"look\" }) { id status itemId } }",
        json!({ "id": id, "r": reason }),
    )
    .await
}

arena_tests::both_configured!(moderators_work_the_queue, cautious, |app| {
    let moderator = UserBuilder::new("mod")
        .with_role("moderator")
        .create(&app)
        .await;
    let other_mod = UserBuilder::new("mod2")
        .with_role("moderator")
        .create(&app)
        .await;
    let admin = UserBuilder::new("admin")
        .with_role("admin")
        .create(&app)
        .await;
    let [ann, bob, cat] =
        <[TestUser; 3]>::try_from(users(&app, &["ann", "bob", "cat"]).await).unwrap();

    // An untrusted creator's item waits for review before anyone else sees it.
    let hat = item(&app, &ann, "HAT", "Cap").await;
    publish(&app, &ann, &hat).await;
    assert_eq!(read(&app, Some(&bob), &hat).await.codes(), ["NOT_FOUND"]);
    assert!(listing(&app, None, "").await.is_empty());
    let queue = app.gql_as(&moderator.access, "{ moderationQueue { totalCount edges { node { content { name } revision { status } } } } }", json!({})).await;
    assert_eq!(queue.data()["moderationQueue"]["totalCount"], 1);
    assert_eq!(
        queue.data()["moderationQueue"]["edges"][0]["node"],
        json!({ "content": { "name": "Cap" }, "revision": { "status": "PENDING" } })
    );
    assert_eq!(
        app.gql_as(&bob.access, "{ moderationQueue { totalCount } }", json!({}))
            .await
            .codes(),
        ["FORBIDDEN"]
    );

    let first = claim(&app, &moderator).await;
    assert_eq!(first["moderator"]["username"], "mod");
    assert_eq!(
        claim(&app, &moderator).await["id"],
        first["id"],
        "a moderator keeps the item they hold"
    );
    assert_eq!(
        claim(&app, &other_mod).await,
        Value::Null,
        "nobody else gets it"
    );
    assert_eq!(
        decide(
            &app,
            &other_mod,
            json!({ "itemId": first["id"], "decision": "APPROVE" })
        )
        .await
        .codes(),
        ["CONFLICT"]
    );
    assert_eq!(
        decide(
            &app,
            &moderator,
            json!({ "itemId": first["id"], "decision": "REJECT" })
        )
        .await
        .codes(),
        ["BAD_USER_INPUT"]
    );
    assert_eq!(
        decide(
            &app,
            &moderator,
            json!({ "itemId": first["id"], "decision": "APPROVE", "penalty": { "reason": "x" } })
        )
        .await
        .codes(),
        ["BAD_USER_INPUT"]
    );
    let approved = decide(
        &app,
        &moderator,
        json!({ "itemId": first["id"], "decision": "APPROVE", "description": "fine" }),
    )
    .await;
    assert_eq!(approved.data()["decideModeration"]["action"], "APPROVE");
    assert_eq!(
        decide(
            &app,
            &moderator,
            json!({ "itemId": first["id"], "decision": "APPROVE" })
        )
        .await
        .codes(),
        ["CONFLICT"]
    );
    assert_eq!(
        read(&app, Some(&bob), &hat).await.data()["content"]["name"],
        "Cap"
    );

    // Now trusted (one approval): the next change goes live at once. A second creator's
    // change to a live item waits, and readers keep the approved text meanwhile.
    update(&app, &ann, &hat, json!({ "name": "Cap two" }))
        .await
        .data();
    assert_eq!(
        read(&app, Some(&bob), &hat).await.data()["content"]["name"],
        "Cap two"
    );
    let scarf = item(&app, &bob, "ACCESSORY", "Scarf").await;
    publish(&app, &bob, &scarf).await;
    let scarf_review = claim(&app, &moderator).await;
    decide(
        &app,
        &moderator,
        json!({ "itemId": scarf_review["id"], "decision": "APPROVE" }),
    )
    .await
    .data();
    // bob is trusted now too; cat is not.
    item_published(&app, &cat, "Sign").await;
    let pending = claim(&app, &moderator).await;
    decide(
        &app,
        &moderator,
        json!({ "itemId": pending["id"], "decision": "APPROVE" }),
    )
    .await
    .data();
    let eve = UserBuilder::new("eve").create(&app).await;
    let poster = item_published(&app, &eve, "Poster").await;
    let review = claim(&app, &moderator).await;
    decide(
        &app,
        &moderator,
        json!({ "itemId": review["id"], "decision": "APPROVE" }),
    )
    .await
    .data();
    assert_eq!(
        read(&app, None, &poster).await.data()["content"]["name"],
        "Poster"
    );

    // Reports gather in one item per revision; one open report per player.
    report(&app, &bob, &poster, "SPAM").await.data();
    report(&app, &cat, &poster, "ILLEGAL").await.data();
    assert_eq!(
        report(&app, &cat, &poster, "SPAM").await.codes(),
        ["CONFLICT"]
    );
    assert_eq!(
        report(&app, &eve, &poster, "SPAM").await.codes(),
        ["BAD_USER_INPUT"]
    );
    assert_eq!(
        report(&app, &bob, "424242", "SPAM").await.codes(),
        ["NOT_FOUND"]
    );
    let reported = claim(&app, &other_mod).await;
    assert_eq!(reported["reportCount"], 2);
    assert_eq!(reported["content"]["name"], "Poster");

    // Rejected with a penalty: the live item is taken down, the creator is banned, the
    // reports are resolved, and the audit log says so.
    let rejected = decide(
        &app,
        &other_mod,
        json!({ "itemId": reported["id"], "decision": "REJECT", "rejectionReason": "ILLEGAL", "description": "stolen", "penalty": { "reason": "illegal content", "days": 7 } }),
    )
    .await;
    let rejected = rejected.data()["decideModeration"].clone();
    assert_eq!(rejected["action"], "REJECT");
    assert_eq!(rejected["content"]["restricted"], true);
    assert_eq!(rejected["banIds"].as_array().unwrap().len(), 1);
    assert_eq!(
        rejected["reports"],
        json!([{ "reason": "ILLEGAL", "status": "RESOLVED" }, { "reason": "SPAM", "status": "RESOLVED" }])
    );
    assert_eq!(read(&app, Some(&bob), &poster).await.codes(), ["NOT_FOUND"]);
    assert_eq!(
        app.gql_as(&eve.access, "{ me { username } }", json!({}))
            .await
            .codes(),
        ["BANNED"]
    );
    let audit = app
        .gql_as(&admin.access, "{ auditLog(filter: { targetType: \"content\" }) { edges { node { action reason actor { username } } } } }", json!({}))
        .await;
    let actions: Vec<&str> = audit.data()["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "content.reject",
            "content.approve",
            "content.approve",
            "content.approve",
            "content.approve"
        ]
    );
    let bans = app
        .gql_as(
            &admin.access,
            "{ auditLog(filter: { action: \"ban.create\" }) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(bans.data()["auditLog"]["totalCount"], 1);

    // Forwarded items are for the admins only.
    report(&app, &cat, &scarf, "HATE").await.data();
    let to_forward = claim(&app, &moderator).await;
    let forwarded = decide(
        &app,
        &moderator,
        json!({ "itemId": to_forward["id"], "decision": "FORWARD" }),
    )
    .await;
    assert_eq!(forwarded.data()["decideModeration"]["action"], "FORWARD");
    assert_eq!(claim(&app, &moderator).await, Value::Null);
    let escalated = claim(&app, &admin).await;
    assert_eq!(escalated["forwarded"], true);
    assert_eq!(escalated["reportCount"], 1);
    assert_eq!(
        escalated["reports"],
        json!([{ "reason": "HATE", "status": "OPEN" }])
    );
    decide(
        &app,
        &admin,
        json!({ "itemId": escalated["id"], "decision": "APPROVE" }),
    )
    .await
    .data();
    let closed = app
        .gql_as(
            &moderator.access,
            "{ contentReports(status: INVALID) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(closed.data()["contentReports"]["totalCount"], 1);
    assert_eq!(
        read(&app, None, &scarf).await.data()["content"]["restricted"],
        false
    );
});

async fn item_published(app: &TestApp, who: &TestUser, name: &str) -> String {
    let id = item(app, who, "CONTENT", name).await;
    publish(app, who, &id).await;
    id
}

/// Twenty moderators claim at once from a queue of twenty: each item goes to exactly one.
async fn claims_race(app: TestApp) {
    let creator = UserBuilder::new("maker").create(&app).await;
    for i in 0..20 {
        item_published(&app, &creator, &format!("item {i}")).await;
    }
    let moderators = join_all((0..20).map(|i| {
        UserBuilder::new(&format!("mod{i}"))
            .with_role("moderator")
            .create(&app)
    }))
    .await;
    let claimed = join_all(moderators.iter().map(|m| claim(&app, m))).await;
    let mut ids: Vec<String> = claimed
        .iter()
        .map(|c| {
            c["id"]
                .as_str()
                .expect("every moderator gets one")
                .to_owned()
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20, "{claimed:#?}");
}

#[tokio::test]
async fn twenty_moderators_claim_each_item_once_postgres() {
    claims_race(TestApp::spawn_on(Backend::Postgres).await).await;
}

#[tokio::test]
async fn twenty_moderators_claim_each_item_once_sqlite() {
    claims_race(TestApp::spawn_on(Backend::Sqlite).await).await;
}

#[tokio::test]
async fn a_lapsed_claim_returns_to_the_queue() {
    let app = TestApp::spawn_configured(|s| s.moderation_claim_seconds = 1).await;
    let creator = UserBuilder::new("maker").create(&app).await;
    let first = UserBuilder::new("mod1")
        .with_role("moderator")
        .create(&app)
        .await;
    let second = UserBuilder::new("mod2")
        .with_role("moderator")
        .create(&app)
        .await;
    item_published(&app, &creator, "lonely").await;
    let held = claim(&app, &first).await;
    assert_eq!(claim(&app, &second).await, Value::Null);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let taken = claim(&app, &second).await;
    assert_eq!(taken["id"], held["id"]);
    assert_eq!(
        decide(
            &app,
            &first,
            json!({ "itemId": held["id"], "decision": "APPROVE" })
        )
        .await
        .codes(),
        ["CONFLICT"]
    );
    let released = app
        .gql_as(
            &second.access,
            "mutation($id: ID!) { releaseModeration(itemId: $id) { moderator { username } } }",
            json!({ "id": taken["id"] }),
        )
        .await;
    assert_eq!(
        released.data()["releaseModeration"]["moderator"],
        Value::Null
    );
    assert_eq!(claim(&app, &first).await["id"], held["id"]);
}

arena_tests::both_configured!(games_carry_their_settings, trusting, |app| {
    let ann = UserBuilder::new("ann").create(&app).await;
    let bob = UserBuilder::new("bob").create(&app).await;
    let hero = item_published(&app, &ann, "Hero").await;
    let game = create(
        &app,
        &ann,
        json!({ "type": "GAME", "name": "Arena Ball", "game": { "hosted": true, "maxPlayers": 8, "supports": [{ "flag": "CHARACTER", "contentId": hero }, { "flag": "CHAT", "enabled": false }] } }),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    publish(&app, &ann, &game).await;
    let seen = app
        .gql("query($id: ID!) { game(id: $id) { hosted maxPlayers supports { flag enabled content { name } } content { name game { maxPlayers } } } }", json!({ "id": game }))
        .await;
    assert_eq!(
        seen.data()["game"],
        json!({ "hosted": true, "maxPlayers": 8, "supports": [
            { "flag": "CHARACTER", "enabled": true, "content": { "name": "Hero" } },
            { "flag": "CHAT", "enabled": false, "content": null }
        ], "content": { "name": "Arena Ball", "game": { "maxPlayers": 8 } } })
    );
    let change = |who: &TestUser, input: Value| {
        let token = who.access.clone();
        let (app, game) = (&app, game.clone());
        async move {
            app.gql_as(&token, "mutation($id: ID!, $i: GameInput!) { updateGame(id: $id, input: $i) { maxPlayers supports { flag } } }", json!({ "id": game, "i": input }))
                .await
        }
    };
    assert_eq!(
        change(&ann, json!({ "maxPlayers": 0 })).await.codes(),
        ["BAD_USER_INPUT"]
    );
    assert_eq!(
        change(&ann, json!({ "maxPlayers": 10_001 })).await.codes(),
        ["BAD_USER_INPUT"]
    );
    assert_eq!(
        change(&bob, json!({ "maxPlayers": 4 })).await.codes(),
        ["FORBIDDEN"]
    );
    let changed = change(
        &ann,
        json!({ "maxPlayers": 32, "supports": [{ "flag": "INDIVIDUAL_CHARACTER_FEATURES" }] }),
    )
    .await;
    assert_eq!(
        changed.data()["updateGame"],
        json!({ "maxPlayers": 32, "supports": [{ "flag": "INDIVIDUAL_CHARACTER_FEATURES" }] })
    );
    assert_eq!(
        app.gql(
            "query($id: ID!) { game(id: $id) { id } }",
            json!({ "id": hero })
        )
        .await
        .codes(),
        ["NOT_FOUND"]
    );
    update(&app, &ann, &game, json!({ "privacy": "PRIVATE" }))
        .await
        .data();
    assert_eq!(
        app.gql_as(
            &bob.access,
            "query($id: ID!) { game(id: $id) { id } }",
            json!({ "id": game })
        )
        .await
        .codes(),
        ["NOT_FOUND"]
    );
});

/// A page of content with every nested field costs the same statements at 10 items as at 50.
#[tokio::test]
async fn nested_fields_cost_constant_statements() {
    let app = TestApp::spawn_with(Backend::Postgres, trusting).await;
    let admin = UserBuilder::new("admin")
        .with_role("admin")
        .create(&app)
        .await;
    category(
        &app,
        &admin,
        json!({ "name": "All", "contentTypes": ["CONTENT", "GAME"] }),
    )
    .await
    .data();
    let makers = users(&app, &["ann", "bob", "cat", "dan", "eve"]).await;
    let viewer = UserBuilder::new("viewer").create(&app).await;
    let mut previous: Option<String> = None;
    for i in 0..50 {
        let maker = &makers[i % makers.len()];
        let kind = if i % 5 == 0 { "GAME" } else { "CONTENT" };
        let id = item(&app, maker, kind, &format!("item {i}")).await;
        publish(&app, maker, &id).await;
        update(
            &app,
            maker,
            &id,
            json!({ "description": "second revision" }),
        )
        .await
        .data();
        if let Some(prev) = &previous {
            let related = app
                .gql_as(&maker.access, "mutation($a: ID!, $b: ID!) { relateContent(input: { firstId: $a, secondId: $b, relation: RELATED }) { id } }", json!({ "a": id, "b": prev }))
                .await;
            related.data();
        }
        if i % 2 == 0 {
            vote(&app, &viewer, &id, Some("UP")).await.data();
        }
        previous = Some(id);
    }
    let page = |n: usize| {
        format!(
            "{{ contents(orderBy: BEST, first: {n}) {{ edges {{ node {{ name score upVotes commentCount favoriteCount myVote favorited \
             creator {{ username }} categories {{ name }} revisions {{ name }} liveRevision {{ id }} \
             relations {{ other {{ name creator {{ username }} }} }} incoming: relations(direction: INCOMING) {{ other {{ name }} }} \
             game {{ maxPlayers supports {{ flag }} }} parent {{ name }} }} }} }} }}"
        )
    };
    let run = |n: usize| {
        let query = page(n);
        let (app, token) = (&app, viewer.access.clone());
        async move {
            let response = app.gql_as(&token, &query, json!({})).await;
            assert_eq!(
                response.data()["contents"]["edges"]
                    .as_array()
                    .unwrap()
                    .len(),
                n
            );
        }
    };
    run(5).await; // warm the viewer cache
    let (small, ()) = app.least_statements(|| run(10)).await;
    let (large, ()) = app.least_statements(|| run(50)).await;
    assert_eq!(
        small, large,
        "statements for 10 items: {small}, for 50: {large}"
    );
    assert!(large <= 16, "{large} statements for a page");
}

arena_tests::both_configured!(hidden_items_stay_hidden_in_every_field, trusting, |app| {
    let [ann, bob] = <[TestUser; 2]>::try_from(users(&app, &["ann", "bob"]).await).unwrap();
    let public = item_published(&app, &ann, "Open thing").await;
    let secret = item_published(&app, &ann, "Secret thing").await;
    let relate = "mutation($a: ID!, $b: ID!) { relateContent(input: { firstId: $a, secondId: $b, relation: VISUAL }) { id } }";
    app.gql_as(&ann.access, relate, json!({ "a": public, "b": secret }))
        .await
        .data();
    let game = create(
        &app,
        &ann,
        json!({ "type": "GAME", "name": "Quest", "game": { "supports": [{ "flag": "CHARACTER", "contentId": secret }] } }),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    publish(&app, &ann, &game).await;
    let part = create(
        &app,
        &ann,
        json!({ "type": "CONTENT", "name": "Piece", "parentId": secret }),
    )
    .await;
    publish(&app, &ann, part["id"].as_str().unwrap()).await;
    update(&app, &ann, &secret, json!({ "privacy": "PRIVATE" }))
        .await
        .data();

    let nested = app
        .gql_as(
            &bob.access,
            "query($p: ID!, $g: ID!, $c: ID!) { content(id: $p) { relations { other { name } } } \
             game(id: $g) { supports { flag content { name } } } piece: content(id: $c) { parent { name } } }",
            json!({ "p": public, "g": game, "c": part["id"] }),
        )
        .await;
    assert_eq!(nested.data()["content"]["relations"], json!([]));
    assert_eq!(
        nested.data()["game"]["supports"],
        json!([{ "flag": "CHARACTER", "content": null }])
    );
    assert_eq!(nested.data()["piece"]["parent"], Value::Null);
    assert!(
        listing(&app, Some(&bob), "filter: { text: \"secret\" }")
            .await
            .is_empty()
    );
    assert_eq!(read(&app, Some(&bob), &secret).await.codes(), ["NOT_FOUND"]);
    // Writes on what one may not see are NOT_FOUND too.
    for (query, vars) in [
        (
            "mutation($id: ID!) { vote(contentId: $id, vote: UP) { id } }",
            json!({ "id": secret }),
        ),
        (
            "mutation($id: ID!) { favorite(contentId: $id) { id } }",
            json!({ "id": secret }),
        ),
        (
            "mutation($id: ID!) { comment(contentId: $id, text: \"hi\") { id } }",
            json!({ "id": secret }),
        ),
        (
            "mutation($id: ID!) { reportContent(input: { contentId: $id, reason: SPAM }) { id } }",
            json!({ "id": secret }),
        ),
        (
            "mutation($id: ID!) { updateContent(id: $id, input: { name: \"x\" }) { id } }",
            json!({ "id": secret }),
        ),
        (
            "mutation($id: ID!) { deleteContent(id: $id) }",
            json!({ "id": secret }),
        ),
    ] {
        assert_eq!(
            app.gql_as(&bob.access, query, vars).await.codes(),
            ["NOT_FOUND"],
            "{query}"
        );
    }
    // Its creator still sees every link.
    let own = app
        .gql_as(
            &ann.access,
            "query($p: ID!) { content(id: $p) { relations { other { name } } } }",
            json!({ "p": public }),
        )
        .await;
    assert_eq!(
        own.data()["content"]["relations"],
        json!([{ "other": { "name": "Secret thing" } }])
    );
});

async fn names(instance: &TestApp) -> Vec<String> {
    let tree = instance.gql("{ categories { name } }", json!({})).await;
    tree.data()["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Each instance holds the category tree between writes; a write on one drops it on all.
#[tokio::test]
async fn a_category_write_reaches_every_instance() {
    let app = TestApp::spawn_on(Backend::Postgres).await;
    let other = app.another_instance().await;
    let admin = UserBuilder::new("admin")
        .with_role("admin")
        .create(&app)
        .await;
    category(&app, &admin, json!({ "name": "First" }))
        .await
        .data();
    assert_eq!(names(&other).await, ["First"]);
    category(&app, &admin, json!({ "name": "Second" }))
        .await
        .data();
    assert_eq!(names(&other).await, ["First", "Second"]);
    assert_eq!(names(&app).await, ["First", "Second"]);
}

/// Reports arrive while a moderator decides the item they gather on: every report lands, on
/// the decided item or on a new one, and each item's count equals its reports.
#[tokio::test]
async fn reports_racing_a_decision_all_land() {
    use arena_entity::catalog::{moderator_action, report};
    let app = TestApp::spawn_with(Backend::Postgres, many_signups).await;
    let ann = UserBuilder::new("ann").create(&app).await;
    let moderator = UserBuilder::new("mod")
        .with_role("moderator")
        .create(&app)
        .await;
    let names: Vec<String> = (0..20).map(|i| format!("reporter{i}")).collect();
    let reporters = join_all(names.iter().map(|n| UserBuilder::new(n).create(&app))).await;
    let id = item_published(&app, &ann, "Contested").await;
    report(&app, &reporters[0], &id, "SPAM").await.data();
    let held = claim(&app, &moderator).await;
    let decision = decide(
        &app,
        &moderator,
        json!({ "itemId": held["id"], "decision": "APPROVE" }),
    );
    let reports = join_all(reporters[1..].iter().map(|r| report(&app, r, &id, "HATE")));
    let (decided, filed) = tokio::join!(decision, reports);
    decided.data();
    for one in &filed {
        one.data();
    }
    let items = moderator_action::Entity::find()
        .all(&app.ctx.db)
        .await
        .unwrap();
    let filed = report::Entity::find().all(&app.ctx.db).await.unwrap();
    assert_eq!(filed.len(), 20);
    for item in &items {
        let gathered = filed
            .iter()
            .filter(|r| r.action_id == Some(item.id))
            .count();
        assert_eq!(item.report_count as usize, gathered, "{item:?}");
    }
    assert!(filed.iter().all(|r| r.action_id.is_some()));
}

/// Anonymous catalog reads are answered from the public cache until a change: on this
/// instance at once, on another through the bus; signed-in reads, other roots and answers
/// with errors are never kept.
#[tokio::test]
async fn anonymous_listings_are_reused_until_a_change() {
    let app = TestApp::spawn_with(Backend::Postgres, |s| {
        trusting(s);
        s.public_cache_seconds = 60;
    })
    .await;
    let other = app.another_instance().await;
    let [ann, bob] = <[TestUser; 2]>::try_from(users(&app, &["ann", "bob"]).await).unwrap();
    let hat = item(&app, &ann, "HAT", "Green hat").await;
    publish(&app, &ann, &hat).await;
    let page = "{ contents(orderBy: BEST, first: 10) { edges { node { name upVotes creator { username } } } } }";
    let up_votes = |response: &arena_tests::GqlResponse| {
        response.data()["contents"]["edges"][0]["node"]["upVotes"].clone()
    };
    let first = app.gql(page, json!({})).await;
    assert_eq!(up_votes(&first), 0);
    other.gql(page, json!({})).await.data();
    let (statements, again) = app.least_statements(|| app.gql(page, json!({}))).await;
    assert_eq!((statements, up_votes(&again)), (0, json!(0)), "reused");
    let (statements, _) = app
        .statements_during(app.gql_as(&bob.access, page, json!({})))
        .await;
    assert!(statements > 0, "a signed-in read is never reused");

    vote(&app, &bob, &hat, Some("UP")).await.data();
    assert_eq!(
        up_votes(&app.gql(page, json!({})).await),
        1,
        "dropped here at once"
    );
    let mut seen = json!(0);
    for _ in 0..100 {
        seen = up_votes(&other.gql(page, json!({})).await);
        if seen == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(seen, 1, "dropped on the other instance through the bus");

    // Restricted or deleted: gone from the next anonymous answer.
    app.gql_as(
        &ann.access,
        "mutation($id: ID!) { deleteContent(id: $id) }",
        json!({ "id": hat }),
    )
    .await
    .data();
    let after = app.gql(page, json!({})).await;
    assert_eq!(after.data()["contents"]["edges"], json!([]));
    // Answers with errors are computed each time.
    let missing = "query($id: ID!) { content(id: $id) { name } }";
    app.gql(missing, json!({ "id": hat })).await;
    let (statements, refused) = app
        .statements_during(app.gql(missing, json!({ "id": hat })))
        .await;
    assert_eq!(refused.codes(), ["NOT_FOUND"]);
    assert!(statements > 0);
}
