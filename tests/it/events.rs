//! Event ingest: game servers send events of the games they host, trusted backends
//! (`event.ingest`) of any game; each id is stored once, however often and however
//! concurrently it is sent.

use arena_entity::events::game_event;
use arena_gameserver_sim::{Arena, Auth, GameServer, Refused, Spec};
use arena_tests::{TestApp, TestUser, UserBuilder, trusting};
use futures_util::future::join_all;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

pub(crate) const INGEST: &str =
    "mutation($e: [EventInput!]!) { ingestEvents(events: $e) { accepted duplicates } }";

async fn game(app: &TestApp, maker: &TestUser, name: &str) -> String {
    app.published_item(
        &maker.access,
        json!({ "type": "GAME", "name": name, "game": { "maxPlayers": 2 } }),
    )
    .await
}

async fn server_for(app: &TestApp, admin: &TestUser, game: &str, port: u16) -> GameServer {
    GameServer::register(
        &Arena::new(app.url("/graphql")),
        &Auth::User(admin.access.clone()),
        &Spec {
            game_ids: vec![game.to_owned()],
            socket_host: "127.0.0.1".into(),
            socket_port: port,
            country: None,
            slots: None,
        },
    )
    .await
    .expect("an admin registers a server")
}

/// An admin, two players, two games and a server of the first on `port`.
pub(crate) struct Cast {
    pub admin: TestUser,
    pub ann: TestUser,
    pub bob: TestUser,
    pub duel: String,
    pub other: String,
    pub server: GameServer,
}

pub(crate) async fn cast(app: &TestApp, port: u16) -> Cast {
    let admin = UserBuilder::new("admin")
        .with_role("admin")
        .create(app)
        .await;
    let maker = UserBuilder::new("maker").create(app).await;
    let ann = UserBuilder::new("ann").create(app).await;
    let bob = UserBuilder::new("bob").create(app).await;
    let duel = game(app, &maker, "Duel").await;
    let other = game(app, &maker, "Other").await;
    let server = server_for(app, &admin, &duel, port).await;
    Cast {
        admin,
        ann,
        bob,
        duel,
        other,
        server,
    }
}

pub(crate) fn over(id: &str, game: &str, winner: &TestUser, loser: &TestUser) -> Value {
    json!({ "id": id, "gameId": game, "type": "GAME_OVER", "winnerId": winner.id, "loserId": loser.id })
}

/// What a game server's ingest answers: `(accepted, duplicates)` or the error codes.
pub(crate) async fn send(server: &GameServer, events: Value) -> Result<(u64, u64), Vec<String>> {
    server
        .send_events(events)
        .await
        .map(|result| counts(&json!({ "ingestEvents": result })))
        .map_err(|err| {
            err.downcast_ref::<Refused>()
                .map(|r| r.codes.clone())
                .unwrap_or_else(|| vec![err.to_string()])
        })
}

pub(crate) fn counts(data: &Value) -> (u64, u64) {
    let result = &data["ingestEvents"];
    (
        result["accepted"].as_u64().unwrap(),
        result["duplicates"].as_u64().unwrap(),
    )
}

async fn stored(app: &TestApp) -> Vec<game_event::Model> {
    game_event::Entity::find().all(&app.ctx.db).await.unwrap()
}

/// Test settings with no event processor: what was stored stays pending.
pub(crate) fn held(settings: &mut arena_api::settings::Settings) {
    trusting(settings);
    settings.event_processor = false;
}

