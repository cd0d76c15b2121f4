//! The account itself: search, profile, password, and the lifecycle codes sent by mail.

use arena_entity::mail::outbox_message;
use arena_tests::{SmtpSink, TestApp, UserBuilder, login, on_both_backends};
use futures_util::future::join_all;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

const ME: &str = "{ me { id verified displayName country phone } }";

/// The code in the newest mail to `email`.
async fn mailed_code(app: &TestApp, email: &str) -> String {
    let message = outbox_message::Entity::find()
        .filter(outbox_message::Column::Recipient.eq(email))
        .order_by_desc(outbox_message::Column::Id)
        .one(&app.ctx.db)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no mail to {email}"));
    message
        .body
        .lines()
        .find_map(|line| line.strip_prefix("Your code: "))
        .expect("a code in the mail")
        .to_owned()
}

async fn mails_to(app: &TestApp, email: &str) -> u64 {
    outbox_message::Entity::find()
        .filter(outbox_message::Column::Recipient.eq(email))
        .count(&app.ctx.db)
        .await
        .unwrap()
}

on_both_backends! {
    async fn email_verification_by_mailed_code_works_once(app) {
        let ann = UserBuilder::new("ann").create(&app).await;
        app.gql_as(&ann.access, "mutation { requestEmailVerification }", json!({})).await.data();
        let code = mailed_code(&app, &ann.email).await;
        let activate = "mutation($t: String!) { activateAccount(token: $t) { verified } }";
        let first = app.gql(activate, json!({ "t": code })).await;
        assert_eq!(first.data()["activateAccount"]["verified"], true);
        let again = app.gql(activate, json!({ "t": code })).await;
        assert_eq!(again.codes(), ["BAD_USER_INPUT"]);
        let verified = app.gql_as(&ann.access, ME, json!({})).await;
        assert_eq!(verified.data()["me"]["verified"], true);
    }
}

#[tokio::test]
async fn password_reset_sets_a_new_password_and_ends_every_sign_in() {
    let app = TestApp::spawn().await;
    let bob = UserBuilder::new("bob").create(&app).await;
    let reset = "mutation($e: String!) { requestPasswordReset(email: $e) }";
    assert_eq!(
        app.gql(reset, json!({ "e": "nobody@example.com" }))
            .await
            .data()["requestPasswordReset"],
        true
    );
    assert_eq!(
        mails_to(&app, "nobody@example.com").await,
        0,
        "no mail for an unknown address"
    );
    app.gql(reset, json!({ "e": "BOB@example.com" }))
        .await
        .data();
    let code = mailed_code(&app, &bob.email).await;
    let weak = app
        .gql(
            "mutation($t: String!) { resetPassword(token: $t, newPassword: \"short\") }",
            json!({ "t": code }),
        )
        .await;
    assert_eq!(weak.codes(), ["BAD_USER_INPUT"]);
    // The refused attempt used the code up; a new one is needed.
    app.gql(reset, json!({ "e": bob.email })).await.data();
    let code = mailed_code(&app, &bob.email).await;
    app.gql(
        "mutation($t: String!) { resetPassword(token: $t, newPassword: \"brand new secret\") }",
        json!({ "t": code }),
    )
    .await
    .data();
    assert_eq!(
        app.gql_as(&bob.access, ME, json!({})).await.codes(),
        ["UNAUTHENTICATED"]
    );
    login(&app, "bob", "brand new secret").await;
}

#[tokio::test]
async fn deactivation_and_reactivation_by_mailed_codes() {
    let app = TestApp::spawn().await;
    let cat = UserBuilder::new("cat").create(&app).await;
    app.gql_as(&cat.access, "mutation { requestDeactivation }", json!({}))
        .await
        .data();
    let code = mailed_code(&app, &cat.email).await;
    app.gql(
        "mutation($t: String!) { deactivateAccount(token: $t) }",
        json!({ "t": code }),
    )
    .await
    .data();
    let refused = app
        .gql("mutation($l: String!, $p: String!) { login(input: { login: $l, password: $p }) { accessToken } }", json!({ "l": "cat", "p": cat.password }))
        .await;
    assert_eq!(refused.codes(), ["FORBIDDEN"]);
    app.gql(
        "mutation($e: String!) { requestReactivation(email: $e) }",
        json!({ "e": cat.email }),
    )
    .await
    .data();
    let code = mailed_code(&app, &cat.email).await;
    app.gql(
        "mutation($t: String!) { activateAccount(token: $t) { id } }",
        json!({ "t": code }),
    )
    .await
    .data();
    login(&app, "cat", &cat.password).await;
}

