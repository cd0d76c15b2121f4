//! Facts about the running server, and a clock stream that exercises subscriptions end to end.

pub mod graphql;

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};
use tokio_util::sync::CancellationToken;

use crate::{
    context::AppContext,
    error::{ApiError, ApiResult},
    settings::DatabaseBackend,
};

/// What `serverInfo` reports.
pub struct ServerInfo {
    /// The crate version.
    pub version: &'static str,
    /// The database engine in use.
    pub database_backend: DatabaseBackend,
    /// Whether Redis answered a ping just now; false when not configured.
    pub redis_connected: bool,
    /// When this process started serving.
    pub started_at: DateTime<Utc>,
}

/// Reads the server's facts; pings Redis so the answer is current.
pub async fn find_server_info(ctx: &AppContext) -> ServerInfo {
    let redis_connected = match &ctx.redis {
        Some(redis) => tokio::time::timeout(Duration::from_secs(2), redis.ping())
            .await
            .is_ok_and(|pinged| pinged.is_ok()),
        None => false,
    };
    ServerInfo {
        version: env!("CARGO_PKG_VERSION"),
        database_backend: ctx.settings.database_backend(),
        redis_connected,
        started_at: ctx.started_at,
    }
}

/// How often the clock ticks: parsed from milliseconds, 100 ms to 1 hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TickInterval(Duration);

impl TickInterval {
    const MIN_MS: i32 = 100;
    const MAX_MS: i32 = 3_600_000;

    /// Refuses intervals a client could use to flood itself or never hear back.
    pub fn parse(every_ms: i32) -> ApiResult<Self> {
        if !(Self::MIN_MS..=Self::MAX_MS).contains(&every_ms) {
            return Err(ApiError::bad_input(
                "everyMs",
                format!(
                    "everyMs must be between {} and {}, got {every_ms}",
                    Self::MIN_MS,
                    Self::MAX_MS
                ),
            ));
        }
        Ok(Self(Duration::from_millis(every_ms.unsigned_abs().into())))
    }
}

/// One tick of the clock.
pub struct Tick {
    /// 1 for the first tick, counting up.
    pub sequence: u64,
    /// The server's time at the tick.
    pub at: DateTime<Utc>,
}

/// Ticks every `interval` until the server shuts down; the first tick comes at once.
pub fn clock(interval: TickInterval, shutdown: CancellationToken) -> impl Stream<Item = Tick> {
    let mut timer = tokio::time::interval(interval.0);
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let ticks = futures_util::stream::unfold((timer, 0u64), |(mut timer, sequence)| async move {
        timer.tick().await;
        let tick = Tick {
            sequence: sequence + 1,
            at: Utc::now(),
        };
        Some((tick, (timer, sequence + 1)))
    });
    ticks.take_until(shutdown.cancelled_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_interval_bounds() {
        assert!(TickInterval::parse(99).is_err());
        assert!(TickInterval::parse(-5).is_err());
        assert!(TickInterval::parse(3_600_001).is_err());
        assert_eq!(
            TickInterval::parse(100).ok(),
            Some(TickInterval(Duration::from_millis(100)))
        );
        assert!(TickInterval::parse(3_600_000).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn clock_counts_up_and_stops_at_shutdown() {
        let shutdown = CancellationToken::new();
        let interval = TickInterval::parse(1000).expect("valid");
        let mut ticks = Box::pin(clock(interval, shutdown.clone()));
        assert_eq!(ticks.next().await.map(|t| t.sequence), Some(1));
        assert_eq!(ticks.next().await.map(|t| t.sequence), Some(2));
        shutdown.cancel();
        assert!(ticks.next().await.is_none());
    }
}
