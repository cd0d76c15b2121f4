//! The `battles` read side over data a real crawl wrote: players with history, filtered and
//! ordered lists, daily activity, top players, crawl runs, and live progress.

use std::time::Duration;

use arena_api::settings::Secret;
use arena_crawler::{
    run_local,
    settings::{CrawlerSettings, IdRange},
    simulator::{self, SimulatorConfig},
    wg::Player,
};
use arena_tests::{TestApp, UserBuilder, WsClient, WsEvent, WsProtocol, on_both_backends};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const XBOX: (i64, i64) = (1, 600);
const PS: (i64, i64) = (1_073_740_001, 1_073_740_400);

pub(crate) async fn crawl(app: &TestApp, simulated_day: u32, date: &str, rps: u32) {
    let (api, _) = simulator::spawn(
        "127.0.0.1:0".parse().unwrap(),
        SimulatorConfig {
            day: simulated_day,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let settings = CrawlerSettings {
        database_url: Secret::new(app.settings.database_url.expose()),
        api_url: format!("http://{api}/").parse().unwrap(),
        app_ids: format!("a:{rps},b:{rps}").try_into().unwrap(),
        xbox_range: IdRange(Some(XBOX)),
        ps_range: IdRange(Some(PS)),
        bind: "127.0.0.1:0".parse().unwrap(),
        date: Some(date.parse().unwrap()),
        // Keep the ranges as they are.
        growth_step: 0,
        ..Default::default()
    };
    run_local(settings, 2, CancellationToken::new())
        .await
        .unwrap();
}

fn all(day: u32) -> Vec<Player> {
    (XBOX.0..=XBOX.1)
        .chain(PS.0..=PS.1)
        .filter_map(|id| simulator::player(1, day, id))
        .collect()
}

const PLAYER: &str = r#"query($id: Int, $nickname: String) {
  battlePlayer(id: $id, nickname: $nickname) {
    id platform nickname winRate statistics { battles wins }
    history(from: "2026-11-01", to: "2026-11-30") { day total { battles } diff { battles } }
  }
}"#;

on_both_backends! {
    async fn a_crawled_player_has_two_days_of_history(app) {
        crawl(&app, 0, "2026-11-01", 50).await;
        crawl(&app, 1, "2026-11-02", 50).await;
        // A player who played on the second day.
        let player = all(1)
            .into_iter()
            .find(|p| {
                simulator::player(1, 0, p.account_id)
                    .is_some_and(|before| before.statistics.all.battles < p.statistics.all.battles)
            })
            .unwrap();
        let before = simulator::player(1, 0, player.account_id).unwrap();
        let by_id = app.gql(PLAYER, json!({ "id": player.account_id })).await;
        let found = &by_id.data()["battlePlayer"];
        assert_eq!(found["nickname"], player.nickname.as_str());
        assert_eq!(found["statistics"]["battles"], player.statistics.all.battles);
        assert_eq!(
            found["history"],
            json!([
                { "day": "2026-11-02", "total": { "battles": player.statistics.all.battles },
                  "diff": { "battles": player.statistics.all.battles - before.statistics.all.battles } },
                { "day": "2026-11-01", "total": { "battles": before.statistics.all.battles },
                  "diff": { "battles": before.statistics.all.battles } },
            ])
        );
        let by_name = app
            .gql(PLAYER, json!({ "nickname": player.nickname.to_uppercase() }))
            .await;
        assert_eq!(by_name.data()["battlePlayer"]["id"], player.account_id);
        let neither = app.gql(PLAYER, json!({})).await;
        assert_eq!(neither.codes(), ["BAD_USER_INPUT"]);
    }
}

#[tokio::test]
async fn analysts_filter_order_and_aggregate_the_crawled_data() {
    let app = TestApp::spawn().await;
    crawl(&app, 0, "2026-11-01", 50).await;
    crawl(&app, 1, "2026-11-02", 50).await;
    let day_two = all(1);

    // PlayStation players with at least 5,000 battles, best win rate first.
    let list = app
        .gql(
            r#"{ battlePlayers(filter: { platform: PS, minBattles: 5000 }, orderBy: WIN_RATE, first: 5) {
                totalCount edges { node { id platform winRate statistics { battles } } } } }"#,
            json!({}),
        )
        .await;
    let mut expected: Vec<&Player> = day_two
        .iter()
        .filter(|p| p.account_id >= PS.0 && p.statistics.all.battles >= 5_000)
        .collect();
    expected.sort_by(|a, b| {
        let rate = |p: &Player| p.statistics.all.wins as f64 / p.statistics.all.battles as f64;
        rate(b)
            .total_cmp(&rate(a))
            .then(b.account_id.cmp(&a.account_id))
    });
    let page = &list.data()["battlePlayers"];
    assert_eq!(page["totalCount"], expected.len());
    let ids: Vec<i64> = page["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_i64().unwrap())
        .collect();
    let want: Vec<i64> = expected.iter().take(5).map(|p| p.account_id).collect();
    assert_eq!(ids, want);

    // Nickname prefix, whatever the case; `_` is literal, not a wildcard.
    let prefix = app
        .gql(
            r#"{ battlePlayers(filter: { nicknamePrefix: "PLAYER-1F" }, orderBy: BATTLES, ascending: true) {
                totalCount edges { node { nickname statistics { battles } } } } }"#,
            json!({}),
        )
        .await;
    let want = day_two
        .iter()
        .filter(|p| p.nickname.starts_with("player-1f"))
        .count();
    assert!(want > 0);
    assert_eq!(prefix.data()["battlePlayers"]["totalCount"], want);
    let none = app
        .gql(
            r#"{ battlePlayers(filter: { nicknamePrefix: "player_" }) { totalCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(none.data()["battlePlayers"]["totalCount"], 0);

    // Daily activity: day one is everyone's whole count, day two only who played.
    let activity = app
        .gql(
            r#"{ battleDailyActivity(from: "2026-11-01", to: "2026-11-02", platform: XBOX) {
                totalCount edges { node { day platform activePlayers battles } } } }"#,
            json!({}),
        )
        .await;
    let day_one = all(0);
    let xbox = |p: &&Player| p.account_id <= XBOX.1;
    let played: Vec<(i64, i64)> = day_two
        .iter()
        .filter(xbox)
        .filter_map(|p| {
            let before = simulator::player(1, 0, p.account_id)?
                .statistics
                .all
                .battles;
            let grew = p.statistics.all.battles - before;
            (grew > 0).then_some((p.account_id, grew))
        })
        .collect();
    let edges: Vec<Value> = activity.data()["battleDailyActivity"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect();
    assert_eq!(
        edges,
        vec![
            json!({ "day": "2026-11-01", "platform": "XBOX",
                "activePlayers": day_one.iter().filter(xbox).count(),
                "battles": day_one.iter().filter(xbox).map(|p| p.statistics.all.battles).sum::<i64>() }),
            json!({ "day": "2026-11-02", "platform": "XBOX",
                "activePlayers": played.len(),
                "battles": played.iter().map(|(_, grew)| grew).sum::<i64>() }),
        ]
    );

    // Top players of day two by battles played that day.
    let top = app
        .gql(
            r#"{ battleTopPlayers(from: "2026-11-02", to: "2026-11-02", counter: BATTLES, platform: XBOX, first: 3) {
                totalCount edges { node { rank value playerId player { nickname } } } } }"#,
            json!({}),
        )
        .await;
    let mut ranked = played.clone();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let first = &top.data()["battleTopPlayers"]["edges"][0]["node"];
    assert_eq!(top.data()["battleTopPlayers"]["totalCount"], played.len());
    assert_eq!(first["rank"], 1);
    assert_eq!(first["value"], ranked[0].1);
    assert_eq!(first["playerId"], ranked[0].0);

    // Clear errors for what makes no sense.
    for (query, field) in [
        (
            r#"{ battleDailyActivity(from: "2026-11-02", to: "2026-11-01") { totalCount } }"#,
            "to",
        ),
        (
            r#"{ battleDailyActivity(from: "2024-01-01", to: "2026-11-01") { totalCount } }"#,
            "to",
        ),
        (
            r#"{ battleTopPlayers(from: "2026-11-01", to: "2026-11-02", counter: MAX_DAMAGE) { totalCount } }"#,
            "counter",
        ),
    ] {
        let refused = app.gql(query, json!({})).await;
        assert_eq!(refused.codes(), ["BAD_USER_INPUT"], "{query}");
        assert_eq!(refused.errors()[0]["extensions"]["field"], field, "{query}");
    }
}

