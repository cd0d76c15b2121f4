//! A GraphQL websocket client for tests, speaking either subscription protocol.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue},
};

/// How long a test waits for the next websocket message before failing.
const WAIT: Duration = Duration::from_secs(10);

/// The two subscription protocols Arena speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WsProtocol {
    /// `graphql-transport-ws` (the graphql-ws library).
    TransportWs,
    /// Legacy `graphql-ws` (subscriptions-transport-ws).
    LegacyWs,
}

impl WsProtocol {
    fn name(self) -> &'static str {
        match self {
            Self::TransportWs => "graphql-transport-ws",
            Self::LegacyWs => "graphql-ws",
        }
    }
}

/// What the server sent, normalised across the two protocols.
#[derive(Debug, Clone, PartialEq)]
pub enum WsEvent {
    /// A result: `{ data, errors? }`.
    Next {
        /// Subscription id.
        id: String,
        /// The execution result.
        payload: Value,
    },
    /// The subscription failed before producing results.
    Error {
        /// Subscription id.
        id: String,
        /// The errors.
        payload: Value,
    },
    /// The server ended the subscription.
    Complete {
        /// Subscription id.
        id: String,
    },
    /// The server closed the socket.
    Closed {
        /// The close code, when a close frame came.
        code: Option<u16>,
        /// Its reason.
        reason: String,
    },
}

/// A connected, acknowledged websocket.
pub struct WsClient {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    protocol: WsProtocol,
}

impl WsClient {
    /// Connects, sends `connection_init` with `payload`, and waits for `connection_ack`.
    pub async fn connect(url: &str, protocol: WsProtocol, payload: Value) -> Self {
        let mut request = url.into_client_request().expect("websocket URL");
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static(protocol.name()),
        );
        let (socket, response) = tokio_tungstenite::connect_async(request)
            .await
            .expect("websocket connects");
        assert_eq!(
            response
                .headers()
                .get("Sec-WebSocket-Protocol")
                .and_then(|v| v.to_str().ok()),
            Some(protocol.name()),
            "server agreed on the protocol"
        );
        let mut client = Self { socket, protocol };
        client
            .send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        let ack = client.next_json().await.expect("connection_ack");
        assert_eq!(ack["type"], "connection_ack", "got {ack}");
        client
    }

    /// Sends one protocol message as JSON.
    pub async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .expect("websocket send");
    }

    /// Starts a subscription `id`.
    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        let kind = match self.protocol {
            WsProtocol::TransportWs => "subscribe",
            WsProtocol::LegacyWs => "start",
        };
        self.send(json!({
            "type": kind,
            "id": id,
            "payload": { "query": query, "variables": variables },
        }))
        .await;
    }

    /// Stops subscription `id` from the client side.
    pub async fn unsubscribe(&mut self, id: &str) {
        let kind = match self.protocol {
            WsProtocol::TransportWs => "complete",
            WsProtocol::LegacyWs => "stop",
        };
        self.send(json!({ "type": kind, "id": id })).await;
    }

    /// The next JSON message, answering pings and skipping keep-alives; `None` once closed.
    async fn next_json(&mut self) -> Option<Value> {
        loop {
            let message = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("a websocket message within the wait");
            match message {
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(&text).expect("JSON message");
                    match value["type"].as_str() {
                        Some("ka" | "pong") => {}
                        Some("ping") => self.send(json!({ "type": "pong" })).await,
                        _ => return Some(value),
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => {}
            }
        }
    }

    /// The next event from the server.
    pub async fn next_event(&mut self) -> WsEvent {
        loop {
            let message = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("a websocket message within the wait");
            let text = match message {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Close(frame))) => {
                    return WsEvent::Closed {
                        code: frame.as_ref().map(|f| u16::from(f.code)),
                        reason: frame.map(|f| f.reason.to_string()).unwrap_or_default(),
                    };
                }
                None | Some(Err(_)) => {
                    return WsEvent::Closed {
                        code: None,
                        reason: String::new(),
                    };
                }
                Some(Ok(_)) => continue,
            };
            let value: Value = serde_json::from_str(&text).expect("JSON message");
            let id = value["id"].as_str().unwrap_or_default().to_owned();
            let payload = value["payload"].clone();
            match value["type"].as_str().unwrap_or_default() {
                "next" | "data" => return WsEvent::Next { id, payload },
                "error" => return WsEvent::Error { id, payload },
                "complete" => return WsEvent::Complete { id },
                "ping" => self.send(json!({ "type": "pong" })).await,
                _ => {}
            }
        }
    }

    /// The `data` of the next result, failing on anything else.
    pub async fn next_data(&mut self) -> Value {
        match self.next_event().await {
            WsEvent::Next { payload, .. } => {
                assert!(payload.get("errors").is_none(), "errors: {payload}");
                payload["data"].clone()
            }
            other => panic!("expected a result, got {other:?}"),
        }
    }
}