#[tokio::test]
async fn data_export_holds_the_account_but_no_secrets() {
    let app = TestApp::spawn().await;
    let dan = UserBuilder::new("dan").create(&app).await;
    app.gql_as(&dan.access, "mutation { requestDataExport }", json!({}))
        .await
        .data();
    let code = mailed_code(&app, &dan.email).await;
    let export = app
        .gql(
            "mutation($t: String!) { exportData(token: $t) }",
            json!({ "t": code }),
        )
        .await;
    let data = export.data()["exportData"].clone();
    assert_eq!(data["account"]["email"], "dan@example.com");
    assert_eq!(data["roles"], json!(["member"]));
    assert!(
        data["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["type"] == "refresh")
    );
    let text = data.to_string();
    assert!(!text.contains("$2b$"), "no password hash");
    assert!(!text.contains(&code), "no token");
    let again = app
        .gql(
            "mutation($t: String!) { exportData(token: $t) }",
            json!({ "t": code }),
        )
        .await;
    assert_eq!(again.codes(), ["BAD_USER_INPUT"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_mailed_code_works_exactly_once_under_racing_use() {
    let app = TestApp::spawn().await;
    let eve = UserBuilder::new("eve").create(&app).await;
    app.gql_as(
        &eve.access,
        "mutation { requestEmailVerification }",
        json!({}),
    )
    .await
    .data();
    let code = mailed_code(&app, &eve.email).await;
    let uses = (0..12).map(|_| {
        app.gql(
            "mutation($t: String!) { activateAccount(token: $t) { id } }",
            json!({ "t": code }),
        )
    });
    let results = join_all(uses).await;
    assert_eq!(
        results
            .iter()
            .filter(|r| r.body.get("errors").is_none())
            .count(),
        1
    );
}

#[tokio::test]
async fn profile_changes_and_clears_fields() {
    let app = TestApp::spawn().await;
    let fay = UserBuilder::new("fay").create(&app).await;
    let update = "mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { displayName country phone language } }";
    let set = app
        .gql_as(&fay.access, update, json!({ "i": { "displayName": "Fay the Brave", "country": "fi", "phone": "+358 40 1234567", "language": "FI" } }))
        .await;
    assert_eq!(
        set.data()["updateProfile"],
        json!({ "displayName": "Fay the Brave", "country": "FI", "phone": "+358401234567", "language": "fi" })
    );
    let cleared = app
        .gql_as(&fay.access, update, json!({ "i": { "phone": null } }))
        .await;
    assert_eq!(cleared.data()["updateProfile"]["phone"], Value::Null);
    assert_eq!(
        cleared.data()["updateProfile"]["country"],
        "FI",
        "left as it was"
    );
    let bad = app
        .gql_as(
            &fay.access,
            update,
            json!({ "i": { "country": "Finland" } }),
        )
        .await;
    assert_eq!(bad.codes(), ["BAD_USER_INPUT"]);
    assert_eq!(
        app.gql_as(&fay.access, ME, json!({})).await.data()["me"]["country"],
        "FI"
    );
}

#[tokio::test]
async fn changing_the_password_ends_the_other_sign_ins() {
    let app = TestApp::spawn().await;
    let gus = UserBuilder::new("gus").create(&app).await;
    let other = login(&app, "gus", &gus.password).await["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let change = "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }";
    let wrong = app
        .gql_as(
            &gus.access,
            change,
            json!({ "c": "not it at all", "n": "another secret" }),
        )
        .await;
    assert_eq!(wrong.codes(), ["BAD_USER_INPUT"]);
    app.gql_as(
        &gus.access,
        change,
        json!({ "c": gus.password, "n": "another secret" }),
    )
    .await
    .data();
    app.gql_as(&gus.access, ME, json!({})).await.data();
    assert_eq!(
        app.gql_as(&other, ME, json!({})).await.codes(),
        ["UNAUTHENTICATED"]
    );
    login(&app, "gus", "another secret").await;
}

#[tokio::test]
async fn deleted_accounts_keep_their_name_and_cannot_sign_in() {
    let app = TestApp::spawn().await;
    let hal = UserBuilder::new("hal").create(&app).await;
    let delete = "mutation($p: String!) { deleteAccount(password: $p) }";
    assert_eq!(
        app.gql_as(&hal.access, delete, json!({ "p": "wrong password" }))
            .await
            .codes(),
        ["BAD_USER_INPUT"]
    );
    app.gql_as(&hal.access, delete, json!({ "p": hal.password }))
        .await
        .data();
    assert_eq!(
        app.gql_as(&hal.access, ME, json!({})).await.codes(),
        ["UNAUTHENTICATED"]
    );
    assert_eq!(
        app.gql("{ userByName(username: \"hal\") { id } }", json!({}))
            .await
            .data()["userByName"],
        Value::Null
    );
    let again = app
        .gql("mutation { register(input: { username: \"hal\", email: \"new@example.com\", password: \"long enough pw\" }) { id } }", json!({}))
        .await;
    assert_eq!(again.codes(), ["CONFLICT"]);
}

#[tokio::test]
async fn moderators_search_users_by_name_email_or_id_with_pages() {
    let app = TestApp::spawn().await;
    let moderator = UserBuilder::new("mod")
        .with_role("moderator")
        .create(&app)
        .await;
    let mut ids = Vec::new();
    for name in ["player_a", "player_b", "player_c", "other"] {
        ids.push(UserBuilder::new(name).create(&app).await.id);
    }
    let search = "query($s: String, $after: String) {
        users(search: $s, first: 2, after: $after) {
            totalCount pageInfo { hasNextPage endCursor } edges { node { username email } }
        }
    }";
    let page = app
        .gql_as(&moderator.access, search, json!({ "s": "PLAYER" }))
        .await;
    let users = &page.data()["users"];
    assert_eq!(users["totalCount"], 3);
    assert_eq!(users["edges"][0]["node"]["username"], "player_a");
    assert_eq!(
        users["edges"][0]["node"]["email"], "player_a@example.com",
        "moderators read private fields"
    );
    let next = app
        .gql_as(
            &moderator.access,
            search,
            json!({ "s": "player", "after": users["pageInfo"]["endCursor"] }),
        )
        .await;
    assert_eq!(
        next.data()["users"]["edges"][0]["node"]["username"],
        "player_c"
    );
    assert_eq!(next.data()["users"]["pageInfo"]["hasNextPage"], false);
    let by_id = app
        .gql_as(&moderator.access, search, json!({ "s": ids[3] }))
        .await;
    assert_eq!(
        by_id.data()["users"]["edges"][0]["node"]["username"],
        "other"
    );
    let by_email = app
        .gql_as(&moderator.access, search, json!({ "s": "b@example" }))
        .await;
    assert_eq!(by_email.data()["users"]["totalCount"], 1);
    // Pattern characters are matched literally.
    let literal = app
        .gql_as(&moderator.access, search, json!({ "s": "player_%" }))
        .await;
    assert_eq!(literal.data()["users"]["totalCount"], 0);
}

#[tokio::test]
async fn the_sender_delivers_the_outbox_over_smtp() {
    let mut sink = SmtpSink::start().await;
    let app = TestApp::spawn_configured(|s| s.smtp_url = Some(sink.url())).await;
    let ivy = UserBuilder::new("ivy").create(&app).await;
    app.gql(
        "mutation($e: String!) { requestPasswordReset(email: $e) }",
        json!({ "e": ivy.email }),
    )
    .await
    .data();
    let received = sink.next().await;
    assert_eq!(received.recipients, ["ivy@example.com"]);
    assert!(
        received.data.contains("Subject: Reset your password"),
        "{}",
        received.data
    );
    assert!(received.data.contains("Your code: "), "{}", received.data);
    // The row is marked sent.
    let row = arena_tests::outbox_message_once(&app, |row| row.sent_at.is_some()).await;
    assert_eq!(row.attempts, 1);
}

#[tokio::test]
async fn without_smtp_admins_read_the_outbox() {
    let app = TestApp::spawn().await;
    let admin = UserBuilder::new("root")
        .with_role("admin")
        .create(&app)
        .await;
    let moderator = UserBuilder::new("mod")
        .with_role("moderator")
        .create(&app)
        .await;
    app.gql(
        "mutation { requestPasswordReset(email: \"mod@example.com\") }",
        json!({}),
    )
    .await
    .data();
    let outbox = "{ outbox(first: 5) { totalCount edges { node { recipient subject sentAt } } } }";
    let read = app.gql_as(&admin.access, outbox, json!({})).await;
    assert_eq!(read.data()["outbox"]["totalCount"], 1);
    assert_eq!(
        read.data()["outbox"]["edges"][0]["node"]["recipient"],
        "mod@example.com"
    );
    assert_eq!(
        read.data()["outbox"]["edges"][0]["node"]["sentAt"],
        Value::Null
    );
    assert_eq!(
        app.gql_as(&moderator.access, outbox, json!({}))
            .await
            .codes(),
        ["FORBIDDEN"]
    );
}

#[tokio::test]
async fn dashboard_stats_count_accounts_bans_and_daily_sign_ups() {
    let app = TestApp::spawn().await;
    let moderator = UserBuilder::new("mod")
        .with_role("moderator")
        .create(&app)
        .await;
    let player = UserBuilder::new("player").create(&app).await;
    app.gql_as(
        &moderator.access,
        "mutation($u: ID!) { banUser(input: { userId: $u, reason: \"x\" }) { id } }",
        json!({ "u": player.id }),
    )
    .await
    .data();
    let stats = app
        .gql_as(
            &moderator.access,
            "{ dashboardStats(days: 7) { users activeBans signupsPerDay { day count } } }",
            json!({}),
        )
        .await;
    let stats = &stats.data()["dashboardStats"];
    assert_eq!(stats["users"], 2);
    assert_eq!(stats["activeBans"], 1);
    let days = stats["signupsPerDay"].as_array().unwrap();
    assert_eq!(days.len(), 7);
    assert_eq!(days[6]["day"], chrono::Utc::now().date_naive().to_string());
    assert_eq!(days[6]["count"], 2);
    let bad = app
        .gql_as(
            &moderator.access,
            "{ dashboardStats(days: 0) { users } }",
            json!({}),
        )
        .await;
    assert_eq!(bad.codes(), ["BAD_USER_INPUT"]);
}
