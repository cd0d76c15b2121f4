//! The battle-stats crawler: the WG console API's formats, a paced and retrying client, a
//! coordinator that owns a crawl run and its workers, the bulk writes into the Arena
//! schema, the Elasticsearch export, and a simulator of the API for tests, benchmarks and
//! demos.

pub mod client;
pub mod coordinator;
pub mod export;
pub mod progress;
pub mod protocol;
pub mod settings;
pub mod simulator;
pub mod store;
pub mod wg;
pub mod worker;

use std::time::Duration;

use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{
    coordinator::Summary,
    protocol::PROTOCOL_VERSION,
    settings::CrawlerSettings,
    worker::{WorkerConfig, WorkerError},
};

/// Connects to the Arena database and applies pending migrations (the crawler writes into
/// the same schema as the api).
pub async fn open_database(settings: &CrawlerSettings) -> anyhow::Result<DatabaseConnection> {
    let db = arena_api::db::connect_url(
        settings.database_url.expose(),
        settings.database_max_connections,
    )
    .await?;
    arena_api::db::migrate_up(&db, settings.database_url.expose()).await?;
    Ok(db)
}

/// The configured worker token, if one is set and not blank.
pub fn token(settings: &CrawlerSettings) -> Option<String> {
    settings
        .token
        .as_ref()
        .map(|t| t.expose().trim().to_owned())
        .filter(|t| !t.is_empty())
}

/// A worker's configuration from the settings.
pub fn worker_config(settings: &CrawlerSettings, token: String) -> WorkerConfig {
    WorkerConfig {
        coordinator: settings.coordinator_url.clone(),
        token,
        name: settings
            .worker_name
            .clone()
            .unwrap_or_else(worker::default_name),
        reconnect_for: Duration::from_secs(settings.reconnect_seconds),
        request_timeout: Duration::from_secs(settings.request_timeout_seconds),
        protocol_version: PROTOCOL_VERSION,
    }
}

/// A coordinator and `workers` workers in this process: one machine, one command.
pub async fn run_local(
    settings: CrawlerSettings,
    workers: usize,
    stop: CancellationToken,
) -> anyhow::Result<Summary> {
    let db = open_database(&settings).await?;
    let listener = TcpListener::bind(settings.bind).await?;
    let addr = listener.local_addr()?;
    let token = token(&settings).unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let mut config = worker_config(&settings, token.clone());
    config.coordinator = format!("ws://{addr}{}", protocol::PATH).parse()?;
    let workers_stop = stop.child_token();
    let mut pool = tokio::task::JoinSet::new();
    for n in 0..workers.max(1) {
        let mut config = config.clone();
        config.name = format!("{}-{n}", config.name);
        let stop = workers_stop.clone();
        pool.spawn(async move {
            match worker::work(config, stop).await {
                Ok(()) | Err(WorkerError::Stopped) => {}
                Err(err) => tracing::error!(%err, "worker stopped"),
            }
        });
    }
    let summary = coordinator::coordinate(settings, db, listener, token, stop).await;
    workers_stop.cancel();
    while pool.join_next().await.is_some() {}
    summary
}
