//! The worker: connects to the coordinator with the token and protocol version, takes the
//! application id and rate it is given, fetches every batch it receives at that rate, and
//! sends the parsed players back. It reconnects when the coordinator goes away, and stops
//! when the run is finished or it is refused.

use std::{num::NonZeroU32, sync::Arc, time::Duration};

use futures_util::{SinkExt, StreamExt};
use tokio::{sync::mpsc, task::JoinSet};
use tokio_tungstenite::tungstenite::{
    self, Message,
    client::IntoClientRequest,
    http::{HeaderValue, header::AUTHORIZATION},
};
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::{
    client::{ClientConfig, FetchError, WgClient},
    protocol::{self, FromWorker, Job, NAME_HEADER, ToWorker, VERSION_HEADER},
};

/// How a worker reaches its coordinator.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// `ws://host:port/ws`.
    pub coordinator: Url,
    /// The coordinator's token.
    pub token: String,
    /// What the worker calls itself.
    pub name: String,
    /// How long to keep trying to reach a coordinator that is gone.
    pub reconnect_for: Duration,
    /// Longest wait for one API answer.
    pub request_timeout: Duration,
    /// The protocol version to announce (tests announce others).
    pub protocol_version: u32,
}

/// Why a worker stopped without finishing.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The coordinator refused the worker; the message says why.
    #[error("the coordinator refused this worker: {0}")]
    Refused(String),
    /// No coordinator answered for the whole reconnect window.
    #[error("no coordinator at {url} for {seconds} s: {last}")]
    Unreachable {
        /// Where.
        url: String,
        /// How long it tried.
        seconds: u64,
        /// The last error.
        last: String,
    },
    /// Told to stop.
    #[error("stopped")]
    Stopped,
}

/// How one connection ended.
enum Session {
    Finished,
    Lost(String),
}

