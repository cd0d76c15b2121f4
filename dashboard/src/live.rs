//! Subscriptions over `/graphql/ws` (`graphql-transport-ws`), with the moderator's token.
//! A page subscribes for as long as it is shown; a dropped connection is opened again
//! (after refreshing the token when the server said it expired), so a page left open stays
//! live.

use futures_util::{
    SinkExt, StreamExt,
    future::{AbortHandle, Abortable},
};
use gloo_net::websocket::{Message, WebSocketError, futures::WebSocket};
use graphql_client::GraphQLQuery;
use leptos::prelude::*;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::{api::Failure, session::Session};

/// The close code of a connection whose access token expired.
const CLOSE_UNAUTHORIZED: u16 = 4401;
/// The close code of a `connection_init` the server refused.
const CLOSE_REFUSED: u16 = 1002;

/// Where a page's subscription stands, for the person at the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    Connecting,
    Live,
    /// Lost; trying again.
    Retrying,
    /// Ended by the server (the subscribed thing is finished or gone).
    Ended,
}

impl Link {
    pub fn text(&self) -> &'static str {
        match self {
            Self::Connecting => "connecting…",
            Self::Live => "live",
            Self::Retrying => "connection lost; reconnecting…",
            Self::Ended => "ended",
        }
    }
}

/// Runs subscription `Q` while the calling component is shown: each result's `data` is
/// read as `D` (the subscription's own data, or a query's with the same shape) and handed
/// to `next`; an error the server sends shows in `error` and ends it.
pub fn subscribe<Q, D>(
    session: Session,
    variables: Q::Variables,
    link: RwSignal<Link>,
    error: RwSignal<Option<Failure>>,
    next: impl Fn(D) + 'static,
) where
    Q: GraphQLQuery + 'static,
    Q::Variables: 'static,
    D: DeserializeOwned + 'static,
{
    let body = serde_json::to_value(Q::build_query(variables)).unwrap_or(Value::Null);
    let (handle, registration) = AbortHandle::new_pair();
    leptos::task::spawn_local(async move {
        let _ = Abortable::new(
            keep_subscribed(session, body, link, error, next),
            registration,
        )
        .await;
    });
    on_cleanup(move || handle.abort());
}

async fn keep_subscribed<D: DeserializeOwned>(
    session: Session,
    body: Value,
    link: RwSignal<Link>,
    error: RwSignal<Option<Failure>>,
    next: impl Fn(D),
) {
    let mut wait_ms = 500;
    loop {
        link.set(Link::Connecting);
        match once(session, &body, link, error, &next).await {
            Ended::Done => {
                link.set(Link::Ended);
                return;
            }
            Ended::Expired { was_live } => {
                if !crate::api::refresh(session).await {
                    session.clear();
                    return;
                }
                // A token that ran out on a live socket is routine: at once again. One
                // refused at the start waits its turn, so a refusal for another reason
                // does not spin.
                if was_live {
                    wait_ms = 500;
                    continue;
                }
            }
            Ended::Lost { was_live } => {
                if was_live {
                    wait_ms = 500;
                }
            }
        }
        link.set(Link::Retrying);
        sleep_ms(wait_ms).await;
        wait_ms = (wait_ms * 2).min(10_000);
    }
}

enum Ended {
    /// The server completed the subscription or refused it.
    Done,
    /// The access token expired, or `connection_init` was refused.
    Expired { was_live: bool },
    /// The connection went away.
    Lost { was_live: bool },
}

fn socket_url() -> Option<String> {
    let location = web_sys::window()?.location();
    let scheme = if location.protocol().ok()? == "https:" {
        "wss"
    } else {
        "ws"
    };
    Some(format!("{scheme}://{}/graphql/ws", location.host().ok()?))
}

async fn once<D: DeserializeOwned>(
    session: Session,
    body: &Value,
    link: RwSignal<Link>,
    error: RwSignal<Option<Failure>>,
    next: &impl Fn(D),
) -> Ended {
    let lost = Ended::Lost { was_live: false };
    let Some(url) = socket_url() else {
        return lost;
    };
    let Ok(mut socket) = WebSocket::open_with_protocol(&url, "graphql-transport-ws") else {
        return lost;
    };
    let token = session.access_token().unwrap_or_default();
    let init = json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } });
    if socket.send(Message::Text(init.to_string())).await.is_err() {
        return lost;
    }
    let mut live = false;
    while let Some(message) = socket.next().await {
        let text = match message {
            Ok(Message::Text(text)) => text,
            Ok(Message::Bytes(_)) => continue,
            Err(WebSocketError::ConnectionClose(close)) if close.code == CLOSE_UNAUTHORIZED => {
                return Ended::Expired { was_live: live };
            }
            // `connection_init` refused (an access token that expired while the page was
            // idle, say): shown, and tried again after a refresh.
            Err(WebSocketError::ConnectionClose(close)) if !live && close.code == CLOSE_REFUSED => {
                error.set(Some(Failure {
                    code: "UNAUTHENTICATED".into(),
                    message: close.reason,
                }));
                return Ended::Expired { was_live: false };
            }
            Err(_) => return Ended::Lost { was_live: live },
        };
        let Ok(message) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        match message["type"].as_str().unwrap_or_default() {
            "connection_ack" => {
                let subscribe = json!({ "id": "1", "type": "subscribe", "payload": body });
                if socket
                    .send(Message::Text(subscribe.to_string()))
                    .await
                    .is_err()
                {
                    return Ended::Lost { was_live: live };
                }
                live = true;
                link.set(Link::Live);
                // A refused `connection_init` before this one is over.
                if error.with_untracked(|e| e.as_ref().is_some_and(|f| f.code == "UNAUTHENTICATED"))
                {
                    error.set(None);
                }
            }
            "ping" => {
                let pong = json!({ "type": "pong" }).to_string();
                let _ = socket.send(Message::Text(pong)).await;
            }
            "next" => {
                let payload = &message["payload"];
                if let Some(failure) = failure(&payload["errors"]) {
                    error.set(Some(failure));
                }
                match serde_json::from_value::<D>(payload["data"].clone()) {
                    Ok(data) => next(data),
                    Err(err) => error.set(Some(Failure {
                        code: "INTERNAL".into(),
                        message: format!("an update could not be read: {err}"),
                    })),
                }
            }
            "error" => {
                error.set(failure(&message["payload"]));
                return Ended::Done;
            }
            "complete" => return Ended::Done,
            _ => {}
        }
    }
    Ended::Lost { was_live: live }
}

/// The first of a list of GraphQL errors, as a failure.
fn failure(errors: &Value) -> Option<Failure> {
    let first = errors.as_array()?.first()?;
    Some(Failure {
        code: first["extensions"]["code"]
            .as_str()
            .unwrap_or("INTERNAL")
            .to_owned(),
        message: first["message"].as_str().unwrap_or_default().to_owned(),
    })
}

async fn sleep_ms(ms: u32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ =
                window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms as i32);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// A line saying whether the page is live.
#[component]
pub fn LinkLine(link: RwSignal<Link>) -> impl IntoView {
    view! {
        <p class="muted live-link" data-link=move || format!("{:?}", link.get()).to_lowercase()>
            {move || link.get().text()}
        </p>
    }
}
