//! Quests (seed 002): sign-ins reach the event stream through the platform's outbox and
//! advance streaks; a completion pays its reward through the ledger exactly once, at once
//! or when claimed; the duplication limit and daily streaks hold.

use std::time::Duration;

use arena_api::settings::Settings;
use arena_entity::events::{game_event, quest_completion};
use arena_tests::{TestApp, TestUser, UserBuilder, login, trusting};
use futures_util::future::join_all;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::stats::settled;

const CREATE: &str =
    "mutation($i: QuestInput!) { createQuest(input: $i) { id name streak duplication autoClaim } }";
const MINE: &str = "{ myQuests { quest { name } streak completions unclaimed } }";

async fn coins(app: &TestApp) -> String {
    let listed = app.gql("{ currencies { id name } }", json!({})).await;
    listed.data()["currencies"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A player who has never signed in; their password.
async fn newcomer(app: &TestApp, name: &str) -> (String, String) {
    let password = format!("{name}-pass-word");
    let registered = app
        .gql(
            "mutation($input: RegisterInput!) { register(input: $input) { id } }",
            json!({ "input": { "username": name, "email": format!("{name}@example.com"), "password": password } }),
        )
        .await;
    (
        registered.data()["register"]["id"]
            .as_str()
            .unwrap()
            .to_owned(),
        password,
    )
}

/// Signs in as `name`; the access token.
async fn sign_in(app: &TestApp, name: &str, password: &str) -> String {
    let session = login(app, name, password).await;
    session["accessToken"].as_str().unwrap().to_owned()
}

async fn coins_of(app: &TestApp, token: &str) -> i64 {
    let found = app
        .gql_as(
            token,
            "{ balances { amount currency { name } } }",
            json!({}),
        )
        .await;
    found.data()["balances"][0]["amount"].as_i64().unwrap()
}

/// Waits until the outbox is relayed and every event applied.
async fn caught_up(app: &TestApp) {
    for _ in 0..400 {
        let waiting = arena_entity::events::platform_event::Entity::find()
            .filter(arena_entity::events::platform_event::Column::Relayed.eq(false))
            .count(&app.ctx.db)
            .await
            .unwrap();
        if waiting == 0 {
            settled(app).await;
            let again = arena_entity::events::platform_event::Entity::find()
                .filter(arena_entity::events::platform_event::Column::Relayed.eq(false))
                .count(&app.ctx.db)
                .await
                .unwrap();
            if again == 0 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the outbox was not relayed in 10 s");
}

/// Test settings that relay the outbox every 20 ms.
fn relaying(settings: &mut Settings) {
    trusting(settings);
    settings.event_relay_ms = 20;
}

fn seed_quest(name: &str, currency: &str, auto_claim: bool) -> Value {
    json!({ "name": name, "description": "Sign in three times", "triggerType": "sign_in", "streak": 3, "duplication": 2, "autoClaim": auto_claim, "rewardCurrencyId": currency, "rewardAmount": 10 })
}

async fn quest(app: &TestApp, admin: &TestUser, input: Value) -> String {
    let made = app
        .gql_as(&admin.access, CREATE, json!({ "i": input }))
        .await;
    made.data()["createQuest"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

arena_tests::both_configured!(the_seed_002_example_with_auto_claim, relaying, |app| {
    let admin = UserBuilder::new("admin")
        .with_role("admin")
        .create(&app)
        .await;
    let currency = coins(&app).await;
    quest(&app, &admin, seed_quest("Sign in", &currency, true)).await;
    let (id, password) = newcomer(&app, "ann").await;
    // 1 first sign-in + 2 sign-ins complete it: 10 coins.
    let mut token = String::new();
    for _ in 0..3 {
        token = sign_in(&app, "ann", &password).await;
    }
    caught_up(&app).await;
    assert_eq!(coins_of(&app, &token).await, 10);
    let first = game_event::Entity::find()
        .filter(game_event::Column::Kind.eq("sign_in"))
        .filter(game_event::Column::UserId.eq(uuid::Uuid::parse_str(&id).unwrap()))
        .all(&app.ctx.db)
        .await
        .unwrap();
    let firsts: Vec<bool> = first
        .iter()
        .map(|e| e.data.as_ref().unwrap()["first"].as_bool().unwrap())
        .collect();
    assert_eq!(firsts, [true, false, false]);
    // 3 more complete it again: 20.
    for _ in 0..3 {
        sign_in(&app, "ann", &password).await;
    }
    caught_up(&app).await;
    assert_eq!(coins_of(&app, &token).await, 20);
    // At the duplication limit, sign-ins still record but complete nothing.
    for _ in 0..4 {
        sign_in(&app, "ann", &password).await;
    }
    caught_up(&app).await;
    assert_eq!(coins_of(&app, &token).await, 20);
    let sign_ins = game_event::Entity::find()
        .filter(game_event::Column::Kind.eq("sign_in"))
        .filter(game_event::Column::UserId.eq(uuid::Uuid::parse_str(&id).unwrap()))
        .count(&app.ctx.db)
        .await
        .unwrap();
    assert_eq!(sign_ins, 10);
    let completed = game_event::Entity::find()
        .filter(game_event::Column::Kind.eq("quest.completed"))
        .count(&app.ctx.db)
        .await
        .unwrap();
    assert_eq!(completed, 2);
    let mine = app.gql_as(&token, MINE, json!({})).await;
    assert_eq!(
        mine.data()["myQuests"],
        json!([{ "quest": { "name": "Sign in" }, "streak": 0, "completions": 2, "unclaimed": 0 }])
    );
    // The completions' figures, for admins.
    let figures = app
        .gql_as(
            &admin.access,
            "{ quests { figures { started players completions claimed } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        figures.data()["quests"][0]["figures"],
        json!({ "started": 1, "players": 1, "completions": 2, "claimed": 2 })
    );
});

arena_tests::both_configured!(
    without_auto_claim_each_completion_is_paid_once,
    relaying,
    |app| {
        let admin = UserBuilder::new("admin")
            .with_role("admin")
            .create(&app)
            .await;
        let currency = coins(&app).await;
        let id = quest(&app, &admin, seed_quest("Sign in", &currency, false)).await;
        let (_, password) = newcomer(&app, "bob").await;
        let mut token = String::new();
        for _ in 0..6 {
            token = sign_in(&app, "bob", &password).await;
        }
        caught_up(&app).await;
        assert_eq!(coins_of(&app, &token).await, 0);
        let mine = app.gql_as(&token, MINE, json!({})).await;
        assert_eq!(mine.data()["myQuests"][0]["unclaimed"], 2);
        // Ten claims at once: the two completions are paid once each.
        const CLAIM: &str =
            "mutation($q: ID!) { claimQuestReward(questId: $q) { number claimedAt } }";
        let claims = join_all((0..10).map(|_| app.gql_as(&token, CLAIM, json!({ "q": id })))).await;
        let paid: usize = claims
            .iter()
            .map(|c| c.data()["claimQuestReward"].as_array().unwrap().len())
            .sum();
        assert_eq!(paid, 2);
        assert_eq!(coins_of(&app, &token).await, 20);
        let rows = quest_completion::Entity::find()
            .all(&app.ctx.db)
            .await
            .unwrap();
        assert!(rows.iter().all(|c| c.transaction_id.is_some()));
        assert_eq!(
            app.gql_as(&token, CLAIM, json!({ "q": id })).await.data()["claimQuestReward"],
            json!([])
        );
        // Only a signed-in player claims; only admins create quests.
        assert_eq!(
            app.gql(CLAIM, json!({ "q": id })).await.codes(),
            ["UNAUTHENTICATED"]
        );
        assert_eq!(
            app.gql_as(
                &token,
                CREATE,
                json!({ "i": seed_quest("x", &currency, true) })
            )
            .await
            .codes(),
            ["FORBIDDEN"]
        );
    }
);

arena_tests::both_configured!(
    quests_refuse_bad_input_and_follow_game_events,
    relaying,
    |app| {
        let crate::events::Cast {
            admin,
            ann,
            bob,
            duel,
            server,
            ..
        } = crate::events::cast(&app, 7601).await;
        let currency = coins(&app).await;
        let base = json!({ "name": "Win three", "triggerType": "game_over", "triggerGameId": duel, "streak": 3, "rewardCurrencyId": currency, "rewardAmount": 5 });
        for (field, value, code) in [
            ("triggerType", json!("nope"), "BAD_USER_INPUT"),
            ("streak", json!(0), "BAD_USER_INPUT"),
            ("rewardAmount", json!(0), "BAD_USER_INPUT"),
            ("name", json!(""), "BAD_USER_INPUT"),
            ("triggerGameId", json!("999999"), "NOT_FOUND"),
            ("rewardCurrencyId", json!("999999"), "NOT_FOUND"),
        ] {
            let mut input = base.clone();
            input[field] = value;
            let refused = app
                .gql_as(&admin.access, CREATE, json!({ "i": input }))
                .await;
            assert_eq!(refused.codes(), [code], "{field}");
        }
        let id = quest(&app, &admin, base.clone()).await;
        assert_eq!(
            app.gql_as(&admin.access, CREATE, json!({ "i": base }))
                .await
                .codes(),
            ["CONFLICT"]
        );
        // Ann wins three games of the duel: completed once (duplication 1), paid 5.
        let over = |n: usize, w: &TestUser, l: &TestUser| json!({ "id": format!("g{n}"), "gameId": duel, "type": "GAME_OVER", "winnerId": w.id, "loserId": l.id });
        crate::events::send(
            &server,
            json!([
                over(1, &ann, &bob),
                over(2, &bob, &ann),
                over(3, &ann, &bob),
                over(4, &ann, &bob),
                over(5, &ann, &bob)
            ]),
        )
        .await
        .unwrap();
        caught_up(&app).await;
        assert_eq!(coins_of(&app, &ann.access).await, 5);
        let mine = app.gql_as(&ann.access, MINE, json!({})).await;
        assert_eq!(mine.data()["myQuests"][0]["completions"], 1);
        // A daily streak: one event a UTC day on consecutive days; a second the same day adds
        // nothing, a missed day starts again.
        let daily = quest(&app, &admin, json!({ "name": "Three days", "triggerType": "gameplay", "triggerName": "checkin", "daily": true, "streak": 3, "rewardCurrencyId": currency, "rewardAmount": 7 })).await;
        let checkin = |n: usize, when: &str| json!({ "id": format!("c{n}"), "gameId": duel, "type": "GAMEPLAY", "name": "checkin", "userId": bob.id, "occurredAt": when });
        let days = [
            "2026-03-01T10:00:00Z",
            "2026-03-01T23:00:00Z",
            "2026-03-02T00:30:00Z",
            "2026-03-04T09:00:00Z",
            "2026-03-05T09:00:00Z",
        ];
        for (n, when) in days.iter().enumerate() {
            crate::events::send(&server, json!([checkin(n, when)]))
                .await
                .unwrap();
        }
        caught_up(&app).await;
        let progress = |mine: &Value| {
            mine["myQuests"]
                .as_array()
                .unwrap()
                .iter()
                .find(|q| q["quest"]["name"] == "Three days")
                .map(|q| {
                    (
                        q["streak"].as_i64().unwrap(),
                        q["completions"].as_i64().unwrap(),
                    )
                })
                .unwrap()
        };
        let mine = app.gql_as(&bob.access, MINE, json!({})).await;
        assert_eq!(progress(mine.data()), (2, 0));
        crate::events::send(&server, json!([checkin(9, "2026-03-06T20:00:00Z")]))
            .await
            .unwrap();
        caught_up(&app).await;
        let mine = app.gql_as(&bob.access, MINE, json!({})).await;
        assert_eq!(progress(mine.data()), (0, 1));
        assert_eq!(coins_of(&app, &bob.access).await, 7);

        // A deactivated quest is not listed for players and advances nothing.
        app.gql_as(
            &admin.access,
            "mutation($q: ID!) { setQuestActive(id: $q, active: false) { active } }",
            json!({ "q": id }),
        )
        .await;
        assert_eq!(
            app.gql("{ quests { id } }", json!({})).await.data()["quests"],
            json!([{ "id": daily }])
        );
        let all = app
            .gql_as(
                &admin.access,
                "{ quests(includeInactive: true) { id active } }",
                json!({}),
            )
            .await;
        assert_eq!(
            all.data()["quests"],
            json!([{ "id": daily, "active": true }, { "id": id, "active": false }])
        );
        assert_eq!(
            app.gql_as(
                &ann.access,
                "{ quests(includeInactive: true) { id } }",
                json!({})
            )
            .await
            .codes(),
            ["FORBIDDEN"]
        );
    }
);

arena_tests::both_configured!(
    an_admin_edits_a_quests_words_reward_and_window,
    trusting,
    |app| {
        const UPDATE: &str = "mutation($id: ID!, $i: QuestUpdateInput!) { updateQuest(id: $id, input: $i) { name description rewardAmount startsAt endsAt streak } }";
        let admin = UserBuilder::new("admin")
            .with_role("admin")
            .create(&app)
            .await;
        let member = UserBuilder::new("member").create(&app).await;
        let currency = coins(&app).await;
        let id = quest(&app, &admin, seed_quest("Sign in", &currency, true)).await;
        quest(&app, &admin, seed_quest("Taken", &currency, true)).await;
        let changed = app
            .gql_as(&admin.access, UPDATE, json!({ "id": id, "i": { "name": "Come back", "rewardAmount": 25, "endsAt": "2030-01-01T00:00:00Z" } }))
            .await;
        assert_eq!(
            changed.data()["updateQuest"],
            json!({ "name": "Come back", "description": "Sign in three times", "rewardAmount": 25,
                    "startsAt": null, "endsAt": "2030-01-01T00:00:00+00:00", "streak": 3 })
        );
        // Refused, with nothing changed.
        for (input, code) in [
            (json!({ "name": "Taken" }), "CONFLICT"),
            (json!({ "rewardAmount": 0 }), "BAD_USER_INPUT"),
            (
                json!({ "startsAt": "2031-01-01T00:00:00Z" }),
                "BAD_USER_INPUT",
            ),
            (json!({ "name": " " }), "BAD_USER_INPUT"),
        ] {
            let refused = app
                .gql_as(&admin.access, UPDATE, json!({ "id": id, "i": input }))
                .await;
            assert_eq!(refused.codes(), [code], "{input}");
        }
        let refused = app
            .gql_as(
                &member.access,
                UPDATE,
                json!({ "id": id, "i": { "rewardAmount": 1 } }),
            )
            .await;
        assert_eq!(refused.codes(), ["FORBIDDEN"]);
        assert_eq!(
            app.gql_as(&admin.access, UPDATE, json!({ "id": "999999", "i": {} }))
                .await
                .codes(),
            ["NOT_FOUND"]
        );
        // Null removes the end.
        let reopened = app
            .gql_as(
                &admin.access,
                UPDATE,
                json!({ "id": id, "i": { "endsAt": null } }),
            )
            .await;
        assert_eq!(
            reopened.data()["updateQuest"],
            json!({ "name": "Come back", "description": "Sign in three times", "rewardAmount": 25,
                    "startsAt": null, "endsAt": null, "streak": 3 })
        );
    }
);

arena_tests::both_configured!(
    one_batch_pays_each_player_into_their_own_balance,
    relaying,
    |app| {
        use arena_entity::bank::account_balance;
        let cast = crate::events::cast(&app, 7602).await;
        let (ann, bob, duel) = (&cast.ann, &cast.bob, &cast.duel);
        let currency = coins(&app).await;
        quest(&app, &cast.admin, json!({ "name": "Every win", "triggerType": "game_over", "triggerGameId": duel, "streak": 1, "duplication": 100, "autoClaim": true, "rewardCurrencyId": currency, "rewardAmount": 3 })).await;
        let platform = async || {
            account_balance::Entity::find()
                .filter(account_balance::Column::CurrencyId.eq(currency.parse::<i32>().unwrap()))
                .filter(account_balance::Column::UserId.is_null())
                .one(&app.ctx.db)
                .await
                .unwrap()
                .map_or(0, |b| b.amount)
        };
        let before = platform().await;
        // One call, so one batch: its payouts go to two players and the platform's account
        // in one balance update, each row its own amount.
        let winners = [ann, ann, bob, ann, bob, ann];
        let events: Vec<Value> = winners
            .iter()
            .enumerate()
            .map(|(n, &winner)| {
                let loser = if winner.id == ann.id { bob } else { ann };
                crate::events::over(&format!("pay{n}"), duel, winner, loser)
            })
            .collect();
        crate::events::send(&cast.server, json!(events))
            .await
            .unwrap();
        caught_up(&app).await;
        assert_eq!(coins_of(&app, &ann.access).await, 12);
        assert_eq!(coins_of(&app, &bob.access).await, 6);
        assert_eq!(platform().await, before - 18);
    }
);
