//! GraphQL over HTTP (POST and GET) and over websockets (both subscription protocols).

use async_graphql::{
    BatchRequest, BatchResponse, ParseRequestError, Request as GqlRequest, Response as GqlResponse,
    http::{ALL_WEBSOCKET_PROTOCOLS, MultipartOptions, parse_query_string},
    parser::types::OperationType,
};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use std::{
    net::SocketAddr,
    sync::{Arc, Mutex, atomic::Ordering},
    time::Duration,
};

use async_graphql::Data;
use axum::{
    Json,
    body::Bytes,
    extract::{
        ConnectInfo, RawQuery, State, WebSocketUpgrade,
        rejection::BytesRejection,
        ws::{CloseFrame, Message, WebSocket},
    },
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use futures_util::{SinkExt, StreamExt};
use tracing::Instrument;

use super::{
    HttpState,
    shared::SocketExecutor,
    sockets::{self, Full, SocketSlot},
};
use crate::{
    Locked,
    auth::viewer::{self, SocketCaller, Viewer},
    error::{ApiError, RequestFault},
    graphql::{fault_response, preflight::Checked},
};

/// The caller of an HTTP request: its address and bearer token.
async fn viewer_of(
    state: &HttpState,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Result<Viewer, Response> {
    let auth = &state.ctx.auth;
    let ip = viewer::client_ip(peer.ip(), headers, &auth.trusted_proxies);
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let token = authorization.and_then(viewer::bearer);
    viewer::resolve(&state.ctx.db, auth, token, ip)
        .await
        .map(|mut caller| {
            caller.machine = authorization.and_then(viewer::machine);
            caller
        })
        .map_err(|err| {
            let err = async_graphql::Error::from(err);
            state.ctx.metrics.observe_error("INTERNAL");
            let response =
                GqlResponse::from_errors(vec![err.into_server_error(Default::default())]);
            (StatusCode::SERVICE_UNAVAILABLE, Json(response)).into_response()
        })
}

/// Batches beyond this size are refused: each entry is a whole query, and the limits
/// apply per entry.
const MAX_BATCH: usize = 10;

/// WebSocket close code "going away": the server is stopping; clients reconnect elsewhere.
const CLOSE_GOING_AWAY: u16 = 1001;
/// A socket's read buffer. The websocket library zero-fills all of it on every read of the
/// socket, which also runs each time the connection's task wakes to send a push: at the
/// default 128 KiB that zeroing was most of a push's cost. Clients send small messages; a
/// larger frame is still read whole, its buffer sized for it.
const WS_READ_BUFFER: usize = 4 * 1024;

fn refuse(state: &HttpState, status: StatusCode, fault: RequestFault, message: &str) -> Response {
    let response = fault_response(fault, message);
    for _ in &response.errors {
        state.ctx.metrics.observe_error("BAD_USER_INPUT");
    }
    (status, Json(response)).into_response()
}

/// `POST /graphql` with a JSON body (single or batch), or `application/graphql` text.
pub(super) async fn graphql_post(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            let limit = state.ctx.settings.body_limit_bytes;
            return refuse(
                &state,
                StatusCode::PAYLOAD_TOO_LARGE,
                RequestFault::BodyTooLarge,
                &format!("request body is larger than {limit} bytes"),
            );
        }
        Err(rejection) => {
            return refuse(
                &state,
                StatusCode::BAD_REQUEST,
                RequestFault::MalformedRequest,
                &format!("could not read the request body: {rejection}"),
            );
        }
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let multipart = content_type.starts_with("multipart/form-data");
    // The route admits files; anything else keeps the ordinary limit.
    let limit = state.ctx.settings.body_limit_bytes;
    if !multipart && body.len() > limit {
        return refuse(
            &state,
            StatusCode::PAYLOAD_TOO_LARGE,
            RequestFault::BodyTooLarge,
            &format!("request body is larger than {limit} bytes"),
        );
    }
    let batch = if multipart {
        let options = MultipartOptions::default()
            .max_file_size(crate::assets::check::largest())
            .max_num_files(MAX_BATCH);
        let reader = futures_util::io::Cursor::new(body);
        match async_graphql::http::receive_batch_body(Some(content_type), reader, options).await {
            Ok(batch) => batch,
            Err(ParseRequestError::PayloadTooLarge) => {
                return refuse(
                    &state,
                    StatusCode::PAYLOAD_TOO_LARGE,
                    RequestFault::BodyTooLarge,
                    &format!(
                        "a file is larger than {} bytes",
                        crate::assets::check::largest()
                    ),
                );
            }
            Err(err) => {
                return refuse(
                    &state,
                    StatusCode::BAD_REQUEST,
                    RequestFault::MalformedRequest,
                    &format!("the multipart request is unusable: {err}"),
                );
            }
        }
    } else if content_type.starts_with("application/graphql") {
        match String::from_utf8(body.to_vec()) {
            Ok(query) => BatchRequest::Single(GqlRequest::new(query)),
            Err(_) => {
                return refuse(
                    &state,
                    StatusCode::BAD_REQUEST,
                    RequestFault::MalformedRequest,
                    "the query is not UTF-8",
                );
            }
        }
    } else if content_type.contains("json") {
        match serde_json::from_slice::<BatchRequest>(&body) {
            Ok(batch) => batch,
            Err(err) => {
                return refuse(
                    &state,
                    StatusCode::BAD_REQUEST,
                    RequestFault::MalformedRequest,
                    &format!("the body is not a GraphQL request: {err}"),
                );
            }
        }
    } else {
        return refuse(
            &state,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            RequestFault::MalformedRequest,
            "send application/json, application/graphql or multipart/form-data",
        );
    };
    let requests: &[GqlRequest] = match &batch {
        BatchRequest::Single(request) => std::slice::from_ref(request),
        BatchRequest::Batch(requests) => requests,
    };
    // async-graphql reads a missing `query` as empty text.
    if requests
        .iter()
        .any(|request| request.query.trim().is_empty())
    {
        return refuse(
            &state,
            StatusCode::BAD_REQUEST,
            RequestFault::MalformedRequest,
            "the request has no query",
        );
    }
    if matches!(&batch, BatchRequest::Batch(r) if r.is_empty() || r.len() > MAX_BATCH) {
        return refuse(
            &state,
            StatusCode::BAD_REQUEST,
            RequestFault::MalformedRequest,
            &format!("a batch holds 1 to {MAX_BATCH} operations"),
        );
    }
    let viewer = match viewer_of(&state, peer, &headers).await {
        Ok(viewer) => viewer,
        Err(response) => return response,
    };
    let cache = &state.ctx.public_cache;
    let key = match &batch {
        BatchRequest::Single(request)
            if viewer.user().is_none() && viewer.address_bans().is_empty() =>
        {
            cache.key(&state.ctx.preflight, request).await
        }
        _ => None,
    };
    let Some(key) = key else {
        let response: BatchResponse = state.schema.execute_batch(batch.data(viewer)).await;
        return Json(response).into_response();
    };
    let started = std::time::Instant::now();
    let operation = requests.first().and_then(|r| r.operation_name.clone());
    if let Some(body) = cache.get(&key) {
        state
            .ctx
            .metrics
            .observe_request(operation.as_deref(), false, "query", started.elapsed());
        return json_body(body);
    }
    let generation = cache.generation();
    let response: BatchResponse = state.schema.execute_batch(batch.data(viewer)).await;
    let Ok(body) = serde_json::to_vec(&response) else {
        return Json(response).into_response();
    };
    let body = Bytes::from(body);
    if response.is_ok() {
        cache.put(key, body.clone(), generation);
    }
    json_body(body)
}

fn json_body(body: Bytes) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// `GET /graphql?query=…&variables=…&operationName=…`; queries only, never mutations.
pub(super) async fn graphql_get(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let request = match parse_query_string(query.as_deref().unwrap_or_default()) {
        Ok(request) => request,
        Err(err) => {
            return refuse(
                &state,
                StatusCode::BAD_REQUEST,
                RequestFault::MalformedRequest,
                &format!("the query string is not a GraphQL request: {err}"),
            );
        }
    };
    if changes_state(&state, &request).await {
        return refuse(
            &state,
            StatusCode::METHOD_NOT_ALLOWED,
            RequestFault::MalformedRequest,
            "GET runs queries only; send mutations and subscriptions another way",
        );
    }
    let viewer = match viewer_of(&state, peer, &headers).await {
        Ok(viewer) => viewer,
        Err(response) => return response,
    };
    let response: GqlResponse = state.schema.execute(request.data(viewer)).await;
    Json(response).into_response()
}

/// Whether the operation a GET would run is not a query. Text the preflight refuses is left
/// to the schema, which answers with the refusal.
async fn changes_state(state: &HttpState, request: &GqlRequest) -> bool {
    let Checked::Document(document) = state.ctx.preflight.check(&request.query).await else {
        return false;
    };
    document.operations.iter().any(|(name, op)| {
        let selected = match (&request.operation_name, name) {
            (Some(wanted), Some(name)) => wanted.as_str() == name.as_str(),
            (Some(_), None) => false,
            (None, _) => true,
        };
        selected && op.node.ty != OperationType::Query
    })
}

/// `/graphql/ws`: `graphql-transport-ws` and the legacy `graphql-ws`.
pub(super) async fn graphql_ws(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    let ip = viewer::client_ip(peer.ip(), &headers, &state.ctx.auth.trusted_proxies);
    let slot = match state.sockets.admit(ip) {
        Ok(slot) => slot,
        Err(full) => {
            let (status, message) = match full {
                Full::Address => (
                    StatusCode::TOO_MANY_REQUESTS,
                    "this address has as many websockets open as it may",
                ),
                Full::Server => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the server has as many websockets open as it may",
                ),
            };
            tracing::warn!(%ip, "websocket refused: {message}");
            let err = async_graphql::Error::from(ApiError::RateLimited {
                retry_after_seconds: 5,
            });
            let mut err = err.into_server_error(Default::default());
            err.message = message.into();
            return (status, Json(GqlResponse::from_errors(vec![err]))).into_response();
        }
    };
    // The connection outlives this handler; its log lines keep the upgrade's request id.
    let span = tracing::Span::current();
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .read_buffer_size(WS_READ_BUFFER)
        .on_upgrade(move |socket| serve_socket(state, socket, protocol, ip, slot).instrument(span))
}

