//! Live pushes: a board's top, a player's rank and statistics and the event tail reach
//! subscribers, on both websocket protocols, from events ingested through any instance.

use std::time::Duration;

use arena_gameserver_sim::GameServer;
use arena_tests::{Backend, TestApp, TestUser, WsClient, WsEvent, WsProtocol, trusting};
use serde_json::{Value, json};

use crate::{
    events::{Cast, INGEST, cast, over, send},
    leaderboards::board,
};

/// The next result within a few seconds.
async fn pushed(ws: &mut WsClient) -> Value {
    tokio::time::timeout(Duration::from_secs(10), ws.next_data())
        .await
        .expect("a push within 10 s")
}

/// An admin's live tail of `game`'s events, started (it is live once a warm-up event
/// arrives) and with the warm-up's pushes read.
async fn live_tail(
    app: &TestApp,
    admin: &TestUser,
    game: &str,
    player: &TestUser,
    server: &GameServer,
) -> WsClient {
    let mut tail = app.ws_as(&admin.access).await;
    tail.subscribe(
        "tail",
        "subscription($g: ID) { events(gameId: $g) { eventId type } }",
        json!({ "g": game }),
    )
    .await;
    let mut warm = 0;
    loop {
        warm += 1;
        let event = json!({ "id": format!("warm{warm}"), "gameId": game, "type": "STATE_CHANGE", "name": "lobby", "userId": player.id });
        send(server, json!([event])).await.unwrap();
        if tokio::time::timeout(Duration::from_millis(500), tail.next_event())
            .await
            .is_ok()
        {
            break;
        }
        assert!(warm < 20, "the tail never started");
    }
    while tokio::time::timeout(Duration::from_millis(300), tail.next_event())
        .await
        .is_ok()
    {}
    tail
}

/// A counter's value on the server's `/metrics`.
async fn counter(app: &TestApp, name: &str) -> Option<u64> {
    app.text("/metrics")
        .await
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .and_then(|n| n.trim().parse::<u64>().ok())
}

/// Nothing more arrives for a while.
async fn quiet(ws: &mut WsClient) {
    if let Ok(event) = tokio::time::timeout(Duration::from_millis(300), ws.next_event()).await {
        panic!("unexpected push: {event:?}");
    }
}

/// The code of the error a subscription answered.
async fn refused(ws: &mut WsClient) -> String {
    let errors = loop {
        match ws.next_event().await {
            WsEvent::Next { payload, .. } => break payload["errors"].clone(),
            WsEvent::Error { payload, .. } => break payload,
            // The end of a subscription refused before.
            WsEvent::Complete { .. } => {}
            other => panic!("expected an error, got {other:?}"),
        }
    };
    errors[0]["extensions"]["code"].as_str().unwrap().to_owned()
}

