//! The backbone every domain copies: the caller read in one statement and cached, changes
//! that reach every instance at once over the bus, subscriptions that obey the same rules as
//! requests, and nested fields that cost a constant number of statements.

use std::time::Duration;

use arena_entity::battles::crawl_run::{self, RunStatus};
use arena_tests::{Backend, TestApp, UserBuilder, WsClient, WsEvent, on_both_backends};
use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
use serde_json::{Value, json};

const CHEAP: &str = "{ serverInfo { version } }";

on_both_backends! {
    async fn a_signed_in_request_reads_its_caller_in_one_statement_then_from_cache(app) {
        let ada = UserBuilder::new("ada").with_role("moderator").create(&app).await;
        // The address bans are read once for the instance, not per request.
        let (anonymous, _) = app.statements_during(app.gql(CHEAP, json!({}))).await;
        assert!(anonymous <= 1, "{anonymous}");
        let (again, _) = app.statements_during(app.gql(CHEAP, json!({}))).await;
        assert_eq!(again, 0, "an anonymous request reads nothing");

        let (cold, answer) =
            app.statements_during(app.gql_as(&ada.access, CHEAP, json!({}))).await;
        answer.data();
        assert_eq!(cold, 1, "sign-in, account, privileges and bans in one statement");
        let (warm, answer) =
            app.statements_during(app.gql_as(&ada.access, CHEAP, json!({}))).await;
        answer.data();
        assert_eq!(warm, 0, "the second request is served from the cache");
        // And the cached caller still holds what the roles give.
        app.gql_as(&ada.access, "{ bans(first: 1) { totalCount } }", json!({}))
            .await
            .data();
    }
}

on_both_backends! {
    async fn changes_to_a_cached_caller_apply_to_the_next_request(app) {
        let admin = UserBuilder::new("root").with_role("admin").create(&app).await;
        let bea = UserBuilder::new("bea").with_role("moderator").create(&app).await;
        let cal = UserBuilder::new("cal").create(&app).await;
        app.gql_as(&bea.access, "{ auditLog(first: 1) { totalCount } }", json!({}))
            .await
            .data();
        app.gql_as(&cal.access, ME, json!({})).await.data();

        // A privilege taken from a role reaches its holders at once.
        let moderator = role_id(&app, &admin.access, "moderator").await;
        app.gql_as(
            &admin.access,
            "mutation($r: ID) { revokePrivilege(input: { privilege: \"audit.read\", roleId: $r }) }",
            json!({ "r": moderator }),
        )
        .await
        .data();
        let audit = "{ auditLog(first: 1) { totalCount } }";
        assert_eq!(app.gql_as(&bea.access, audit, json!({})).await.codes(), ["FORBIDDEN"]);

        // A ban on the account.
        ban_user(&app, &admin.access, &cal.id).await;
        assert_eq!(app.gql_as(&cal.access, ME, json!({})).await.codes(), ["BANNED"]);

        // A sign-out.
        app.gql_as(&bea.access, "mutation { logout }", json!({})).await.data();
        assert_eq!(
            app.gql_as(&bea.access, ME, json!({})).await.codes(),
            ["UNAUTHENTICATED"]
        );
    }
}

const ME: &str = "{ me { id } }";
const LOGIN: &str =
    "mutation { login(input: { login: \"nobody\", password: \"wrong\" }) { accessToken } }";

