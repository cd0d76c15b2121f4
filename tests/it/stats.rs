//! The event processor and player statistics: each stored event is applied once, through
//! its game's handler and rules, however often or concurrently it is delivered; an event
//! a handler refuses is failed with its reason and holds back nothing else.

use std::{sync::Arc, time::Duration};

use arena_api::{
    events::process,
    stats::{StatOp, StatsHandler, WinLoss},
};
use arena_entity::events::game_event;
use arena_tests::{TestApp, TestUser, trusting};
use futures_util::future::join_all;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use crate::events::{Cast, INGEST, cast, counts, held, over, send};

const STATS: &str =
    "query($g: ID!, $u: ID!) { playerStats(gameId: $g, userId: $u) { name value } }";

/// Waits until no stored event is pending and the processor has finished its last batch.
pub(crate) async fn settled(app: &TestApp) {
    for _ in 0..400 {
        let pending = game_event::Entity::find()
            .filter(game_event::Column::State.eq(game_event::State::Pending))
            .count(&app.ctx.db)
            .await
            .unwrap();
        // Then the instance's last batch has written its ranks too.
        if pending == 0 && !app.ctx.events.busy() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("events still pending after 10 s");
}

/// The ids of every stored event, in the order stored.
pub(crate) async fn stored_ids(app: &TestApp) -> Vec<i64> {
    game_event::Entity::find()
        .order_by_asc(game_event::Column::Id)
        .all(&app.ctx.db)
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect()
}

/// A player's statistics in a game, by name.
async fn stats_of(app: &TestApp, game: &str, user: &TestUser) -> Value {
    let answer = app.gql(STATS, json!({ "g": game, "u": user.id })).await;
    let mut out = serde_json::Map::new();
    for stat in answer.data()["playerStats"].as_array().unwrap() {
        out.insert(
            stat["name"].as_str().unwrap().to_owned(),
            stat["value"].clone(),
        );
    }
    Value::Object(out)
}

/// The stored event with the sender's id `key`.
async fn event(app: &TestApp, key: &str) -> game_event::Model {
    game_event::Entity::find()
        .filter(game_event::Column::EventKey.eq(key))
        .one(&app.ctx.db)
        .await
        .unwrap()
        .unwrap()
}

async fn set_handler(app: &TestApp, admin: &TestUser, game: &str, handler: &str) -> Value {
    app.gql_as(
        &admin.access,
        "mutation($g: ID!, $h: String!) { setStatsHandler(gameId: $g, handler: $h) { handler rules { id } } }",
        json!({ "g": game, "h": handler }),
    )
    .await
    .data()["setStatsHandler"]
        .clone()
}

const RULE: &str = "mutation($i: StatRuleInput!) { createStatRule(input: $i) { id stat op subject field eventType eventName } }";
const RETRY: &str = "mutation($id: ID!) { retryEvent(id: $id) { eventId state failure } }";

arena_tests::both_configured!(
    events_become_player_stats_through_handlers_and_rules,
    trusting,
    |app| {
        let Cast {
            admin,
            ann,
            bob,
            duel,
            server,
            ..
        } = cast(&app, 7301).await;
        // The seed's rock-paper-scissors handler, and a rule: the best score of a round.
        assert_eq!(
            set_handler(&app, &admin, &duel, "rps").await,
            json!({ "handler": "rps", "rules": [] })
        );
        let rule = app
        .gql_as(
            &admin.access,
            RULE,
            json!({ "i": { "gameId": duel, "eventType": "GAMEPLAY", "eventName": "round", "subject": "USER", "field": "/points", "stat": "best_round", "op": "MAX" } }),
        )
        .await;
        let rule_id = rule.data()["createStatRule"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let weapon = |id: &str, who: &TestUser, data: Value| json!({ "id": id, "gameId": duel, "type": "GAMEPLAY", "name": "select_weapon", "userId": who.id, "data": data });
        let round = |id: &str, who: &TestUser, data: Value| json!({ "id": id, "gameId": duel, "type": "GAMEPLAY", "name": "round", "userId": who.id, "data": data });
        let stranger = uuid::Uuid::new_v4().to_string();
        send(
        &server,
        json!([
            over("m1", &duel, &ann, &bob),
            over("m2", &duel, &ann, &bob),
            over("m3", &duel, &bob, &ann),
            weapon("w1", &ann, json!("0")),
            weapon("w2", &ann, json!(2)),
            weapon("w3", &bob, Value::Null),
            weapon("w4", &bob, json!("7")),
            round("r1", &ann, json!({ "points": 40 })),
            round("r2", &ann, json!({ "points": 25 })),
            round("r3", &ann, json!({ "score": 90 })),
            { "id": "m4", "gameId": duel, "type": "GAME_OVER", "winnerId": stranger, "loserId": bob.id },
        ]),
    )
    .await
    .unwrap();
        // A backend may send an event of a game that does not exist: stored, then refused.
        let unknown = app
            .gql_as(
                &admin.access,
                INGEST,
                json!({ "e": [over("x1", "999999", &ann, &bob)] }),
            )
            .await;
        assert_eq!(counts(unknown.data()), (1, 0));
        settled(&app).await;

        assert_eq!(
            stats_of(&app, &duel, &ann).await,
            json!({ "best_round": 40, "games": 3, "losses": 1, "rock_selection_count": 1, "scissors_selection_count": 1, "wins": 2 })
        );
        assert_eq!(
            stats_of(&app, &duel, &bob).await,
            json!({ "botch_selection_count": 1, "games": 3, "losses": 2, "wins": 1 })
        );
        for (key, reason) in [
            ("w4", "`select_weapon` data is 0, 1, 2 or null"),
            ("r3", "reads data/points, which is not an integer"),
            ("m4", "unknown player"),
            ("x1", "unknown game 999999"),
        ] {
            let failed = event(&app, key).await;
            assert_eq!(failed.state, game_event::State::Failed, "{key}");
            assert!(
                failed
                    .failure
                    .as_deref()
                    .is_some_and(|f| f.contains(reason)),
                "{key}: {:?}",
                failed.failure
            );
        }
        let failed = app
            .gql_as(
                &admin.access,
                "{ events(state: FAILED) { totalCount } }",
                json!({}),
            )
            .await;
        assert_eq!(failed.data()["events"]["totalCount"], 4);

        // The rule is removed and the round it refused tried again: applied, with nothing of
        // the removed rule.
        let removed = app
            .gql_as(
                &admin.access,
                "mutation($id: ID!) { removeStatRule(id: $id) }",
                json!({ "id": rule_id }),
            )
            .await;
        assert_eq!(removed.data()["removeStatRule"], rule_id.as_str());
        let r3 = event(&app, "r3").await;
        let retried = app
            .gql_as(&admin.access, RETRY, json!({ "id": r3.id.to_string() }))
            .await;
        assert_eq!(
            retried.data()["retryEvent"],
            json!({ "eventId": "r3", "state": "PENDING", "failure": null })
        );
        settled(&app).await;
        assert_eq!(event(&app, "r3").await.state, game_event::State::Processed);
        assert_eq!(stats_of(&app, &duel, &ann).await["best_round"], 40);
        // Only a failed event is tried again; only staff try.
        let m1 = event(&app, "m1").await;
        assert_eq!(
            app.gql_as(&admin.access, RETRY, json!({ "id": m1.id.to_string() }))
                .await
                .codes(),
            ["CONFLICT"]
        );
        assert_eq!(
            app.gql_as(&ann.access, RETRY, json!({ "id": r3.id.to_string() }))
                .await
                .codes(),
            ["FORBIDDEN"]
        );
        assert_eq!(stats_of(&app, &duel, &ann).await["wins"], 2);
    }
);

arena_tests::both_configured!(admins_configure_handlers_and_rules, trusting, |app| {
    let Cast {
        admin,
        ann,
        bob,
        duel,
        server,
        ..
    } = cast(&app, 7302).await;
    let handlers = app
        .gql_as(&admin.access, "{ statsHandlers }", json!({}))
        .await;
    assert_eq!(handlers.data()["statsHandlers"], json!(["default", "rps"]));
    let setup = app
        .gql_as(
            &admin.access,
            "query($g: ID!) { statsSetup(gameId: $g) { handler rules { id } } }",
            json!({ "g": duel }),
        )
        .await;
    assert_eq!(
        setup.data()["statsSetup"],
        json!({ "handler": "default", "rules": [] })
    );
    let bad_handler = app
        .gql_as(
            &admin.access,
            "mutation($g: ID!) { setStatsHandler(gameId: $g, handler: \"nope\") { handler } }",
            json!({ "g": duel }),
        )
        .await;
    assert_eq!(bad_handler.codes(), ["BAD_USER_INPUT"]);
    let rule = |input: Value| app.gql_as(&admin.access, RULE, json!({ "i": input }));
    let base = json!({ "gameId": duel, "eventType": "GAME_OVER", "subject": "WINNER", "stat": "streak_points", "op": "ADD" });
    for (field, value) in [
        ("stat", json!("")),
        ("stat", json!(" padded")),
        ("stat", json!("s".repeat(65))),
        ("field", json!("points")),
        ("gameId", json!("999999")),
    ] {
        let mut input = base.clone();
        input[field] = value;
        let codes = rule(input.clone())
            .await
            .codes()
            .iter()
            .map(|c| (*c).to_owned())
            .collect::<Vec<_>>();
        assert!(
            codes == ["BAD_USER_INPUT"] || codes == ["NOT_FOUND"],
            "{input}: {codes:?}"
        );
    }
    // Declarative rules on a game_over: the winner's points from the data, the loser's
    // lowest placing, the last map anyone played.
    let made = rule(json!({ "gameId": duel, "eventType": "GAME_OVER", "subject": "WINNER", "field": "/points", "stat": "points", "op": "ADD" })).await;
    assert_eq!(
        made.data()["createStatRule"],
        json!({ "id": made.data()["createStatRule"]["id"], "stat": "points", "op": "ADD", "subject": "WINNER", "field": "/points", "eventType": "game_over", "eventName": null })
    );
    rule(json!({ "gameId": duel, "eventType": "GAME_OVER", "subject": "LOSER", "field": "/place", "stat": "worst_place", "op": "MAX" })).await;
    rule(json!({ "gameId": duel, "eventType": "GAME_OVER", "subject": "LOSER", "field": "/place", "stat": "best_place", "op": "MIN" })).await;
    rule(json!({ "gameId": duel, "eventType": "GAME_OVER", "subject": "WINNER", "field": "/map", "stat": "last_map", "op": "SET" })).await;
    let game_over = |id: &str, points: i64, place: i64, map: i64| {
        let mut event = over(id, &duel, &ann, &bob);
        event["data"] = json!({ "points": points, "place": place, "map": map });
        event
    };
    send(
        &server,
        json!([
            game_over("g1", 10, 3, 7),
            game_over("g2", 5, 2, 4),
            game_over("g3", 1, 4, 9)
        ]),
    )
    .await
    .unwrap();
    settled(&app).await;
    assert_eq!(
        stats_of(&app, &duel, &ann).await,
        json!({ "games": 3, "last_map": 9, "points": 16, "wins": 3 })
    );
    assert_eq!(
        stats_of(&app, &duel, &bob).await,
        json!({ "best_place": 2, "games": 3, "losses": 3, "worst_place": 4 })
    );
    // Members neither see nor change the set-up.
    for query in [
        "{ statsHandlers }",
        "mutation { removeStatRule(id: \"1\") }",
    ] {
        assert_eq!(
            app.gql_as(&ann.access, query, json!({})).await.codes(),
            ["FORBIDDEN"],
            "{query}"
        );
    }
});

arena_tests::both_configured!(
    sums_stop_at_the_bounds_of_a_64_bit_integer,
    trusting,
    |app| {
        let Cast {
            admin,
            ann,
            bob,
            duel,
            server,
            ..
        } = cast(&app, 7309).await;
        app.gql_as(
        &admin.access,
        RULE,
        json!({ "i": { "gameId": duel, "eventType": "GAME_OVER", "subject": "WINNER", "field": "/points", "stat": "points", "op": "ADD" } }),
    )
    .await
    .data();
        let won = |id: &str, winner: &TestUser, loser: &TestUser, points: i64| {
            let mut event = over(id, &duel, winner, loser);
            event["data"] = json!({ "points": points });
            event
        };
        let points = async |user: &TestUser| stats_of(&app, &duel, user).await["points"].clone();
        // One batch after another: each adds to the stored value, which stops at the bounds.
        for (events, ann_points, bob_points) in [
            (
                json!([
                    won("a1", &ann, &bob, i64::MAX - 10),
                    won("b1", &bob, &ann, i64::MIN + 10)
                ]),
                i64::MAX - 10,
                i64::MIN + 10,
            ),
            (
                json!([won("a2", &ann, &bob, 100), won("b2", &bob, &ann, -100)]),
                i64::MAX,
                i64::MIN,
            ),
            (
                json!([won("a3", &ann, &bob, -5), won("b3", &bob, &ann, 5)]),
                i64::MAX - 5,
                i64::MIN + 5,
            ),
            // Both signs in one call: applied in order, stopping at the bound on the way.
            (
                json!([won("a4", &ann, &bob, 10), won("a5", &ann, &bob, -3)]),
                i64::MAX - 3,
                i64::MIN + 5,
            ),
        ] {
            send(&server, events).await.unwrap();
            settled(&app).await;
            assert_eq!(
                (points(&ann).await, points(&bob).await),
                (json!(ann_points), json!(bob_points))
            );
        }
    }
);

/// A handler that panics on `boom` gameplay events and counts wins otherwise.
struct Explodes;

impl StatsHandler for Explodes {
    fn handle(&self, event: &game_event::Model, out: &mut Vec<StatOp>) -> Result<(), String> {
        if event.name.as_deref() == Some("boom") {
            panic!("boom {}", event.event_key);
        }
        WinLoss.handle(event, out)
    }
}

arena_tests::both_configured!(
    hostile_events_fail_alone_and_the_processor_stays_up,
    trusting,
    |app| {
        let Cast {
            admin,
            ann,
            bob,
            duel,
            server,
            ..
        } = cast(&app, 7303).await;
        // An embedding registers its own handler; admins choose it for a game.
        app.ctx
            .stats_handlers
            .register("explodes", Arc::new(Explodes));
        assert_eq!(
            set_handler(&app, &admin, &duel, "explodes").await["handler"],
            "explodes"
        );
        let mut events = Vec::new();
        for n in 0..1_000 {
            events.push(over(&format!("ok{n}"), &duel, &ann, &bob));
            events.push(match n % 3 {
            0 => json!({ "id": format!("boom{n}"), "gameId": duel, "type": "GAMEPLAY", "name": "boom", "userId": ann.id }),
            1 => json!({ "id": format!("ghost{n}"), "gameId": duel, "type": "GAME_OVER", "winnerId": uuid::Uuid::new_v4(), "loserId": ann.id }),
            _ => json!({ "id": format!("big{n}"), "gameId": duel, "type": "GAMEPLAY", "name": "boom", "userId": ann.id, "data": { "pad": "x".repeat(15_000) } }),
        });
        }
        for chunk in events.chunks(200) {
            send(&server, json!(chunk)).await.unwrap();
        }
        settled(&app).await;
        assert_eq!(
            stats_of(&app, &duel, &ann).await,
            json!({ "games": 1000, "wins": 1000 })
        );
        let failed = game_event::Entity::find()
            .filter(game_event::Column::State.eq(game_event::State::Failed))
            .all(&app.ctx.db)
            .await
            .unwrap();
        assert_eq!(failed.len(), 1_000);
        for event in &failed {
            let reason = event.failure.as_deref().unwrap();
            let expected = if event.event_key.starts_with("ghost") {
                "unknown player"
            } else {
                "the \"explodes\" handler panicked: boom"
            };
            assert!(reason.contains(expected), "{}: {reason}", event.event_key);
        }
        // Still up: the next event is applied.
        send(&server, json!([over("after", &duel, &bob, &ann)]))
            .await
            .unwrap();
        settled(&app).await;
        assert_eq!(stats_of(&app, &duel, &bob).await["wins"], 1);
    }
);

arena_tests::both_configured!(
    a_batch_delivered_many_times_at_once_is_applied_once,
    held,
    |app| {
        let Cast {
            ann,
            bob,
            duel,
            server,
            ..
        } = cast(&app, 7304).await;
        let events: Vec<Value> = (0..100)
            .map(|n| over(&format!("e{n}"), &duel, &ann, &bob))
            .collect();
        send(&server, json!(events)).await.unwrap();
        let ids = stored_ids(&app).await;
        // Five deliveries of the whole batch and ten of overlapping halves, all at once.
        let deliveries: Vec<Vec<i64>> = (0..5)
            .map(|_| ids.clone())
            .chain((0..10).map(|k| ids[k * 5..k * 5 + 50].to_vec()))
            .collect();
        let applied = join_all(deliveries.iter().map(|ids| process::apply(&app.ctx, ids))).await;
        let processed: usize = applied.into_iter().map(|a| a.unwrap().processed).sum();
        assert_eq!(processed, 100);
        assert_eq!(
            stats_of(&app, &duel, &ann).await,
            json!({ "games": 100, "wins": 100 })
        );
        assert_eq!(
            stats_of(&app, &duel, &bob).await,
            json!({ "games": 100, "losses": 100 })
        );
        assert_eq!(
            process::apply(&app.ctx, &ids).await.unwrap(),
            process::Applied::default()
        );
    }
);

arena_tests::both_configured!(
    events_left_pending_are_applied_by_the_next_processor,
    held,
    |app| {
        let Cast {
            ann,
            bob,
            duel,
            server,
            ..
        } = cast(&app, 7305).await;
        for chunk in 0..4 {
            let events: Vec<Value> = (0..250)
                .map(|n| over(&format!("e{chunk}-{n}"), &duel, &ann, &bob))
                .collect();
            send(&server, json!(events)).await.unwrap();
        }
        // No processor ran: all 1,000 wait.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(stats_of(&app, &duel, &ann).await, json!({}));
        // An instance with a processor starts and queues what was left.
        let processor = app
            .another_instance_with(|s| {
                s.event_processor = true;
                // Without Redis, what the first instance queues stays in its own process: the
                // sweep finds it.
                s.event_requeue_seconds = 1;
            })
            .await;
        settled(&processor).await;
        assert_eq!(
            stats_of(&app, &duel, &ann).await,
            json!({ "games": 1000, "wins": 1000 })
        );
        // Events sent through the instance without a processor reach the one with it.
        send(&server, json!([over("late", &duel, &bob, &ann)]))
            .await
            .unwrap();
        settled(&processor).await;
        assert_eq!(stats_of(&app, &duel, &bob).await["wins"], 1);
    }
);

arena_tests::both_configured!(two_processors_apply_each_event_once, trusting, |app| {
    let Cast {
        admin,
        ann,
        bob,
        duel,
        server,
        ..
    } = cast(&app, 7306).await;
    let mut boards = Vec::new();
    for scoring in ["WINS", "ELO"] {
        let input = json!({ "gameId": duel, "name": scoring, "scoring": scoring });
        boards.push(crate::leaderboards::board(&app, &admin, input).await);
    }
    let second = app.another_instance().await;
    let arena_gameserver_sim::Auth::Server(token) = server.auth() else {
        panic!("a server signs in with its token");
    };
    let second_server = arena_gameserver_sim::GameServer::with_token(
        &arena_gameserver_sim::Arena::new(second.url("/graphql")),
        &server.id,
        token,
    );
    // Both instances take events and both apply them; the sums are exact.
    let sends = (0..20).map(|k| {
        let events: Vec<Value> = (0..50)
            .map(|n| {
                let (winner, loser) = if n % 5 == 0 {
                    (&bob, &ann)
                } else {
                    (&ann, &bob)
                };
                over(&format!("e{k}-{n}"), &duel, winner, loser)
            })
            .collect();
        let through = if k % 2 == 0 { &server } else { &second_server };
        async move { send(through, json!(events)).await.unwrap() }
    });
    join_all(sends).await;
    settled(&app).await;
    assert_eq!(
        stats_of(&app, &duel, &ann).await,
        json!({ "games": 1000, "losses": 200, "wins": 800 })
    );
    assert_eq!(
        stats_of(&second, &duel, &bob).await,
        json!({ "games": 1000, "losses": 800, "wins": 200 })
    );
    // The boards agree: the wins board counts the same wins, and ELO moves points from the
    // loser to the winner, so the two ratings still add up to two starting ratings.
    let scores = |board: &str| {
        let board = board.to_owned();
        let app = &app;
        async move {
            let answer = app
                .gql(
                    "query($b: ID!) { leaderboard(id: $b) { top { score } } }",
                    json!({ "b": board }),
                )
                .await;
            answer.data()["leaderboard"]["top"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["score"].as_i64().unwrap())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(scores(&boards[0]).await, [800, 200]);
    assert_eq!(scores(&boards[1]).await.iter().sum::<i64>(), 2_000);
});

arena_tests::both_configured!(
    one_event_sent_five_times_at_once_counts_once,
    trusting,
    |app| {
        let Cast {
            ann,
            bob,
            duel,
            server,
            ..
        } = cast(&app, 7307).await;
        let sends = (0..5).map(|_| send(&server, json!([over("once", &duel, &ann, &bob)])));
        let answers: Vec<(u64, u64)> = join_all(sends)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(answers.iter().map(|(a, _)| a).sum::<u64>(), 1);
        assert_eq!(answers.iter().map(|(_, d)| d).sum::<u64>(), 4);
        settled(&app).await;
        assert_eq!(
            stats_of(&app, &duel, &ann).await,
            json!({ "games": 1, "wins": 1 })
        );
        assert_eq!(
            stats_of(&app, &duel, &bob).await,
            json!({ "games": 1, "losses": 1 })
        );
    }
);