arena_tests::both_configured!(
    servers_and_backends_ingest_events_once_per_id,
    held,
    |app| {
        let Cast {
            admin,
            ann,
            bob,
            duel,
            other,
            server,
        } = cast(&app, 7201).await;

        let batch = json!([
            over("m1", &duel, &ann, &bob),
            { "id": "w1", "gameId": duel, "type": "GAMEPLAY", "name": "select_weapon", "userId": ann.id, "data": "0" },
            { "id": "s1", "gameId": duel, "type": "STATE_CHANGE", "name": "lobby", "userId": bob.id, "occurredAt": "2026-01-02T03:04:05Z" },
        ]);
        assert_eq!(send(&server, batch.clone()).await, Ok((3, 0)));
        // The same ids again, and an id twice in one batch: accepted, stored once.
        assert_eq!(send(&server, batch).await, Ok((0, 3)));
        assert_eq!(
            send(
                &server,
                json!([over("m2", &duel, &bob, &ann), over("m2", &duel, &bob, &ann)])
            )
            .await,
            Ok((1, 1))
        );
        let rows = stored(&app).await;
        assert_eq!(rows.len(), 4);
        let m1 = rows.iter().find(|e| e.event_key == "m1").unwrap();
        assert_eq!(
            (m1.kind.as_str(), m1.state, m1.scope.clone()),
            (
                "game_over",
                game_event::State::Pending,
                format!("game:{duel}")
            )
        );
        assert_eq!(m1.winner_id.unwrap().to_string(), ann.id);
        assert_eq!(m1.source, format!("server:{}", server.id));
        let w1 = rows.iter().find(|e| e.event_key == "w1").unwrap();
        assert_eq!(
            (w1.name.as_deref(), w1.data.clone()),
            (Some("select_weapon"), Some(json!("0")))
        );
        let s1 = rows.iter().find(|e| e.event_key == "s1").unwrap();
        assert_eq!(s1.occurred_at.to_rfc3339(), "2026-01-02T03:04:05+00:00");

        // A server sends events of the games it hosts only; nothing of the batch is kept.
        assert_eq!(
            send(
                &server,
                json!([
                    over("m3", &duel, &ann, &bob),
                    over("o1", &other, &ann, &bob)
                ])
            )
            .await,
            Err(vec!["FORBIDDEN".to_owned()])
        );
        // A backend needs `event.ingest` (admins have it) and sends any game's events; the
        // same id in another game is another event.
        let by_ann = app
            .gql_as(
                &ann.access,
                INGEST,
                json!({ "e": [over("o1", &other, &ann, &bob)] }),
            )
            .await;
        assert_eq!(by_ann.codes(), ["FORBIDDEN"]);
        let anonymous = app
            .gql(INGEST, json!({ "e": [over("o1", &other, &ann, &bob)] }))
            .await;
        assert_eq!(anonymous.codes(), ["UNAUTHENTICATED"]);
        let by_admin = app
            .gql_as(
                &admin.access,
                INGEST,
                json!({ "e": [over("o1", &other, &ann, &bob), over("m1", &other, &ann, &bob)] }),
            )
            .await;
        assert_eq!(counts(by_admin.data()), (2, 0));
        let o1 = stored(&app)
            .await
            .into_iter()
            .find(|e| e.event_key == "o1")
            .unwrap();
        assert_eq!(o1.source, format!("backend:{}", admin.id));

        // One malformed event refuses the batch, naming it; nothing of it is stored.
        let big = "x".repeat(17 * 1024);
        for bad in [
            json!({ "id": "b1", "gameId": duel, "type": "GAME_OVER", "winnerId": ann.id }),
            json!({ "id": "b1", "gameId": duel, "type": "GAME_OVER", "winnerId": ann.id, "loserId": ann.id }),
            json!({ "id": "b1", "gameId": duel, "type": "GAMEPLAY" }),
            json!({ "id": "b1", "gameId": duel, "type": "GAMEPLAY", "name": "n".repeat(65) }),
            json!({ "id": " ", "gameId": duel, "type": "STATE_CHANGE", "name": "x" }),
            json!({ "id": "k".repeat(129), "gameId": duel, "type": "STATE_CHANGE", "name": "x" }),
            json!({ "id": "b1", "gameId": duel, "type": "GAMEPLAY", "name": "x", "data": big }),
            json!({ "id": "b1", "gameId": duel, "type": "STATE_CHANGE", "name": "x", "occurredAt": "2999-01-01T00:00:00Z" }),
            json!({ "id": "b1", "gameId": duel, "type": "STATE_CHANGE", "name": "x", "userId": "not-a-uuid" }),
        ] {
            let batch = json!([over("good", &duel, &ann, &bob), bad.clone()]);
            assert_eq!(
                send(&server, batch).await,
                Err(vec!["BAD_USER_INPUT".to_owned()]),
                "{bad}"
            );
        }
        let too_many: Vec<Value> = (0..1_001)
            .map(|n| over(&format!("n{n}"), &duel, &ann, &bob))
            .collect();
        assert_eq!(
            send(&server, json!(too_many)).await,
            Err(vec!["BAD_USER_INPUT".to_owned()])
        );
        assert_eq!(
            send(&server, json!([])).await,
            Err(vec!["BAD_USER_INPUT".to_owned()])
        );
        assert_eq!(stored(&app).await.len(), 6);
    }
);

