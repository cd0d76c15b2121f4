//! Bans by user, IP and CIDR range; full and privilege bans; enforcement on every request.

use arena_entity::auth::ban;
use arena_tests::{TestApp, UserBuilder, assert_one_wins, login, on_both_backends};
use chrono::{Duration, Utc};
use futures_util::future::join_all;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait, PaginatorTrait};
use serde_json::json;

const BAN_USER: &str = "mutation($input: BanUserInput!) { banUser(input: $input) { id reason active privileges user { username } } }";
const BAN_ADDRESS: &str =
    "mutation($input: BanAddressInput!) { banAddress(input: $input) { id address active } }";
const LIFT: &str =
    "mutation($id: ID!, $r: String!) { liftBan(id: $id, reason: $r) { active liftReason } }";
const LOGIN: &str = "mutation($l: String!, $p: String!) { login(input: { login: $l, password: $p }) { accessToken } }";
const ME: &str = "{ me { id } }";

async fn ban_count(app: &TestApp) -> u64 {
    ban::Entity::find().count(&app.ctx.db).await.unwrap()
}

on_both_backends! {
    async fn a_user_ban_stops_every_request_until_lifted(app) {
        let moderator = UserBuilder::new("mod").with_role("moderator").create(&app).await;
        let troll = UserBuilder::new("troll").create(&app).await;
        let until = (Utc::now() + Duration::days(7)).to_rfc3339();
        let placed = app
            .gql_as(
                &moderator.access,
                BAN_USER,
                json!({ "input": { "userId": troll.id, "reason": "spam in chat", "expiresAt": until } }),
            )
            .await;
        let ban = placed.data()["banUser"].clone();
        assert_eq!(ban["active"], true);
        assert_eq!(ban["privileges"], json!(null), "a full ban");

        // The access token already out is refused at once, with reason and end; so are
        // refreshing and signing in again.
        let me = app.gql_as(&troll.access, ME, json!({})).await;
        assert_eq!(me.codes(), ["BANNED"], "{:#}", me.body);
        assert_eq!(me.extensions()["reason"], "spam in chat");
        let refreshed = app
            .gql("mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }", json!({ "t": troll.refresh }))
            .await;
        assert_eq!(refreshed.codes(), ["BANNED"]);
        let again = app.gql(LOGIN, json!({ "l": "troll", "p": troll.password })).await;
        assert_eq!(again.codes(), ["BANNED"]);
        assert_eq!(again.extensions()["reason"], "spam in chat");
        assert!(again.extensions()["until"].as_str().unwrap().starts_with(&until[..10]));
        // Public fields still answer.
        app.gql_as(&troll.access, "{ serverInfo { version } }", json!({})).await.data();

        let listed = app
            .gql_as(&moderator.access, "{ bans(filter: { active: true }) { totalCount edges { node { user { username } } } } }", json!({}))
            .await;
        assert_eq!(listed.data()["bans"]["totalCount"], 1);
        assert_eq!(listed.data()["bans"]["edges"][0]["node"]["user"]["username"], "troll");

        let lifted = app.gql_as(&moderator.access, LIFT, json!({ "id": ban["id"], "r": "appeal accepted" })).await;
        assert_eq!(lifted.data()["liftBan"]["active"], false);
        app.gql_as(&troll.access, ME, json!({})).await.data();
        login(&app, "troll", &troll.password).await;
        let log = app
            .gql_as(&moderator.access, "{ auditLog(filter: { targetType: \"ban\" }) { edges { node { action reason } } } }", json!({}))
            .await;
        assert_eq!(log.data()["auditLog"]["edges"][0]["node"]["reason"], "appeal accepted");
        let inactive = app.gql_as(&moderator.access, "{ bans(filter: { active: false }) { totalCount } }", json!({})).await;
        assert_eq!(inactive.data()["bans"]["totalCount"], 1);
    }
}

