//! The social graph: friend requests and their answers, follows, blocks and what a block
//! hides, the standing shown on every account, races between the two players of a pair, and
//! live changes on another instance.

use std::time::Duration;

use arena_entity::players::{follow, friend};
use arena_tests::{Backend, TestApp, TestUser, UserBuilder, WsEvent, on_both_backends};
use futures_util::future::join_all;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

const STANDING: &str = "user { username } friend following followsYou blocked";

/// Runs the social mutation `name` as `who` on `other`; the raw response.
async fn act(app: &TestApp, who: &TestUser, name: &str, other: &str) -> arena_tests::GqlResponse {
    app.gql_as(
        &who.access,
        &format!("mutation($u: ID!) {{ {name}(userId: $u) {{ {STANDING} }} }}"),
        json!({ "u": other }),
    )
    .await
}

/// Runs `name` and returns the standing it answers, failing on errors.
async fn standing(app: &TestApp, who: &TestUser, name: &str, other: &TestUser) -> Value {
    act(app, who, name, &other.id).await.data()[name].clone()
}

/// The usernames of a list query's nodes, as `who` (or anonymous) sees it.
async fn names(app: &TestApp, who: Option<&TestUser>, list: &str) -> Vec<String> {
    let query = format!("{{ {list} {{ totalCount edges {{ node {{ user {{ username }} }} }} }} }}");
    let response = match who {
        Some(who) => app.gql_as(&who.access, &query, json!({})).await,
        None => app.gql(&query, json!({})).await,
    };
    let field = list.split('(').next().unwrap();
    let page = &response.data()[field];
    let found: Vec<String> = page["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["user"]["username"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(page["totalCount"], found.len(), "{list}: {page:#}");
    found
}

async fn users(app: &TestApp, names: &[&str]) -> Vec<TestUser> {
    let mut made = Vec::new();
    for name in names {
        made.push(UserBuilder::new(name).create(app).await);
    }
    made
}

on_both_backends! {
    async fn friend_requests_run_their_course(app) {
        let [ann, bob, cat] = <[TestUser; 3]>::try_from(users(&app, &["ann", "bob", "cat"]).await).unwrap();

        let asked = standing(&app, &ann, "requestFriend", &bob).await;
        assert_eq!(asked["friend"], "REQUESTED");
        assert_eq!(asked["user"]["username"], "bob");
        assert_eq!(names(&app, Some(&bob), "friendRequests(direction: INCOMING)").await, ["ann"]);
        assert_eq!(names(&app, Some(&ann), "friendRequests(direction: OUTGOING)").await, ["bob"]);
        assert!(names(&app, Some(&bob), "friendRequests(direction: OUTGOING)").await.is_empty());
        let seen = app
            .gql_as(&bob.access, "query($u: ID!) { user(id: $u) { relationship { friend } } }", json!({ "u": ann.id }))
            .await;
        assert_eq!(seen.data()["user"]["relationship"]["friend"], "REQUEST_RECEIVED");

        // Refusals change nothing.
        assert_eq!(act(&app, &ann, "requestFriend", &bob.id).await.codes(), ["CONFLICT"]);
        assert_eq!(act(&app, &ann, "requestFriend", &ann.id).await.codes(), ["BAD_USER_INPUT"]);
        assert_eq!(act(&app, &ann, "requestFriend", &Uuid::new_v4().to_string()).await.codes(), ["NOT_FOUND"]);
        assert_eq!(act(&app, &ann, "requestFriend", "../etc/passwd").await.codes(), ["BAD_USER_INPUT"]);
        assert_eq!(act(&app, &ann, "acceptFriend", &bob.id).await.codes(), ["NOT_FOUND"], "only the asked accepts");
        let anonymous = app.gql("mutation($u: ID!) { requestFriend(userId: $u) { friend } }", json!({ "u": bob.id })).await;
        assert_eq!(anonymous.codes(), ["UNAUTHENTICATED"]);
        assert_eq!(app.gql("{ friends { totalCount } }", json!({})).await.codes(), ["UNAUTHENTICATED"]);
        assert_eq!(names(&app, Some(&bob), "friendRequests(direction: INCOMING)").await, ["ann"]);

        // Declined, asked again, accepted.
        assert_eq!(standing(&app, &bob, "declineFriend", &ann).await["friend"], "NONE");
        assert!(names(&app, Some(&bob), "friendRequests(direction: INCOMING)").await.is_empty());
        standing(&app, &ann, "requestFriend", &bob).await;
        assert_eq!(standing(&app, &bob, "acceptFriend", &ann).await["friend"], "FRIENDS");
        assert_eq!(names(&app, Some(&ann), "friends").await, ["bob"]);
        assert_eq!(names(&app, Some(&bob), "friends").await, ["ann"]);
        assert!(names(&app, Some(&bob), "friendRequests(direction: INCOMING)").await.is_empty());
        assert_eq!(act(&app, &bob, "requestFriend", &ann.id).await.codes(), ["CONFLICT"]);

        // Ended by either side.
        assert_eq!(standing(&app, &ann, "removeFriend", &bob).await["friend"], "NONE");
        assert!(names(&app, Some(&bob), "friends").await.is_empty());
        assert_eq!(act(&app, &ann, "removeFriend", &bob.id).await.codes(), ["NOT_FOUND"]);

        // Withdrawn before an answer.
        standing(&app, &cat, "requestFriend", &ann).await;
        assert_eq!(act(&app, &cat, "removeFriend", &ann.id).await.codes(), ["NOT_FOUND"], "a request is not a friendship");
        assert_eq!(standing(&app, &cat, "cancelFriendRequest", &ann).await["friend"], "NONE");
        assert_eq!(act(&app, &ann, "acceptFriend", &cat.id).await.codes(), ["NOT_FOUND"]);

        // Two requests crossing make a friendship.
        assert_eq!(standing(&app, &cat, "requestFriend", &bob).await["friend"], "REQUESTED");
        assert_eq!(standing(&app, &bob, "requestFriend", &cat).await["friend"], "FRIENDS");
        assert_eq!(names(&app, Some(&cat), "friends").await, ["bob"]);
    }
}

on_both_backends! {
    async fn a_block_ends_everything_between_two_players_and_hides_each_from_the_other(app) {
        let [ann, bob, cat, dan] =
            <[TestUser; 4]>::try_from(users(&app, &["ann", "bob", "cat", "dan"]).await).unwrap();
        standing(&app, &ann, "requestFriend", &bob).await;
        standing(&app, &bob, "acceptFriend", &ann).await;
        standing(&app, &ann, "follow", &bob).await;
        let mutual = standing(&app, &bob, "follow", &ann).await;
        assert_eq!((mutual["following"].clone(), mutual["followsYou"].clone()), (json!(true), json!(true)));
        standing(&app, &cat, "follow", &bob).await;
        for who in [&ann, &bob, &cat] {
            standing(&app, who, "follow", &dan).await;
        }
        assert_eq!(act(&app, &cat, "follow", &bob.id).await.codes(), ["CONFLICT"]);

        let blocked = standing(&app, &bob, "block", &ann).await;
        assert_eq!(blocked, json!({
            "user": { "username": "ann" }, "friend": "NONE", "following": false,
            "followsYou": false, "blocked": true,
        }));
        assert!(names(&app, Some(&ann), "friends").await.is_empty());
        assert!(names(&app, Some(&bob), "friends").await.is_empty());
        assert_eq!(names(&app, Some(&bob), "blockedPlayers").await, ["ann"]);
        assert!(names(&app, Some(&ann), "blockedPlayers").await.is_empty());
        // Ann is not told that Bob blocks her.
        let seen = app
            .gql_as(&ann.access, &format!("query($u: ID!) {{ user(id: $u) {{ relationship {{ {STANDING} }} }} }}"), json!({ "u": bob.id }))
            .await;
        assert_eq!(seen.data()["user"]["relationship"]["blocked"], false);

        // Neither can reach the other while it stands.
        assert_eq!(act(&app, &ann, "requestFriend", &bob.id).await.codes(), ["FORBIDDEN"]);
        assert_eq!(act(&app, &ann, "follow", &bob.id).await.codes(), ["FORBIDDEN"]);
        assert_eq!(act(&app, &bob, "requestFriend", &ann.id).await.codes(), ["CONFLICT"]);
        assert_eq!(act(&app, &bob, "follow", &ann.id).await.codes(), ["CONFLICT"]);
        assert_eq!(act(&app, &bob, "block", &ann.id).await.codes(), ["CONFLICT"]);
        let hidden = app
            .gql_as(&ann.access, "query($u: ID!) { followers(userId: $u) { totalCount } }", json!({ "u": bob.id }))
            .await;
        assert_eq!(hidden.codes(), ["NOT_FOUND"]);

        // Lists leave out whoever is in a block with the reader.
        let followers_of_bob = format!("followers(userId: \"{}\")", bob.id);
        assert_eq!(names(&app, None, &followers_of_bob).await, ["cat"], "ann's follow ended");
        assert_eq!(names(&app, Some(&cat), &followers_of_bob).await, ["cat"]);
        let followers_of_dan = format!("followers(userId: \"{}\")", dan.id);
        assert_eq!(names(&app, None, &followers_of_dan).await, ["cat", "bob", "ann"]);
        assert_eq!(names(&app, Some(&bob), &followers_of_dan).await, ["cat", "bob"]);
        assert_eq!(names(&app, Some(&ann), &followers_of_dan).await, ["cat", "ann"]);
        let following = format!("following(userId: \"{}\")", ann.id);
        assert_eq!(names(&app, Some(&cat), &following).await, ["dan"]);

        // Lifted: both may reach out again; nothing the block ended comes back.
        assert_eq!(standing(&app, &bob, "unblock", &ann).await, json!({
            "user": { "username": "ann" }, "friend": "NONE", "following": false,
            "followsYou": false, "blocked": false,
        }));
        assert_eq!(act(&app, &bob, "unblock", &ann.id).await.codes(), ["NOT_FOUND"]);
        assert_eq!(standing(&app, &ann, "requestFriend", &bob).await["friend"], "REQUESTED");
        assert_eq!(names(&app, Some(&ann), &followers_of_dan).await, ["cat", "bob", "ann"]);
    }
}

/// Friends rows between `a` and `b`, either way.
async fn friend_rows(app: &TestApp, a: Uuid, b: Uuid) -> Vec<friend::Model> {
    friend::Entity::find()
        .filter(friend::Column::UserId.is_in([a, b]))
        .filter(friend::Column::TargetId.is_in([a, b]))
        .all(&app.ctx.db)
        .await
        .unwrap()
}

fn uuid(user: &TestUser) -> Uuid {
    Uuid::parse_str(&user.id).unwrap()
}

on_both_backends! {
    async fn requests_crossing_and_blocks_racing_requests_leave_each_pair_consistent(app) {
        const PAIRS: usize = 12;
        let mut people = Vec::new();
        for n in 0..PAIRS * 4 {
            people.push(UserBuilder::new(&format!("player{n}")).create(&app).await);
        }
        let (crossing, racing) = people.split_at(PAIRS * 2);

        // Both players of each pair ask the other at once: every pair ends as friends, each
        // with one row, and neither request is refused.
        let asks = crossing.chunks(2).flat_map(|p| {
            [act(&app, &p[0], "requestFriend", &p[1].id), act(&app, &p[1], "requestFriend", &p[0].id)]
        });
        for answer in join_all(asks).await {
            answer.data();
        }
        for p in crossing.chunks(2) {
            let rows = friend_rows(&app, uuid(&p[0]), uuid(&p[1])).await;
            assert_eq!(rows.len(), 1, "{} and {}", p[0].username, p[1].username);
            assert!(!rows[0].pending, "{} and {}", p[0].username, p[1].username);
        }

        // One blocks while the other asks and follows: whatever order they ran in, the block
        // stands and nothing else remains between them.
        let moves = racing.chunks(2).flat_map(|p| {
            [
                act(&app, &p[0], "block", &p[1].id),
                act(&app, &p[1], "requestFriend", &p[0].id),
                act(&app, &p[1], "follow", &p[0].id),
            ]
        });
        let answers = join_all(moves).await;
        for (n, answer) in answers.iter().enumerate() {
            if n % 3 == 0 {
                answer.data();
            } else if answer.body.get("errors").is_some() {
                assert_eq!(answer.codes(), ["FORBIDDEN"], "{:#}", answer.body);
            }
        }
        for p in racing.chunks(2) {
            let (a, b) = (uuid(&p[0]), uuid(&p[1]));
            assert!(friend_rows(&app, a, b).await.is_empty(), "{}", p[0].username);
            let follows = follow::Entity::find()
                .filter(follow::Column::UserId.is_in([a, b]))
                .filter(follow::Column::TargetId.is_in([a, b]))
                .count(&app.ctx.db)
                .await
                .unwrap();
            assert_eq!(follows, 0, "{}", p[0].username);
        }
    }
}

#[tokio::test]
async fn a_page_of_players_with_their_standing_costs_the_same_statements_whatever_its_size() {
    let app = TestApp::spawn_on(Backend::Postgres).await;
    let star = UserBuilder::new("star").create(&app).await;
    let reader = UserBuilder::new("reader").create(&app).await;
    for n in 0..12 {
        let fan = UserBuilder::new(&format!("fan{n}")).create(&app).await;
        standing(&app, &fan, "follow", &star).await;
        if n % 2 == 0 {
            standing(&app, &reader, "requestFriend", &fan).await;
        }
        if n % 3 == 0 {
            standing(&app, &fan, "follow", &reader).await;
        }
    }
    let page = |first: usize| {
        let query = format!(
            "query($u: ID!) {{ followers(userId: $u, first: {first}) {{ edges {{ node {{ since user {{ username relationship {{ friend following followsYou blocked }} }} }} }} }} }}"
        );
        let (app, reader, star) = (&app, &reader, &star);
        async move {
            let response = app
                .gql_as(&reader.access, &query, json!({ "u": star.id }))
                .await;
            response.data()["followers"]["edges"]
                .as_array()
                .unwrap()
                .clone()
        }
    };
    page(1).await;
    let (few, small) = app.least_statements(|| page(3)).await;
    let (many, large) = app.least_statements(|| page(12)).await;
    assert_eq!((small.len(), large.len()), (3, 12));
    assert_eq!(few, many, "statements for 3 and for 12 players");
    let requested = large
        .iter()
        .filter(|e| e["node"]["user"]["relationship"]["friend"] == "REQUESTED")
        .count();
    let fans = large
        .iter()
        .filter(|e| e["node"]["user"]["relationship"]["followsYou"] == true)
        .count();
    assert_eq!((requested, fans), (6, 4));
}

#[tokio::test]
async fn a_change_made_through_one_instance_reaches_a_subscriber_on_another() {
    let one = TestApp::spawn_on(Backend::Postgres).await;
    let two = one.another_instance().await;
    let ann = UserBuilder::new("ann").create(&one).await;
    let bob = UserBuilder::new("bob").create(&one).await;
    let mut ws = two.ws_as(&ann.access).await;
    ws.subscribe(
        "r",
        &format!("subscription {{ relationshipChanged {{ {STANDING} }} }}"),
        json!({}),
    )
    .await;
    // The subscription is live once a change made on its own instance arrives.
    let ready = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            standing(&two, &ann, "follow", &bob).await;
            let event = tokio::time::timeout(Duration::from_millis(500), ws.next_event()).await;
            standing(&two, &ann, "unfollow", &bob).await;
            if let Ok(WsEvent::Next { .. }) = event {
                return;
            }
        }
    });
    ready.await.expect("the subscription starts");
    // Drain what the set-up sent.
    while let Ok(event) = tokio::time::timeout(Duration::from_millis(300), ws.next_event()).await {
        assert!(matches!(event, WsEvent::Next { .. }), "{event:?}");
    }

    standing(&one, &bob, "requestFriend", &ann).await;
    let pushed = tokio::time::timeout(Duration::from_secs(5), ws.next_data())
        .await
        .expect("pushed within 5 s");
    assert_eq!(pushed["relationshipChanged"]["user"]["username"], "bob");
    assert_eq!(pushed["relationshipChanged"]["friend"], "REQUEST_RECEIVED");
}