arena_tests::both_configured!(
    the_same_events_sent_at_once_are_stored_once,
    trusting,
    |app| {
        let Cast {
            ann,
            bob,
            duel,
            server,
            ..
        } = cast(&app, 7202).await;
        // 20 senders at once, each with the same 50 events (in its own order): 50 stored.
        let answers = join_all((0..20).map(|k| {
            let mut events: Vec<Value> = (0..50)
                .map(|n| over(&format!("e{n}"), &duel, &ann, &bob))
                .collect();
            events.rotate_left(k);
            let server = &server;
            async move { send(server, json!(events)).await.unwrap() }
        }))
        .await;
        let accepted: u64 = answers.iter().map(|(a, _)| a).sum();
        let duplicates: u64 = answers.iter().map(|(_, d)| d).sum();
        assert_eq!((accepted, duplicates), (50, 950));
        let rows = game_event::Entity::find()
            .filter(game_event::Column::Scope.eq(format!("game:{duel}")))
            .count(&app.ctx.db)
            .await
            .unwrap();
        assert_eq!(rows, 50);
    }
);

arena_tests::both_configured!(
    event_activity_counts_events_per_game_type_and_day,
    trusting,
    |app| {
        let Cast {
            admin,
            ann,
            bob,
            duel,
            other,
            server,
        } = cast(&app, 7203).await;
        let at = |id: &str, game: &str, kind: &str, when: &str| json!({ "id": id, "gameId": game, "type": kind, "name": "n", "userId": ann.id, "occurredAt": when });
        let mut first = over("m1", &duel, &ann, &bob);
        first["occurredAt"] = json!("2026-03-01T23:59:59Z");
        send(
            &server,
            json!([
                first,
                at("g1", &duel, "GAMEPLAY", "2026-03-01T00:00:00Z"),
                at("g2", &duel, "GAMEPLAY", "2026-03-01T12:00:00Z"),
                at("g3", &duel, "GAMEPLAY", "2026-03-02T00:00:00Z"),
                at("g4", &duel, "GAMEPLAY", "2026-03-04T00:00:00Z"),
            ]),
        )
        .await
        .unwrap();
        let by_admin = app
            .gql_as(
                &admin.access,
                INGEST,
                json!({ "e": [at("s1", &other, "STATE_CHANGE", "2026-03-02T10:00:00Z")] }),
            )
            .await;
        assert_eq!(counts(by_admin.data()), (1, 0));

        let activity = |game: Option<&str>, from: &str, to: &str| {
            app.gql_as(
                &admin.access,
                "query($g: ID, $f: NaiveDate!, $t: NaiveDate!) { eventActivity(gameId: $g, from: $f, to: $t) { day gameId type events } }",
                json!({ "g": game, "f": from, "t": to }),
            )
        };
        let row = |day: &str, game: &str, kind: &str, events: i64| json!({ "day": day, "gameId": game, "type": kind, "events": events });
        // The fourth of March is outside the range; days are UTC days.
        assert_eq!(
            activity(None, "2026-03-01", "2026-03-03").await.data()["eventActivity"],
            json!([
                row("2026-03-01", &duel, "game_over", 1),
                row("2026-03-01", &duel, "gameplay", 2),
                row("2026-03-02", &duel, "gameplay", 1),
                row("2026-03-02", &other, "state_change", 1),
            ])
        );
        assert_eq!(
            activity(Some(&other), "2026-03-01", "2026-03-31")
                .await
                .data()["eventActivity"],
            json!([row("2026-03-02", &other, "state_change", 1)])
        );
        for (from, to) in [("2026-03-02", "2026-03-01"), ("2025-01-01", "2026-03-01")] {
            assert_eq!(activity(None, from, to).await.codes(), ["BAD_USER_INPUT"]);
        }
        let by_member = app
            .gql_as(
                &ann.access,
                "query { eventActivity(from: \"2026-03-01\", to: \"2026-03-01\") { events } }",
                json!({}),
            )
            .await;
        assert_eq!(by_member.codes(), ["FORBIDDEN"]);
    }
);

