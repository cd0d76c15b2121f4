//! What keeps GraphQL websockets from exhausting the server: caps on open sockets per client
//! address and in total, a deadline for `connection_init`, and the close codes of
//! `graphql-transport-ws` for clients that break the protocol.

use std::{
    collections::{HashMap, HashSet},
    net::IpAddr,
    sync::{Arc, Mutex},
};

use axum::extract::ws::{CloseFrame, Message};
use serde::Deserialize;

use crate::Locked;

/// `graphql-transport-ws`: no `connection_init` within the deadline.
pub const CLOSE_INIT_TIMEOUT: u16 = 4408;
/// `graphql-transport-ws`: a subscription before the connection was acknowledged (and an
/// access token that expired).
pub const CLOSE_UNAUTHORIZED: u16 = 4401;
/// `graphql-transport-ws`: a subscription id already in use on the connection.
pub const CLOSE_DUPLICATE_ID: u16 = 4409;

/// Which cap refused a new socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// The client's address has its share open.
    Address,
    /// The server has its total open.
    Server,
}

/// Open sockets, counted per client address and in total.
pub struct SocketLimits {
    per_address: usize,
    total: usize,
    open: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

impl SocketLimits {
    /// At most `per_address` sockets from one address and `total` in all; a `total` of 0 is
    /// three quarters of the process's open-file limit, so plain requests (and `/healthz`)
    /// keep descriptors to spare.
    pub fn new(per_address: usize, total: usize) -> Self {
        let total = match total {
            0 => open_file_limit().map_or(768, |limit| limit / 4 * 3),
            n => n,
        };
        Self {
            per_address: per_address.max(1),
            total: total.max(1),
            open: Mutex::default(),
        }
    }

    /// A place for one more socket from `ip`, held until the guard drops.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<SocketSlot, Full> {
        let mut open = self.open.locked();
        if open.total >= self.total {
            return Err(Full::Server);
        }
        let from = open.by_address.entry(ip).or_default();
        if *from >= self.per_address {
            return Err(Full::Address);
        }
        *from += 1;
        open.total += 1;
        Ok(SocketSlot {
            limits: self.clone(),
            ip,
        })
    }
}

/// The soft limit on open files, from `/proc/self/limits` (Linux).
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// One admitted socket; frees its place when dropped.
pub struct SocketSlot {
    limits: Arc<SocketLimits>,
    ip: IpAddr,
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let mut open = self.limits.open.locked();
        open.total = open.total.saturating_sub(1);
        if let Some(from) = open.by_address.get_mut(&self.ip) {
            *from -= 1;
            if *from == 0 {
                open.by_address.remove(&self.ip);
            }
        }
    }
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    #[serde(borrow)]
    id: Option<&'a str>,
}

/// What a connection's messages so far allow; async-graphql's websocket closes a subscription
/// before init with 1011 and lets a duplicate id replace a running subscription, so the
/// messages pass through this first.
#[derive(Default)]
pub struct Protocol {
    init_sent: bool,
    running: HashSet<String>,
}

impl Protocol {
    /// Checks one client message; `Some` is the frame to close the connection with.
    pub fn client_message(&mut self, message: &Message) -> Option<CloseFrame> {
        let Message::Text(text) = message else {
            return None;
        };
        // Malformed text is async-graphql's to refuse.
        let envelope: Envelope<'_> = serde_json::from_str(text.as_str()).ok()?;
        match envelope.kind {
            "connection_init" => self.init_sent = true,
            "subscribe" | "start" => {
                if !self.init_sent {
                    return Some(close(CLOSE_UNAUTHORIZED, "Unauthorized"));
                }
                let id = envelope.id.unwrap_or_default();
                if !self.running.insert(id.to_owned()) {
                    return Some(close(
                        CLOSE_DUPLICATE_ID,
                        format!("Subscriber for {id} already exists"),
                    ));
                }
            }
            "complete" | "stop" => {
                if let Some(id) = envelope.id {
                    self.running.remove(id);
                }
            }
            _ => {}
        }
        None
    }

    /// Notes a server message: a finished subscription frees its id.
    pub fn server_message(&mut self, message: &Message) {
        let Message::Text(text) = message else {
            return;
        };
        let text = text.as_str();
        // Results are most of the traffic; only endings are parsed.
        if !(text.starts_with(r#"{"type":"complete""#) || text.starts_with(r#"{"type":"error""#)) {
            return;
        }
        if let Ok(Envelope { id: Some(id), .. }) = serde_json::from_str(text) {
            self.running.remove(id);
        }
    }

    /// Whether `connection_init` has come.
    pub fn initialised(&self) -> bool {
        self.init_sent
    }
}

fn close(code: u16, reason: impl Into<String>) -> CloseFrame {
    CloseFrame {
        code,
        reason: reason.into().into(),
    }
}

/// The frame for a connection that sent no `connection_init` in time.
pub fn init_timeout() -> CloseFrame {
    close(CLOSE_INIT_TIMEOUT, "Connection initialisation timeout")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(json: &str) -> Message {
        Message::Text(json.into())
    }

    #[test]
    fn caps_per_address_and_in_total() {
        let limits = Arc::new(SocketLimits::new(2, 3));
        let (a, b): (IpAddr, IpAddr) = (
            "192.0.2.1".parse().unwrap_or_else(|e| panic!("{e}")),
            "192.0.2.2".parse().unwrap_or_else(|e| panic!("{e}")),
        );
        let first = limits.admit(a);
        let second = limits.admit(a);
        assert!(first.is_ok() && second.is_ok());
        assert_eq!(limits.admit(a).err(), Some(Full::Address));
        let third = limits.admit(b);
        assert!(third.is_ok());
        assert_eq!(limits.admit(b).err(), Some(Full::Server));
        drop(first);
        assert!(limits.admit(a).is_ok());
    }

    #[test]
    fn subscribe_before_init_and_duplicate_ids_close() {
        let mut protocol = Protocol::default();
        let early = protocol.client_message(&text(r#"{"type":"subscribe","id":"1"}"#));
        assert_eq!(early.map(|f| f.code), Some(CLOSE_UNAUTHORIZED));
        let mut protocol = Protocol::default();
        assert!(
            protocol
                .client_message(&text(r#"{"type":"connection_init"}"#))
                .is_none()
        );
        assert!(
            protocol
                .client_message(&text(r#"{"type":"subscribe","id":"1"}"#))
                .is_none()
        );
        let twice = protocol.client_message(&text(r#"{"type":"subscribe","id":"1"}"#));
        assert_eq!(twice.map(|f| f.code), Some(CLOSE_DUPLICATE_ID));
        // Once it completes, the id is free again.
        protocol.server_message(&text(r#"{"type":"complete","id":"1"}"#));
        assert!(
            protocol
                .client_message(&text(r#"{"type":"subscribe","id":"1"}"#))
                .is_none()
        );
    }
}
