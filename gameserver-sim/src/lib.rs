//! A reference client of Arena's game-server protocol, for people writing real game servers.
//!
//! A game server registers once (as a provisioning host, an admin or the player who made the
//! game) and keeps the token it gets; from then on it sends `Authorization: Server <token>`:
//! `pingServer` every `ARENA_SERVER_PING_SECONDS` (naming the sessions it holds, which keeps
//! them alive), `validateSession` with the token each player brings, `endSession` when a
//! player leaves. A provisioning host sends `Authorization: Host <token>`.

use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

/// How a request authenticates.
#[derive(Debug, Clone)]
pub enum Auth {
    /// A player's or admin's access token: `Bearer`.
    User(String),
    /// A provisioning host's token: `Host`.
    Host(String),
    /// A game server's token: `Server`.
    Server(String),
}

impl Auth {
    fn header(&self) -> String {
        match self {
            Self::User(token) => format!("Bearer {token}"),
            Self::Host(token) => format!("Host {token}"),
            Self::Server(token) => format!("Server {token}"),
        }
    }
}

/// A GraphQL error answer, with its `extensions.code` values.
#[derive(Debug)]
pub struct Refused {
    /// Each error's code.
    pub codes: Vec<String>,
    /// The whole answer.
    pub body: Value,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "refused ({}): {}", self.codes.join(", "), self.body)
    }
}

impl std::error::Error for Refused {}

/// Arena's GraphQL endpoint.
#[derive(Debug, Clone)]
pub struct Arena {
    http: reqwest::Client,
    url: String,
}

impl Arena {
    /// The endpoint at `url` (such as `http://127.0.0.1:8000/graphql`).
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap_or_default(),
            url: url.into(),
        }
    }

    /// Runs one operation; the `data` of a success, [`Refused`] for GraphQL errors.
    pub async fn call(&self, auth: &Auth, query: &str, variables: Value) -> anyhow::Result<Value> {
        let body: Value = self
            .http
            .post(&self.url)
            .header("authorization", auth.header())
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .context("Arena did not answer")?
            .json()
            .await
            .context("Arena's answer is not JSON")?;
        if let Some(errors) = body["errors"].as_array() {
            let codes = errors
                .iter()
                .map(|e| e["extensions"]["code"].as_str().unwrap_or("").to_owned())
                .collect();
            return Err(Refused { codes, body }.into());
        }
        Ok(body["data"].clone())
    }
}

/// Where a server takes players.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The games it may run; the first now.
    pub game_ids: Vec<String>,
    pub socket_host: String,
    pub socket_port: u16,
    pub country: Option<String>,
    pub slots: Option<i32>,
}

const SERVER: &str = "id state players slots game { id }";

/// A registered game server.
#[derive(Debug, Clone)]
pub struct GameServer {
    arena: Arena,
    auth: Auth,
    /// Its id.
    pub id: String,
}

impl GameServer {
    /// Registers a server as `registrar` (a host, an admin or a game's maker) and keeps its
    /// token.
    pub async fn register(arena: &Arena, registrar: &Auth, spec: &Spec) -> anyhow::Result<Self> {
        let data = arena
            .call(
                registrar,
                &format!(
                    "mutation($i: ServerInput!) {{ registerServer(input: $i) {{ token server {{ {SERVER} }} }} }}"
                ),
                json!({ "i": {
                    "gameIds": spec.game_ids,
                    "socketHost": spec.socket_host,
                    "socketPort": spec.socket_port,
                    "country": spec.country,
                    "slots": spec.slots,
                }}),
            )
            .await?;
        let registered = &data["registerServer"];
        let (Some(id), Some(token)) = (
            registered["server"]["id"].as_str(),
            registered["token"].as_str(),
        ) else {
            bail!("registerServer answered no id or token: {data}");
        };
        Ok(Self {
            arena: arena.clone(),
            auth: Auth::Server(token.to_owned()),
            id: id.to_owned(),
        })
    }

    /// A server that registered before, by its token.
    pub fn with_token(arena: &Arena, id: &str, token: &str) -> Self {
        Self {
            arena: arena.clone(),
            auth: Auth::Server(token.to_owned()),
            id: id.to_owned(),
        }
    }

    /// Its credential.
    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// Pings with the sessions it holds; answers the server as Arena sees it (its `state`,
    /// `players` and the `game` to run).
    pub async fn ping(&self, players: i32, sessions: &[String]) -> anyhow::Result<Value> {
        let data = self
            .arena
            .call(
                &self.auth,
                &format!(
                    "mutation($i: ServerPingInput!) {{ pingServer(input: $i) {{ {SERVER} }} }}"
                ),
                json!({ "i": { "playerCount": players, "ping": 1, "sessionIds": sessions } }),
            )
            .await?;
        Ok(data["pingServer"].clone())
    }

    /// Validates the token a player brought: the session (joined now), the player and their
    /// character.
    pub async fn validate(&self, token: &str) -> anyhow::Result<Value> {
        let data = self
            .arena
            .call(
                &self.auth,
                "mutation($t: String!) { validateSession(token: $t) { \
                   session { id state game { id } } player { id username } \
                   character { id name contentId properties { name value type } wornItemIds } } }",
                json!({ "t": token }),
            )
            .await?;
        Ok(data["validateSession"].clone())
    }

    /// Keeps one session alive.
    pub async fn ping_session(&self, session: &str) -> anyhow::Result<()> {
        self.arena
            .call(
                &self.auth,
                "mutation($s: ID!) { pingSession(sessionId: $s) { id } }",
                json!({ "s": session }),
            )
            .await?;
        Ok(())
    }

    /// Ends a session: the player left.
    pub async fn end_session(&self, session: &str) -> anyhow::Result<Value> {
        let data = self
            .arena
            .call(
                &self.auth,
                "mutation($s: ID!) { endSession(sessionId: $s) { id state endReason } }",
                json!({ "s": session }),
            )
            .await?;
        Ok(data["endSession"].clone())
    }

    /// Sends a batch of events (`EventInput`s) of the games it hosts; answers how many
    /// were stored and how many were sent before.
    pub async fn send_events(&self, events: Value) -> anyhow::Result<Value> {
        let data = self
            .arena
            .call(
                &self.auth,
                "mutation($e: [EventInput!]!) { ingestEvents(events: $e) { accepted duplicates } }",
                json!({ "e": events }),
            )
            .await?;
        Ok(data["ingestEvents"].clone())
    }
}

/// A provisioning host's keepalive with the servers it can still start.
pub async fn ping_host(arena: &Arena, host: &Auth, slots: i32) -> anyhow::Result<Value> {
    let data = arena
        .call(
            host,
            "mutation($s: Int!) { pingHost(slots: $s) { id slots online } }",
            json!({ "s": slots }),
        )
        .await?;
    Ok(data["pingHost"].clone())
}