/// Subscribes on `watcher` (an instance) to a board, a rank, statistics and the tail, has
/// events ingested through `sender`, and checks each push.
async fn pushes_follow_ingested_events(sender: &TestApp, watcher: &TestApp, port: u16) {
    let Cast {
        admin,
        ann,
        bob,
        duel,
        server,
        ..
    } = cast(sender, port).await;
    let wins = board(
        sender,
        &admin,
        json!({ "gameId": duel, "name": "Wins", "scoring": "WINS" }),
    )
    .await;
    let elo = board(
        sender,
        &admin,
        json!({ "gameId": duel, "name": "Rating", "scoring": "ELO" }),
    )
    .await;

    let mut top = watcher.ws(WsProtocol::LegacyWs).await;
    top.subscribe(
        "top",
        "subscription($b: ID!) { leaderboardUpdated(leaderboardId: $b, first: 2) { leaderboardId season entries { rank userId score } } }",
        json!({ "b": wins }),
    )
    .await;
    assert_eq!(
        pushed(&mut top).await["leaderboardUpdated"],
        json!({ "leaderboardId": wins, "season": 1, "entries": [] })
    );
    let mut rank = watcher.ws_as(&bob.access).await;
    rank.subscribe(
        "rank",
        "subscription($b: ID!) { rankChanged(leaderboardId: $b) { season entry { rank score } } }",
        json!({ "b": elo }),
    )
    .await;
    assert_eq!(
        pushed(&mut rank).await["rankChanged"],
        json!({ "season": 1, "entry": null })
    );
    let mut stats = watcher.ws(WsProtocol::TransportWs).await;
    stats.subscribe(
        "stats",
        "subscription($g: ID!, $u: ID!) { playerStatsUpdated(gameId: $g, userId: $u) { name value } }",
        json!({ "g": duel, "u": ann.id }),
    )
    .await;
    assert_eq!(pushed(&mut stats).await["playerStatsUpdated"], json!([]));
    let mut tail = live_tail(watcher, &admin, &duel, &ann, &server).await;
    quiet(&mut top).await;
    quiet(&mut stats).await;

    send(&server, json!([over("m1", &duel, &ann, &bob)]))
        .await
        .unwrap();
    assert_eq!(
        pushed(&mut top).await["leaderboardUpdated"]["entries"],
        json!([{ "rank": 1, "userId": ann.id, "score": 1 }])
    );
    assert_eq!(
        pushed(&mut rank).await["rankChanged"],
        json!({ "season": 1, "entry": { "rank": 2, "score": 984 } })
    );
    assert_eq!(
        pushed(&mut stats).await["playerStatsUpdated"],
        json!([{ "name": "games", "value": 1 }, { "name": "wins", "value": 1 }])
    );
    assert_eq!(
        pushed(&mut tail).await["events"],
        json!({ "eventId": "m1", "type": "game_over" })
    );
    // Another game's events and another player's changes push nothing here.
    let by_admin = sender
        .gql_as(
            &admin.access,
            INGEST,
            json!({ "e": [over("o1", "999999", &ann, &bob)] }),
        )
        .await;
    assert_eq!(by_admin.data()["ingestEvents"]["accepted"], 1);
    quiet(&mut tail).await;
    // Bob wins: the top changes, and so does Bob's rank.
    send(&server, json!([over("m2", &duel, &bob, &ann)]))
        .await
        .unwrap();
    let entries = pushed(&mut top).await["leaderboardUpdated"]["entries"].clone();
    assert_eq!(entries.as_array().unwrap().len(), 2);
    let moved = pushed(&mut rank).await["rankChanged"]["entry"].clone();
    assert_eq!(moved["rank"], 1, "{moved}");
    // A reset pushes the new, empty season.
    sender
        .gql_as(
            &admin.access,
            "mutation($b: ID!) { resetLeaderboard(id: $b) { season } }",
            json!({ "b": wins }),
        )
        .await;
    assert_eq!(
        pushed(&mut top).await["leaderboardUpdated"],
        json!({ "leaderboardId": wins, "season": 2, "entries": [] })
    );
}

arena_tests::both_configured!(
    pushes_follow_ingested_events_on_one_instance,
    trusting,
    |app| {
        pushes_follow_ingested_events(&app, &app, 7501).await;
    }
);

#[tokio::test]
async fn pushes_reach_a_subscriber_on_another_instance() {
    let one = TestApp::spawn_with(Backend::Postgres, trusting).await;
    let two = one.another_instance().await;
    pushes_follow_ingested_events(&one, &two, 7502).await;
}

// A burst of changes to a followed board costs its feed a read or two, not one per change
// (read one by one, at most one per interval, a backlog kept a feed reading long after its
// board went quiet); a signed-in player's rank watch likewise.
arena_tests::both_configured!(a_burst_of_changes_costs_one_read, trusting, |app| {
    let Cast { admin, duel, .. } = cast(&app, 7503).await;
    let wins = board(
        &app,
        &admin,
        json!({ "gameId": duel, "name": "Wins", "scoring": "WINS" }),
    )
    .await;
    let mut top = app.ws(WsProtocol::TransportWs).await;
    top.subscribe(
        "top",
        "subscription($b: ID!) { leaderboardUpdated(leaderboardId: $b) { season } }",
        json!({ "b": wins }),
    )
    .await;
    pushed(&mut top).await;
    let mut rank = app.ws_as(&admin.access).await;
    rank.subscribe(
        "rank",
        "subscription($b: ID!) { rankChanged(leaderboardId: $b) { season } }",
        json!({ "b": wins }),
    )
    .await;
    pushed(&mut rank).await;
    let reads = async || {
        counter(&app, "arena_live_reads_total")
            .await
            .expect("arena_live_reads_total")
    };
    let before = reads().await;
    let board_id: i32 = wins.parse().unwrap();
    let burst = (0..100)
        .map(|_| arena_api::bus::Change::Leaderboard {
            board_id,
            season: 1,
            users: vec![uuid::Uuid::new_v4()],
        })
        .collect();
    app.ctx.bus.publish_all(burst).await;
    // Both read...
    let interval = Duration::from_millis(app.ctx.settings.live_interval_ms);
    let waited = tokio::time::Instant::now();
    while reads().await - before < 2 {
        assert!(waited.elapsed() < Duration::from_secs(10), "no read");
        tokio::time::sleep(interval).await;
    }
    // ...and would go on reading, one change per interval, had each change its own read.
    tokio::time::sleep(interval * 40).await;
    let read = reads().await - before;
    assert!(
        read <= 6,
        "{read} reads for 100 changes to one board followed twice"
    );
});

