//! Crawls in this process against the simulator and a fresh PostgreSQL database: a clean
//! run and the next day, faults of every kind, refused workers, and the export with the
//! search cluster down and then refusing some documents.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use arena_crawler::{
    coordinator, open_database,
    protocol::PROTOCOL_VERSION,
    run_local,
    simulator::SimulatorConfig,
    worker::{self, WorkerError},
    worker_config,
};
use axum::{Json, Router, extract::State, routing::post};
use common::*;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn a_run_fills_the_schema_and_the_next_day_writes_only_changes() {
    let url = fresh_database().await;
    let api = simulator(SimulatorConfig::default()).await;
    let summary = run_local(
        settings(&url, api, "2026-11-01"),
        2,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let expected = expected_players(1, 0);
    assert_eq!(summary.players_found, expected.len() as i64);
    assert_eq!(summary.players_changed, expected.len() as i64);
    assert_eq!(summary.batches, 15 + 7);
    let db = connect(&url).await;
    assert_first_day_exact(&db, "2026-11-01").await;
    assert_eq!(
        scalar(
            &db,
            "SELECT count(*) FROM crawl_runs WHERE status = 'completed'"
        )
        .await,
        1
    );
    // Both ranges end within 50,000 of the highest id seen: both grow.
    assert_eq!(
        scalar(
            &db,
            "SELECT max_id FROM crawl_ranges WHERE platform = 'xbox'"
        )
        .await,
        XBOX.1 + GROWTH
    );
    assert_eq!(
        scalar(&db, "SELECT max_id FROM crawl_ranges WHERE platform = 'ps'").await,
        PS.1 + GROWTH
    );
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM crawl_workers").await,
        2,
        "both workers recorded"
    );
    // PostgreSQL: the daily tables are partitioned, this month and the next made ahead.
    assert_eq!(
        scalar(
            &db,
            "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhparent \
             WHERE c.relname = 'battle_totals'"
        )
        .await,
        2
    );

    // Day two, on the stored (grown) range: only players who played get a total and a diff.
    let next = simulator(SimulatorConfig {
        day: 1,
        ..Default::default()
    })
    .await;
    // The configured ranges stay as they were; the stored ones have grown past them.
    let day_two = settings(&url, next, "2026-11-02");
    let summary = run_local(day_two, 2, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(summary.batches, 25 + 17, "the grown ranges are crawled");
    let grown = (XBOX.0..=XBOX.1 + GROWTH).chain(PS.0..=PS.1 + GROWTH);
    let played: Vec<(i64, i64)> = grown
        .filter_map(|id| {
            let after = arena_crawler::simulator::player(1, 1, id)?;
            // Ids past day one's ranges were never crawled: their first diff is everything.
            let crawled = id <= XBOX.1 || (PS.0..=PS.1).contains(&id);
            let before = arena_crawler::simulator::player(1, 0, id)
                .filter(|_| crawled)
                .map_or(0, |p| p.statistics.all.battles);
            let grew = after.statistics.all.battles - before;
            (grew > 0).then_some((id, grew))
        })
        .collect();
    assert!(!played.is_empty());
    assert_eq!(
        scalar(
            &db,
            "SELECT count(*) FROM battle_diffs WHERE day = '2026-11-02'"
        )
        .await,
        played.len() as i64
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT CAST(sum(battles) AS BIGINT) FROM battle_diffs WHERE day = '2026-11-02'"
        )
        .await,
        played.iter().map(|(_, grew)| grew).sum::<i64>()
    );
    let (id, grew) = played[0];
    assert_eq!(
        scalar(
            &db,
            &format!(
                "SELECT battles FROM battle_diffs WHERE day = '2026-11-02' AND player_id = {id}"
            )
        )
        .await,
        grew
    );
}

#[tokio::test]
async fn faults_of_every_kind_and_racing_workers_change_nothing_in_the_data() {
    let url = fresh_database().await;
    // 80% of requests fault: 20% each of 504, HTTP 500, truncated JSON and slow (past the
    // workers' timeout).
    let api = simulator(SimulatorConfig {
        fault_rate: 0.8,
        slow_for: Duration::from_secs(3),
        ..Default::default()
    })
    .await;
    // Leases shorter than a slow answer: batches are re-issued while their first worker
    // still fetches them, so six workers race to deliver the same batches.
    let mut faulty = settings(&url, api, "2026-11-01");
    faulty.lease_seconds = 1;
    let summary = run_local(faulty, 6, CancellationToken::new())
        .await
        .unwrap();
    for kind in [
        "source_unavailable",
        "http",
        "malformed",
        "timeout",
        "lease_expired",
    ] {
        assert!(
            summary.errors.get(kind).copied().unwrap_or(0) > 0,
            "{kind} seen: {:?}",
            summary.errors
        );
    }
    assert_first_day_exact(&connect(&url).await, "2026-11-01").await;
}

