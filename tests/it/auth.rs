//! Accounts and sessions: registration, sign-in, refresh rotation, logout.

use arena_entity::auth::user;
use arena_tests::{Backend, TestApp, UserBuilder, assert_one_wins, on_both_backends};
use futures_util::future::join_all;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};

const REGISTER: &str = "mutation($input: RegisterInput!) {
    register(input: $input) { id username displayName language email }
}";
const LOGIN: &str = "mutation($login: String!, $password: String!) {
    login(input: { login: $login, password: $password }) {
        accessToken refreshToken accessTokenExpiresAt user { username }
    }
}";
const REFRESH: &str =
    "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }";
const ME: &str = "{ me { id username email loginAt } }";

fn input(username: &str, email: &str, password: &str) -> Value {
    json!({ "input": { "username": username, "email": email, "password": password } })
}

async fn users(app: &TestApp) -> u64 {
    user::Entity::find().count(&app.ctx.db).await.unwrap()
}

on_both_backends! {
    async fn register_login_and_me(app) {
        let registered = app.gql(REGISTER, input("Ann_1", "ann@example.com", "correct horse")).await;
        let account = &registered.data()["register"];
        assert_eq!(account["username"], "Ann_1");
        assert_eq!(account["displayName"], "Ann_1", "defaults to the username");
        assert_eq!(account["language"], "en");
        assert_eq!(account["email"], Value::Null, "anonymous callers see no email");

        // By name or email, in any case.
        for login in ["ann_1", "ANN@example.com"] {
            let session = app.gql(LOGIN, json!({ "login": login, "password": "correct horse" })).await;
            assert_eq!(session.data()["login"]["user"]["username"], "Ann_1");
        }
        let session = app.gql(LOGIN, json!({ "login": "Ann_1", "password": "correct horse" })).await;
        let token = session.data()["login"]["accessToken"].as_str().unwrap().to_owned();
        let me = app.gql_as(&token, ME, json!({})).await;
        let me = &me.data()["me"];
        assert_eq!(me["email"], "ann@example.com");
        assert!(me["loginAt"].is_string(), "sign-in time recorded");
    }
}

on_both_backends! {
    async fn bad_registrations_are_refused_and_change_nothing(app) {
        let cases = [
            (input("ab", "a@example.com", "long enough pw"), "username"),
            (input("robert'); DROP TABLE users;--", "a@example.com", "long enough pw"), "username"),
            (input("valid_name", "not-an-email", "long enough pw"), "email"),
            (input("valid_name", "a@example.com", "short"), "password"),
            (input("valid_name", "a@example.com", "VALID_NAME"), "password"),
            (input(&"x".repeat(100_000), "a@example.com", "long enough pw"), "username"),
        ];
        for (variables, field) in cases {
            let response = app.gql(REGISTER, variables).await;
            assert_eq!(response.codes(), ["BAD_USER_INPUT"], "{:#}", response.body);
            assert_eq!(response.extensions()["field"], field);
        }
        assert_eq!(users(&app).await, 0);
    }
}

