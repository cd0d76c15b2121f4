//! Leaderboards: each board scores its game's events its own way, ranks with a total order
//! (equal scores: the earlier first), answers top, rank, neighbours and friends, and keeps
//! ended seasons readable.

use arena_api::leaderboards::{self, elo_delta};
use arena_tests::{TestApp, TestUser, UserBuilder, trusting};
use serde_json::{Value, json};

use crate::{
    events::{Cast, cast, send},
    stats::settled,
};

const CREATE: &str =
    "mutation($i: LeaderboardInput!) { createLeaderboard(input: $i) { id name scoring season } }";

/// Creates a board as `admin`; its id.
pub(crate) async fn board(app: &TestApp, admin: &TestUser, input: Value) -> String {
    let made = app
        .gql_as(&admin.access, CREATE, json!({ "i": input }))
        .await;
    made.data()["createLeaderboard"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `(user id, score)` of a board's entries as `fields` answers them, in rank order, after
/// checking the ranks run 1, 2, 3… from `first_rank`.
fn entries(list: &Value, first_rank: u64) -> Vec<(String, i64)> {
    list.as_array()
        .unwrap()
        .iter()
        .zip(first_rank..)
        .map(|(entry, rank)| {
            assert_eq!(entry["rank"], rank, "{list}");
            (
                entry["userId"].as_str().unwrap().to_owned(),
                entry["score"].as_i64().unwrap(),
            )
        })
        .collect()
}

async fn top(app: &TestApp, board: &str, season: Option<i32>) -> Vec<(String, i64)> {
    let answer = app
        .gql(
            "query($b: ID!, $s: Int) { leaderboard(id: $b) { top(first: 10, season: $s) { rank userId score } } }",
            json!({ "b": board, "s": season }),
        )
        .await;
    entries(&answer.data()["leaderboard"]["top"], 1)
}

#[test]
fn elo_moves_ratings_by_the_expected_result() {
    assert_eq!(elo_delta(1000, 1000, 32), 16);
    assert_eq!(elo_delta(1200, 1000, 32), 8);
    assert_eq!(elo_delta(1000, 1200, 32), 24);
    assert_eq!(elo_delta(1000, 1000, 10), 5);
}

arena_tests::both_configured!(boards_score_rank_and_keep_seasons, trusting, |app| {
    let Cast {
        admin,
        ann,
        bob,
        duel,
        server,
        ..
    } = cast(&app, 7401).await;
    let carl = UserBuilder::new("carl").create(&app).await;
    let wins = board(
        &app,
        &admin,
        json!({ "gameId": duel, "name": "Wins", "scoring": "WINS" }),
    )
    .await;
    let elo = board(
        &app,
        &admin,
        json!({ "gameId": duel, "name": "Rating", "scoring": "ELO", "kFactor": 40 }),
    )
    .await;
    let best = board(&app, &admin, json!({ "gameId": duel, "name": "Best round", "scoring": "BEST", "eventName": "round", "field": "/points" })).await;
    let sum = board(&app, &admin, json!({ "gameId": duel, "name": "Points", "scoring": "SUM", "eventName": "round", "field": "/points" })).await;
    let last = board(&app, &admin, json!({ "gameId": duel, "name": "Last round", "scoring": "LAST", "eventName": "round", "field": "/points" })).await;
    let lap = board(&app, &admin, json!({ "gameId": duel, "name": "Fastest lap", "scoring": "BEST", "eventName": "lap", "field": "/ms", "descending": false, "resetEvery": "DAILY" })).await;

    // Refused boards, with nothing created.
    for (input, code) in [
        (
            json!({ "gameId": duel, "name": "Wins", "scoring": "WINS" }),
            "CONFLICT",
        ),
        (
            json!({ "gameId": duel, "name": "x", "scoring": "BEST", "eventName": "round" }),
            "BAD_USER_INPUT",
        ),
        (
            json!({ "gameId": duel, "name": "x", "scoring": "ELO", "field": "/a" }),
            "BAD_USER_INPUT",
        ),
        (
            json!({ "gameId": duel, "name": "x", "scoring": "ELO", "kFactor": 0 }),
            "BAD_USER_INPUT",
        ),
        (
            json!({ "gameId": duel, "name": " ", "scoring": "WINS" }),
            "BAD_USER_INPUT",
        ),
        (
            json!({ "gameId": "999999", "name": "x", "scoring": "WINS" }),
            "NOT_FOUND",
        ),
    ] {
        let refused = app
            .gql_as(&admin.access, CREATE, json!({ "i": input }))
            .await;
        assert_eq!(refused.codes(), [code], "{input}");
    }
    let by_member = app
        .gql_as(
            &ann.access,
            CREATE,
            json!({ "i": { "gameId": duel, "name": "x", "scoring": "WINS" } }),
        )
        .await;
    assert_eq!(by_member.codes(), ["FORBIDDEN"]);
    let listed = app
        .gql(
            "query($g: ID!) { leaderboards(gameId: $g) { name } }",
            json!({ "g": duel }),
        )
        .await;
    assert_eq!(listed.data()["leaderboards"].as_array().unwrap().len(), 6);

    // Each event at its own second, so who achieved a score first is plain.
    let mut second = 0;
    let mut at = || {
        second += 1;
        format!("2026-05-01T10:00:{second:02}Z")
    };
    let over = |id: &str, winner: &TestUser, loser: &TestUser, when: String| json!({ "id": id, "gameId": duel, "type": "GAME_OVER", "winnerId": winner.id, "loserId": loser.id, "occurredAt": when });
    let play = |id: &str, name: &str, who: &TestUser, data: Value, when: String| json!({ "id": id, "gameId": duel, "type": "GAMEPLAY", "name": name, "userId": who.id, "data": data, "occurredAt": when });
    let games = [
        (&ann, &bob),
        (&ann, &bob),
        (&bob, &ann),
        (&carl, &ann),
        (&ann, &carl),
    ];
    let mut batch: Vec<Value> = games
        .iter()
        .enumerate()
        .map(|(n, (w, l))| over(&format!("m{n}"), w, l, at()))
        .collect();
    batch.extend([
        play("r1", "round", &ann, json!({ "points": 40 }), at()),
        play("r2", "round", &bob, json!({ "points": 40 }), at()),
        play("r3", "round", &ann, json!({ "points": 25 }), at()),
        play("r4", "round", &carl, json!({ "points": 10 }), at()),
        play("l1", "lap", &ann, json!({ "ms": 61_000 }), at()),
        play("l2", "lap", &bob, json!({ "ms": 59_000 }), at()),
        play("l3", "lap", &bob, json!({ "ms": 60_000 }), at()),
    ]);
    send(&server, json!(batch)).await.unwrap();
    settled(&app).await;

    let id = |u: &TestUser| u.id.clone();
    // Bob and Carl both have one win; Bob's came first.
    assert_eq!(
        top(&app, &wins, None).await,
        [(id(&ann), 3), (id(&bob), 1), (id(&carl), 1)]
    );
    // ELO recomputed from the games in order.
    let mut ratings = std::collections::HashMap::new();
    for (w, l) in games {
        let (rw, rl) = (
            *ratings.get(&w.id).unwrap_or(&leaderboards::ELO_START),
            *ratings.get(&l.id).unwrap_or(&leaderboards::ELO_START),
        );
        let delta = elo_delta(rw, rl, 40);
        ratings.insert(w.id.clone(), rw + delta);
        ratings.insert(l.id.clone(), rl - delta);
    }
    let mut expected: Vec<(String, i64)> = ratings.into_iter().collect();
    expected.sort_by_key(|(_, rating)| std::cmp::Reverse(*rating));
    assert_eq!(top(&app, &elo, None).await, expected);
    assert_eq!(
        expected.iter().map(|(_, r)| r).sum::<i64>(),
        3 * leaderboards::ELO_START
    );
    // Ann reached 40 before Bob did.
    assert_eq!(
        top(&app, &best, None).await,
        [(id(&ann), 40), (id(&bob), 40), (id(&carl), 10)]
    );
    assert_eq!(
        top(&app, &sum, None).await,
        [(id(&ann), 65), (id(&bob), 40), (id(&carl), 10)]
    );
    assert_eq!(
        top(&app, &last, None).await,
        [(id(&bob), 40), (id(&ann), 25), (id(&carl), 10)]
    );
    // Lower first; Bob's slower second lap does not replace his best.
    assert_eq!(
        top(&app, &lap, None).await,
        [(id(&bob), 59_000), (id(&ann), 61_000)]
    );

    // A player's rank, the players around one, and friends only.
    let rank = app
        .gql(
            "query($b: ID!, $u: ID!) { leaderboard(id: $b) { rank(userId: $u) { rank userId score } } }",
            json!({ "b": sum, "u": carl.id }),
        )
        .await;
    assert_eq!(
        rank.data()["leaderboard"]["rank"],
        json!({ "rank": 3, "userId": carl.id, "score": 10 })
    );
    let nobody = app
        .gql(
            "query($b: ID!, $u: ID!) { leaderboard(id: $b) { rank(userId: $u) { rank } around(userId: $u) { rank } } }",
            json!({ "b": lap, "u": carl.id }),
        )
        .await;
    assert_eq!(
        nobody.data()["leaderboard"],
        json!({ "rank": null, "around": [] })
    );
    let around = app
        .gql(
            "query($b: ID!, $u: ID!) { leaderboard(id: $b) { around(userId: $u, count: 1) { rank userId score user { username } } } }",
            json!({ "b": sum, "u": carl.id }),
        )
        .await;
    assert_eq!(
        entries(&around.data()["leaderboard"]["around"], 2),
        [(id(&bob), 40), (id(&carl), 10)]
    );
    assert_eq!(
        around.data()["leaderboard"]["around"][0]["user"]["username"],
        bob.username.as_str()
    );
    app.gql_as(
        &bob.access,
        "mutation($u: ID!) { requestFriend(userId: $u) { __typename } }",
        json!({ "u": carl.id }),
    )
    .await;
    app.gql_as(
        &carl.access,
        "mutation($u: ID!) { acceptFriend(userId: $u) { __typename } }",
        json!({ "u": bob.id }),
    )
    .await;
    let friends = app
        .gql_as(
            &carl.access,
            "query($b: ID!) { leaderboard(id: $b) { friends { rank userId score } } }",
            json!({ "b": sum }),
        )
        .await;
    assert_eq!(
        entries(&friends.data()["leaderboard"]["friends"], 1),
        [(id(&bob), 40), (id(&carl), 10)]
    );
    let anonymous = app
        .gql(
            "query($b: ID!) { leaderboard(id: $b) { friends { rank } } }",
            json!({ "b": sum }),
        )
        .await;
    assert_eq!(anonymous.codes(), ["UNAUTHENTICATED"]);

    // A reset ends the season: the next starts empty, the ended one stays readable.
    let reset = app
        .gql_as(
            &admin.access,
            "mutation($b: ID!) { resetLeaderboard(id: $b) { season seasons { season } } }",
            json!({ "b": wins }),
        )
        .await;
    assert_eq!(
        reset.data()["resetLeaderboard"],
        json!({ "season": 2, "seasons": [{ "season": 1 }] })
    );
    assert!(top(&app, &wins, None).await.is_empty());
    assert_eq!(top(&app, &wins, Some(1)).await.len(), 3);
    send(&server, json!([over("m9", &bob, &ann, at())]))
        .await
        .unwrap();
    settled(&app).await;
    assert_eq!(top(&app, &wins, None).await, [(id(&bob), 1)]);
    assert_eq!(top(&app, &wins, Some(1)).await[0], (id(&ann), 3));
    let by_member = app
        .gql_as(
            &ann.access,
            "mutation($b: ID!) { resetLeaderboard(id: $b) { season } }",
            json!({ "b": wins }),
        )
        .await;
    assert_eq!(by_member.codes(), ["FORBIDDEN"]);

    // A daily board's season ends at the next UTC midnight, once however often it is asked.
    let tomorrow = chrono::Utc::now() + chrono::Duration::days(1);
    for _ in 0..2 {
        app.ctx
            .write(async |db, changes| leaderboards::reset_due_in(db, tomorrow, changes).await)
            .await
            .unwrap();
    }
    let lap_board = app
        .gql(
            "query($b: ID!) { leaderboard(id: $b) { season seasonStartedAt seasons { season } } }",
            json!({ "b": lap }),
        )
        .await;
    let lap_board = &lap_board.data()["leaderboard"];
    assert_eq!(lap_board["season"], 2);
    assert_eq!(lap_board["seasons"], json!([{ "season": 1 }]));
    let started = leaderboards::season_start(
        arena_entity::events::leaderboard::ResetEvery::Daily,
        tomorrow,
    );
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(lap_board["seasonStartedAt"].as_str().unwrap())
            .unwrap(),
        started
    );
    // The weekly and monthly boundaries.
    let thursday = chrono::DateTime::parse_from_rfc3339("2026-10-15T13:00:00Z")
        .unwrap()
        .to_utc();
    assert_eq!(
        leaderboards::season_start(
            arena_entity::events::leaderboard::ResetEvery::Weekly,
            thursday
        )
        .to_rfc3339(),
        "2026-10-12T00:00:00+00:00"
    );
    assert_eq!(
        leaderboards::season_start(
            arena_entity::events::leaderboard::ResetEvery::Monthly,
            thursday
        )
        .to_rfc3339(),
        "2026-10-01T00:00:00+00:00"
    );
});

arena_tests::both_configured!(
    the_rank_index_answers_as_the_database_does,
    trusting,
    |app| {
        use arena_entity::events::{leaderboard, leaderboard_record};
        use sea_orm::{ActiveValue::Set, EntityTrait};
        let Cast { admin, duel, .. } = cast(&app, 7402).await;
        let high = board(
            &app,
            &admin,
            json!({ "gameId": duel, "name": "High", "scoring": "WINS" }),
        )
        .await;
        let low = board(&app, &admin, json!({ "gameId": duel, "name": "Low", "scoring": "BEST", "eventName": "lap", "field": "/ms", "descending": false })).await;
        let mut players = Vec::new();
        for n in 0..30 {
            players.push(UserBuilder::new(&format!("player{n}")).create(&app).await);
        }
        // Few scores and few times: ties on both, settled by the player id.
        let base = chrono::DateTime::parse_from_rfc3339("2026-05-01T10:00:00Z")
            .unwrap()
            .to_utc();
        for board_id in [&high, &low] {
            let rows = players
                .iter()
                .enumerate()
                .map(|(n, p)| leaderboard_record::ActiveModel {
                    leaderboard_id: Set(board_id.parse().unwrap()),
                    season: Set(1),
                    user_id: Set(p.id.parse().unwrap()),
                    score: Set((n as i64 * 7) % 4),
                    achieved_at: Set(base + chrono::Duration::seconds((n as i64 * 5) % 3)),
                    updated_at: Set(base),
                });
            leaderboard_record::Entity::insert_many(rows)
                .exec(&app.ctx.db)
                .await
                .unwrap();
        }
        for board_id in [&high, &low] {
            let model = leaderboard::Entity::find_by_id(board_id.parse::<i32>().unwrap())
                .one(&app.ctx.db)
                .await
                .unwrap()
                .unwrap();
            let from_db = leaderboards::top(&app.ctx.db, &model, 1, 0, 100)
                .await
                .unwrap();
            assert_eq!(from_db.len(), 30);
            for round in 0..2 {
                let indexed = leaderboards::ranked(&app.ctx, &model, 1, 0, 100)
                    .await
                    .unwrap();
                assert_eq!(indexed, from_db, "board {board_id}, round {round}");
                for entry in &from_db {
                    let rank = leaderboards::rank_of(&app.ctx, &model, 1, entry.user_id)
                        .await
                        .unwrap();
                    assert_eq!(rank.as_ref(), Some(entry));
                }
                // A page from the middle.
                let page = leaderboards::ranked(&app.ctx, &model, 1, 10, 5)
                    .await
                    .unwrap();
                assert_eq!(page, from_db[10..15]);
                // Lost (a flushed Redis, a restart): rebuilt from the database on the next read.
                app.ctx.rank_index.forget(model.id, 1).await.unwrap();
            }
            // An older write never replaces a newer one.
            let first = &from_db[0];
            let stale = arena_api::leaderboards::index::Indexed {
                user: first.user_id,
                score: if model.descending { -5 } else { 99 },
                achieved_at: base,
                updated_at: base - chrono::Duration::seconds(1),
            };
            app.ctx.rank_index.apply(&model, 1, &[stale]).await.unwrap();
            assert_eq!(
                leaderboards::ranked(&app.ctx, &model, 1, 0, 100)
                    .await
                    .unwrap(),
                from_db
            );
        }
    }
);

arena_tests::both_configured!(
    a_games_events_apply_in_the_order_stored_whichever_delivery_comes_first,
    crate::events::held,
    |app| { later_delivery_first(app, 7409).await }
);

fn small_batches(settings: &mut arena_api::settings::Settings) {
    crate::events::held(settings);
    settings.event_batch = 2;
}

arena_tests::both_configured!(
    a_backlog_longer_than_a_batch_applies_in_order_over_several_transactions,
    small_batches,
    |app| { later_delivery_first(app, 7410).await }
);

/// Ann wins three, then Bob four, and the delivery of Bob's wins is applied first: the
/// game's earlier events must go first, whatever the batch size.
async fn later_delivery_first(app: TestApp, port: u16) {
    use arena_api::events::process;

    let Cast {
        admin,
        ann,
        bob,
        duel,
        server,
        ..
    } = cast(&app, port).await;
    let elo = board(
        &app,
        &admin,
        json!({ "gameId": duel, "name": "Rating", "scoring": "ELO" }),
    )
    .await;
    // Ann wins three, then Bob four: ratings depend on the order.
    let ann_wins: Vec<Value> = (0..3)
        .map(|n| crate::events::over(&format!("a{n}"), &duel, &ann, &bob))
        .collect();
    let bob_wins: Vec<Value> = (0..4)
        .map(|n| crate::events::over(&format!("b{n}"), &duel, &bob, &ann))
        .collect();
    send(&server, json!(ann_wins)).await.unwrap();
    send(&server, json!(bob_wins)).await.unwrap();
    let ids = crate::stats::stored_ids(&app).await;
    let (earlier, later) = ids.split_at(3);
    // The later delivery is applied first (a redelivery, another instance's consumer):
    // its game's earlier events go first.
    let applied = process::apply(&app.ctx, later).await.unwrap();
    assert_eq!(applied.processed, 7);
    assert_eq!(
        process::apply(&app.ctx, earlier).await.unwrap().processed,
        0
    );
    ann_three_then_bob_four(&app, &elo, &ann, &bob).await;
}

/// The ELO board `elo` holds the ratings of Ann winning three against Bob, then Bob four.
async fn ann_three_then_bob_four(app: &TestApp, elo: &str, ann: &TestUser, bob: &TestUser) {
    let (mut a, mut b) = (leaderboards::ELO_START, leaderboards::ELO_START);
    for _ in 0..3 {
        let d = elo_delta(a, b, 32);
        (a, b) = (a + d, b - d);
    }
    for _ in 0..4 {
        let d = elo_delta(b, a, 32);
        (a, b) = (a - d, b + d);
    }
    let top = app
        .gql(
            "query($b: ID!) { leaderboard(id: $b) { top { userId score } } }",
            json!({ "b": elo }),
        )
        .await;
    assert_eq!(
        top.data()["leaderboard"]["top"],
        json!([{ "userId": bob.id, "score": b }, { "userId": ann.id, "score": a }])
    );
}

/// Two batches of a game on two instances: the one that waited for the game's lock writes
/// its records with a later version than the one it waited for, so the rank index, which
/// keeps the newer version of a record, ends with its scores.
#[tokio::test]
async fn a_batch_that_waited_for_its_games_lock_writes_the_later_version() {
    use arena_api::events::process;
    use arena_entity::events::leaderboard_record;
    use sea_orm::{EntityTrait, TransactionTrait};

    let app = TestApp::spawn_with(arena_tests::Backend::Postgres, crate::events::held).await;
    let Cast {
        admin,
        ann,
        bob,
        duel,
        server,
        ..
    } = cast(&app, 7411).await;
    board(
        &app,
        &admin,
        json!({ "gameId": duel, "name": "Wins", "scoring": "WINS" }),
    )
    .await;
    send(
        &server,
        json!([crate::events::over("w1", &duel, &ann, &bob)]),
    )
    .await
    .unwrap();
    let ids = crate::stats::stored_ids(&app).await;

    // Another instance holds the game's lock while this batch starts.
    let other = app.ctx.db.begin().await.unwrap();
    process::lock_games_in(&other, &[duel.parse().unwrap()])
        .await
        .unwrap();
    let ctx = app.ctx.clone();
    let waiting = tokio::spawn(async move { process::apply(&ctx, &ids).await });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !waiting.is_finished(),
        "the batch waits for the game's lock"
    );
    let released = chrono::Utc::now();
    other.commit().await.unwrap();
    assert_eq!(waiting.await.unwrap().unwrap().processed, 1);

    let records = leaderboard_record::Entity::find()
        .all(&app.ctx.db)
        .await
        .unwrap();
    assert_eq!(records.len(), 1);
    assert!(
        records[0].updated_at >= released,
        "written at {}, before the lock it waited for was released at {released}",
        records[0].updated_at
    );
}