#[tokio::test]
async fn a_player_has_at_most_the_set_number_of_unanswered_requests_out_even_sent_at_once() {
    let app = TestApp::spawn_configured(|s| s.max_pending_friend_requests = 3).await;
    let made = users(&app, &["ann", "bob", "cat", "dan", "eve", "fay"]).await;
    let (ann, others) = made.split_first().unwrap();
    let answers = join_all(
        others
            .iter()
            .map(|o| act(&app, ann, "requestFriend", &o.id)),
    )
    .await;
    let refused: Vec<_> = answers
        .iter()
        .filter(|a| a.body.get("errors").is_some())
        .collect();
    assert_eq!(refused.len(), 2, "five at once with room for three");
    for answer in refused {
        assert_eq!(answer.codes(), ["CONFLICT"], "{:#}", answer.body);
    }
    let out = names(&app, Some(ann), "friendRequests(direction: OUTGOING)").await;
    assert_eq!(out.len(), 3);

    // An answer frees a place.
    let waiting = others.iter().find(|o| !out.contains(&o.username)).unwrap();
    let asked = others.iter().find(|o| out.contains(&o.username)).unwrap();
    standing(&app, asked, "declineFriend", ann).await;
    assert_eq!(
        standing(&app, ann, "requestFriend", waiting).await["friend"],
        "REQUESTED"
    );
}