// One ingest call of more events than the tail reads at once: the tail reads on until it
// has them all, without waiting for another change.
arena_tests::both_configured!(a_tail_pushes_a_whole_large_batch, trusting, |app| {
    let Cast {
        admin,
        ann,
        duel,
        server,
        ..
    } = cast(&app, 7504).await;
    let mut tail = live_tail(&app, &admin, &duel, &ann, &server).await;
    let count = 1_000;
    let events: Vec<Value> = (0..count)
        .map(|n| json!({ "id": format!("big{n}"), "gameId": duel, "type": "STATE_CHANGE", "name": "lobby", "userId": ann.id }))
        .collect();
    assert_eq!(send(&server, json!(events)).await.unwrap(), (count, 0));
    for n in 0..count {
        assert_eq!(
            pushed(&mut tail).await["events"]["eventId"],
            format!("big{n}"),
            "the tail's event {n}"
        );
    }
    quiet(&mut tail).await;
});

arena_tests::both_configured!(live_fields_refuse_who_may_not_see_them, trusting, |app| {
    let Cast { ann, .. } = cast(&app, 7503).await;
    let mut ws = app.ws_as(&ann.access).await;
    ws.subscribe("tail", "subscription { events { eventId } }", json!({}))
        .await;
    assert_eq!(refused(&mut ws).await, "FORBIDDEN");
    let mut anonymous = app.ws(WsProtocol::TransportWs).await;
    anonymous
        .subscribe(
            "rank",
            "subscription { rankChanged(leaderboardId: \"1\") { season } }",
            json!({}),
        )
        .await;
    assert_eq!(refused(&mut anonymous).await, "UNAUTHENTICATED");
    anonymous
        .subscribe(
            "top",
            "subscription { leaderboardUpdated(leaderboardId: \"999999\") { season } }",
            json!({}),
        )
        .await;
    assert_eq!(refused(&mut anonymous).await, "NOT_FOUND");
});

/// Anonymous followers of one board share one execution of their subscription, each seeing
/// every change; one who joins later gets the current top at once; a signed-in follower
/// runs its own.
#[tokio::test]
async fn anonymous_followers_of_a_board_share_one_execution() {
    const TOP: &str = "subscription($b: ID!) { leaderboardUpdated(leaderboardId: $b, first: 3) { entries { score user { username } } } }";
    let app = TestApp::spawn_with(Backend::Postgres, |settings| {
        trusting(settings);
        settings.ws_max_per_address = 100;
    })
    .await;
    let Cast {
        admin,
        ann,
        bob,
        duel,
        server,
        ..
    } = cast(&app, 7510).await;
    let wins = board(
        &app,
        &admin,
        json!({ "gameId": duel, "name": "Wins", "scoring": "WINS" }),
    )
    .await;
    let mut followers = Vec::new();
    for n in 0..40 {
        let protocol = if n % 2 == 0 {
            WsProtocol::TransportWs
        } else {
            WsProtocol::LegacyWs
        };
        let mut ws = app.ws(protocol).await;
        ws.subscribe("top", TOP, json!({ "b": wins })).await;
        assert_eq!(
            pushed(&mut ws).await["leaderboardUpdated"]["entries"],
            json!([])
        );
        followers.push(ws);
    }
    // A signed-in follower runs its own.
    let mut own = app.ws_as(&admin.access).await;
    own.subscribe("top", TOP, json!({ "b": wins })).await;
    assert_eq!(
        pushed(&mut own).await["leaderboardUpdated"]["entries"],
        json!([])
    );
    let leader = json!([{ "score": 1, "user": { "username": ann.username } }]);
    send(&server, json!([over("s1", &duel, &ann, &bob)]))
        .await
        .unwrap();
    for ws in &mut followers {
        assert_eq!(pushed(ws).await["leaderboardUpdated"]["entries"], leader);
    }
    assert_eq!(
        pushed(&mut own).await["leaderboardUpdated"]["entries"],
        leader
    );
    let mut late = app.ws(WsProtocol::TransportWs).await;
    late.subscribe("top", TOP, json!({ "b": wins })).await;
    assert_eq!(
        pushed(&mut late).await["leaderboardUpdated"]["entries"],
        leader
    );
    quiet(&mut followers[0]).await;
    // One execution for the anonymous ones, the first; the other 40 joined it.
    assert_eq!(
        counter(&app, "arena_subscription_shared_executions_total").await,
        Some(1)
    );
    assert_eq!(
        counter(&app, "arena_subscription_shared_joins_total").await,
        Some(40)
    );
}
