//! What every request and background task shares.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    auth::AuthState, bus::ChangeBus, metrics::Metrics, redis_conn::Redis, settings::Settings,
};

/// Handles to the shared parts of one running Arena; cheap to clone.
#[derive(Clone)]
pub struct AppContext {
    /// The database pool.
    pub db: DatabaseConnection,
    /// Redis, when configured.
    pub redis: Option<Redis>,
    /// Where changes are published after their commit, for every instance.
    pub bus: ChangeBus,
    /// Subscribers following crawl runs on this instance.
    pub crawl_watch: Arc<crate::battles::RunWatch>,
    /// Statements sent to the database since start.
    pub statements: Arc<std::sync::atomic::AtomicU64>,
    /// The settings the process started with.
    pub settings: Arc<Settings>,
    /// Token keys, limits and proxies of the auth domain.
    pub auth: Arc<AuthState>,
    /// The metric registry.
    pub metrics: Arc<Metrics>,
    /// When this process started serving.
    pub started_at: DateTime<Utc>,
    /// Cancelled when the server begins to shut down; long-lived work stops on it.
    pub shutdown: CancellationToken,
    /// Long-lived tasks (websocket connections) that shutdown waits for.
    pub tasks: TaskTracker,
}