async fn role_id(app: &TestApp, token: &str, name: &str) -> String {
    let roles = app.gql_as(token, "{ roles { id name } }", json!({})).await;
    roles.data()["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn ban_user(app: &TestApp, token: &str, user_id: &str) -> Value {
    app.gql_as(
        token,
        "mutation($input: BanUserInput!) { banUser(input: $input) { id } }",
        json!({ "input": { "userId": user_id, "reason": "cheating" } }),
    )
    .await
    .data()["banUser"]
        .clone()
}

#[tokio::test]
async fn a_change_through_one_instance_applies_to_the_next_request_on_another() {
    let one = TestApp::spawn_on(Backend::Postgres).await;
    let two = one.another_instance().await;
    let admin = UserBuilder::new("root")
        .with_role("admin")
        .create(&one)
        .await;
    let dee = UserBuilder::new("dee")
        .with_role("moderator")
        .create(&one)
        .await;
    let eve = UserBuilder::new("eve").create(&one).await;
    // Both instances have the callers cached.
    for app in [&one, &two] {
        for user in [&dee, &eve] {
            app.gql_as(&user.access, ME, json!({})).await.data();
        }
        app.gql(CHEAP, json!({})).await.data();
    }

    ban_user(&one, &admin.access, &eve.id).await;
    assert_eq!(
        two.gql_as(&eve.access, ME, json!({})).await.codes(),
        ["BANNED"]
    );

    one.gql_as(&dee.access, "mutation { logout }", json!({}))
        .await
        .data();
    assert_eq!(
        two.gql_as(&dee.access, ME, json!({})).await.codes(),
        ["UNAUTHENTICATED"]
    );
}

#[tokio::test]
async fn an_address_ban_through_one_instance_refuses_that_address_on_another() {
    let one = TestApp::spawn_with(Backend::Postgres, arena_tests::behind_local_proxy).await;
    let two = one.another_instance().await;
    let admin = UserBuilder::new("root")
        .with_role("admin")
        .create(&one)
        .await;
    let banned = "203.0.113.9";
    // Cached as not banned first.
    two.gql_from(banned, None, CHEAP, json!({})).await.data();
    one.gql_as(
        &admin.access,
        "mutation($input: BanAddressInput!) { banAddress(input: $input) { id } }",
        json!({ "input": { "address": "203.0.113.0/24", "reason": "flood" } }),
    )
    .await
    .data();
    assert_eq!(
        two.gql_from(banned, None, LOGIN, json!({})).await.codes(),
        ["BANNED"]
    );
    // Others are not caught by it.
    two.gql_from("198.51.100.1", None, CHEAP, json!({}))
        .await
        .data();
}

async fn running_crawl(app: &TestApp) -> i64 {
    let now = Utc::now();
    crawl_run::ActiveModel {
        day: Set(now.date_naive()),
        status: Set(RunStatus::Running),
        started_at: Set(now),
        batches_total: Set(10),
        errors: Set("{}".into()),
        progress_at: Set(now),
        ..Default::default()
    }
    .insert(&app.ctx.db)
    .await
    .unwrap()
    .id
}

/// Records progress on the run as the coordinator would.
async fn advance(app: &TestApp, run_id: i64, done: i64) {
    let mut run: crawl_run::ActiveModel = crawl_run::Entity::find_by_id(run_id)
        .one(&app.ctx.db)
        .await
        .unwrap()
        .unwrap()
        .into();
    run.batches_done = Set(done);
    run.progress_at = Set(Utc::now());
    run.update(&app.ctx.db).await.unwrap();
}

async fn follow(app: &TestApp, token: &str, run_id: i64) -> WsClient {
    let mut ws = app.ws_as(token).await;
    ws.subscribe(
        "p",
        "subscription($id: ID!) { crawlProgress(runId: $id) { batchesDone } }",
        json!({ "id": run_id.to_string() }),
    )
    .await;
    ws
}

async fn next_progress(ws: &mut WsClient) -> Value {
    match tokio::time::timeout(Duration::from_secs(10), ws.next_event())
        .await
        .expect("an event within 10 s")
    {
        WsEvent::Next { payload, .. } => payload,
        other => panic!("unexpected {other:?}"),
    }
}

on_both_backends! {
    async fn a_banned_callers_subscription_ends_with_the_ban(app) {
        let root = UserBuilder::new("root").with_role("admin").create(&app).await;
        let gil = UserBuilder::new("gil").with_role("admin").create(&app).await;
        let run_id = running_crawl(&app).await;
        let mut ws = follow(&app, &gil.access, run_id).await;
        assert_eq!(next_progress(&mut ws).await["data"]["crawlProgress"]["batchesDone"], 0);
        advance(&app, run_id, 1).await;
        assert_eq!(next_progress(&mut ws).await["data"]["crawlProgress"]["batchesDone"], 1);

        ban_user(&app, &root.access, &gil.id).await;
        advance(&app, run_id, 2).await;
        let refused = next_progress(&mut ws).await;
        assert_eq!(refused["errors"][0]["extensions"]["code"], "BANNED", "{refused}");
        assert!(matches!(ws.next_event().await, WsEvent::Complete { .. }));
    }
}

on_both_backends! {
    async fn a_signed_out_callers_subscription_ends_unauthenticated(app) {
        let hal = UserBuilder::new("hal").with_role("admin").create(&app).await;
        let run_id = running_crawl(&app).await;
        let mut ws = follow(&app, &hal.access, run_id).await;
        next_progress(&mut ws).await;
        app.gql_as(&hal.access, "mutation { logout }", json!({})).await.data();
        advance(&app, run_id, 3).await;
        let refused = next_progress(&mut ws).await;
        assert_eq!(
            refused["errors"][0]["extensions"]["code"],
            "UNAUTHENTICATED",
            "{refused}"
        );
    }
}

#[tokio::test]
async fn a_revoked_privilege_ends_a_subscription_on_another_instance() {
    let one = TestApp::spawn_on(Backend::Postgres).await;
    let two = one.another_instance().await;
    let root = UserBuilder::new("root")
        .with_role("admin")
        .create(&one)
        .await;
    let ivy = UserBuilder::new("ivy").create(&one).await;
    one.gql_as(
        &root.access,
        "mutation($u: ID) { grantPrivilege(input: { privilege: \"crawler.read\", userId: $u }) }",
        json!({ "u": ivy.id }),
    )
    .await
    .data();
    let run_id = running_crawl(&one).await;
    let mut ws = follow(&two, &ivy.access, run_id).await;
    next_progress(&mut ws).await;
    one.gql_as(
        &root.access,
        "mutation($u: ID) { revokePrivilege(input: { privilege: \"crawler.read\", userId: $u }) }",
        json!({ "u": ivy.id }),
    )
    .await
    .data();
    advance(&one, run_id, 4).await;
    let refused = next_progress(&mut ws).await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{refused}"
    );
}

