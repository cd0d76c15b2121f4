//! The dashboard in a real Chromium: an admin bans and unbans a user; a moderator sees no
//! role management; a member cannot get in. Screenshots go to `tests/output/screenshots`.

use arena_tests::{Browser, TestApp, TestUser, UserBuilder};
use fantoccini::Locator;
use sea_orm::EntityTrait;
use serde_json::json;

async fn sign_in(browser: &Browser, app: &TestApp, user: &TestUser) {
    browser
        .client
        .goto(&app.url("/admin/signin"))
        .await
        .expect("open sign-in");
    browser.fill("login", &user.username).await;
    browser.fill("password", &user.password).await;
    browser.click("button[type='submit']").await;
}

/// Signs `admin` in and opens `user`'s page.
async fn open_user_page(browser: &Browser, app: &TestApp, admin: &TestUser, user: &TestUser) {
    sign_in(browser, app, admin).await;
    browser.wait_for_text("accounts").await;
    browser
        .client
        .goto(&app.url(&format!("/admin/users/{}", user.id)))
        .await
        .unwrap();
}

async fn nav_links(browser: &Browser) -> Vec<String> {
    let mut links = Vec::new();
    for link in browser
        .client
        .find_all(Locator::Css("header nav a"))
        .await
        .expect("nav")
    {
        links.push(link.text().await.expect("text"));
    }
    links
}

#[tokio::test]
async fn an_admin_bans_a_user_sees_it_in_bans_and_audit_and_lifts_it() {
    let app = TestApp::spawn().await;
    let admin = UserBuilder::new("admin")
        .with_role("admin")
        .create(&app)
        .await;
    UserBuilder::new("troll").create(&app).await;
    let browser = Browser::start().await;

    sign_in(&browser, &app, &admin).await;
    browser.wait_for_text("accounts").await;
    assert_eq!(
        browser.find("#users-count").await.text().await.unwrap(),
        "2"
    );
    assert_eq!(
        nav_links(&browser).await,
        [
            "Home",
            "Users",
            "Bans",
            "Roles",
            "Audit log",
            "Crawls",
            "Moderation",
            "Reports",
            "Content",
            "Categories",
            "Games",
            "Economy",
            "Trades",
            "Servers",
            "Sessions",
            "Hosts",
            "Host bans",
            "Plays",
            "Scoring",
            "Events",
            "Quests"
        ]
    );
    browser.screenshot("home").await;

    browser.click_link("Users").await;
    browser.fill("search", "trol").await;
    browser
        .find("[name='search']")
        .await
        .send_keys("\u{E007}")
        .await
        .unwrap();
    browser.find("table.users a").await;
    browser.wait_for_text("1 accounts").await;
    browser.screenshot("users").await;
    browser.click_link("troll").await;
    browser.wait_for_text("troll@example.com").await;
    let sessions = browser.find("ul.sessions").await.text().await.unwrap();
    assert_eq!(
        sessions.matches("since").count(),
        1,
        "one sign-in: {sessions}"
    );

    browser.fill("reason", "spam in chat").await;
    browser
        .click_and_confirm("form.ban button[type='submit']")
        .await;
    browser.wait_for_text("troll is banned.").await;
    browser.wait_for_text("spam in chat").await;
    browser.screenshot("user").await;

    browser.click_link("Bans").await;
    browser.wait_for_text("1 bans").await;
    let row = browser
        .find("table.bans tbody tr")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        row.contains("troll") && row.contains("spam in chat") && row.contains("admin"),
        "{row}"
    );
    browser.screenshot("bans").await;

    browser.click_link("Audit log").await;
    browser.wait_for_text("ban.create").await;
    browser.screenshot("audit").await;

    browser.click_link("Roles").await;
    browser.wait_for_text("moderator").await;
    browser.screenshot("roles").await;

    browser.click_link("Bans").await;
    browser.wait_for_text("1 bans").await;
    browser.click_and_confirm("table.bans button.danger").await;
    browser.answer_prompt("appeal accepted").await;
    browser.wait_for_text("0 bans").await;

    let bans = app
        .gql_as(&admin.access, "{ bans(filter: { active: false }) { edges { node { liftReason user { username } } } } }", json!({}))
        .await;
    assert_eq!(
        bans.data()["bans"]["edges"][0]["node"]["liftReason"],
        "appeal accepted"
    );
    browser.close().await;
}

#[tokio::test]
async fn a_moderator_does_not_see_role_management() {
    let app = TestApp::spawn().await;
    let moderator = UserBuilder::new("mod")
        .with_role("moderator")
        .create(&app)
        .await;
    let browser = Browser::start().await;
    sign_in(&browser, &app, &moderator).await;
    browser.wait_for_text("accounts").await;
    assert_eq!(
        nav_links(&browser).await,
        [
            "Home",
            "Users",
            "Bans",
            "Audit log",
            "Moderation",
            "Reports",
            "Content",
            "Categories",
            "Games",
            "Servers",
            "Sessions",
            "Plays"
        ]
    );
    browser.screenshot("moderator-home").await;
    browser.close().await;
}

