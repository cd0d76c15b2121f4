//! The HTTP surface: routes, middleware and the layers every request passes.

mod assets;
mod dashboard;
mod graphiql;
mod graphql;
mod health;
mod shared;
pub mod sockets;

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    extract::{DefaultBodyLimit, Request},
    http::{HeaderName, HeaderValue, Method, header},
    routing::{any, get, put},
};
use tower::ServiceBuilder;
use tower_http::{
    cors::{AllowOrigin, CorsLayer},
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::{DefaultOnResponse, TraceLayer},
};
use tracing::Level;

use crate::{
    context::AppContext,
    graphql::{ArenaSchema, build_schema},
};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What handlers share.
#[derive(Clone)]
pub(crate) struct HttpState {
    ctx: AppContext,
    schema: ArenaSchema,
    sockets: Arc<sockets::SocketLimits>,
    shared: Arc<shared::SharedFeeds>,
}

/// The whole application as a router, without a socket (tests call it directly too).
pub fn router(ctx: AppContext) -> Router {
    let body_limit = ctx.settings.body_limit_bytes;
    // Uploads: GraphQL multipart requests and upload tickets take files this large.
    let upload_limit = body_limit + crate::assets::check::largest();
    let dashboard = dashboard::routes(&ctx.settings.dashboard_dir);
    let cors = cors_layer(&ctx.settings.cors_allowed_origins);
    let state = HttpState {
        schema: build_schema(ctx.clone()),
        sockets: Arc::new(sockets::SocketLimits::new(
            ctx.settings.ws_max_per_address,
            ctx.settings.ws_max_total,
        )),
        shared: Arc::default(),
        ctx,
    };
    Router::new()
        .route(
            "/graphql",
            get(graphql::graphql_get)
                .post(graphql::graphql_post)
                .layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/assets/{id}", get(assets::download))
        .route(
            "/assets/uploads/{ticket}",
            put(assets::upload).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/graphql/ws", any(graphql::graphql_ws))
        .route("/graphiql", get(graphiql::page))
        .route(
            "/graphiql/assets/{file}",
            get(graphiql::asset).layer(tower_http::compression::CompressionLayer::new()),
        )
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .merge(dashboard)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(
            ServiceBuilder::new()
                .map_request(drop_unusable_request_id)
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(request_span)
                        .on_response(DefaultOnResponse::new().level(Level::INFO)),
                )
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .option_layer(cors),
        )
        .with_state(state)
}

/// Every log line of a request carries its id, method, path and GraphQL operation.
fn request_span(req: &Request) -> tracing::Span {
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.uri().path(),
        graphql_operation = tracing::field::Empty,
    )
}

/// A proxy's request id is kept when it is short and plain; anything else is replaced,
/// so a client cannot write arbitrary text into the logs.
fn drop_unusable_request_id(mut req: Request) -> Request {
    let usable = req.headers().get(&REQUEST_ID).is_some_and(|value| {
        let bytes = value.as_bytes();
        !bytes.is_empty()
            && bytes.len() <= 128
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    });
    if !usable {
        req.headers_mut().remove(&REQUEST_ID);
    }
    req
}

fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        // Settings::load has checked that every origin is a valid header value.
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
            .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION, REQUEST_ID])
            .expose_headers([REQUEST_ID])
            .max_age(Duration::from_secs(3600)),
    )
}