#[tokio::test]
async fn names_and_emails_are_unique_whatever_the_case() {
    let app = TestApp::spawn().await;
    app.gql(REGISTER, input("Bob", "bob@example.com", "long enough pw"))
        .await
        .data();
    for (name, email) in [("BOB", "other@example.com"), ("other", "BOB@EXAMPLE.COM")] {
        let response = app
            .gql(REGISTER, input(name, email, "long enough pw"))
            .await;
        assert_eq!(response.codes(), ["CONFLICT"], "{:#}", response.body);
    }
    assert_eq!(users(&app).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_registrations_of_one_name_make_one_account() {
    // On both backends: SQLite must queue the writers, not fail them.
    for backend in [Backend::Postgres, Backend::Sqlite] {
        let app = TestApp::spawn_on(backend).await;
        let attempts = (0..12).map(|i| {
            app.gql(
                REGISTER,
                input("racer", &format!("racer{i}@example.com"), "long enough pw"),
            )
        });
        let results = join_all(attempts).await;
        assert_one_wins(&results, "CONFLICT", &format!("{backend:?}"));
        assert_eq!(users(&app).await, 1);
    }
}

#[tokio::test]
async fn wrong_password_and_unknown_user_look_the_same() {
    let app = TestApp::spawn().await;
    UserBuilder::new("carol").create(&app).await;
    let wrong = app
        .gql(
            LOGIN,
            json!({ "login": "carol", "password": "not the password" }),
        )
        .await;
    let unknown = app
        .gql(
            LOGIN,
            json!({ "login": "nobody", "password": "not the password" }),
        )
        .await;
    assert_eq!(wrong.codes(), ["UNAUTHENTICATED"]);
    assert_eq!(
        wrong.body["errors"][0]["message"],
        unknown.body["errors"][0]["message"]
    );
    assert_eq!(
        wrong.body["errors"][0]["extensions"],
        unknown.body["errors"][0]["extensions"]
    );
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_whole_sign_in() {
    let app = TestApp::spawn().await;
    let dave = UserBuilder::new("dave").create(&app).await;
    let first = app.gql(REFRESH, json!({ "t": dave.refresh })).await;
    let second_refresh = first.data()["refreshToken"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let second_access = first.data()["refreshToken"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(second_refresh, dave.refresh);
    app.gql_as(&second_access, ME, json!({})).await.data();

    // The first token again: theft is assumed, and the sign-in ends.
    let reused = app.gql(REFRESH, json!({ "t": dave.refresh })).await;
    assert_eq!(reused.codes(), ["UNAUTHENTICATED"], "{:#}", reused.body);
    let after = app.gql(REFRESH, json!({ "t": second_refresh })).await;
    assert_eq!(after.codes(), ["UNAUTHENTICATED"]);
    let me = app.gql_as(&second_access, ME, json!({})).await;
    assert_eq!(
        me.codes(),
        ["UNAUTHENTICATED"],
        "access tokens of the series stop too"
    );

    // Other sign-ins of the same account are untouched.
    let other = arena_tests_login(&app, &dave.username, &dave.password).await;
    app.gql_as(&other, ME, json!({})).await.data();
}

async fn arena_tests_login(app: &TestApp, login: &str, password: &str) -> String {
    let session = app
        .gql(LOGIN, json!({ "login": login, "password": password }))
        .await;
    session.data()["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_refreshes_of_one_token_let_exactly_one_through() {
    for backend in [Backend::Postgres, Backend::Sqlite] {
        let app = TestApp::spawn_on(backend).await;
        let erin = UserBuilder::new("erin").create(&app).await;
        let attempts = (0..16).map(|_| app.gql(REFRESH, json!({ "t": erin.refresh })));
        let results = join_all(attempts).await;
        assert_one_wins(&results, "UNAUTHENTICATED", &format!("{backend:?}"));
    }
}

#[tokio::test]
async fn logout_ends_one_sign_in_and_logout_everywhere_ends_all() {
    let app = TestApp::spawn().await;
    let fay = UserBuilder::new("fay").create(&app).await;
    let second = arena_tests_login(&app, "fay", &fay.password).await;
    let third = arena_tests_login(&app, "fay", &fay.password).await;

    app.gql_as(&fay.access, "mutation { logout }", json!({}))
        .await
        .data();
    assert_eq!(
        app.gql_as(&fay.access, ME, json!({})).await.codes(),
        ["UNAUTHENTICATED"]
    );
    assert_eq!(
        app.gql(REFRESH, json!({ "t": fay.refresh })).await.codes(),
        ["UNAUTHENTICATED"]
    );
    app.gql_as(&second, ME, json!({})).await.data();

    app.gql_as(&second, "mutation { logoutEverywhere }", json!({}))
        .await
        .data();
    for token in [&second, &third] {
        assert_eq!(
            app.gql_as(token, ME, json!({})).await.codes(),
            ["UNAUTHENTICATED"]
        );
    }
}

#[tokio::test]
async fn bad_tokens_are_refused_but_public_fields_still_answer() {
    let app = TestApp::spawn().await;
    let gus = UserBuilder::new("gus").create(&app).await;
    let foreign = {
        // A well-formed token signed with another key.
        let other =
            arena_api::auth::tokens::TokenKeys::from_secret(b"another key, another key, another");
        let id = uuid::Uuid::parse_str(&gus.id).unwrap();
        other.issue_access(id, uuid::Uuid::new_v4()).unwrap().0
    };
    for token in [foreign.as_str(), "garbage", gus.refresh.as_str()] {
        let me = app.gql_as(token, ME, json!({})).await;
        assert_eq!(me.codes(), ["UNAUTHENTICATED"], "{token}");
        let public = app
            .gql_as(token, "{ serverInfo { version } }", json!({}))
            .await;
        public.data();
    }
    let anonymous = app.gql(ME, json!({})).await;
    assert_eq!(anonymous.codes(), ["UNAUTHENTICATED"]);
}

#[tokio::test]
async fn public_profiles_hide_private_fields_from_others() {
    let app = TestApp::spawn().await;
    let hal = UserBuilder::new("hal").create(&app).await;
    let ida = UserBuilder::new("ida").create(&app).await;
    let query = "query($id: ID!) { user(id: $id) { username email phone loginAt } }";
    let by_other = app
        .gql_as(&ida.access, query, json!({ "id": hal.id }))
        .await;
    assert_eq!(by_other.data()["user"]["username"], "hal");
    assert_eq!(by_other.data()["user"]["email"], Value::Null);
    assert_eq!(by_other.data()["user"]["loginAt"], Value::Null);
    let by_self = app
        .gql_as(&hal.access, query, json!({ "id": hal.id }))
        .await;
    assert_eq!(by_self.data()["user"]["email"], "hal@example.com");
    let by_name = app
        .gql("{ userByName(username: \"HAL\") { id } }", json!({}))
        .await;
    assert_eq!(by_name.data()["userByName"]["id"], hal.id.as_str());
    let missing = app
        .gql("{ userByName(username: \"nobody\") { id } }", json!({}))
        .await;
    assert_eq!(missing.data()["userByName"], Value::Null);
    let not_an_id = app.gql("{ user(id: \"7\") { id } }", json!({})).await;
    assert_eq!(not_an_id.codes(), ["BAD_USER_INPUT"]);
}

#[tokio::test]
async fn production_bcrypt_cost_works_end_to_end() {
    let app = TestApp::spawn_configured(|s| s.bcrypt_cost = 12).await;
    let jan = UserBuilder::new("jan").create(&app).await;
    let stored = user::Entity::find()
        .one(&app.ctx.db)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.password.starts_with("$2b$12$"), "cost 12 hash");
    app.gql_as(&jan.access, ME, json!({})).await.data();
}

#[tokio::test]
async fn sign_in_is_rate_limited_per_account_with_a_retry_hint() {
    // Each attempt comes from its own address through a trusted proxy, so the per-address
    // limit never fires and only the per-account one can.
    let app = TestApp::spawn_configured(|s| {
        s.auth_rate_per_minute = 3;
        arena_tests::behind_local_proxy(s);
    })
    .await;
    let mut codes = Vec::new();
    let mut last = None;
    for n in 1..=4 {
        let response = app
            .gql_from(
                &format!("198.51.100.{n}"),
                None,
                LOGIN,
                json!({ "login": "kim", "password": "whatever pw" }),
            )
            .await;
        codes.push(response.codes()[0].to_owned());
        last = Some(response);
    }
    let last = last.unwrap();
    assert_eq!(
        codes,
        [
            "UNAUTHENTICATED",
            "UNAUTHENTICATED",
            "UNAUTHENTICATED",
            "RATE_LIMITED"
        ]
    );
    assert!(last.extensions()["retryAfterSeconds"].as_u64().unwrap() >= 1);
}

/// The code an authenticator app shows `ahead` 30-second steps from now.
fn totp_code(secret: &str, ahead: u64) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret).unwrap();
    let totp = totp_rs::Builder::new().with_secret(secret).build().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    totp.generate(now + 30 * ahead).to_string()
}

#[tokio::test]
async fn two_factor_sign_in_with_codes_that_work_once_and_recovery_codes() {
    let app = TestApp::spawn().await;
    let kit = UserBuilder::new("kit").create(&app).await;
    let begun = app
        .gql_as(
            &kit.access,
            "mutation { beginTotpEnrolment { secret otpauthUri } }",
            json!({}),
        )
        .await;
    let secret = begun.data()["beginTotpEnrolment"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        begun.data()["beginTotpEnrolment"]["otpauthUri"]
            .as_str()
            .unwrap()
            .contains(&secret)
    );
    let confirm = "mutation($c: String!) { confirmTotpEnrolment(code: $c) }";
    assert_eq!(
        app.gql_as(&kit.access, confirm, json!({ "c": "000000x" }))
            .await
            .codes(),
        ["BAD_USER_INPUT"]
    );
    let confirmed = app
        .gql_as(&kit.access, confirm, json!({ "c": totp_code(&secret, 0) }))
        .await;
    let recovery: Vec<String> =
        serde_json::from_value(confirmed.data()["confirmTotpEnrolment"].clone()).unwrap();
    assert_eq!(recovery.len(), 10);
    let enabled = app
        .gql_as(&kit.access, "{ me { twoFactorEnabled } }", json!({}))
        .await;
    assert_eq!(enabled.data()["me"]["twoFactorEnabled"], true);

    let login = "mutation($p: String!, $c: String) { login(input: { login: \"kit\", password: $p, totpCode: $c }) { accessToken } }";
    let without = app.gql(login, json!({ "p": kit.password })).await;
    assert_eq!(without.codes(), ["UNAUTHENTICATED"]);
    assert!(
        without.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("two-factor")
    );
    // The confirmation used this step's code; the next step's is within the allowed skew.
    let code = totp_code(&secret, 1);
    app.gql(login, json!({ "p": kit.password, "c": code }))
        .await
        .data();
    let replay = app
        .gql(login, json!({ "p": kit.password, "c": code }))
        .await;
    assert_eq!(replay.codes(), ["UNAUTHENTICATED"], "a code works once");
    let with_recovery = app
        .gql(
            login,
            json!({ "p": kit.password, "c": recovery[3].to_uppercase() }),
        )
        .await;
    with_recovery.data();
    let recovery_again = app
        .gql(login, json!({ "p": kit.password, "c": recovery[3] }))
        .await;
    assert_eq!(recovery_again.codes(), ["UNAUTHENTICATED"]);

    app.gql_as(
        &kit.access,
        "mutation($p: String!) { disableTotp(password: $p) }",
        json!({ "p": kit.password }),
    )
    .await
    .data();
    app.gql(login, json!({ "p": kit.password })).await.data();
}

#[tokio::test]
async fn active_sessions_are_listed_to_their_owner_and_moderators_only() {
    let app = TestApp::spawn().await;
    let lee = UserBuilder::new("lee").create(&app).await;
    let second = arena_tests_login(&app, "lee", &lee.password).await;
    let moderator = UserBuilder::new("mod")
        .with_role("moderator")
        .create(&app)
        .await;
    let other = UserBuilder::new("other").create(&app).await;
    let query = "query($u: ID!) { sessions(userId: $u) { id current expiresAt } }";
    let own = app.gql_as(&second, query, json!({ "u": lee.id })).await;
    let sessions = own.data()["sessions"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    assert_eq!(
        app.gql_as(&moderator.access, query, json!({ "u": lee.id }))
            .await
            .data()["sessions"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        app.gql_as(&other.access, query, json!({ "u": lee.id }))
            .await
            .codes(),
        ["FORBIDDEN"]
    );
    app.gql_as(&second, "mutation { logout }", json!({}))
        .await
        .data();
    let after = app.gql_as(&lee.access, query, json!({ "u": lee.id })).await;
    assert_eq!(after.data()["sessions"].as_array().unwrap().len(), 1);
}