/// A store of a game's events that drew its ids first but commits after a later store of the
/// same game: the later events wait for it, and the ratings equal those of the events in id
/// order. (SQLite has one writer at a time, so its ids are drawn in commit order.)
#[tokio::test]
async fn events_stored_earlier_but_committed_later_apply_first() {
    use arena_api::events::{self, process};
    use sea_orm::TransactionTrait;

    let app = TestApp::spawn_with(arena_tests::Backend::Postgres, crate::events::held).await;
    let Cast {
        admin,
        ann,
        bob,
        duel,
        server,
        ..
    } = cast(&app, 7412).await;
    let elo = board(
        &app,
        &admin,
        json!({ "gameId": duel, "name": "Rating", "scoring": "ELO" }),
    )
    .await;
    let game: i32 = duel.parse().unwrap();
    let player = |user: &TestUser| user.id.parse::<uuid::Uuid>().unwrap();
    // A first batch of the game: the processor learns the id below which the game has
    // nothing pending, and looks for earlier events from there on.
    let warm_up = json!([{ "id": "w", "gameId": duel, "type": "GAMEPLAY", "name": "warm-up", "userId": ann.id }]);
    send(&server, warm_up).await.unwrap();
    let first = crate::stats::stored_ids(&app).await;
    assert_eq!(process::apply(&app.ctx, &first).await.unwrap().processed, 1);
    // Another request stores Ann's three wins and has not committed yet.
    let slow = app.ctx.db.begin().await.unwrap();
    let ann_wins = (0..3)
        .map(|n| events::Incoming {
            key: format!("a{n}"),
            game_id: game,
            kind: events::Kind::GameOver,
            name: None,
            user_id: None,
            winner_id: Some(player(&ann)),
            loser_id: Some(player(&bob)),
            data: None,
            occurred_at: None,
        })
        .collect();
    let ann_wins = events::rows_of(ann_wins, "backend:test", chrono::Utc::now());
    let earlier = events::store_in(&slow, ann_wins).await.unwrap();
    // Bob's four wins are stored after them, and committed first.
    let bob_wins: Vec<Value> = (0..4)
        .map(|n| crate::events::over(&format!("b{n}"), &duel, &bob, &ann))
        .collect();
    send(&server, json!(bob_wins)).await.unwrap();
    let mut later = crate::stats::stored_ids(&app).await;
    later.retain(|id| !first.contains(id));
    assert_eq!(later.len(), 4);
    assert!(earlier.iter().max() < later.iter().min());

    let ctx = app.ctx.clone();
    let waiting = tokio::spawn(async move { process::apply(&ctx, &later).await });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !waiting.is_finished(),
        "Bob's wins wait for the store of Ann's earlier ones"
    );
    slow.commit().await.unwrap();
    assert_eq!(waiting.await.unwrap().unwrap().processed, 7);

    ann_three_then_bob_four(&app, &elo, &ann, &bob).await;
}
