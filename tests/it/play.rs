//! Play: servers register (official, provisioned, a player's own) and ping with their own
//! tokens; Play picks a server with room and issues a session token that its server validates
//! once; sessions end (by the server, the player, a timeout, a silent server, a host ban)
//! and leave a play. Players racing for seats never overfill a server, and a provisioning
//! host that is down or answers garbage fails Play clearly, leaving nothing behind.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use arena_api::settings::Settings;
use arena_entity::{
    events::platform_event,
    servers::{game_server, play_session},
};
use arena_gameserver_sim::{Arena, Auth, GameServer, Refused, Spec, ping_host};
use arena_tests::{Backend, TestApp, TestUser, UserBuilder, trusting};
use futures_util::{StreamExt, stream};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

/// A game with a character kind, made by `maker`, and an admin.
struct World {
    admin: TestUser,
    maker: TestUser,
    game: String,
    knight: String,
}

async fn world(app: &TestApp) -> World {
    let admin = UserBuilder::new("admin")
        .with_role("admin")
        .create(app)
        .await;
    let maker = UserBuilder::new("maker").create(app).await;
    let knight = app
        .published_item(
            &maker.access,
            json!({ "type": "CHARACTER", "name": "Knight" }),
        )
        .await;
    let game = app
        .published_item(
            &maker.access,
            json!({ "type": "GAME", "name": "Duel", "game": { "maxPlayers": 16, "supports": [
                { "flag": "CHARACTER", "contentId": knight },
                { "flag": "INDIVIDUAL_CHARACTER_FEATURES" }
            ] } }),
        )
        .await;
    World {
        admin,
        maker,
        game,
        knight,
    }
}

fn arena(app: &TestApp) -> Arena {
    Arena::new(app.url("/graphql"))
}

fn spec(game: &str, port: u16, country: Option<&str>, slots: Option<i32>) -> Spec {
    Spec {
        game_ids: vec![game.to_owned()],
        socket_host: "127.0.0.1".into(),
        socket_port: port,
        country: country.map(str::to_owned),
        slots,
    }
}

/// An official server, registered by the admin and pinged once.
async fn official(app: &TestApp, w: &World, port: u16, country: Option<&str>) -> GameServer {
    let server = GameServer::register(
        &arena(app),
        &Auth::User(w.admin.access.clone()),
        &spec(&w.game, port, country, None),
    )
    .await
    .expect("an admin registers an official server");
    server.ping(0, &[]).await.expect("a first ping");
    server
}

const PLAY: &str = "mutation($g: ID!, $c: ID) { play(gameId: $g, characterId: $c) { token socketHost socketPort session { id state } server { id players } } }";

async fn play(
    app: &TestApp,
    who: &TestUser,
    game: &str,
    character: Option<&str>,
) -> arena_tests::GqlResponse {
    app.gql_as(&who.access, PLAY, json!({ "g": game, "c": character }))
        .await
}

fn codes(err: &anyhow::Error) -> Vec<String> {
    err.downcast_ref::<Refused>()
        .map(|r| r.codes.clone())
        .unwrap_or_else(|| vec![format!("not a GraphQL refusal: {err}")])
}

async fn live_of(app: &TestApp, server: &GameServer) -> (i32, u64) {
    let id: i32 = server.id.parse().unwrap();
    let row = game_server::Entity::find_by_id(id)
        .one(&app.ctx.db)
        .await
        .unwrap()
        .unwrap();
    let counted = play_session::Entity::find()
        .filter(play_session::Column::ServerId.eq(id))
        .filter(play_session::Column::EndedAt.is_null())
        .count(&app.ctx.db)
        .await
        .unwrap();
    (row.live, counted)
}

