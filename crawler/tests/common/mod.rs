//! Shared pieces of the crawler's end-to-end tests: a fresh PostgreSQL database per test,
//! the simulator on a free port, settings for a small crawl, and what the simulator says the
//! database must hold.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::{
    net::SocketAddr,
    sync::atomic::{AtomicU32, Ordering},
    time::Duration,
};

use arena_api::settings::Secret;
use arena_crawler::{
    settings::{CrawlerSettings, IdRange},
    simulator::{self, SimulatorConfig},
};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};

pub const XBOX: (i64, i64) = (1, 1_500);
pub const PS: (i64, i64) = (1_073_740_001, 1_073_740_700);
pub const GROWTH: i64 = 1_000;

fn admin_url() -> String {
    std::env::var("ARENA_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable".into())
}

/// A fresh, empty PostgreSQL database (the crawler migrates it); named so the test
/// harness's orphan sweep drops it once this process is gone.
pub async fn fresh_database() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "arena_t_{}_crawl{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let admin = Database::connect(admin_url())
        .await
        .expect("PostgreSQL answers");
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .unwrap();
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let mut url = url::Url::parse(&admin_url()).unwrap();
    url.set_path(&name);
    url.to_string()
}

pub async fn simulator(config: SimulatorConfig) -> SocketAddr {
    simulator::spawn("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap()
        .0
}

/// Settings for a crawl of [`XBOX`] and [`PS`] against the simulator at `api`.
pub fn settings(database_url: &str, api: SocketAddr, day: &str) -> CrawlerSettings {
    CrawlerSettings {
        database_url: Secret::new(database_url),
        api_url: format!("http://{api}/").parse().unwrap(),
        app_ids: "app-a:40,app-b:40".to_owned().try_into().unwrap(),
        xbox_range: IdRange(Some(XBOX)),
        ps_range: IdRange(Some(PS)),
        bind: "127.0.0.1:0".parse().unwrap(),
        date: Some(day.parse().unwrap()),
        lease_seconds: 5,
        request_timeout_seconds: 2,
        reconnect_seconds: 30,
        // Small steps keep the grown ranges of later days quick to crawl.
        growth_step: GROWTH,
        ..Default::default()
    }
}

pub async fn connect(url: &str) -> DatabaseConnection {
    Database::connect(url).await.unwrap()
}

pub async fn scalar(db: &DatabaseConnection, sql: &str) -> i64 {
    try_scalar(db, sql)
        .await
        .unwrap_or_else(|| panic!("{sql} answers"))
}

async fn try_scalar(db: &DatabaseConnection, sql: &str) -> Option<i64> {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .ok()??;
    row.try_get_by_index::<i64>(0).ok()
}

/// Every account the simulator has in the test ranges on `day`.
pub fn expected_players(seed: u64, day: u32) -> Vec<arena_crawler::wg::Player> {
    (XBOX.0..=XBOX.1)
        .chain(PS.0..=PS.1)
        .filter_map(|id| simulator::player(seed, day, id))
        .collect()
}

/// Checks that the database holds exactly what the simulator serves on `day` (seed 1):
/// one player row per account with its counters, and for a first crawl one total and one
/// diff per player, each diff the whole count (a doubled write would double it).
pub async fn assert_first_day_exact(db: &DatabaseConnection, day: &str) {
    let expected = expected_players(1, 0);
    let n = expected.len() as i64;
    assert_eq!(scalar(db, "SELECT count(*) FROM battle_players").await, n);
    let totals = format!("SELECT count(*) FROM battle_totals WHERE day = '{day}'");
    assert_eq!(scalar(db, &totals).await, n);
    let diffs = format!("SELECT count(*) FROM battle_diffs WHERE day = '{day}'");
    assert_eq!(scalar(db, &diffs).await, n);
    let battles: i64 = expected.iter().map(|p| p.statistics.all.battles).sum();
    let damage: i64 = expected.iter().map(|p| p.statistics.all.damage_dealt).sum();
    assert_eq!(
        scalar(
            db,
            "SELECT CAST(sum(battles) AS BIGINT) FROM battle_players"
        )
        .await,
        battles
    );
    assert_eq!(
        scalar(
            db,
            "SELECT CAST(sum(damage_dealt) AS BIGINT) FROM battle_players"
        )
        .await,
        damage
    );
    let diff_sum =
        format!("SELECT CAST(sum(battles) AS BIGINT) FROM battle_diffs WHERE day = '{day}'");
    assert_eq!(
        scalar(db, &diff_sum).await,
        battles,
        "each diff written once"
    );
    let mismatched = format!(
        "SELECT count(*) FROM battle_totals t JOIN battle_players p ON p.id = t.player_id \
         WHERE t.day = '{day}' AND (t.battles <> p.battles OR t.wins <> p.wins OR t.shots <> p.shots)"
    );
    assert_eq!(scalar(db, &mismatched).await, 0);
}

/// Waits until `sql` counts at least `at_least`.
pub async fn wait_for(db: &DatabaseConnection, sql: &str, at_least: i64) {
    for _ in 0..600 {
        // Tables appear once the coordinator has migrated the database.
        if try_scalar(db, sql).await.is_some_and(|n| n >= at_least) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {sql} >= {at_least}");
}
