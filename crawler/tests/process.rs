//! The real `arena-crawler` binary as operators run it: killed with SIGKILL mid-run (a
//! worker: its batches are re-issued and every player is written once; the coordinator:
//! restarted, it resumes from the database and fetches no finished batch again), and its
//! exit status and messages when it cannot do its work.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::{
    net::SocketAddr,
    process::{Child, Command, Stdio},
    time::Duration,
};

use arena_crawler::simulator::SimulatorConfig;
use common::*;
use sea_orm::ConnectionTrait;

fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn crawler(role: &str, database_url: &str, api: SocketAddr, bind: SocketAddr, rps: u32) -> Child {
    Command::new(env!("CARGO_BIN_EXE_arena-crawler"))
        .arg(role)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", database_url)
        .env("ARENA_CRAWLER_API_URL", format!("http://{api}/"))
        .env("ARENA_CRAWLER_APP_IDS", format!("app-a:{rps},app-b:{rps}"))
        .env("ARENA_CRAWLER_XBOX_RANGE", format!("{}-{}", XBOX.0, XBOX.1))
        .env("ARENA_CRAWLER_PS_RANGE", format!("{}-{}", PS.0, PS.1))
        .env("ARENA_CRAWLER_BIND", bind.to_string())
        .env("ARENA_CRAWLER_COORDINATOR_URL", format!("ws://{bind}/ws"))
        .env("ARENA_CRAWLER_TOKEN", "secret-token")
        .env("ARENA_CRAWLER_DATE", "2026-11-01")
        .env("ARENA_CRAWLER_LEASE_SECONDS", "3")
        .env("ARENA_CRAWLER_RECONNECT_SECONDS", "60")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

async fn wait(mut child: Child) -> std::process::ExitStatus {
    tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_killed_worker_loses_nothing_and_nothing_is_written_twice() {
    let url = fresh_database().await;
    let api = simulator(SimulatorConfig::default()).await;
    let bind = free_port();
    let coordinator = crawler("coordinator", &url, api, bind, 5);
    let mut doomed = crawler("worker", &url, api, bind, 5);
    let db = connect(&url).await;
    wait_for(
        &db,
        "SELECT count(*) FROM crawl_batches WHERE state = 'done'",
        3,
    )
    .await;
    // It holds leased batches now: kill it without a goodbye.
    doomed.kill().unwrap();
    doomed.wait().unwrap();
    let survivor = crawler("worker", &url, api, bind, 5);
    assert!(wait(coordinator).await.success(), "the run completes");
    assert!(
        wait(survivor).await.success(),
        "the worker stops when the run is finished"
    );
    assert_first_day_exact(&db, "2026-11-01").await;
    assert!(
        scalar(&db, "SELECT count(*) FROM crawl_batches WHERE attempts > 1").await > 0,
        "the dead worker's batches were issued again"
    );
}

#[tokio::test]
async fn a_restarted_coordinator_resumes_and_fetches_no_finished_batch_again() {
    let url = fresh_database().await;
    let api = simulator(SimulatorConfig::default()).await;
    let bind = free_port();
    let mut first = crawler("coordinator", &url, api, bind, 5);
    let worker = crawler("worker", &url, api, bind, 5);
    let db = connect(&url).await;
    wait_for(
        &db,
        "SELECT count(*) FROM crawl_batches WHERE state = 'done'",
        6,
    )
    .await;
    first.kill().unwrap();
    first.wait().unwrap();
    let done_before = scalar(
        &db,
        "SELECT count(*) FROM crawl_batches WHERE state = 'done'",
    )
    .await;
    assert!(done_before < 22, "killed mid-run");
    // Mark what was finished before the restart.
    db.execute_unprepared(
        "CREATE TABLE finished_before AS SELECT id FROM crawl_batches WHERE state = 'done'",
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = crawler("coordinator", &url, api, bind, 5);
    assert!(
        wait(second).await.success(),
        "the restarted coordinator completes the run"
    );
    assert!(
        wait(worker).await.success(),
        "the worker reconnected and finished"
    );
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM crawl_runs").await,
        1,
        "the same run"
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT count(*) FROM crawl_batches b JOIN finished_before f ON f.id = b.id \
             WHERE b.attempts <> 1"
        )
        .await,
        0,
        "no finished batch was handed out again"
    );
    assert_first_day_exact(&db, "2026-11-01").await;
}

#[tokio::test]
async fn refusals_and_bad_settings_exit_non_zero_and_say_why() {
    let url = fresh_database().await;
    let api = simulator(SimulatorConfig::default()).await;
    let bind = free_port();
    let coordinator = crawler("coordinator", &url, api, bind, 5);
    let db = connect(&url).await;
    wait_for(&db, "SELECT count(*) FROM crawl_runs", 1).await;

    let refused = Command::new(env!("CARGO_BIN_EXE_arena-crawler"))
        .arg("worker")
        .env("ARENA_CRAWLER_COORDINATOR_URL", format!("ws://{bind}/ws"))
        .env("ARENA_CRAWLER_TOKEN", "not-the-token")
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("refused") && stderr.contains("token"),
        "{stderr}"
    );

    let tokenless = Command::new(env!("CARGO_BIN_EXE_arena-crawler"))
        .arg("coordinator")
        .env("DATABASE_URL", &url)
        .env_remove("ARENA_CRAWLER_TOKEN")
        .output()
        .unwrap();
    assert_eq!(tokenless.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&tokenless.stderr).contains("ARENA_CRAWLER_TOKEN"));

    let bad = Command::new(env!("CARGO_BIN_EXE_arena-crawler"))
        .arg("run")
        .env("ARENA_CRAWLER_APP_IDS", "no-rate-given")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("ARENA_CRAWLER_APP_IDS"));

    // The coordinator served on and finishes with a worker that has the token.
    let worker = crawler("worker", &url, api, bind, 5);
    assert!(wait(coordinator).await.success());
    assert!(wait(worker).await.success());
}

/// The crawler builds on the api crate's core (settings, database) without the server: no
/// GraphQL, password hashing, token signing, mail or Redis in its build.
#[test]
fn the_crawler_builds_without_the_server() {
    let tree = Command::new(env!("CARGO"))
        .args([
            "tree",
            "-p",
            "arena-crawler",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .args(["--format", "{p}", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        tree.status.success(),
        "{}",
        String::from_utf8_lossy(&tree.stderr)
    );
    let tree = String::from_utf8(tree.stdout).unwrap();
    assert!(tree.lines().any(|l| l.starts_with("arena-api ")), "{tree}");
    for server_only in ["async-graphql", "bcrypt", "jsonwebtoken", "lettre", "redis"] {
        assert!(
            !tree
                .lines()
                .any(|l| l.starts_with(&format!("{server_only} "))),
            "{server_only} is in the crawler's build"
        );
    }
}
