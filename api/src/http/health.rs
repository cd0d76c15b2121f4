//! Liveness, readiness and metrics endpoints for orchestrators and Prometheus.

use std::time::Duration;

use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
};
use serde_json::json;

use super::HttpState;

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The process is alive and serving HTTP.
pub(super) async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// The database (and Redis, when configured) answer, and the server is not shutting down.
pub(super) async fn readyz(State(state): State<HttpState>) -> impl IntoResponse {
    let ctx = &state.ctx;
    let database = async {
        matches!(
            tokio::time::timeout(CHECK_TIMEOUT, ctx.db.ping()).await,
            Ok(Ok(()))
        )
    };
    let redis = async {
        match &ctx.redis {
            None => None,
            Some(redis) => Some(matches!(
                tokio::time::timeout(CHECK_TIMEOUT, redis.ping()).await,
                Ok(Ok(()))
            )),
        }
    };
    let (database_ok, redis_ok) = tokio::join!(database, redis);
    let stopping = ctx.shutdown.is_cancelled();
    let ready = database_ok && redis_ok.unwrap_or(true) && !stopping;
    let word = |ok: bool| if ok { "ok" } else { "down" };
    let body = json!({
        "status": if stopping { "stopping" } else if ready { "ready" } else { "unavailable" },
        "database": word(database_ok),
        "redis": redis_ok.map_or("disabled", word),
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

/// Prometheus exposition of this instance's metrics.
pub(super) async fn metrics(State(state): State<HttpState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.ctx.metrics.render(&state.ctx.db),
    )
}