#[tokio::test]
async fn sign_ins_in_transactions_never_wait_on_a_reload_of_the_address_bans() {
    // A pool of two and caches that expire at once: every request reloads the address bans.
    // A refresh holding a transaction must not wait for that reload, which waits for a
    // connection the refreshes hold.
    let app = TestApp::spawn_with(Backend::Postgres, |s| {
        s.database_max_connections = 2;
        s.viewer_cache_seconds = 0;
    })
    .await;
    let mut users = Vec::new();
    for n in 0..12 {
        users.push(UserBuilder::new(&format!("racer{n}")).create(&app).await);
    }
    let refresh = "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }";
    let requests = users.iter().flat_map(|user| {
        [
            app.gql(refresh, json!({ "t": user.refresh })),
            app.gql(CHEAP, json!({})),
        ]
    });
    for answer in futures_util::future::join_all(requests).await {
        answer.data();
    }
}

/// A connection on a token that lives two seconds, following the clock.
async fn short_lived(app: &TestApp, token: &str) -> WsClient {
    let mut ws = app.ws_as(token).await;
    ws.subscribe(
        "c",
        "subscription { serverClock(everyMs: 200) { sequence } }",
        json!({}),
    )
    .await;
    ws
}

/// Events until the connection closes; the close code.
async fn until_closed(ws: &mut WsClient, within: Duration) -> Option<u16> {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if let WsEvent::Closed { code, .. } = ws.next_event().await {
            return code;
        }
    }
    panic!("still open after {within:?}");
}

#[tokio::test]
async fn a_websocket_closes_when_its_token_expires_unless_the_client_sends_a_fresh_one() {
    let app = TestApp::spawn_configured(|s| s.access_token_seconds = 2).await;
    let jan = UserBuilder::new("jan").create(&app).await;
    let mut expiring = short_lived(&app, &jan.access).await;
    assert_eq!(
        until_closed(&mut expiring, Duration::from_secs(8)).await,
        Some(4401)
    );

    // The same, but a fresh token arrives in a ping before the first expires.
    let session = arena_tests::login(&app, "jan", &jan.password).await;
    let mut renewed = short_lived(&app, session["accessToken"].as_str().unwrap()).await;
    let started = tokio::time::Instant::now();
    let mut refresh = session["refreshToken"].as_str().unwrap().to_owned();
    while started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let fresh = app
            .gql(
                "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }",
                json!({ "t": refresh }),
            )
            .await;
        let fresh = fresh.data()["refreshToken"].clone();
        refresh = fresh["refreshToken"].as_str().unwrap().to_owned();
        let bearer = format!("Bearer {}", fresh["accessToken"].as_str().unwrap());
        renewed
            .send(json!({ "type": "ping", "payload": { "authorization": bearer } }))
            .await;
        // Still delivering, well past the first token's two seconds.
        assert!(matches!(renewed.next_event().await, WsEvent::Next { .. }));
    }
}