#[tokio::test]
async fn a_member_cannot_sign_in_to_the_dashboard() {
    let app = TestApp::spawn().await;
    let member = UserBuilder::new("member").create(&app).await;
    let browser = Browser::start().await;
    sign_in(&browser, &app, &member).await;
    browser
        .wait_for_text("This account may not use the dashboard.")
        .await;
    assert!(nav_links(&browser).await.is_empty());
    browser.screenshot("member-refused").await;
    // A wrong password is told in words next to the form.
    browser.fill("password", "not the password").await;
    browser.click("button[type='submit']").await;
    browser
        .wait_for_text("wrong username, email or password")
        .await;
    browser.close().await;
}

#[tokio::test]
async fn an_admin_makes_a_member_a_moderator_who_then_gets_in() {
    let app = TestApp::spawn().await;
    let admin = UserBuilder::new("admin")
        .with_role("admin")
        .create(&app)
        .await;
    let ann = UserBuilder::new("ann").create(&app).await;
    let browser = Browser::start().await;
    open_user_page(&browser, &app, &admin, &ann).await;
    browser.wait_for_text("ann@example.com").await;
    browser
        .find("[name='user-role']")
        .await
        .select_by_label("moderator")
        .await
        .unwrap();
    browser.fill("access-reason", "runs the forums").await;
    browser.click("form.access button[type='button']").await;
    browser.wait_for_text("member, moderator").await;
    browser.client.set_window_size(390, 844).await.unwrap();
    browser.screenshot("user-phone").await;
    browser.client.set_window_size(1280, 900).await.unwrap();

    browser.click("header button.link").await;
    browser.find("[name='login']").await;
    sign_in(&browser, &app, &ann).await;
    browser.wait_for_text("accounts").await;
    assert_eq!(
        nav_links(&browser).await,
        [
            "Home",
            "Users",
            "Bans",
            "Audit log",
            "Moderation",
            "Reports",
            "Content",
            "Categories",
            "Games",
            "Servers",
            "Sessions",
            "Plays"
        ]
    );
    browser.close().await;
}

#[tokio::test]
async fn an_admin_follows_crawl_runs_and_daily_activity() {
    let app = TestApp::spawn().await;
    let admin = UserBuilder::new("analyst-admin")
        .with_role("admin")
        .create(&app)
        .await;
    let today = chrono::Utc::now().date_naive().to_string();
    crate::battles::crawl(&app, 0, &today, 50).await;
    let browser = Browser::start().await;
    sign_in(&browser, &app, &admin).await;
    browser.wait_for_text("accounts").await;
    browser.click_link("Crawls").await;
    browser.wait_for_text("1 runs").await;
    let row = browser
        .find("#crawl-runs tbody tr")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        row.contains("completed") && row.contains("10 / 10"),
        "{row}"
    );
    // One bar per platform for today.
    let bars = browser
        .client
        .find_all(Locator::Css("#activity-chart rect"))
        .await
        .unwrap();
    assert_eq!(bars.len(), 2);
    browser.screenshot("crawls").await;

    browser.click("#crawl-runs tbody a").await;
    browser.wait_for_text("Accounts per second").await;
    assert_eq!(
        browser.find("#run-status").await.text().await.unwrap(),
        "completed"
    );
    let workers = browser
        .client
        .find_all(Locator::Css("#run-workers tbody tr"))
        .await
        .unwrap();
    assert_eq!(workers.len(), 2);
    assert!(
        browser
            .find("#run-summary")
            .await
            .text()
            .await
            .unwrap()
            .contains("complete")
    );
    browser.screenshot("crawl-run").await;
    browser.close().await;
}

/// The text of the navigation links marked as the current page.
async fn current_links(browser: &Browser) -> Vec<String> {
    let mut current = Vec::new();
    for link in browser
        .client
        .find_all(Locator::Css("header nav a[aria-current='page']"))
        .await
        .expect("nav")
    {
        current.push(link.text().await.expect("text"));
    }
    current
}