#[tokio::test]
async fn admins_see_crawl_runs_and_follow_one_live() {
    let app = TestApp::spawn().await;
    let admin = UserBuilder::new("crawl-admin")
        .with_role("admin")
        .create(&app)
        .await;
    crawl(&app, 0, "2026-11-01", 50).await;

    let runs = app
        .gql_as(
            &admin.access,
            r#"{ crawlRuns(first: 5) { totalCount edges { node {
                id day status batchesTotal batchesDone playersFound summary
                errors { kind count } workers { name applicationId batchesDone disconnectedAt }
                samples { batchesDone } } } } }"#,
            json!({}),
        )
        .await;
    let run = &runs.data()["crawlRuns"]["edges"][0]["node"];
    assert_eq!(run["status"], "COMPLETED");
    assert_eq!(run["batchesTotal"], 6 + 4);
    assert_eq!(run["batchesDone"], 10);
    assert_eq!(run["playersFound"], all(0).len());
    assert!(run["summary"].as_str().unwrap().contains("complete"));
    let workers = run["workers"].as_array().unwrap();
    assert_eq!(workers.len(), 2);
    assert!(workers.iter().all(|w| !w["disconnectedAt"].is_null()));
    let done: i64 = workers
        .iter()
        .map(|w| w["batchesDone"].as_i64().unwrap())
        .sum();
    assert_eq!(done, 10);

    // A slow run, followed over an authenticated websocket until it completes.
    let slow = {
        let app_url = app.settings.database_url.expose().to_owned();
        let (api, _) = simulator::spawn("127.0.0.1:0".parse().unwrap(), SimulatorConfig::default())
            .await
            .unwrap();
        let settings = CrawlerSettings {
            database_url: Secret::new(app_url),
            api_url: format!("http://{api}/").parse().unwrap(),
            app_ids: "a:2".to_owned().try_into().unwrap(),
            xbox_range: IdRange(Some((1, 1_000))),
            ps_range: IdRange(None),
            bind: "127.0.0.1:0".parse().unwrap(),
            date: Some("2026-11-02".parse().unwrap()),
            growth_step: 0,
            ..Default::default()
        };
        tokio::spawn(run_local(settings, 1, CancellationToken::new()))
    };
    let run_id = loop {
        let runs = app
            .gql_as(
                &admin.access,
                "{ crawlRuns(first: 1) { edges { node { id status } } } }",
                json!({}),
            )
            .await;
        let node = &runs.data()["crawlRuns"]["edges"][0]["node"];
        if node["status"] == "RUNNING" {
            break node["id"].as_str().unwrap().to_owned();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut ws = WsClient::connect(
        &format!("ws://{}/graphql/ws", app.addr),
        WsProtocol::TransportWs,
        json!({ "authorization": format!("Bearer {}", admin.access) }),
    )
    .await;
    ws.subscribe(
        "p",
        "subscription($id: ID!) { crawlProgress(runId: $id) { status batchesDone batchesTotal workersConnected } }",
        json!({ "id": run_id }),
    )
    .await;
    let mut seen = Vec::new();
    loop {
        match ws.next_event().await {
            WsEvent::Next { payload, .. } => {
                let progress = payload["data"]["crawlProgress"].clone();
                assert!(!progress.is_null(), "{payload}");
                seen.push(progress);
            }
            WsEvent::Complete { .. } => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    slow.await.unwrap().unwrap();
    let last = seen.last().unwrap();
    assert_eq!(last["status"], "COMPLETED");
    assert_eq!(last["batchesDone"], 10);
    assert!(
        seen.iter()
            .any(|p| p["status"] == "RUNNING" && p["batchesDone"].as_i64() < Some(10)),
        "progress arrived while running: {seen:?}"
    );
    let done: Vec<i64> = seen
        .iter()
        .filter_map(|p| p["batchesDone"].as_i64())
        .collect();
    assert!(done.windows(2).all(|w| w[0] <= w[1]), "{done:?}");

    // Anonymous callers cannot follow a run.
    let mut anonymous = app.ws(WsProtocol::TransportWs).await;
    anonymous
        .subscribe(
            "p",
            "subscription { crawlProgress(runId: \"1\") { status } }",
            json!({}),
        )
        .await;
    match anonymous.next_event().await {
        WsEvent::Next { payload, .. } | WsEvent::Error { payload, .. } => {
            assert!(payload.to_string().contains("UNAUTHENTICATED"), "{payload}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

on_both_backends! {
    async fn rankings_over_months_add_the_monthly_rollup_and_the_days_around_it(app) {
        use arena_entity::battles::daily_diff;
        use sea_orm::{ActiveModelTrait, ActiveValue::Set};
        // (player, day, battles); the range below is 2026-10-15..=2026-12-10.
        let rows = [
            (1, "2026-10-31", 5),
            (1, "2026-11-10", 7),
            (1, "2026-12-01", 11),
            (2, "2026-11-20", 30),
            (2, "2026-12-15", 100),
            (3, "2026-10-01", 50),
            (3, "2026-11-05", 1),
        ];
        let db = &app.ctx.db;
        for (player_id, day, battles) in rows {
            let day: chrono::NaiveDate = day.parse().unwrap();
            arena_crawler::store::ensure_partitions(db, day).await.unwrap();
            daily_diff::ActiveModel {
                day: Set(day),
                player_id: Set(player_id),
                platform: Set("xbox".into()),
                battles: Set(battles),
                wins: Set(0),
                losses: Set(0),
                damage_dealt: Set(0),
                damage_received: Set(0),
                frags: Set(0),
                spotted: Set(0),
                xp: Set(0),
                survived_battles: Set(0),
                capture_points: Set(0),
                dropped_capture_points: Set(0),
                hits: Set(0),
                shots: Set(0),
            }
            .insert(db)
            .await
            .unwrap();
        }
        let top = r#"{ battleTopPlayers(from: "2026-10-15", to: "2026-12-10", counter: BATTLES, first: 10) {
            totalCount edges { node { rank playerId value } } } }"#;
        let ranked = |response: arena_tests::GqlResponse| {
            let data = response.data()["battleTopPlayers"].clone();
            let rows: Vec<(i64, i64)> = data["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| (e["node"]["playerId"].as_i64().unwrap(), e["node"]["value"].as_i64().unwrap()))
                .collect();
            (data["totalCount"].as_i64().unwrap(), rows)
        };
        // Crawled twice: a day rebuilt is counted once.
        for _ in 0..2 {
            for day in ["2026-10-01", "2026-10-31", "2026-11-05", "2026-11-10", "2026-11-20", "2026-12-01", "2026-12-15"] {
                arena_crawler::store::rollups::refresh(db, day.parse().unwrap()).await.unwrap();
            }
            let expected = (3, vec![(2, 30), (1, 23), (3, 1)]);
            assert_eq!(ranked(app.gql(top, json!({})).await), expected);
        }
        let activity = app
            .gql(
                r#"{ battleDailyActivity(from: "2026-10-31", to: "2026-12-01", first: 10) {
                    edges { node { day activePlayers battles } } } }"#,
                json!({}),
            )
            .await;
        let days: Vec<(String, i64)> = activity.data()["battleDailyActivity"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["node"]["day"].as_str().unwrap().to_owned(), e["node"]["battles"].as_i64().unwrap()))
            .collect();
        assert_eq!(
            days,
            [
                ("2026-10-31".to_owned(), 5),
                ("2026-11-05".to_owned(), 1),
                ("2026-11-10".to_owned(), 7),
                ("2026-11-20".to_owned(), 30),
                ("2026-12-01".to_owned(), 11),
            ]
        );
    }
}
