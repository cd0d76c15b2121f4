//! What every request and background task shares.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DatabaseTransaction};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    auth::AuthState,
    bus::{ChangeBus, Changes},
    error::ApiResult,
    metrics::Metrics,
    redis_conn::Redis,
    settings::Settings,
};

impl AppContext {
    /// Runs a write service's body in one write transaction, commits, then publishes the
    /// changes the body recorded. Every write service is `ctx.write(async |db, changes|
    /// body_in(db, …, changes).await)`; the body takes `&impl ConnectionTrait`, so another
    /// domain can run it inside its own transaction and publish its changes with its own.
    pub async fn write<T>(
        &self,
        body: impl AsyncFnOnce(&DatabaseTransaction, &mut Changes) -> ApiResult<T>,
    ) -> ApiResult<T> {
        let txn = crate::db::begin_write(&self.db).await?;
        let mut changes = Changes::default();
        let out = body(&txn, &mut changes).await?;
        self.bus.commit(txn, changes).await?;
        Ok(out)
    }

    /// Runs `body` on each of `ids`, each in a write transaction of its own as [`Self::write`]
    /// does, and counts those it reports done: the sweeps of what ran out, where each row is
    /// locked and checked again in its own transaction.
    pub async fn write_each(
        &self,
        ids: impl IntoIterator<Item = i32>,
        body: impl AsyncFn(&DatabaseTransaction, &mut Changes, i32) -> ApiResult<bool>,
    ) -> ApiResult<usize> {
        let mut done = 0;
        for id in ids {
            let this = self
                .write(async |db, changes| body(db, changes, id).await)
                .await?;
            done += usize::from(this);
        }
        Ok(done)
    }
}

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
    /// Stored files: the object store and the address signer.
    pub assets: Arc<crate::assets::Assets>,
    /// Answers to anonymous catalog reads, reused until a change.
    pub public_cache: Arc<crate::graphql::public_cache::PublicCache>,
    /// The content category tree, held between category writes.
    pub categories: Arc<crate::catalog::categories::TreeCache>,
    /// The settings the process started with.
    pub settings: Arc<Settings>,
    /// Token keys, limits and proxies of the auth domain.
    pub auth: Arc<AuthState>,
    /// The metric registry.
    pub metrics: Arc<Metrics>,
    /// Parses and bounds queries before validation.
    pub preflight: Arc<crate::graphql::preflight::Preflight>,
    /// When this process started serving.
    pub started_at: DateTime<Utc>,
    /// Cancelled when the server begins to shut down; long-lived work stops on it.
    pub shutdown: CancellationToken,
    /// The queue of players' transfers, committed in batches.
    pub transfers: crate::bank::batch::Batcher,
    /// Where stored events wait for the processor.
    pub events: crate::events::process::EventQueue,
    /// The statistics handlers by name.
    pub stats_handlers: Arc<crate::stats::Handlers>,
    /// The leaderboards' rank index.
    pub rank_index: Arc<crate::leaderboards::index::RankIndex>,
    /// This instance's live leaderboard feeds.
    pub live_boards: Arc<crate::leaderboards::live::LiveBoards>,
    /// Asks provisioning hosts for game servers, one request per game at a time.
    pub provisioner: Arc<crate::play::provision::Provisioner>,
    /// Plays placing at once on this instance: half the database pool, so a burst of
    /// players never holds every connection.
    pub play_gate: Arc<tokio::sync::Semaphore>,
    /// Game server tokens that authenticated lately.
    pub server_tokens: Arc<crate::servers::registry::ServerTokens>,
    /// Long-lived tasks (websocket connections) that shutdown waits for.
    pub tasks: TaskTracker,
}