/// The end reason of each of the player's sessions, by id.
async fn end_reasons(app: &TestApp, player: &TestUser) -> HashMap<String, Value> {
    let all = app
        .gql_as(
            &player.access,
            "{ playSessions(live: false) { id endReason } }",
            json!({}),
        )
        .await;
    all.data()["playSessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_str().unwrap().to_owned(), s["endReason"].clone()))
        .collect()
}

async fn events(app: &TestApp, prefix: &str) -> Vec<String> {
    platform_event::Entity::find()
        .filter(platform_event::Column::Kind.starts_with(prefix))
        .all(&app.ctx.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

arena_tests::both_configured!(
    a_player_plays_a_session_from_play_to_its_end,
    trusting,
    |app| {
        let w = world(&app).await;
        let ann = UserBuilder::new("ann").create(&app).await;
        let server = official(&app, &w, 7001, Some("FI")).await;
        let other = official(&app, &w, 7002, Some("FI")).await;
        let sir = app
            .gql_as(
                &ann.access,
                "mutation($c: ID!) { createCharacter(contentId: $c, name: \"Sir Ann\") { id } }",
                json!({ "c": w.knight }),
            )
            .await
            .data()["createCharacter"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        app.gql_as(&ann.access, "mutation($c: ID!) { setCharacterProperty(characterId: $c, name: \"level\", type: INT, value: \"7\") { id } }", json!({ "c": sir }))
            .await
            .data();
        // She wears two hats she bought; the copy of the second has since ended: only the one
        // she still owns reaches the server.
        let mut hats = Vec::new();
        for name in ["Helm", "Crown"] {
            let hat = app
                .published_item(
                    &w.maker.access,
                    json!({ "type": "HAT", "name": name, "onsale": true }),
                )
                .await;
            app.gql_as(&ann.access, "mutation($c: ID!, $k: String!) { purchase(input: { contentId: $c, currency: WHOLE, idempotencyKey: $k }) { alreadyApplied } }", json!({ "c": hat, "k": name }))
                .await
                .data();
            app.gql_as(
                &ann.access,
                "mutation($c: ID!, $i: ID!) { wearItem(characterId: $c, contentId: $i) { id } }",
                json!({ "c": sir, "i": hat }),
            )
            .await
            .data();
            hats.push(hat);
        }
        arena_entity::store::ownership::Entity::update_many()
            .col_expr(
                arena_entity::store::ownership::Column::EndedAt,
                sea_orm::sea_query::Expr::value(chrono::Utc::now()),
            )
            .filter(
                arena_entity::store::ownership::Column::ContentId
                    .eq(hats[1].parse::<i32>().unwrap()),
            )
            .exec(&app.ctx.db)
            .await
            .unwrap();

        // The public list: live counts, socket addresses of official servers, no tokens.
        let listed = app
            .gql("query($g: ID!) { servers(gameId: $g) { id state players slots socketHost official apiUrl } }", json!({ "g": w.game }))
            .await;
        let listed = listed.data()["servers"].as_array().unwrap().clone();
        assert_eq!(listed.len(), 2);
        assert!(
            listed.iter().all(|s| s["state"] == "READY"
                && s["players"] == 0
                && s["slots"] == 16
                && s["socketHost"] == "127.0.0.1"
                && s["apiUrl"].is_null()),
            "{listed:?}"
        );

        // Registration checks what it is given; a game named twice is one game.
        let register = |input: Value| {
            let (arena, admin) = (arena(&app), Auth::User(w.admin.access.clone()));
            async move {
                arena.call(&admin, "mutation($i: ServerInput!) { registerServer(input: $i) { server { games { id } } } }", json!({ "i": input })).await
            }
        };
        for bad in [
            json!({ "gameIds": [w.game], "socketHost": "127.0.0.1", "socketPort": 0 }),
            json!({ "gameIds": [w.game], "socketHost": " ", "socketPort": 7003 }),
            json!({ "gameIds": [w.game], "socketHost": "127.0.0.1", "socketPort": 7003, "country": "Finland" }),
            json!({ "gameIds": [], "socketHost": "127.0.0.1", "socketPort": 7003 }),
            json!({ "gameIds": [w.game], "socketHost": "127.0.0.1", "socketPort": 7003, "slots": 0 }),
        ] {
            assert_eq!(
                codes(&register(bad.clone()).await.unwrap_err()),
                ["BAD_USER_INPUT"],
                "{bad}"
            );
        }
        let twice = register(
            json!({ "gameIds": [w.game, w.game], "socketHost": "127.0.0.1", "socketPort": 7003 }),
        )
        .await
        .unwrap();
        assert_eq!(
            twice["registerServer"]["server"]["games"],
            json!([{ "id": w.game }])
        );

        // A character of another player, or of a kind the game does not take, is refused.
        assert_eq!(
            play(&app, &w.maker, &w.game, Some(&sir)).await.codes(),
            ["NOT_FOUND"]
        );
        assert_eq!(
            play(&app, &ann, "999999", None).await.codes(),
            ["NOT_FOUND"]
        );

        let ticket = play(&app, &ann, &w.game, Some(&sir)).await;
        let ticket = ticket.data()["play"].clone();
        assert_eq!(ticket["session"]["state"], "WAITING");
        assert_eq!(ticket["server"]["players"], 1);
        assert_eq!(ticket["socketHost"], "127.0.0.1");
        let token = ticket["token"].as_str().unwrap().to_owned();
        let session = ticket["session"]["id"].as_str().unwrap().to_owned();
        let (on, off) = if ticket["server"]["id"] == json!(server.id) {
            (&server, &other)
        } else {
            (&other, &server)
        };

        // Only its server, with its server token, validates it, once.
        let by_user = arena(&app)
            .call(
                &Auth::User(ann.access.clone()),
                "mutation($t: String!) { validateSession(token: $t) { session { id } } }",
                json!({ "t": token }),
            )
            .await
            .unwrap_err();
        assert_eq!(codes(&by_user), ["UNAUTHENTICATED"]);
        assert_eq!(
            codes(&off.validate(&token).await.unwrap_err()),
            ["FORBIDDEN"]
        );
        assert_eq!(
            codes(&on.validate("not-a-token").await.unwrap_err()),
            ["NOT_FOUND"]
        );
        // A server token is not a user's, nor a user's token a server's.
        let server_as_user = arena(&app)
            .call(on.auth(), PLAY, json!({ "g": w.game }))
            .await
            .unwrap_err();
        assert_eq!(codes(&server_as_user), ["UNAUTHENTICATED"]);
        let Auth::Server(server_token) = on.auth().clone() else {
            unreachable!()
        };
        let bearer = app.gql_as(&server_token, "{ me { id } }", json!({})).await;
        assert_eq!(bearer.codes(), ["UNAUTHENTICATED"]);

        let validated = on.validate(&token).await.unwrap();
        assert_eq!(validated["session"]["state"], "JOINED");
        assert_eq!(validated["player"]["username"], "ann");
        assert_eq!(validated["character"]["name"], "Sir Ann");
        assert_eq!(
            validated["character"]["properties"],
            json!([{ "name": "level", "value": "7", "type": "INT" }])
        );
        assert_eq!(validated["character"]["wornItemIds"], json!([hats[0]]));
        assert_eq!(codes(&on.validate(&token).await.unwrap_err()), ["CONFLICT"]);

        on.ping_session(&session).await.unwrap();
        assert_eq!(
            codes(
                &off.ping(0, &[])
                    .await
                    .map(|_| ())
                    .and(off.ping_session(&session).await)
                    .unwrap_err()
            ),
            ["NOT_FOUND"]
        );
        on.ping(1, std::slice::from_ref(&session)).await.unwrap();
        let mine = app
            .gql_as(
                &ann.access,
                "{ playSessions { id state server { id } } }",
                json!({}),
            )
            .await;
        assert_eq!(mine.data()["playSessions"][0]["state"], "JOINED");

        let ended = on.end_session(&session).await.unwrap();
        assert_eq!(
            (ended["state"].as_str(), ended["endReason"].as_str()),
            (Some("ENDED"), Some("ended"))
        );
        assert_eq!(live_of(&app, on).await, (0, 0));
        let again = on.end_session(&session).await.unwrap();
        assert_eq!(again["endReason"], "ended");
        assert_eq!(
            codes(&on.ping_session(&session).await.unwrap_err()),
            ["CONFLICT"]
        );

        let staff = "query($g: ID) { allPlaySessions(gameId: $g, live: false) { player { username } endReason } }";
        let of_game = app
            .gql_as(&w.admin.access, staff, json!({ "g": w.game }))
            .await;
        assert_eq!(
            of_game.data()["allPlaySessions"],
            json!([{ "player": { "username": "ann" }, "endReason": "ended" }])
        );
        let of_none = app
            .gql_as(&w.admin.access, staff, json!({ "g": w.knight }))
            .await;
        assert_eq!(of_none.data()["allPlaySessions"], json!([]));
        let plays = app
            .gql_as(
                &ann.access,
                "{ plays { game { name } startTime endTime } }",
                json!({}),
            )
            .await;
        let plays = plays.data()["plays"].as_array().unwrap().clone();
        assert_eq!(plays.len(), 1);
        assert_eq!(plays[0]["game"]["name"], "Duel");
        assert!(plays[0]["endTime"].is_string());
        let today = chrono::Utc::now().date_naive().to_string();
        let per_day = app
            .gql_as(&w.admin.access, "query($f: NaiveDate!, $t: NaiveDate!) { playsPerDay(from: $f, to: $t) { day gameId plays players } }", json!({ "f": today, "t": today }))
            .await;
        assert_eq!(
            per_day.data()["playsPerDay"],
            json!([{ "day": today, "gameId": w.game, "plays": 1, "players": 1 }])
        );

        // Play again while a session is live replaces it; the player leaves the new one.
        let first = play(&app, &ann, &w.game, None).await.data()["play"]["session"]["id"].clone();
        let second = play(&app, &ann, &w.game, None).await.data()["play"]["session"]["id"].clone();
        let reasons = end_reasons(&app, &ann).await;
        assert_eq!(reasons[first.as_str().unwrap()], "replaced");
        assert!(reasons[second.as_str().unwrap()].is_null());
        let left = app
            .gql_as(
                &ann.access,
                "mutation($s: ID!) { endSession(sessionId: $s) { endReason } }",
                json!({ "s": second }),
            )
            .await;
        assert_eq!(left.data()["endSession"]["endReason"], "left");
        assert_eq!(
            live_of(&app, &server).await.0 + live_of(&app, &other).await.0,
            0
        );

        // Each step is in the outbox; a session that never joined records no play.
        let kinds = events(&app, "session.").await;
        assert_eq!(kinds.iter().filter(|k| *k == "session.started").count(), 3);
        assert_eq!(kinds.iter().filter(|k| *k == "session.joined").count(), 1);
        assert_eq!(kinds.iter().filter(|k| *k == "session.ended").count(), 3);
        // Validation writes its event in SQL on PostgreSQL: it says what the others say.
        let written = platform_event::Entity::find()
            .filter(platform_event::Column::Kind.starts_with("session."))
            .all(&app.ctx.db)
            .await
            .unwrap();
        let shapes: std::collections::BTreeSet<Vec<String>> = written
            .iter()
            .map(|e| e.payload.as_object().unwrap().keys().cloned().collect())
            .collect();
        assert_eq!(shapes.len(), 1, "{shapes:?}");
        let payload_of = |kind: &str, session: &serde_json::Value| {
            written
                .iter()
                .find(|e| e.kind == kind && e.payload["sessionId"] == *session)
                .map(|e| e.payload.clone())
                .unwrap()
        };
        let joined = written
            .iter()
            .find(|e| e.kind == "session.joined")
            .unwrap()
            .payload["sessionId"]
            .clone();
        assert_eq!(
            payload_of("session.joined", &joined),
            payload_of("session.started", &joined)
        );
        let plays = app.gql_as(&ann.access, "{ plays { id } }", json!({})).await;
        assert_eq!(plays.data()["plays"].as_array().unwrap().len(), 1);

        // Play again while joined: the joined session is replaced, frees its seat and
        // leaves a play.
        let joined = play(&app, &ann, &w.game, None).await.data()["play"].clone();
        let on = if joined["server"]["id"] == json!(server.id) {
            &server
        } else {
            &other
        };
        on.validate(joined["token"].as_str().unwrap())
            .await
            .unwrap();
        let next = play(&app, &ann, &w.game, None).await.data()["play"].clone();
        assert_eq!(
            live_of(&app, &server).await.0 + live_of(&app, &other).await.0,
            1
        );
        let reasons = end_reasons(&app, &ann).await;
        assert_eq!(
            reasons[joined["session"]["id"].as_str().unwrap()],
            "replaced"
        );
        assert!(reasons[next["session"]["id"].as_str().unwrap()].is_null());
        let plays = app.gql_as(&ann.access, "{ plays { id } }", json!({})).await;
        assert_eq!(plays.data()["plays"].as_array().unwrap().len(), 2);
        assert_eq!(
            events(&app, "session.ended").await.len(),
            4,
            "the replaced session's end is in the outbox"
        );
    }
);

arena_tests::both_configured!(
    selection_prefers_friends_then_official_then_country_then_fewest_players,
    trusting,
    |app| {
        let w = world(&app).await;
        let players: Vec<TestUser> = stream::iter(["ann", "bob", "cat", "dan", "eve"])
            .then(|name| {
                let app = &app;
                async move { UserBuilder::new(name).create(app).await }
            })
            .collect()
            .await;
        let [ann, bob, cat, dan, eve] = &players[..] else {
            unreachable!()
        };
        for who in [ann, eve] {
            set_country(&app, who).await;
        }
        // A player's own server (not official), an official one abroad, an official one in SE.
        let own = GameServer::register(
            &arena(&app),
            &Auth::User(w.maker.access.clone()),
            &spec(&w.game, 7101, Some("SE"), Some(4)),
        )
        .await
        .expect("the game's maker hosts a server");
        own.ping(0, &[]).await.unwrap();
        let abroad = official(&app, &w, 7102, Some("US")).await;
        let home = official(&app, &w, 7103, Some("SE")).await;
        // A player who did not make the game cannot host it.
        let refused = GameServer::register(
            &arena(&app),
            &Auth::User(bob.access.clone()),
            &spec(&w.game, 7104, None, None),
        )
        .await
        .unwrap_err();
        assert_eq!(codes(&refused), ["FORBIDDEN"]);

        let server_of = |r: &arena_tests::GqlResponse| {
            r.data()["play"]["server"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        // Official first, then the player's country: ann (SE) goes home, bob (no country)
        // to the official server with fewer players.
        assert_eq!(server_of(&play(&app, ann, &w.game, None).await), home.id);
        assert_eq!(server_of(&play(&app, bob, &w.game, None).await), abroad.id);
        // A friend's server beats every other rule.
        let asked = app
            .gql_as(
                &cat.access,
                "mutation($u: ID!) { requestFriend(userId: $u) { __typename } }",
                json!({ "u": bob.id }),
            )
            .await;
        assert!(asked.body["errors"].is_null(), "{:#}", asked.body);
        app.gql_as(
            &bob.access,
            "mutation($u: ID!) { acceptFriend(userId: $u) { __typename } }",
            json!({ "u": cat.id }),
        )
        .await
        .data();
        set_country(&app, cat).await;
        assert_eq!(server_of(&play(&app, cat, &w.game, None).await), abroad.id);
        // Someone in a block with the player plays there: that server comes last.
        app.gql_as(
            &eve.access,
            "mutation($u: ID!) { block(userId: $u) { __typename } }",
            json!({ "u": ann.id }),
        )
        .await
        .data();
        assert_eq!(server_of(&play(&app, eve, &w.game, None).await), abroad.id);
        // Among equals, the fewest players: dan (no country) to home (1) over abroad (3).
        assert_eq!(server_of(&play(&app, dan, &w.game, None).await), home.id);

        // Quarantined or deactivated servers take nobody new; the player's own server is
        // what is left.
        for (server, mutation) in [
            (&home, "quarantineServer(id: $id, reason: \"cheats\")"),
            (&abroad, "quarantineServer(id: $id, reason: \"cheats\")"),
        ] {
            let done = app
                .gql_as(
                    &w.admin.access,
                    &format!("mutation($id: ID!) {{ {mutation} {{ state quarantined }} }}"),
                    json!({ "id": server.id }),
                )
                .await;
            assert_eq!(
                done.data().as_object().unwrap().values().next().unwrap()["state"],
                "QUARANTINED"
            );
        }
        let quarantine = app
            .gql_as(
                &bob.access,
                "mutation($id: ID!) { quarantineServer(id: $id, reason: \"x\") { id } }",
                json!({ "id": own.id }),
            )
            .await;
        assert_eq!(quarantine.codes(), ["FORBIDDEN"]);
        assert_eq!(server_of(&play(&app, bob, &w.game, None).await), own.id);
        // The public list hides the address of a player's own server from others.
        let listed = app
            .gql(
                "query($g: ID!) { servers(gameId: $g) { id socketHost } }",
                json!({ "g": w.game }),
            )
            .await;
        let hidden = listed.data()["servers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == json!(own.id))
            .unwrap()
            .clone();
        assert!(hidden["socketHost"].is_null());
        // The owner turns it off: no server has room, and no host can start one.
        let off = app.gql_as(&w.maker.access, "mutation($id: ID!) { setServerActive(id: $id, active: false, reason: \"maintenance\") { state } }", json!({ "id": own.id })).await;
        assert_eq!(off.data()["setServerActive"]["state"], "INACTIVE");
        let none = play(&app, bob, &w.game, None).await;
        assert_eq!(none.codes(), ["UNAVAILABLE"], "{:#}", none.body);
        // Bob's refused Play ended nothing: his live session stays.
        assert_eq!(app_first(&app, bob).await["id"], json!(own.id));

        let audit = app
            .gql_as(
                &w.admin.access,
                "{ auditLog(first: 20) { edges { node { action } } } }",
                json!({}),
            )
            .await;
        let actions: Vec<&str> = audit.data()["auditLog"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["action"].as_str().unwrap())
            .collect();
        assert!(
            actions.contains(&"server.quarantine") && actions.contains(&"server.deactivate"),
            "{actions:?}"
        );
        for server in [&own, &abroad, &home] {
            let (live, counted) = live_of(&app, server).await;
            assert_eq!(i64::from(live), counted as i64);
        }
    }
);

/// Moves `who` to Sweden.
async fn set_country(app: &TestApp, who: &TestUser) {
    let done = app
        .gql_as(
            &who.access,
            "mutation { updateProfile(input: { country: \"SE\" }) { country } }",
            json!({}),
        )
        .await;
    assert_eq!(done.data()["updateProfile"]["country"], "SE");
}

/// The server of `who`'s newest live session.
async fn app_first(app: &TestApp, who: &TestUser) -> Value {
    let live = app
        .gql_as(&who.access, "{ playSessions { server { id } } }", json!({}))
        .await;
    live.data()["playSessions"][0]["server"].clone()
}

/// A provisioning host for tests: answers Arena's requests as `mode` says and, when it
/// accepts, registers and pings the servers it was asked for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Serve,
    Garbage,
}

struct TestHost {
    url: String,
    asked: Arc<AtomicUsize>,
    started: Arc<AtomicUsize>,
}

async fn start_host(
    arena: Arena,
    token: Arc<std::sync::Mutex<Option<String>>>,
    mode: Mode,
) -> TestHost {
    let asked = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let (a, s) = (asked.clone(), started.clone());
    let handler = move |body: axum::Json<Value>| {
        let (arena, token, a, s) = (arena.clone(), token.clone(), a.clone(), s.clone());
        async move {
            a.fetch_add(1, Ordering::SeqCst);
            if mode == Mode::Garbage {
                return axum::response::IntoResponse::into_response("<html>surprise</html>");
            }
            let game = body["gameId"].as_i64().unwrap().to_string();
            let count = body["count"].as_u64().unwrap() as usize;
            let host = Auth::Host(token.lock().unwrap().clone().unwrap());
            tokio::spawn(async move {
                for _ in 0..count {
                    let port = 8000 + s.fetch_add(1, Ordering::SeqCst) as u16;
                    let server =
                        GameServer::register(&arena, &host, &spec(&game, port, None, None))
                            .await
                            .unwrap();
                    server.ping(0, &[]).await.unwrap();
                }
            });
            axum::response::IntoResponse::into_response(axum::Json(json!({ "accepted": count })))
        }
    };
    let router = axum::Router::new().route("/servers", axum::routing::post(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/servers", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    TestHost {
        url,
        asked,
        started,
    }
}

/// Registers a provisioning host at `url` and pings it with `slots`; its token.
async fn register_host(app: &TestApp, w: &World, url: &str, slots: i32) -> String {
    let made = app
        .gql_as(&w.admin.access, "mutation($i: HostInput!) { registerProvisioningHost(input: $i) { token host { id } } }", json!({ "i": { "name": "rack 1", "apiUrl": url, "capacity": 1000 } }))
        .await;
    let token = made.data()["registerProvisioningHost"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    ping_host(&arena(app), &Auth::Host(token.clone()), slots)
        .await
        .unwrap();
    token
}

fn quick(settings: &mut Settings) {
    trusting(settings);
    settings.provision_wait_ms = 3_000;
    settings.provision_timeout_ms = 300;
}

#[tokio::test]
async fn thousands_racing_for_seats_never_overfill_a_server_and_a_host_adds_servers() {
    let app = TestApp::spawn_with(Backend::Postgres, |s| {
        trusting(s);
        // Unoptimized, on two cores, 2,000 requests at once take their time.
        s.provision_wait_ms = 120_000;
        s.database_max_connections = 20;
        // The servers here ping once: making 2,000 players must not outlast their silence.
        s.server_ping_seconds = 3_600;
    })
    .await;
    let w = world(&app).await;
    let servers: Vec<GameServer> = stream::iter(0..100u16)
        .map(|i| {
            let (app, w) = (&app, &w);
            async move { official(app, w, 9000 + i, None).await }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let token = Arc::new(std::sync::Mutex::new(None));
    let host = start_host(arena(&app), token.clone(), Mode::Serve).await;
    let host_token = register_host(&app, &w, &host.url, 1000).await;
    *token.lock().unwrap() = Some(host_token.clone());
    // The host pings as a real one does, reporting the servers it can still start.
    let pinger = tokio::spawn({
        let (arena, started) = (arena(&app), host.started.clone());
        async move {
            loop {
                let left = 1000 - i32::try_from(started.load(Ordering::SeqCst)).unwrap();
                let _ = ping_host(&arena, &Auth::Host(host_token.clone()), left).await;
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    });

    const PLAYERS: usize = 2000;
    let players: Vec<TestUser> = stream::iter(0..PLAYERS)
        .map(|i| {
            let app = &app;
            async move { UserBuilder::new(&format!("player{i}")).create(app).await }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let answers: Vec<arena_tests::GqlResponse> = stream::iter(&players)
        .map(|p| play(&app, p, &w.game, None))
        .buffer_unordered(PLAYERS)
        .collect()
        .await;
    let refused: Vec<&Value> = answers
        .iter()
        .filter(|a| !a.body["errors"].is_null())
        .map(|a| &a.body["errors"][0]["message"])
        .collect();
    assert!(
        refused.is_empty(),
        "{} refused, host asked {} times, started {}: {:?}",
        refused.len(),
        host.asked.load(Ordering::SeqCst),
        host.started.load(Ordering::SeqCst),
        refused.first()
    );
    let placed: Vec<&Value> = answers.iter().map(|a| &a.data()["play"]).collect();
    assert_eq!(placed.len(), PLAYERS);

    // Every seat is on a server that runs the game, none over its slots, and Arena's count
    // is the count of live sessions.
    let rows = game_server::Entity::find().all(&app.ctx.db).await.unwrap();
    let game: i32 = w.game.parse().unwrap();
    let mut seated = 0;
    for row in &rows {
        let counted = play_session::Entity::find()
            .filter(play_session::Column::ServerId.eq(row.id))
            .filter(play_session::Column::EndedAt.is_null())
            .count(&app.ctx.db)
            .await
            .unwrap();
        assert_eq!(i64::from(row.live), counted as i64, "server {}", row.id);
        assert!(
            row.live <= row.slots,
            "server {} has {} of {}",
            row.id,
            row.live,
            row.slots
        );
        assert_eq!(row.game_id, Some(game));
        seated += counted;
    }
    assert_eq!(seated, PLAYERS as u64);
    assert_eq!(
        servers
            .iter()
            .map(|s| s.id.clone())
            .collect::<std::collections::HashSet<_>>()
            .len(),
        100
    );
    let provisioned = rows.iter().filter(|r| r.provisioned).count();
    assert!(
        provisioned >= 25,
        "400 players past 1,600 seats need 25 servers of 16, got {provisioned}"
    );
    assert!(host.asked.load(Ordering::SeqCst) >= 1);
    // The host may still be starting servers it was asked for; each one it finished is here.
    assert!(host.started.load(Ordering::SeqCst) >= provisioned);
    pinger.abort();
}

async fn failing_hosts(backend: Backend) {
    let app = TestApp::spawn_with(backend, quick).await;
    let w = world(&app).await;
    let ann = UserBuilder::new("ann").create(&app).await;
    // No host at all.
    let none = play(&app, &ann, &w.game, None).await;
    assert_eq!(none.codes(), ["UNAVAILABLE"]);
    // A host nobody answers at.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let down_url = format!("http://{}/servers", closed.local_addr().unwrap());
    drop(closed);
    register_host(&app, &w, &down_url, 10).await;
    let started = std::time::Instant::now();
    let down = play(&app, &ann, &w.game, None).await;
    assert_eq!(down.codes(), ["UNAVAILABLE"], "{:#}", down.body);
    assert!(started.elapsed() < Duration::from_secs(10));
    // A host answering garbage, tried again and given up on.
    let token = Arc::new(std::sync::Mutex::new(None));
    let garbage = start_host(arena(&app), token.clone(), Mode::Garbage).await;
    *token.lock().unwrap() = Some(register_host(&app, &w, &garbage.url, 10).await);
    let refused = play(&app, &ann, &w.game, None).await;
    assert_eq!(refused.codes(), ["UNAVAILABLE"], "{:#}", refused.body);
    assert!(
        refused.errors()[0]["message"]
            .as_str()
            .unwrap()
            .contains("answered something other"),
        "{:#}",
        refused.body
    );
    assert_eq!(garbage.asked.load(Ordering::SeqCst), 3);
    // Nothing was written for any of it.
    assert_eq!(
        play_session::Entity::find()
            .count(&app.ctx.db)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        game_server::Entity::find()
            .count(&app.ctx.db)
            .await
            .unwrap(),
        0
    );
    assert!(events(&app, "session.").await.is_empty());
}

#[tokio::test]
async fn a_failing_host_fails_play_clearly_on_postgres() {
    failing_hosts(Backend::Postgres).await;
}

#[tokio::test]
async fn a_failing_host_fails_play_clearly_on_sqlite() {
    failing_hosts(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_silent_server_goes_unhealthy_and_its_players_play_elsewhere() {
    let app = TestApp::spawn_with(Backend::Postgres, |s| {
        trusting(s);
        s.server_ping_seconds = 1;
        s.expiry_sweep_ms = 100;
        s.session_join_seconds = 1;
        s.session_timeout_seconds = 5;
    })
    .await;
    let w = world(&app).await;
    let ann = UserBuilder::new("ann").create(&app).await;
    let bob = UserBuilder::new("bob").create(&app).await;
    let cat = UserBuilder::new("cat").create(&app).await;
    let doomed = official(&app, &w, 7201, None).await;
    let ticket = play(&app, &ann, &w.game, None).await.data()["play"].clone();
    assert_eq!(ticket["server"]["id"], json!(doomed.id));
    doomed
        .validate(ticket["token"].as_str().unwrap())
        .await
        .unwrap();
    // A token never validated expires.
    let lapsed = play(&app, &bob, &w.game, None).await.data()["play"].clone();
    // The spare server pings on time but never names cat's session: it times out.
    let spare = official(&app, &w, 7202, None).await;
    app.gql_as(
        &w.admin.access,
        "mutation($id: ID!) { quarantineServer(id: $id, reason: \"full up\") { id } }",
        json!({ "id": doomed.id }),
    )
    .await
    .data();
    let forgotten = play(&app, &cat, &w.game, None).await.data()["play"].clone();
    assert_eq!(forgotten["server"]["id"], json!(spare.id));
    spare
        .validate(forgotten["token"].as_str().unwrap())
        .await
        .unwrap();
    let keep = tokio::spawn({
        let spare = spare.clone();
        async move {
            loop {
                let _ = spare.ping(0, &[]).await;
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(6_500)).await;
    let sessions = play_session::Entity::find().all(&app.ctx.db).await.unwrap();
    let reason = |id: &Value| {
        sessions
            .iter()
            .find(|s| s.id.to_string() == id.as_str().unwrap())
            .unwrap()
            .end_reason
            .clone()
    };
    assert_eq!(
        reason(&ticket["session"]["id"]).as_deref(),
        Some("server_unhealthy")
    );
    assert_eq!(reason(&lapsed["session"]["id"]).as_deref(), Some("expired"));
    assert_eq!(
        reason(&forgotten["session"]["id"]).as_deref(),
        Some("timeout")
    );
    let listed = app
        .gql_as(&w.admin.access, "{ allServers { id state } }", json!({}))
        .await;
    let states: HashMap<String, Value> = listed.data()["allServers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_str().unwrap().to_owned(), s["state"].clone()))
        .collect();
    assert_eq!(states[&doomed.id], "UNHEALTHY");
    assert_eq!(states[&spare.id], "READY");
    // Its player plays elsewhere; the silent server comes back with a ping.
    let again = play(&app, &ann, &w.game, None).await.data()["play"].clone();
    assert_eq!(again["server"]["id"], json!(spare.id));
    assert_eq!(doomed.ping(0, &[]).await.unwrap()["state"], "QUARANTINED");
    keep.abort();
    assert_eq!(live_of(&app, &doomed).await, (0, 0));
    assert_eq!(live_of(&app, &spare).await, (1, 1));
}

arena_tests::both_configured!(
    a_host_ban_shuts_its_servers_down_and_refuses_them,
    trusting,
    |app| {
        let w = world(&app).await;
        let ann = UserBuilder::new("ann").create(&app).await;
        let server = official(&app, &w, 7301, None).await;
        let ticket = play(&app, &ann, &w.game, None).await.data()["play"].clone();
        server
            .validate(ticket["token"].as_str().unwrap())
            .await
            .unwrap();
        let joined = ticket["session"]["id"].as_str().unwrap().to_owned();
        // The server's token is held in memory now; the ban must drop it at once.
        server.ping_session(&joined).await.unwrap();
        let ban = app
            .gql_as(
                &w.admin.access,
                "mutation($i: HostBanInput!) { banHost(input: $i) { id } }",
                json!({ "i": { "address": "127.0.0.0/8", "reason": "rented botnet" } }),
            )
            .await;
        assert!(ban.body["errors"].is_null(), "{:#}", ban.body);
        let session = play_session::Entity::find()
            .one(&app.ctx.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(session.end_reason.as_deref(), Some("host_ban"));
        assert_eq!(live_of(&app, &server).await, (0, 0));
        assert_eq!(
            codes(&server.ping(0, &[]).await.unwrap_err()),
            ["UNAUTHENTICATED"]
        );
        assert_eq!(
            codes(&server.ping_session(&joined).await.unwrap_err()),
            ["UNAUTHENTICATED"]
        );
        assert_eq!(
            codes(&server.end_session(&joined).await.unwrap_err()),
            ["UNAUTHENTICATED"]
        );
        let token = Arc::new(std::sync::Mutex::new(None));
        let host = start_host(arena(&app), token.clone(), Mode::Serve).await;
        let made = app
            .gql_as(
                &w.admin.access,
                "mutation($i: HostInput!) { registerProvisioningHost(input: $i) { token } }",
                json!({ "i": { "name": "rack", "apiUrl": host.url, "capacity": 10 } }),
            )
            .await;
        let host_token = made.data()["registerProvisioningHost"]["token"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            codes(
                &ping_host(&arena(&app), &Auth::Host(host_token.clone()), 5)
                    .await
                    .unwrap_err()
            ),
            ["BANNED"]
        );
        let registered = GameServer::register(
            &arena(&app),
            &Auth::Host(host_token),
            &spec(&w.game, 7302, None, None),
        )
        .await
        .unwrap_err();
        assert_eq!(codes(&registered), ["BANNED"]);
        assert_eq!(
            play(&app, &ann, &w.game, None).await.codes(),
            ["UNAVAILABLE"]
        );
    }
);
