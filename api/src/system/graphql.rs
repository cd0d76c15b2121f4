//! GraphQL surface of the `system` domain.

use async_graphql::{Context, Enum, Object, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};

use crate::{context::AppContext, graphql::app, settings};

/// The database engine Arena runs on.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseBackend {
    /// PostgreSQL, the production backend.
    Postgres,
    /// Embedded SQLite.
    Sqlite,
}

/// Facts about the running server.
#[derive(SimpleObject)]
pub struct ServerInfo {
    /// Arena's version.
    version: String,
    /// The database engine in use.
    database_backend: DatabaseBackend,
    /// Whether Redis is configured and answered just now.
    redis_connected: bool,
    /// When this server process started.
    started_at: DateTime<Utc>,
}

impl From<super::ServerInfo> for ServerInfo {
    fn from(info: super::ServerInfo) -> Self {
        Self {
            version: info.version.to_owned(),
            database_backend: match info.database_backend {
                settings::DatabaseBackend::Postgres => DatabaseBackend::Postgres,
                settings::DatabaseBackend::Sqlite => DatabaseBackend::Sqlite,
            },
            redis_connected: info.redis_connected,
            started_at: info.started_at,
        }
    }
}

/// One tick of `serverClock`.
#[derive(SimpleObject)]
pub struct ClockTick {
    /// 1 for the first tick of this subscription, counting up.
    sequence: u64,
    /// The server's time at the tick.
    at: DateTime<Utc>,
}

/// Queries of the `system` domain.
#[derive(Default)]
pub struct SystemQuery;

#[Object]
impl SystemQuery {
    /// Version, database backend, Redis state and start time of this server. Public.
    async fn server_info(&self, ctx: &Context<'_>) -> ServerInfo {
        super::find_server_info(app(ctx)).await.into()
    }
}

/// Subscriptions of the `system` domain.
#[derive(Default)]
pub struct SystemSubscription;

#[Subscription]
impl SystemSubscription {
    /// The server's clock, ticking every `everyMs` milliseconds (100 to 3600000). Public.
    async fn server_clock(
        &self,
        ctx: &Context<'_>,
        every_ms: i32,
    ) -> async_graphql::Result<impl Stream<Item = ClockTick>> {
        let interval = super::TickInterval::parse(every_ms)?;
        let ctx: &AppContext = app(ctx);
        Ok(
            super::clock(interval, ctx.shutdown.clone()).map(|tick| ClockTick {
                sequence: tick.sequence,
                at: tick.at,
            }),
        )
    }
}
