//! Building the application from settings, serving it, and stopping it gracefully.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use axum::serve::ListenerExt;
use chrono::Utc;
use tokio::net::TcpListener;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    auth::AuthState,
    bus::ChangeBus,
    context::AppContext,
    db::{self, DbStartError},
    graphql::preflight::Preflight,
    http::router,
    metrics::Metrics,
    redis_conn::{Redis, RedisStartError},
    settings::Settings,
};

/// Distinct query texts whose parsed documents are kept.
const PARSED_QUERIES_KEPT: usize = 1024;

/// Anonymous catalog answers kept at once.
const PUBLIC_ANSWERS_KEPT: usize = 4096;

/// Why Arena could not start; each message is one line naming what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// See [`DbStartError`].
    #[error(transparent)]
    Database(#[from] DbStartError),
    /// See [`RedisStartError`].
    #[error(transparent)]
    Redis(#[from] RedisStartError),
    /// The mail settings are unusable.
    #[error("{0}")]
    Mail(String),
    /// The asset store cannot be opened.
    #[error("{0}")]
    Assets(String),
    /// The threads that hash passwords and parse queries could not start.
    #[error("cannot start worker threads: {0}")]
    Threads(#[from] std::io::Error),
    /// The listen address is taken or not ours.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address from `ARENA_BIND`.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A connected, bound, not yet serving Arena.
pub struct Application {
    listener: TcpListener,
    ctx: AppContext,
}

impl Application {
    /// Connects the database (migrating when configured) and Redis, and binds the socket.
    pub async fn build(settings: Settings) -> Result<Self, StartError> {
        let mut db = db::connect(&settings).await?;
        let metrics = Arc::new(Metrics::new(settings.database_max_connections));
        let statements = metrics.statements.clone();
        db::on_statement(&mut db, move || {
            statements.inc();
        });
        if settings.migrate_on_start {
            db::migrate_up(&db, settings.database_url.expose()).await?;
        }
        let auth = AuthState::load(&db, &settings).await?;
        let redis = match &settings.redis_url {
            Some(url) => Some(Redis::connect(url, &settings.redis_key_prefix).await?),
            None => None,
        };
        let listener =
            TcpListener::bind(settings.bind)
                .await
                .map_err(|source| StartError::Bind {
                    addr: settings.bind,
                    source,
                })?;
        let (shutdown, tasks) = (CancellationToken::new(), TaskTracker::new());
        let bus = match &redis {
            Some(redis) => ChangeBus::over_redis(
                redis.clone(),
                settings.bus_capacity,
                shutdown.clone(),
                &tasks,
            ),
            None => ChangeBus::in_process(settings.bus_capacity),
        };
        bus.on_change(crate::auth::access::invalidation(
            auth.access.clone(),
            auth.address_bans.clone(),
        ));
        let categories = Arc::new(crate::catalog::categories::TreeCache::default());
        bus.on_change(crate::catalog::categories::TreeCache::invalidation(
            categories.clone(),
        ));
        let assets = Arc::new(
            crate::assets::Assets::new(&settings, &auth.keys).map_err(StartError::Assets)?,
        );
        let public_cache = Arc::new(crate::graphql::public_cache::PublicCache::new(
            PUBLIC_ANSWERS_KEPT,
            std::time::Duration::from_secs(settings.public_cache_seconds),
        ));
        bus.on_change(crate::graphql::public_cache::PublicCache::invalidation(
            public_cache.clone(),
        ));
        bus.on_change(crate::assets::wake_on_jobs(assets.clone()));
        let server_tokens = Arc::new(crate::servers::registry::ServerTokens::new(
            std::time::Duration::from_secs(settings.viewer_cache_seconds),
        ));
        bus.on_change(crate::servers::registry::ServerTokens::invalidation(
            server_tokens.clone(),
        ));
        let preflight = Preflight::new(PARSED_QUERIES_KEPT, settings.graphql_complexity_limit)?;
        let (transfers, transfer_queue) = crate::bank::batch::Batcher::new();
        let play_gate = Arc::new(tokio::sync::Semaphore::new(
            usize::try_from(settings.database_max_connections / 2)
                .unwrap_or(1)
                .max(1),
        ));
        let ctx = AppContext {
            events: crate::events::process::EventQueue::new(redis.as_ref()),
            stats_handlers: Arc::default(),
            live_boards: Arc::default(),
            rank_index: Arc::new(crate::leaderboards::index::RankIndex::new(redis.as_ref())),
            transfers,
            provisioner: Arc::default(),
            play_gate,
            server_tokens,
            metrics,
            preflight: Arc::new(preflight),
            auth: Arc::new(auth),
            settings: Arc::new(settings),
            db,
            redis,
            bus,
            crawl_watch: Arc::default(),
            categories,
            assets,
            public_cache,
            started_at: Utc::now(),
            shutdown,
            tasks,
        };
        crate::mail::sender::spawn(&ctx).map_err(StartError::Mail)?;
        crate::mail::spawn_janitor(&ctx);
        crate::assets::jobs::spawn(&ctx);
        crate::store::spawn_sweeper(&ctx);
        crate::bank::batch::spawn(&ctx, transfer_queue);
        crate::events::process::start(&ctx).await;
        crate::leaderboards::spawn_resets(&ctx);
        ctx.tasks.spawn(crate::battles::watch_runs(ctx.clone()));
        Ok(Self { listener, ctx })
    }

    /// The bound address (the real port when `ARENA_BIND` asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        // A bound TcpListener always has a local address.
        self.listener
            .local_addr()
            .unwrap_or_else(|_| self.ctx.settings.bind)
    }

    /// The shared context, for callers that run work beside the server.
    pub fn context(&self) -> &AppContext {
        &self.ctx
    }

    /// Serves until `stop` resolves, then stops accepting, lets in-flight requests finish,
    /// closes websockets with "going away", and waits at most the grace period for all that.
    pub async fn run_until(self, stop: impl Future<Output = ()> + Send + 'static) {
        let Self { listener, ctx } = self;
        let app = router(ctx.clone()).into_make_service_with_connect_info::<SocketAddr>();
        let shutdown = ctx.shutdown.clone();
        let signal = {
            let shutdown = shutdown.clone();
            async move {
                tokio::select! {
                    () = stop => {},
                    () = shutdown.cancelled() => {},
                }
                tracing::info!("shutting down: no new connections, finishing in-flight work");
                shutdown.cancel();
            }
        };
        let grace = Duration::from_secs(ctx.settings.shutdown_grace_seconds);
        // Pushes are small and latency-bound: Nagle's algorithm would hold one back until the
        // client acknowledged the last, and clients delay their acknowledgements.
        let listener = listener.tap_io(|tcp| {
            if let Err(err) = tcp.set_nodelay(true) {
                tracing::debug!(%err, "TCP_NODELAY not set");
            }
        });
        let serve = axum::serve(listener, app).with_graceful_shutdown(signal);
        let deadline = async {
            shutdown.cancelled().await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            served = serve => {
                if let Err(err) = served {
                    tracing::error!(%err, "server stopped with an error");
                }
            }
            () = deadline => tracing::warn!("grace period over; dropping open requests"),
        }
        ctx.tasks.close();
        if tokio::time::timeout(grace, ctx.tasks.wait()).await.is_err() {
            tracing::warn!("grace period over; dropping open websocket connections");
        }
        if let Err(err) = ctx.db.close_by_ref().await {
            tracing::warn!(%err, "closing the database pool failed");
        }
        tracing::info!("stopped");
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn stop_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}
