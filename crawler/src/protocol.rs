//! What the coordinator and its workers say over the websocket. The handshake is plain HTTP
//! (token and protocol version as headers, so a refusal is a readable status and body);
//! after it, every message is one binary frame in postcard, a compact serde encoding.

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use uuid::Uuid;

use crate::wg::Player;

/// The protocol this build speaks; a worker with another one is refused.
pub const PROTOCOL_VERSION: u32 = 1;
/// The header carrying the worker's protocol version.
pub const VERSION_HEADER: &str = "x-arena-crawler-protocol";
/// The header carrying the worker's name.
pub const NAME_HEADER: &str = "x-arena-crawler-worker";
/// The websocket path on the coordinator.
pub const PATH: &str = "/ws";

/// One batch to fetch: every id from `first_id` to `last_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// The batch's id in the database.
    pub batch_id: i64,
    /// First account id.
    pub first_id: i64,
    /// Last account id (inclusive).
    pub last_id: i64,
}

/// Coordinator to worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ToWorker {
    /// First message: who the worker is and how to call the API.
    Welcome {
        /// The connection's id.
        worker_id: Uuid,
        /// The run being crawled.
        run_id: i64,
        /// The API's base URL.
        api_url: String,
        /// The application id to call it with.
        application_id: String,
        /// This worker's share of that id's rate.
        requests_per_second: u32,
    },
    /// A new share of the rate, when workers sharing an application id come or go.
    Rate {
        /// Requests per second from now on.
        requests_per_second: u32,
    },
    /// Batches to fetch.
    Work(Vec<Job>),
    /// The run is complete: stop.
    Finished,
}

/// Worker to coordinator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FromWorker {
    /// A fetched batch.
    Done {
        /// Which batch.
        batch_id: i64,
        /// The accounts that exist.
        players: Vec<Player>,
        /// Retries it needed, by cause.
        retries: Vec<(String, u32)>,
    },
    /// A batch that could not be fetched; the coordinator issues it again.
    Failed {
        /// Which batch.
        batch_id: i64,
        /// Why.
        reason: String,
        /// Retries it needed, by cause.
        retries: Vec<(String, u32)>,
    },
}

/// Encodes a message for a binary frame.
pub fn encode<T: Serialize>(message: &T) -> Result<Vec<u8>, postcard::Error> {
    postcard::to_stdvec(message)
}

/// Decodes a binary frame.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, postcard::Error> {
    postcard::from_bytes(bytes)
}

/// Compares digests in time independent of where they differ, so response times do not
/// leak the token a character at a time.
fn same_secret(a: &str, b: &str) -> bool {
    use sha2::{Digest, Sha256};
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |diff, (x, y)| diff | (x ^ y))
        == 0
}

/// Why a handshake is refused, or `None` when it is accepted.
pub fn refusal(token: &str, authorization: Option<&str>, version: Option<&str>) -> Option<String> {
    let presented = authorization.and_then(|value| value.strip_prefix("Bearer "));
    if !presented.is_some_and(|presented| same_secret(presented, token)) {
        return Some("the worker token is wrong or missing (ARENA_CRAWLER_TOKEN)".into());
    }
    match version.map(|v| v.trim().parse::<u32>()) {
        Some(Ok(PROTOCOL_VERSION)) => None,
        Some(Ok(other)) => Some(format!(
            "protocol version {PROTOCOL_VERSION} is required; this worker speaks {other}: \
             run an arena-crawler of the coordinator's release"
        )),
        _ => Some(format!(
            "protocol version {PROTOCOL_VERSION} is required; the worker sent none \
             (header {VERSION_HEADER})"
        )),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_handshakes_are_checked() {
        let work = ToWorker::Work(vec![Job {
            batch_id: 7,
            first_id: 1,
            last_id: 100,
        }]);
        assert_eq!(decode::<ToWorker>(&encode(&work).unwrap()).unwrap(), work);
        assert!(refusal("t", Some("Bearer t"), Some("1")).is_none());
        assert!(
            refusal("t", Some("Bearer x"), Some("1"))
                .unwrap()
                .contains("token")
        );
        let wrong = refusal("t", Some("Bearer t"), Some("9")).unwrap();
        assert!(wrong.contains("version 1 is required") && wrong.contains("speaks 9"));
        assert!(refusal("t", None, Some("1")).is_some());
    }
}