/// The token a client puts in `connection_init`: `{"authorization": "Bearer …"}`.
fn init_token(payload: &serde_json::Value) -> Option<String> {
    let value = payload
        .get("authorization")
        .or_else(|| payload.get("Authorization"))?
        .as_str()?;
    viewer::bearer(value).map(str::to_owned)
}

async fn serve_socket(
    state: HttpState,
    socket: WebSocket,
    protocol: GraphQLProtocol,
    ip: std::net::IpAddr,
    _slot: SocketSlot,
) {
    let ctx = state.ctx;
    // Shutdown waits for this connection to close.
    let _tracked = ctx.tasks.token();
    let _open = ctx.metrics.websocket_opened();
    let (mut raw_sink, stream) = socket.split();
    let rules = Arc::new(Mutex::new(sockets::Protocol::default()));
    let broken = Arc::new(Mutex::new(None::<CloseFrame>));
    // A message that breaks the protocol ends the input, and with it the connection, which
    // then closes with that message's code.
    let stream = stream.take_while({
        let (rules, broken) = (rules.clone(), broken.clone());
        move |message| {
            let verdict = match message {
                Ok(message) => rules.locked().client_message(message),
                Err(_) => None,
            };
            let go_on = verdict.is_none();
            if verdict.is_some() {
                *broken.locked() = verdict;
            }
            std::future::ready(go_on)
        }
    });
    // At shutdown the input ends, which ends every subscription on the connection.
    let stream = stream.take_until(ctx.shutdown.clone().cancelled_owned());
    let mut sink = (&mut raw_sink).with({
        let rules = rules.clone();
        move |message: Message| {
            rules.locked().server_message(&message);
            std::future::ready(Ok::<_, axum::Error>(message))
        }
    });
    let init_by = Duration::from_secs(ctx.settings.ws_init_timeout_seconds);
    let init_deadline = {
        let rules = rules.clone();
        async move {
            tokio::time::sleep(init_by).await;
            if rules.locked().initialised() {
                std::future::pending::<()>().await;
            }
        }
    };
    let caller = SocketCaller::new(ip);
    let (init_ctx, init_caller) = (ctx.clone(), caller.clone());
    let (ping_ctx, ping_caller) = (ctx.clone(), caller.clone());
    let executor = SocketExecutor::new(state.schema, state.shared, ctx.metrics.clone());
    let (init_anonymous, ping_anonymous) = (executor.anonymous_flag(), executor.anonymous_flag());
    let served = GraphQLWebSocket::new_with_pair(&mut sink, stream, executor, protocol)
        .on_connection_init(move |payload| async move {
            let token = init_token(&payload);
            let viewer = viewer::resolve(&init_ctx.db, &init_ctx.auth, token.as_deref(), ip)
                .await
                .map_err(async_graphql::Error::from)?;
            init_anonymous.store(viewer.user().is_none(), Ordering::Release);
            init_caller.replace_token(token, viewer.user());
            let mut data = Data::default();
            data.insert(viewer);
            data.insert(init_caller);
            Ok(data)
        })
        .on_ping(move |_, payload| async move {
            // A ping carrying a fresh token re-authenticates the connection.
            if let Some(token) = payload.as_ref().and_then(init_token) {
                ping_anonymous.store(false, Ordering::Release);
                ping_caller.reauthenticate(&ping_ctx, token)?;
            }
            Ok(None)
        })
        .serve();
    let ended = tokio::select! {
        () = served => broken.locked().take(),
        () = caller.expired() => Some(CloseFrame {
            code: sockets::CLOSE_UNAUTHORIZED,
            reason: "the access token expired; reconnect with a fresh one".into(),
        }),
        () = init_deadline => Some(sockets::init_timeout()),
    };
    drop(sink);
    let mut sink = raw_sink;
    let close = ended.or_else(|| {
        ctx.shutdown.is_cancelled().then(|| CloseFrame {
            code: CLOSE_GOING_AWAY,
            reason: "server shutting down".into(),
        })
    });
    if let Some(frame) = close {
        let _ = sink.send(Message::Close(Some(frame))).await;
    }
    let _ = sink.close().await;
}