#[tokio::test]
async fn the_dashboard_stays_signed_in_when_its_queries_find_the_token_expired_together() {
    let app = TestApp::spawn_configured(|s| s.access_token_seconds = 2).await;
    let admin = UserBuilder::new("admin")
        .with_role("admin")
        .create(&app)
        .await;
    let browser = Browser::start().await;
    sign_in(&browser, &app, &admin).await;
    browser.wait_for_text("accounts").await;
    assert_eq!(current_links(&browser).await, ["Home"]);

    // Every query of the home page now meets an expired token at once.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    browser
        .client
        .goto(&app.url("/admin"))
        .await
        .expect("open home");
    browser.wait_for_text("accounts").await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    browser.click_link("Users").await;
    browser.find("table.users a").await;
    assert_eq!(current_links(&browser).await, ["Users"]);
    // Still the same sign-in: its series was never revoked as stolen.
    let url = browser.client.current_url().await.expect("url");
    assert!(url.path().ends_with("/admin/users"), "{url}");
    browser.screenshot("refreshed-twice").await;
    browser.close().await;
}

#[tokio::test]
async fn a_moderator_works_the_queue_rejecting_with_a_ban() {
    let app = TestApp::spawn().await;
    let admin = UserBuilder::new("admin")
        .with_role("admin")
        .create(&app)
        .await;
    let moderator = UserBuilder::new("mod")
        .with_role("moderator")
        .create(&app)
        .await;
    let ann = UserBuilder::new("ann").create(&app).await;
    let call = |who: &TestUser, query: &str, variables: serde_json::Value| {
        let (app, token, query) = (&app, who.access.clone(), query.to_owned());
        async move { app.gql_as(&token, &query, variables).await.data().clone() }
    };
    call(
        &admin,
        "mutation { createCategory(input: { name: \"Wearables\", contentTypes: [HAT] }) { id } }",
        json!({}),
    )
    .await;
    let create = "mutation($i: CreateContentInput!) { createContent(input: $i) { id } }";
    let hat = call(&ann, create, json!({ "i": { "type": "HAT", "name": "Suspicious hat", "description": "buy followers here" } })).await;
    let hat = hat["createContent"]["id"].as_str().unwrap().to_owned();
    call(
        &ann,
        "mutation($id: ID!) { publishContent(id: $id) { id } }",
        json!({ "id": hat }),
    )
    .await;
    call(&ann, create, json!({ "i": { "type": "GAME", "name": "Ball game", "game": { "maxPlayers": 6, "supports": [{ "flag": "CHAT" }] } } })).await;
    // A picture on the hat: the moderator sees its thumbnail beside the revision.
    let picture = {
        let pixels =
            image::RgbaImage::from_fn(120, 80, |x, _| image::Rgba([x as u8 * 2, 40, 90, 255]));
        let mut out = std::io::Cursor::new(Vec::new());
        pixels.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    };
    let uploaded = app
        .upload(
            &ann.access,
            "mutation($file: Upload!) { uploadAsset(file: $file, input: { kind: IMAGE }) { id } }",
            json!({}),
            ("storefront.png", "image/png", picture),
        )
        .await;
    let asset = uploaded.data()["uploadAsset"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    call(
        &ann,
        "mutation($c: ID!, $a: ID!) { attachAsset(input: { contentId: $c, assetId: $a, typeName: \"preview\" }) { id } }",
        json!({ "c": hat, "a": asset }),
    )
    .await;
    let render = "query($id: ID!) { asset(id: $id) { deleted render { status } } }";
    for _ in 0..100 {
        if call(&ann, render, json!({ "id": asset })).await["asset"]["render"]["status"] == "DONE" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    let browser = Browser::start().await;
    sign_in(&browser, &app, &moderator).await;
    browser.wait_for_text("accounts").await;
    browser.click_link("Moderation").await;
    browser.wait_for_text("1 items waiting").await;
    assert!(
        browser
            .find("table.queue tbody")
            .await
            .text()
            .await
            .unwrap()
            .contains("Suspicious hat")
    );
    browser.click("#claim").await;
    browser.wait_for_text("buy followers here").await;
    browser.wait_for_text("Revision").await;
    browser.wait_for_text("storefront.png").await;
    let thumbnail = browser.find("img.thumb").await;
    let loaded = browser
        .client
        .execute(
            "const img = arguments[0]; return img.complete && img.naturalWidth;",
            vec![serde_json::to_value(&thumbnail).unwrap()],
        )
        .await
        .unwrap();
    assert_eq!(
        loaded,
        json!(256),
        "the thumbnail was served to the dashboard"
    );
    browser.screenshot("moderation-claimed").await;
    browser
        .find("select[name='decision']")
        .await
        .select_by_value("REJECT")
        .await
        .unwrap();
    browser
        .find("select[name='rejection-reason']")
        .await
        .select_by_value("ILLEGAL")
        .await
        .unwrap();
    browser.click("input[name='penalty']").await;
    browser.click("input[name='delete-assets']").await;
    browser.fill("penalty-reason", "selling accounts").await;
    browser.fill("penalty-days", "7").await;
    browser.fill("description", "spam storefront").await;
    browser
        .click_and_confirm("form.decide button[type='submit']")
        .await;
    browser
        .client
        .accept_alert()
        .await
        .expect("a second confirmation was asked for the files");
    browser
        .wait_for_text("Decided: reject, creator banned, files deleted.")
        .await;
    browser.wait_for_text("0 items waiting").await;
    browser.screenshot("moderation-decided").await;

    // The decision took effect through the API's own rules.
    let banned = app
        .gql_as(&ann.access, "{ me { username } }", json!({}))
        .await;
    assert_eq!(banned.codes(), ["BANNED"]);
    let gone =
        arena_entity::assets::asset::Entity::find_by_id(uuid::Uuid::parse_str(&asset).unwrap())
            .one(&app.ctx.db)
            .await
            .unwrap()
            .unwrap();
    assert!(gone.deleted_at.is_some(), "the file was deleted");

    browser.click_link("Content").await;
    browser.fill("text", "suspicious").await;
    browser
        .find("[name='text']")
        .await
        .send_keys("\u{E007}")
        .await
        .unwrap();
    browser.wait_for_text("1 items").await;
    browser.click_link("Suspicious hat").await;
    browser.wait_for_text("REJECTED").await;
    browser.wait_for_text("spam storefront").await;
    browser.screenshot("content-page").await;

    browser.click_link("Audit log").await;
    browser.wait_for_text("content.reject").await;
    browser.click_link("Reports").await;
    browser.wait_for_text("0 reports").await;
    browser.click_link("Categories").await;
    browser.wait_for_text("Wearables").await;
    assert!(
        browser
            .client
            .find(Locator::Css("form.category"))
            .await
            .is_err(),
        "moderators do not manage categories"
    );
    browser.click_link("Games").await;
    browser.wait_for_text("Ball game").await;
    browser.wait_for_text("CHAT").await;
    browser.screenshot("games").await;
    browser.close().await;
}

/// An admin, a player, and a creator's hat on sale for 40 coins.
struct Shop {
    app: TestApp,
    admin: TestUser,
    ann: TestUser,
    hat: String,
}

impl Shop {
    /// With `fields` added to the hat's.
    async fn open(fields: serde_json::Value) -> Self {
        let app = TestApp::spawn_configured(|s| s.trusted_creator_approvals = 0).await;
        let admin = UserBuilder::new("admin")
            .with_role("admin")
            .create(&app)
            .await;
        let cat = UserBuilder::new("cat").create(&app).await;
        let ann = UserBuilder::new("ann").create(&app).await;
        let mut hat = json!({ "type": "HAT", "name": "Top hat", "onsale": true });
        if let (Some(hat), Some(extra)) = (hat.as_object_mut(), fields.as_object()) {
            hat.extend(extra.clone());
        }
        let hat = app.published_item(&cat.access, hat).await;
        app.gql_as(
            &cat.access,
            "mutation($c: ID!) { setPrice(contentId: $c, currency: WHOLE, price: 40) { price } }",
            json!({ "c": hat }),
        )
        .await
        .data();
        Self {
            app,
            admin,
            ann,
            hat,
        }
    }
}

/// An admin opens a player's page, finds a purchase in the ledger and refunds it: the money
/// comes back, the refund points to the purchase, and the audit log has it.
#[tokio::test]
async fn an_admin_refunds_a_purchase() {
    let Shop {
        app,
        admin,
        ann,
        hat,
    } = Shop::open(json!({})).await;
    app.gql_as(&admin.access, "mutation($u: ID!) { mint(input: { userId: $u, currencyId: \"1\", amount: 100, reason: \"welcome\", idempotencyKey: \"w\" }) { alreadyApplied } }", json!({ "u": ann.id }))
        .await
        .data();
    app.gql_as(&ann.access, "mutation($c: ID!) { purchase(input: { contentId: $c, currency: WHOLE, idempotencyKey: \"p\" }) { alreadyApplied } }", json!({ "c": hat }))
        .await
        .data();
    let ledger = app
        .gql_as(
            &admin.access,
            "query($u: ID!) { ledger(userId: $u) { edges { node { id kind } } } }",
            json!({ "u": ann.id }),
        )
        .await;
    let purchase = ledger.data()["ledger"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["node"]["kind"] == "PURCHASE")
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .unwrap();

    let browser = Browser::start().await;
    open_user_page(&browser, &app, &admin, &ann).await;
    // 100 minted, 40 paid: 36 to the creator, 4 fee.
    browser.wait_for_text("coins: 60").await;
    browser.wait_for_text("PURCHASE").await;
    browser.fill("refund-id", &purchase).await;
    browser.fill("refund-reason", "charged twice").await;
    browser
        .click_and_confirm("form.refund button[type='submit']")
        .await;
    browser
        .wait_for_text(&format!("Refunded transaction {purchase}"))
        .await;
    browser.wait_for_text("coins: 96").await;
    browser.wait_for_text(&format!("(undoes {purchase})")).await;
    browser.screenshot("bank-refund").await;
    browser.close().await;

    let balances = app
        .gql_as(&ann.access, "{ balances { amount } }", json!({}))
        .await;
    assert_eq!(balances.data()["balances"][0]["amount"], 96);
    let audited = app
        .gql_as(&admin.access, "{ auditLog(filter: { action: \"bank.refund\" }) { totalCount edges { node { reason } } } }", json!({}))
        .await;
    assert_eq!(audited.data()["auditLog"]["totalCount"], 1);
    assert_eq!(
        audited.data()["auditLog"]["edges"][0]["node"]["reason"],
        "charged twice"
    );
}

/// An admin mints and burns on a player's page, renames a currency, adds and ends a
/// conversion rule, reads the store's copies sold, and finds a confirmed trade with its
/// history; every step is in the audit log.
#[tokio::test]
async fn an_admin_runs_the_economy() {
    let Shop {
        app,
        admin,
        ann,
        hat,
    } = Shop::open(json!({ "tradeable": true, "stock": 10 })).await;
    let bob = UserBuilder::new("bob").create(&app).await;

    let browser = Browser::start().await;
    open_user_page(&browser, &app, &admin, &ann).await;
    browser.wait_for_text("coins: 0").await;
    for (button, amount, balance) in [("mint", "100", "coins: 100"), ("burn", "5", "coins: 95")] {
        browser.fill("issue-amount", amount).await;
        browser.fill("issue-reason", "welcome gift").await;
        browser
            .click_and_confirm(&format!("form.issue button[name='{button}']"))
            .await;
        browser.wait_for_text(balance).await;
    }
    browser.screenshot("bank-mint-burn").await;

    // Ann buys the hat (serial 1) and trades it to Bob for 10 coins.
    app.gql_as(&admin.access, "mutation($u: ID!) { mint(input: { userId: $u, currencyId: \"1\", amount: 50, reason: \"welcome\", idempotencyKey: \"w\" }) { alreadyApplied } }", json!({ "u": bob.id }))
        .await
        .data();
    app.gql_as(&ann.access, "mutation($c: ID!) { purchase(input: { contentId: $c, currency: WHOLE, idempotencyKey: \"p\" }) { alreadyApplied } }", json!({ "c": hat }))
        .await
        .data();
    let sent = app
        .gql_as(&ann.access, "mutation($i: OfferTradeInput!) { offerTrade(input: $i) { trade { id } } }", json!({ "i": { "recipientId": bob.id, "offeredItems": [hat], "requestedMoney": { "currencyId": "1", "amount": 10 }, "idempotencyKey": "t" } }))
        .await;
    let trade = sent.data()["offerTrade"]["trade"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.gql_as(
        &bob.access,
        "mutation($t: ID!) { confirmTrade(id: $t) { status } }",
        json!({ "t": trade }),
    )
    .await
    .data();

    // Currencies: rename one; conversion rules: add one, end it.
    browser.click_link("Economy").await;
    browser.wait_for_text("balanced").await;
    browser.click("button[name='rename-2']").await;
    browser.answer_prompt("diamonds").await;
    browser.wait_for_text("diamonds").await;
    for (select, value) in [("source", "1"), ("destination", "2")] {
        browser
            .find(&format!("[name='{select}']"))
            .await
            .select_by_value(value)
            .await
            .unwrap();
    }
    browser.fill("ratio", "10").await;
    browser.click("form.conversion button[type='submit']").await;
    browser.wait_for_text("End now").await;
    browser
        .click_and_confirm("section.conversions button.danger")
        .await;
    // The store: the hat's price, stock and the one copy sold.
    browser.wait_for_text("40 WHOLE").await;
    let sold = browser
        .find("section.store td.sold")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(sold, "1");
    browser.screenshot("economy").await;

    // Trades: the confirmed one, and its history.
    browser.click_link("Trades").await;
    browser
        .find("[name='trade-status']")
        .await
        .select_by_value("CONFIRMED")
        .await
        .unwrap();
    browser.wait_for_text("1 trades").await;
    browser.click_link(&format!("Trade {trade}")).await;
    browser
        .wait_for_text("ann offers Top hat #1 to bob for 10 coins.")
        .await;
    browser.wait_for_text("CONFIRMED").await;
    let history = browser
        .find("section.history tbody")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        history.contains("SENT") && history.contains("bob"),
        "{history}"
    );
    browser.screenshot("trade").await;
    browser.close().await;

    let rules = app
        .gql_as(
            &admin.access,
            "{ conversions { validTo } currencies { name } }",
            json!({}),
        )
        .await;
    assert!(rules.data()["conversions"][0]["validTo"].is_string());
    assert_eq!(rules.data()["currencies"][1]["name"], "diamonds");
    let balances = app
        .gql_as(&ann.access, "{ balances { amount } }", json!({}))
        .await;
    assert_eq!(balances.data()["balances"][0]["amount"], 65);
    let audited = app
        .gql_as(
            &admin.access,
            "{ auditLog(first: 50) { edges { node { action reason } } } }",
            json!({}),
        )
        .await;
    let actions: Vec<&str> = audited.data()["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["action"].as_str().unwrap())
        .collect();
    for action in [
        "bank.mint",
        "bank.burn",
        "bank.currency",
        "bank.conversion",
        "bank.conversion.end",
    ] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
}

/// An admin bans a network from hosting, sees it in force, and lifts it with a reason.
#[tokio::test]
async fn an_admin_bans_a_host_network_and_lifts_it() {
    let app = TestApp::spawn().await;
    let admin = UserBuilder::new("admin")
        .with_role("admin")
        .create(&app)
        .await;
    let browser = Browser::start().await;
    sign_in(&browser, &app, &admin).await;
    browser.wait_for_text("accounts").await;
    browser.click_link("Host bans").await;
    browser.wait_for_text("0 host bans").await;
    browser.fill("host-address", "198.51.100.9/24").await;
    browser.fill("host-reason", "open proxy farm").await;
    browser
        .click_and_confirm("form.host-ban button[type='submit']")
        .await;
    browser.wait_for_text("198.51.100.0/24").await;
    browser.wait_for_text("1 host bans").await;
    browser
        .click_and_confirm("table.host-bans button.danger")
        .await;
    browser.answer_prompt("cleaned up").await;
    browser.wait_for_text("0 host bans").await;
    browser
        .find("[name='host-state']")
        .await
        .select_by_value("ended")
        .await
        .unwrap();
    browser.wait_for_text("(lifted: cleaned up)").await;
    browser.screenshot("host-bans").await;
    browser.close().await;

    let bans = app
        .gql_as(
            &admin.access,
            "{ hostBans(active: false) { network liftReason } }",
            json!({}),
        )
        .await;
    assert_eq!(
        bans.data()["hostBans"],
        json!([{ "network": "198.51.100.0/24", "liftReason": "cleaned up" }])
    );
}

/// A moderating admin sees live servers with their player counts, quarantines one (audited),
/// ends a live session, registers a provisioning host (its token shown once) and reads the
/// plays per day.
#[tokio::test]
async fn an_admin_quarantines_a_server_and_ends_a_session() {
    use arena_gameserver_sim::{Arena, Auth, GameServer, Spec};

    let app = TestApp::spawn_configured(arena_tests::trusting).await;
    let admin = UserBuilder::new("admin")
        .with_role("admin")
        .create(&app)
        .await;
    let ann = UserBuilder::new("ann").create(&app).await;
    let game = app
        .published_item(&admin.access, json!({ "type": "GAME", "name": "Duel" }))
        .await;
    let arena = Arena::new(app.url("/graphql"));
    let spec = Spec {
        game_ids: vec![game.clone()],
        socket_host: "127.0.0.1".into(),
        socket_port: 7777,
        country: Some("FI".into()),
        slots: Some(8),
    };
    let server = GameServer::register(&arena, &Auth::User(admin.access.clone()), &spec)
        .await
        .unwrap();
    server.ping(1, &[]).await.unwrap();
    let ticket = app
        .gql_as(
            &ann.access,
            "mutation($g: ID!) { play(gameId: $g) { token } }",
            json!({ "g": game }),
        )
        .await;
    server
        .validate(ticket.data()["play"]["token"].as_str().unwrap())
        .await
        .unwrap();

    let browser = Browser::start().await;
    sign_in(&browser, &app, &admin).await;
    browser.wait_for_text("accounts").await;
    browser.click_link("Servers").await;
    browser.wait_for_text("1 servers").await;
    browser.wait_for_text("1 / 8 (says 1)").await;
    browser.wait_for_text("READY").await;
    browser
        .click_and_confirm("table.servers button.quarantine")
        .await;
    browser.answer_prompt("speed hacks reported").await;
    browser.wait_for_text("QUARANTINED").await;
    browser.screenshot("servers").await;

    browser.click_link("Sessions").await;
    browser.wait_for_text("1 live sessions").await;
    browser.wait_for_text("JOINED").await;
    browser
        .click_and_confirm("table.sessions button.danger")
        .await;
    browser.wait_for_text("0 live sessions").await;

    browser.click_link("Hosts").await;
    browser.fill("host-name", "rack 1").await;
    browser.fill("host-url", "http://127.0.0.1:9/servers").await;
    browser.click("form.host button[type='submit']").await;
    browser.wait_for_text("shown this once").await;
    let token = browser.find("#host-token").await.text().await.unwrap();
    browser.wait_for_text("0 / 10").await;

    browser.click_link("Plays").await;
    browser.wait_for_text("Plays per day").await;
    browser.find("#plays-chart rect").await;
    browser.screenshot("plays").await;
    browser.close().await;

    let seen = app
        .gql_as(
            &admin.access,
            "{ allServers { quarantined players } allPlaySessions(live: false) { endReason } \
               auditLog(first: 5) { edges { node { action reason } } } }",
            json!({}),
        )
        .await;
    let seen = seen.data();
    assert_eq!(
        seen["allServers"],
        json!([{ "quarantined": true, "players": 0 }])
    );
    assert_eq!(
        seen["allPlaySessions"],
        json!([{ "endReason": "ended_by_moderator" }])
    );
    let actions: Vec<(&str, &str)> = seen["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["node"]["action"].as_str().unwrap(),
                e["node"]["reason"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(
        actions.contains(&("server.quarantine", "speed hacks reported")),
        "{actions:?}"
    );
    // The token shown is the host's: it pings with it.
    let pinged = arena_gameserver_sim::ping_host(&arena, &Auth::Host(token), 3)
        .await
        .unwrap();
    assert_eq!(pinged["slots"], 3);
    let plays = app
        .gql_as(&ann.access, "{ plays { endTime } }", json!({}))
        .await;
    assert_eq!(plays.data()["plays"].as_array().unwrap().len(), 1);
}

/// An admin, two players, a game and its +1 board "Champions".
async fn champions(app: &TestApp) -> (TestUser, TestUser, TestUser, String, String) {
    let admin = UserBuilder::new("admin")
        .with_role("admin")
        .create(app)
        .await;
    let ann = UserBuilder::new("ann").create(app).await;
    let bob = UserBuilder::new("bob").create(app).await;
    let duel = app
        .published_item(
            &admin.access,
            json!({ "type": "GAME", "name": "Duel", "game": { "maxPlayers": 2 } }),
        )
        .await;
    let board = crate::leaderboards::board(
        app,
        &admin,
        json!({ "gameId": duel, "name": "Champions", "scoring": "WINS" }),
    )
    .await;
    (admin, ann, bob, duel, board)
}

#[tokio::test]
async fn an_admin_watches_a_leaderboard_change_live_and_manages_quests() {
    let app = TestApp::spawn_configured(arena_tests::trusting).await;
    let (admin, ann, bob, duel, board) = champions(&app).await;
    let browser = Browser::start().await;
    sign_in(&browser, &app, &admin).await;
    browser.wait_for_text("accounts").await;

    browser.click_link("Scoring").await;
    browser.wait_for_text("Champions").await;
    browser.wait_for_text("Add rule").await;
    browser.screenshot("scoring").await;
    browser.click_link("Champions").await;
    browser.find(".live-link[data-link='live']").await;
    let url = browser.client.current_url().await.unwrap();
    assert_eq!(url.path(), format!("/admin/leaderboards/{board}"));
    assert_eq!(
        browser
            .client
            .find_all(Locator::Css("#board-top tbody tr"))
            .await
            .unwrap()
            .len(),
        0
    );
    // Whatever changes now comes without a reload: the page keeps this mark.
    browser
        .client
        .execute("window.arenaMark = 'same page'; return null", vec![])
        .await
        .unwrap();
    let sent = app
        .gql_as(
            &admin.access,
            crate::events::INGEST,
            json!({ "e": [crate::events::over("live-1", &duel, &ann, &bob),
                          crate::events::over("live-2", &duel, &ann, &bob)] }),
        )
        .await;
    assert!(sent.body.get("errors").is_none(), "{:#}", sent.body);
    browser.wait_for_text("ann").await;
    let row = browser
        .find("#board-top tbody tr")
        .await
        .text()
        .await
        .unwrap();
    assert!(row.starts_with("1 ann 2"), "{row}");
    assert_eq!(
        browser
            .client
            .execute("return window.arenaMark", vec![])
            .await
            .unwrap(),
        json!("same page")
    );
    let sent = app
        .gql_as(
            &admin.access,
            crate::events::INGEST,
            json!({ "e": [crate::events::over("live-3", &duel, &bob, &ann),
                          crate::events::over("live-4", &duel, &bob, &ann),
                          crate::events::over("live-5", &duel, &bob, &ann)] }),
        )
        .await;
    assert!(sent.body.get("errors").is_none(), "{:#}", sent.body);
    browser.wait_for_text("1 bob 3").await;
    browser.wait_for_text("2 ann 2").await;
    browser.screenshot("leaderboard-live").await;

    browser.click_link("Events").await;
    browser.wait_for_text("5 events").await;
    // The live tail shows a new event at once; a failed one is retried once its cause is
    // put right (a rule reading a field the event lacks).
    browser.click("[name='events-tail']").await;
    browser.find(".live-link[data-link='live']").await;
    let rule = app
        .gql_as(
            &admin.access,
            "mutation($i: StatRuleInput!) { createStatRule(input: $i) { id } }",
            json!({ "i": { "gameId": duel, "eventType": "GAMEPLAY", "eventName": "round",
                           "subject": "USER", "field": "/score", "stat": "points", "op": "ADD" } }),
        )
        .await;
    let rule = rule.data()["createStatRule"]["id"].clone();
    let sent = app
        .gql_as(
            &admin.access,
            crate::events::INGEST,
            json!({ "e": [{ "id": "broken-1", "gameId": duel, "type": "GAMEPLAY", "name": "round", "userId": ann.id }] }),
        )
        .await;
    assert!(sent.body.get("errors").is_none(), "{:#}", sent.body);
    browser.wait_for_text("broken-1").await;
    crate::stats::settled(&app).await;
    browser
        .find("[name='events-state']")
        .await
        .select_by_label("failed")
        .await
        .unwrap();
    browser.wait_for_text("1 events").await;
    browser.wait_for_text("which is not an integer").await;
    browser.screenshot("events").await;
    let removed = app
        .gql_as(
            &admin.access,
            "mutation($id: ID!) { removeStatRule(id: $id) }",
            json!({ "id": rule }),
        )
        .await;
    assert!(removed.body.get("errors").is_none(), "{:#}", removed.body);
    browser.click("table.events button.retry").await;
    browser.wait_for_text("0 events").await;
    crate::stats::settled(&app).await;
    let states = app
        .gql_as(
            &admin.access,
            "{ events(state: FAILED) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(states.data()["events"]["totalCount"], 0);

    browser.click_link("Quests").await;
    browser.fill("quest-name", "Three wins").await;
    browser
        .find("[name='quest-trigger']")
        .await
        .select_by_label("game_over")
        .await
        .unwrap();
    browser.fill("quest-streak", "3").await;
    browser.fill("quest-amount", "25").await;
    browser
        .click("form.create-quest button[type='submit']")
        .await;
    browser.wait_for_text("Three wins").await;
    // A window from the page; a rename keeps it.
    browser.click("table.quests button.window").await;
    browser.answer_prompt("2030-01-01 00:00").await;
    browser.answer_prompt("2031-06-30 12:00").await;
    browser.wait_for_text("2031-06-30 12:00").await;
    browser.click("table.quests button.rename").await;
    browser.answer_prompt("Three straight wins").await;
    browser.wait_for_text("Three straight wins").await;
    browser.wait_for_text("2031-06-30 12:00").await;
    browser
        .click_and_confirm("table.quests button.toggle")
        .await;
    browser.wait_for_text("Turn on").await;
    browser.screenshot("quests").await;
    let quests = app
        .gql_as(
            &admin.access,
            "{ quests(includeInactive: true) { name streak rewardAmount active startsAt endsAt } }",
            json!({}),
        )
        .await;
    assert_eq!(
        quests.data()["quests"],
        json!([{ "name": "Three straight wins", "streak": 3, "rewardAmount": 25, "active": false,
                  "startsAt": "2030-01-01T00:00:00+00:00", "endsAt": "2031-06-30T12:00:00+00:00" }])
    );
    browser.close().await;
}

#[tokio::test]
async fn a_live_board_page_outlives_its_access_tokens() {
    let app = TestApp::spawn_configured(|s| {
        arena_tests::trusting(s);
        s.access_token_seconds = 2;
    })
    .await;
    let (admin, ann, bob, duel, board) = champions(&app).await;
    let browser = Browser::start().await;
    sign_in(&browser, &app, &admin).await;
    browser.wait_for_text("accounts").await;
    browser
        .client
        .goto(&app.url(&format!("/admin/leaderboards/{board}")))
        .await
        .unwrap();
    browser.find(".live-link[data-link='live']").await;
    browser
        .client
        .execute("window.arenaMark = 'same page'; return null", vec![])
        .await
        .unwrap();
    // Each expiry closes the socket (4401); the page refreshes its token and subscribes
    // again, and the board still moves.
    for wins in 1..=2 {
        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
        let signed_in = arena_tests::login(&app, &admin.username, &admin.password).await;
        let sent = app
            .gql_as(
                signed_in["accessToken"].as_str().unwrap(),
                crate::events::INGEST,
                json!({ "e": [crate::events::over(&format!("late-{wins}"), &duel, &ann, &bob)] }),
            )
            .await;
        assert!(sent.body.get("errors").is_none(), "{:#}", sent.body);
        browser.wait_for_text(&format!("1 ann {wins}")).await;
    }
    browser.find(".live-link[data-link='live']").await;
    assert_eq!(
        browser
            .client
            .execute("return window.arenaMark", vec![])
            .await
            .unwrap(),
        json!("same page")
    );
    browser.close().await;
}