/// Works until the run is finished (`Ok`), it is refused, or `stop` fires.
pub async fn work(config: WorkerConfig, stop: CancellationToken) -> Result<(), WorkerError> {
    let mut since = tokio::time::Instant::now();
    let mut wait = Duration::from_millis(200);
    loop {
        let outcome = tokio::select! {
            () = stop.cancelled() => return Err(WorkerError::Stopped),
            outcome = connect_and_work(&config, &mut since) => outcome?,
        };
        match outcome {
            Session::Finished => return Ok(()),
            Session::Lost(reason) => {
                if since.elapsed() > config.reconnect_for {
                    return Err(WorkerError::Unreachable {
                        url: config.coordinator.to_string(),
                        seconds: config.reconnect_for.as_secs(),
                        last: reason,
                    });
                }
                tracing::warn!(%reason, "coordinator connection lost; reconnecting");
                tokio::select! {
                    () = stop.cancelled() => return Err(WorkerError::Stopped),
                    () = tokio::time::sleep(wait) => {}
                }
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
    }
}

async fn connect_and_work(
    config: &WorkerConfig,
    since: &mut tokio::time::Instant,
) -> Result<Session, WorkerError> {
    let mut request = config
        .coordinator
        .as_str()
        .into_client_request()
        .map_err(|err| WorkerError::Refused(format!("bad coordinator URL: {err}")))?;
    let headers = request.headers_mut();
    let value = |text: &str| {
        HeaderValue::from_str(text)
            .map_err(|_| WorkerError::Refused(format!("{text:?} cannot go in a header")))
    };
    headers.insert(AUTHORIZATION, value(&format!("Bearer {}", config.token))?);
    headers.insert(VERSION_HEADER, value(&config.protocol_version.to_string())?);
    headers.insert(NAME_HEADER, value(&config.name)?);
    let socket = match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => socket,
        Err(tungstenite::Error::Http(response)) => {
            let body = response
                .body()
                .as_ref()
                .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
                .unwrap_or_default();
            return Err(WorkerError::Refused(format!(
                "HTTP {}: {body}",
                response.status()
            )));
        }
        Err(err) => return Ok(Session::Lost(err.to_string())),
    };
    *since = tokio::time::Instant::now();
    let (mut sink, mut stream) = socket.split();
    let (results_tx, mut results) = mpsc::unbounded_channel::<FromWorker>();
    // Dropping the set (connection lost) aborts the fetches in flight; their batches are
    // re-issued by the coordinator.
    let mut fetches = JoinSet::new();
    let mut client: Option<Arc<WgClient>> = None;
    loop {
        tokio::select! {
            frame = stream.next() => {
                let bytes = match frame {
                    Some(Ok(Message::Binary(bytes))) => bytes,
                    Some(Ok(Message::Close(_))) | None => {
                        return Ok(Session::Lost("the coordinator closed the connection".into()));
                    }
                    Some(Err(err)) => return Ok(Session::Lost(err.to_string())),
                    Some(Ok(_)) => continue,
                };
                let message = protocol::decode::<ToWorker>(&bytes)
                    .map_err(|err| WorkerError::Refused(format!("undecodable message: {err}")))?;
                match message {
                    ToWorker::Welcome { worker_id, run_id, api_url, application_id, requests_per_second } => {
                        tracing::info!(%worker_id, run_id, %application_id, requests_per_second, "joined the run");
                        let url = Url::parse(&api_url)
                            .map_err(|err| WorkerError::Refused(format!("bad API URL {api_url:?}: {err}")))?;
                        client = Some(new_client(config, &url, &application_id, requests_per_second)?);
                    }
                    ToWorker::Rate { requests_per_second } => {
                        if let Some(client) = &client {
                            tracing::info!(requests_per_second, "new share of the rate");
                            client.set_rate(NonZeroU32::new(requests_per_second).unwrap_or(NonZeroU32::MIN));
                        }
                    }
                    ToWorker::Work(jobs) => {
                        let Some(client) = &client else {
                            return Ok(Session::Lost("work before welcome".into()));
                        };
                        for job in jobs {
                            let client = Arc::clone(client);
                            let results = results_tx.clone();
                            fetches.spawn(async move {
                                let _ = results.send(fetch(&client, job).await);
                            });
                        }
                    }
                    ToWorker::Finished => {
                        tracing::info!("the run is finished");
                        let _ = sink.close().await;
                        return Ok(Session::Finished);
                    }
                }
            }
            Some(result) = results.recv() => {
                let bytes = protocol::encode(&result)
                    .map_err(|err| WorkerError::Refused(format!("unencodable result: {err}")))?;
                if let Err(err) = sink.send(Message::Binary(bytes.into())).await {
                    return Ok(Session::Lost(err.to_string()));
                }
            }
            Some(_) = fetches.join_next(), if !fetches.is_empty() => {}
        }
    }
}

fn new_client(
    config: &WorkerConfig,
    url: &Url,
    application_id: &str,
    requests_per_second: u32,
) -> Result<Arc<WgClient>, WorkerError> {
    let rps = NonZeroU32::new(requests_per_second).unwrap_or(NonZeroU32::MIN);
    let mut client = ClientConfig::new(url.clone(), application_id, rps);
    client.timeout = config.request_timeout;
    WgClient::new(client)
        .map(Arc::new)
        .map_err(|err| WorkerError::Refused(format!("cannot build the API client: {err}")))
}

async fn fetch(client: &WgClient, job: Job) -> FromWorker {
    let ids: Vec<i64> = (job.first_id..=job.last_id).collect();
    match client.account_info(&ids).await {
        Ok(fetched) => FromWorker::Done {
            batch_id: job.batch_id,
            players: fetched.players,
            retries: retries(&fetched.retries),
        },
        Err(err) => {
            let reason = err.to_string();
            if let FetchError::Refused { .. } = err {
                tracing::error!(%reason, "the API refused a batch");
            }
            FromWorker::Failed {
                batch_id: job.batch_id,
                reason,
                retries: Vec::new(),
            }
        }
    }
}

fn retries(map: &std::collections::BTreeMap<&'static str, u32>) -> Vec<(String, u32)> {
    map.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

/// The default worker name: host and process id.
pub fn default_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "worker".into());
    format!("{host}-{}", std::process::id())
}
