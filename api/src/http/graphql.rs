//! GraphQL over HTTP (POST and GET) and over websockets (both subscription protocols).

use async_graphql::{
    BatchRequest, BatchResponse, Request as GqlRequest, Response as GqlResponse,
    http::{ALL_WEBSOCKET_PROTOCOLS, parse_query_string},
    parser::{parse_query, types::OperationType},
};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::{
    Json,
    body::Bytes,
    extract::{
        RawQuery, State, WebSocketUpgrade,
        rejection::BytesRejection,
        ws::{CloseFrame, Message, WebSocket},
    },
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use futures_util::{SinkExt, StreamExt};
use tracing::Instrument;

use super::HttpState;
use crate::{error::RequestFault, graphql::fault_response};

/// Batches beyond this size are refused: each entry is a whole query, and the limits
/// apply per entry.
const MAX_BATCH: usize = 10;

/// WebSocket close code "going away": the server is stopping; clients reconnect elsewhere.
const CLOSE_GOING_AWAY: u16 = 1001;

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
    let batch = if content_type.starts_with("application/graphql") {
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
            "send application/json or application/graphql",
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
    let response: BatchResponse = state.schema.execute_batch(batch).await;
    Json(response).into_response()
}

/// `GET /graphql?query=…&variables=…&operationName=…`; queries only, never mutations.
pub(super) async fn graphql_get(
    State(state): State<HttpState>,
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
    if changes_state(&request) {
        return refuse(
            &state,
            StatusCode::METHOD_NOT_ALLOWED,
            RequestFault::MalformedRequest,
            "GET runs queries only; send mutations and subscriptions another way",
        );
    }
    let response: GqlResponse = state.schema.execute(request).await;
    Json(response).into_response()
}

/// Whether the operation a GET would run is not a query. Unparseable text is left to the
/// schema, which answers with a parse error.
fn changes_state(request: &GqlRequest) -> bool {
    let Ok(document) = parse_query(&request.query) else {
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
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    // The connection outlives this handler; its log lines keep the upgrade's request id.
    let span = tracing::Span::current();
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| serve_socket(state, socket, protocol).instrument(span))
}

async fn serve_socket(state: HttpState, socket: WebSocket, protocol: GraphQLProtocol) {
    let ctx = state.ctx;
    // Shutdown waits for this connection to close.
    let _tracked = ctx.tasks.token();
    let _open = ctx.metrics.websocket_opened();
    let (mut sink, stream) = socket.split();
    // At shutdown the input ends, which ends every subscription on the connection.
    let stream = stream.take_until(ctx.shutdown.clone().cancelled_owned());
    GraphQLWebSocket::new_with_pair(&mut sink, stream, state.schema, protocol)
        .serve()
        .await;
    if ctx.shutdown.is_cancelled() {
        let _ = sink
            .send(Message::Close(Some(CloseFrame {
                code: CLOSE_GOING_AWAY,
                reason: "server shutting down".into(),
            })))
            .await;
    }
    let _ = sink.close().await;
}