arena_tests::both_configured!(staff_list_stored_events_newest_first, held, |app| {
    let Cast {
        admin,
        ann,
        bob,
        duel,
        other,
        server,
    } = cast(&app, 7204).await;
    send(
        &server,
        json!([over("a", &duel, &ann, &bob), over("b", &duel, &bob, &ann)]),
    )
    .await
    .unwrap();
    let by_admin = app
        .gql_as(
            &admin.access,
            INGEST,
            json!({ "e": [over("c", &other, &ann, &bob)] }),
        )
        .await;
    assert_eq!(counts(by_admin.data()), (1, 0));

    const LIST: &str = "query($g: ID, $s: EventState, $f: Int, $a: String) { events(gameId: $g, state: $s, first: $f, after: $a) { totalCount pageInfo { hasNextPage endCursor } edges { node { eventId gameId type winnerId source state failure } } } }";
    let list = |vars: Value| app.gql_as(&admin.access, LIST, vars);
    let ids = |answer: &arena_tests::GqlResponse| -> Vec<String> {
        answer.data()["events"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["eventId"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = list(json!({})).await;
    assert_eq!(ids(&all), ["c", "b", "a"]);
    assert_eq!(all.data()["events"]["totalCount"], 3);
    let newest = &all.data()["events"]["edges"][0]["node"];
    assert_eq!(
        (
            newest["type"].as_str(),
            newest["state"].as_str(),
            newest["winnerId"].as_str()
        ),
        (Some("game_over"), Some("PENDING"), Some(ann.id.as_str()))
    );
    assert_eq!(newest["source"], format!("backend:{}", admin.id));
    // A page, then the next from its cursor; one game; one state.
    let page = list(json!({ "f": 2 })).await;
    assert_eq!(ids(&page), ["c", "b"]);
    assert_eq!(page.data()["events"]["pageInfo"]["hasNextPage"], true);
    let cursor = page.data()["events"]["pageInfo"]["endCursor"].clone();
    assert_eq!(ids(&list(json!({ "f": 2, "a": cursor })).await), ["a"]);
    assert_eq!(ids(&list(json!({ "g": duel })).await), ["b", "a"]);
    assert_eq!(ids(&list(json!({ "s": "PENDING" })).await), ["c", "b", "a"]);
    assert!(ids(&list(json!({ "s": "FAILED" })).await).is_empty());
    let by_member = app
        .gql_as(&ann.access, "{ events { totalCount } }", json!({}))
        .await;
    assert_eq!(by_member.codes(), ["FORBIDDEN"]);
});

arena_tests::both_configured!(active_players_per_day_and_week, held, |app| {
    let Cast {
        admin,
        ann,
        bob,
        duel,
        server,
        ..
    } = cast(&app, 7205).await;
    let at = |mut event: Value, when: &str| {
        event["occurredAt"] = json!(when);
        event
    };
    let lobby = json!({ "id": "s1", "gameId": duel, "type": "STATE_CHANGE", "name": "lobby", "userId": admin.id });
    let play =
        json!({ "id": "g1", "gameId": duel, "type": "GAMEPLAY", "name": "jump", "userId": bob.id });
    send(
        &server,
        json!([
            at(over("m1", &duel, &ann, &bob), "2026-03-02T08:00:00Z"),
            at(lobby, "2026-03-02T23:00:00Z"),
            at(over("m2", &duel, &ann, &bob), "2026-03-03T08:00:00Z"),
            at(play, "2026-03-10T08:00:00Z"),
        ]),
    )
    .await
    .unwrap();
    const ACTIVE: &str = "query($g: ID!, $p: ActivityPeriod) { activePlayers(gameId: $g, from: \"2026-03-02\", to: \"2026-03-10\", period: $p) { start players } }";
    let daily = app
        .gql_as(&admin.access, ACTIVE, json!({ "g": duel }))
        .await;
    assert_eq!(
        daily.data()["activePlayers"],
        json!([
            { "start": "2026-03-02", "players": 3 },
            { "start": "2026-03-03", "players": 2 },
            { "start": "2026-03-10", "players": 1 },
        ])
    );
    let weekly = app
        .gql_as(&admin.access, ACTIVE, json!({ "g": duel, "p": "WEEK" }))
        .await;
    assert_eq!(
        weekly.data()["activePlayers"],
        json!([
            { "start": "2026-03-02", "players": 3 },
            { "start": "2026-03-09", "players": 1 },
        ])
    );
    assert_eq!(
        app.gql_as(&ann.access, ACTIVE, json!({ "g": duel }))
            .await
            .codes(),
        ["FORBIDDEN"]
    );
});

arena_tests::both_configured!(
    old_applied_events_and_relayed_outbox_rows_are_pruned,
    held,
    |app| {
        use arena_entity::events::platform_event;
        use sea_orm::{ActiveModelTrait, ActiveValue::Set, sea_query::Expr};

        let Cast {
            ann,
            bob,
            duel,
            server,
            ..
        } = cast(&app, 7111).await;
        let events: Vec<Value> = (0..4)
            .map(|n| over(&format!("p{n}"), &duel, &ann, &bob))
            .collect();
        send(&server, json!(events)).await.unwrap();
        let now = chrono::Utc::now();
        let old = now - chrono::Duration::days(10);
        // p0 applied long ago, p1 failed long ago, p2 pending long ago, p3 applied now.
        for (key, state, at) in [
            ("p0", game_event::State::Processed, old),
            ("p1", game_event::State::Failed, old),
            ("p2", game_event::State::Pending, old),
            ("p3", game_event::State::Processed, now),
        ] {
            game_event::Entity::update_many()
                .col_expr(game_event::Column::State, Expr::value(state))
                .col_expr(game_event::Column::ReceivedAt, Expr::value(at))
                .filter(game_event::Column::EventKey.eq(key))
                .exec(&app.ctx.db)
                .await
                .unwrap();
        }
        // Outbox rows in the order written: the sign-ins above are left out.
        platform_event::Entity::delete_many()
            .exec(&app.ctx.db)
            .await
            .unwrap();
        let mut outbox = Vec::new();
        for (relayed, at) in [(true, old), (false, old), (true, now)] {
            let row = platform_event::ActiveModel {
                kind: Set("transfer".into()),
                payload: Set(json!({})),
                created_at: Set(at),
                relayed: Set(relayed),
                ..Default::default()
            }
            .insert(&app.ctx.db)
            .await
            .unwrap();
            outbox.push(row.id);
        }
        let before = now - chrono::Duration::days(5);
        assert_eq!(
            arena_api::events::prune(&app.ctx.db, before).await.unwrap(),
            (1, 1)
        );
        let mut left: Vec<String> = stored(&app)
            .await
            .into_iter()
            .map(|e| e.event_key)
            .collect();
        left.sort();
        assert_eq!(left, ["p1", "p2", "p3"]);
        let rows: Vec<i64> = platform_event::Entity::find()
            .all(&app.ctx.db)
            .await
            .unwrap()
            .iter()
            .map(|r| r.id)
            .filter(|id| outbox.contains(id))
            .collect();
        assert_eq!(rows, outbox[1..]);
        // Nothing more to do.
        assert_eq!(
            arena_api::events::prune(&app.ctx.db, before).await.unwrap(),
            (0, 0)
        );
    }
);