#[tokio::test]
async fn workers_with_a_wrong_token_or_version_are_refused_and_told_why() {
    let url = fresh_database().await;
    let api = simulator(SimulatorConfig::default()).await;
    let mut settings = settings(&url, api, "2026-11-01");
    settings.app_ids = "app-a:10".to_owned().try_into().unwrap();
    let db = open_database(&settings).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = worker_config(&settings, "right".into());
    config.coordinator = format!("ws://{addr}/ws").parse().unwrap();
    let coordinator = tokio::spawn(coordinator::coordinate(
        settings,
        db,
        listener,
        "right".into(),
        CancellationToken::new(),
    ));
    let good = tokio::spawn(worker::work(config.clone(), CancellationToken::new()));

    let mut wrong_token = config.clone();
    wrong_token.token = "wrong".into();
    let err = worker::work(wrong_token, CancellationToken::new())
        .await
        .unwrap_err();
    let WorkerError::Refused(message) = err else {
        panic!("refused, got {err}")
    };
    assert!(
        message.contains("401") && message.contains("token"),
        "{message}"
    );

    let mut wrong_version = config.clone();
    wrong_version.protocol_version = PROTOCOL_VERSION + 1;
    let message = worker::work(wrong_version, CancellationToken::new())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        message.contains(&format!("protocol version {PROTOCOL_VERSION} is required"))
            && message.contains(&format!("speaks {}", PROTOCOL_VERSION + 1)),
        "{message}"
    );

    // The coordinator kept serving the good worker to the end.
    let summary = coordinator.await.unwrap().unwrap();
    good.await.unwrap().unwrap();
    assert_eq!(summary.batches, 22);
    assert_first_day_exact(&connect(&url).await, "2026-11-01").await;
}

/// A stand-in search cluster speaking the bulk protocol: it refuses documents whose id is
/// in `refuse`, and records what it indexed.
#[derive(Clone, Default)]
struct Cluster {
    refuse: Arc<Mutex<Vec<String>>>,
    indexed: Arc<Mutex<Vec<(String, String)>>>,
}

async fn bulk(State(cluster): State<Cluster>, body: String) -> Json<Value> {
    let lines: Vec<Value> = body
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let refuse = cluster.refuse.lock().unwrap().clone();
    let mut items = Vec::new();
    let mut errors = false;
    for pair in lines.chunks(2) {
        let action = &pair[0]["index"];
        let index = action["_index"].as_str().unwrap().to_owned();
        let id = action["_id"].as_str().unwrap().to_owned();
        if refuse.contains(&id) {
            errors = true;
            items.push(
                json!({ "index": { "_index": index, "_id": id, "status": 429,
                "error": { "type": "es_rejected_execution_exception", "reason": "queue full" } } }),
            );
        } else {
            cluster
                .indexed
                .lock()
                .unwrap()
                .push((index.clone(), id.clone()));
            items.push(json!({ "index": { "_index": index, "_id": id, "status": 201, "result": "created" } }));
        }
    }
    Json(json!({ "took": 1, "errors": errors, "items": items }))
}