#[tokio::test]
async fn address_and_range_bans_cover_ipv4_and_ipv6_clients() {
    let app = TestApp::spawn_configured(arena_tests::behind_local_proxy).await;
    let moderator = UserBuilder::new("mod")
        .with_role("moderator")
        .create(&app)
        .await;
    let player = UserBuilder::new("player").create(&app).await;
    for address in ["203.0.113.0/24", "2001:db8::/32", "198.51.100.7"] {
        let placed = app
            .gql_as(
                &moderator.access,
                BAN_ADDRESS,
                json!({ "input": { "address": address, "reason": "abuse" } }),
            )
            .await;
        assert_eq!(placed.data()["banAddress"]["active"], true);
    }
    let login_from = |ip: &'static str| {
        app.gql_from(
            ip,
            None,
            LOGIN,
            json!({ "l": "player", "p": player.password.clone() }),
        )
    };
    for banned in ["203.0.113.9", "2001:db8:1::5", "198.51.100.7"] {
        assert_eq!(login_from(banned).await.codes(), ["BANNED"], "{banned}");
    }
    for free in ["203.0.114.1", "2001:db9::1", "198.51.100.8"] {
        login_from(free).await.data();
    }
    // A signed-in player moving onto a banned network is refused on the next request.
    let me = app
        .gql_from("203.0.113.200", Some(&player.access), ME, json!({}))
        .await;
    assert_eq!(me.codes(), ["BANNED"]);
    let register = app
        .gql_from(
            "203.0.113.77",
            None,
            "mutation { register(input: { username: \"newbie\", email: \"n@example.com\", password: \"long enough pw\" }) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(register.codes(), ["BANNED"]);
    let covering = app
        .gql_as(
            &moderator.access,
            "{ bans(filter: { address: \"203.0.113.50\" }) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(covering.data()["bans"]["totalCount"], 1);
}

#[tokio::test]
async fn a_privilege_ban_takes_only_the_listed_privileges() {
    let app = TestApp::spawn().await;
    let admin = UserBuilder::new("root")
        .with_role("admin")
        .create(&app)
        .await;
    let moderator = UserBuilder::new("mod")
        .with_role("moderator")
        .create(&app)
        .await;
    app.gql_as(
        &admin.access,
        BAN_USER,
        json!({ "input": { "userId": moderator.id, "reason": "leaked logs", "privileges": ["audit.read"] } }),
    )
    .await
    .data();
    let audit = app
        .gql_as(&moderator.access, "{ auditLog { totalCount } }", json!({}))
        .await;
    assert_eq!(audit.codes(), ["BANNED"]);
    assert_eq!(audit.extensions()["reason"], "leaked logs");
    // Everything else still works, the session included.
    app.gql_as(&moderator.access, "{ roles { name } }", json!({}))
        .await
        .data();
    app.gql_as(&moderator.access, ME, json!({})).await.data();
}

#[tokio::test]
async fn bad_bans_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let admin = UserBuilder::new("root")
        .with_role("admin")
        .create(&app)
        .await;
    let moderator = UserBuilder::new("mod")
        .with_role("moderator")
        .create(&app)
        .await;
    let player = UserBuilder::new("player").create(&app).await;
    let past = (Utc::now() - Duration::hours(1)).to_rfc3339();
    let cases = [
        (
            &moderator,
            BAN_USER,
            json!({ "userId": admin.id, "reason": "x" }),
            "FORBIDDEN",
        ),
        (
            &moderator,
            BAN_USER,
            json!({ "userId": moderator.id, "reason": "x" }),
            "BAD_USER_INPUT",
        ),
        (
            &moderator,
            BAN_USER,
            json!({ "userId": player.id, "reason": "  " }),
            "BAD_USER_INPUT",
        ),
        (
            &moderator,
            BAN_USER,
            json!({ "userId": player.id, "reason": "x", "expiresAt": past }),
            "BAD_USER_INPUT",
        ),
        (
            &moderator,
            BAN_USER,
            json!({ "userId": player.id, "reason": "x", "privileges": ["no.such"] }),
            "NOT_FOUND",
        ),
        (
            &moderator,
            BAN_USER,
            json!({ "userId": player.id, "reason": "x", "privileges": [] }),
            "BAD_USER_INPUT",
        ),
        (
            &moderator,
            BAN_ADDRESS,
            json!({ "address": "127.0.0.0/8", "reason": "x" }),
            "BAD_USER_INPUT",
        ),
        (
            &moderator,
            BAN_ADDRESS,
            json!({ "address": "10.0.0.0/4", "reason": "x" }),
            "BAD_USER_INPUT",
        ),
        (
            &moderator,
            BAN_ADDRESS,
            json!({ "address": "not-an-ip", "reason": "x" }),
            "BAD_USER_INPUT",
        ),
        (
            &player,
            BAN_ADDRESS,
            json!({ "address": "203.0.113.1", "reason": "x" }),
            "FORBIDDEN",
        ),
    ];
    for (who, mutation, input, code) in cases {
        let response = app
            .gql_as(&who.access, mutation, json!({ "input": input }))
            .await;
        assert_eq!(response.codes(), [code], "{input}: {:#}", response.body);
    }
    assert_eq!(ban_count(&app).await, 0);
}

#[tokio::test]
async fn an_expired_ban_no_longer_applies() {
    let app = TestApp::spawn().await;
    let moderator = UserBuilder::new("mod")
        .with_role("moderator")
        .create(&app)
        .await;
    let player = UserBuilder::new("player").create(&app).await;
    let until = (Utc::now() + Duration::hours(1)).to_rfc3339();
    let placed = app
        .gql_as(
            &moderator.access,
            BAN_USER,
            json!({ "input": { "userId": player.id, "reason": "cool off", "expiresAt": until } }),
        )
        .await;
    let id: i32 = placed.data()["banUser"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        app.gql(LOGIN, json!({ "l": "player", "p": player.password }))
            .await
            .codes(),
        ["BANNED"]
    );
    // Time passes: the ban's end moves into the past.
    let mut expired: ban::ActiveModel = ban::Entity::find_by_id(id)
        .one(&app.ctx.db)
        .await
        .unwrap()
        .unwrap()
        .into();
    expired.expires_at = Set(Some(Utc::now() - Duration::seconds(1)));
    expired.update(&app.ctx.db).await.unwrap();
    login(&app, "player", &player.password).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_lifts_of_one_ban_lift_it_once() {
    let app = TestApp::spawn().await;
    let moderator = UserBuilder::new("mod")
        .with_role("moderator")
        .create(&app)
        .await;
    let player = UserBuilder::new("player").create(&app).await;
    let placed = app
        .gql_as(
            &moderator.access,
            BAN_USER,
            json!({ "input": { "userId": player.id, "reason": "x" } }),
        )
        .await;
    let id = placed.data()["banUser"]["id"].clone();
    let lifts = (0..10).map(|i| {
        app.gql_as(
            &moderator.access,
            LIFT,
            json!({ "id": id, "r": format!("lift {i}") }),
        )
    });
    let results = join_all(lifts).await;
    assert_one_wins(&results, "CONFLICT", "lift");
    let log = app
        .gql_as(
            &moderator.access,
            "{ auditLog(filter: { action: \"ban.lift\" }) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(log.data()["auditLog"]["totalCount"], 1);
}