#[tokio::test]
async fn documents_wait_while_the_cluster_is_down_and_arrive_with_the_next_run() {
    let url = fresh_database().await;
    let api = simulator(SimulatorConfig::default()).await;
    // Day one: nothing listens where the cluster should be.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let down = closed.local_addr().unwrap();
    drop(closed);
    let mut day_one = settings(&url, api, "2026-11-01");
    day_one.elasticsearch_url = Some(format!("http://{down}").parse().unwrap());
    let summary = run_local(day_one, 2, CancellationToken::new())
        .await
        .unwrap();
    let players = expected_players(1, 0).len() as u64;
    let export = summary.export.unwrap();
    assert_eq!(export.sent, 0);
    assert_eq!(
        export.waiting,
        players * 3,
        "totals, diffs and players wait"
    );
    let db = connect(&url).await;
    assert_eq!(
        scalar(
            &db,
            "SELECT count(*) FROM crawl_runs WHERE status = 'completed'"
        )
        .await,
        1,
        "the run completes all the same"
    );

    // Day two: the cluster is up but refuses two documents.
    let cluster = Cluster::default();
    let refused_id = expected_players(1, 0)[0].account_id.to_string();
    cluster.refuse.lock().unwrap().push(refused_id.clone());
    let app = Router::new()
        .route("/_bulk", post(bulk))
        .with_state(cluster.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let next = simulator(SimulatorConfig {
        day: 1,
        ..Default::default()
    })
    .await;
    let mut day_two = settings(&url, next, "2026-11-02");
    day_two.elasticsearch_url = Some(format!("http://{up}").parse().unwrap());
    let export = run_local(day_two, 2, CancellationToken::new())
        .await
        .unwrap()
        .export
        .unwrap();
    let indexed = cluster.indexed.lock().unwrap().clone();
    let day_one_docs = indexed
        .iter()
        .filter(|(index, _)| index.ends_with("2026.11.01"))
        .count() as u64;
    // The refused player's three day-one documents stay; its day-two ones join them.
    assert_eq!(day_one_docs, players * 3 - 3);
    assert_eq!(export.from_backlog, players * 3 - 3);
    assert!(
        indexed
            .iter()
            .any(|(index, _)| index == "arena-battles-totals-2026.11.02")
    );
    assert!(
        indexed
            .iter()
            .any(|(index, _)| index == "arena-battles-players-2026.11.01")
    );
    let waiting = scalar(&db, "SELECT count(*) FROM export_backlog").await;
    assert_eq!(waiting as u64, export.waiting);
    assert_eq!(
        scalar(
            &db,
            &format!("SELECT count(*) FROM export_backlog WHERE doc_id <> '{refused_id}'")
        )
        .await,
        0,
        "only the refused player's documents wait"
    );
}

#[tokio::test]
async fn workers_keep_to_each_application_ids_rate() {
    let url = fresh_database().await;
    let limit = std::num::NonZeroU32::new(20).unwrap();
    let api = simulator(SimulatorConfig {
        rate_limit: Some(limit),
        ..Default::default()
    })
    .await;
    let mut paced = settings(&url, api, "2026-11-01");
    paced.app_ids = "app-a:20,app-b:20".to_owned().try_into().unwrap();
    // More batches per id than the API's burst of 20: unpaced, they would be refused.
    paced.xbox_range = arena_crawler::settings::IdRange(Some((1, 6_000)));
    paced.ps_range = arena_crawler::settings::IdRange(None);
    let summary = run_local(paced, 2, CancellationToken::new()).await.unwrap();
    assert_eq!(summary.batches, 60);
    let stats = arena_crawler::simulator::fetch_stats(api).await.unwrap();
    assert_eq!(stats.rate_limited, 0, "{stats:?}");
    assert_eq!(stats.ok, 60, "{stats:?}");
    assert!(
        !summary.errors.contains_key("rate_limited"),
        "{:?}",
        summary.errors
    );
}

#[tokio::test]
async fn workers_sharing_an_application_id_split_its_rate() {
    let url = fresh_database().await;
    let api = simulator(SimulatorConfig {
        rate_limit: std::num::NonZeroU32::new(20),
        ..Default::default()
    })
    .await;
    let mut shared = settings(&url, api, "2026-11-01");
    shared.app_ids = "solo:20".to_owned().try_into().unwrap();
    shared.xbox_range = arena_crawler::settings::IdRange(Some((1, 6_000)));
    shared.ps_range = arena_crawler::settings::IdRange(None);
    // Three workers on one id: each is told a third of its rate as the others arrive.
    let summary = run_local(shared, 3, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(summary.batches, 60);
    let stats = arena_crawler::simulator::fetch_stats(api).await.unwrap();
    assert_eq!(stats.rate_limited, 0, "{stats:?}");
    let db = connect(&url).await;
    assert_eq!(
        scalar(
            &db,
            "SELECT count(*) FROM crawl_workers WHERE requests_per_second = 6"
        )
        .await,
        3,
        "each worker ends with a third of 20"
    );
}

#[tokio::test]
async fn a_second_coordinator_on_the_same_database_refuses_to_start() {
    let url = fresh_database().await;
    let api = simulator(SimulatorConfig::default()).await;
    let mut settings = settings(&url, api, "2026-11-01");
    settings.app_ids = "app-a:5".to_owned().try_into().unwrap();
    let db = open_database(&settings).await.unwrap();
    let start = |settings, db| async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        coordinator::coordinate(settings, db, listener, "t".into(), CancellationToken::new()).await
    };
    // The first has no workers, so it runs until it is dropped.
    let first = tokio::spawn(start(settings.clone(), db.clone()));
    wait_for(&db, "SELECT count(*) FROM crawl_runs", 1).await;
    let second = tokio::time::timeout(Duration::from_secs(20), start(settings.clone(), db.clone()))
        .await
        .expect("the second coordinator stops at once")
        .unwrap_err();
    assert!(
        second.to_string().contains(coordinator::ALREADY_RUNNING),
        "{second}"
    );
    assert_eq!(scalar(&db, "SELECT count(*) FROM crawl_runs").await, 1);
    // Once the first is gone the next one may run.
    first.abort();
    let _ = first.await;
    let third = tokio::spawn(start(settings, db));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!third.is_finished(), "the next coordinator runs");
    third.abort();
}

#[tokio::test]
async fn processes_migrating_one_database_at_once_take_turns() {
    let sqlite_dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}/arena.db?mode=rwc", sqlite_dir.path().display());
    for url in [fresh_database().await, sqlite] {
        // Each as its own process would: its own pool.
        let migrations = (0..4).map(|_| {
            let url = url.clone();
            tokio::spawn(async move {
                let db = arena_api::db::connect_url(&url, 2).await.unwrap();
                arena_api::db::migrate_up(&db, &url).await
            })
        });
        for migrated in futures_util::future::join_all(migrations).await {
            migrated
                .unwrap()
                .unwrap_or_else(|err| panic!("{url}: {err}"));
        }
        let db = connect(&url).await;
        let applied = scalar(&db, "SELECT count(*) FROM seaql_migrations").await;
        let known = <arena_migration::Migrator as arena_migration::MigratorTrait>::migrations();
        assert_eq!(applied, known.len() as i64);
    }
}
