//! Fetching `account/info` at the allowed rate: a token bucket paces every request, and
//! rate-limit answers, source outages, HTTP errors, timeouts and malformed bodies are
//! retried with exponential backoff and full jitter. Other API errors are final.

use std::{
    collections::BTreeMap,
    num::NonZeroU32,
    sync::{Arc, RwLock},
    time::Duration,
};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use rand::Rng;
use url::Url;

use crate::wg::{self, Envelope, FIELDS, MAX_IDS, Player};

/// How a client talks to the API.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The API's base URL (hosts have changed over the years; never a constant).
    pub base_url: Url,
    /// The application id requests are made under.
    pub application_id: String,
    /// Requests per second allowed for that application id.
    pub requests_per_second: NonZeroU32,
    /// Longest wait for one answer.
    pub timeout: Duration,
    /// Attempts per batch before giving up.
    pub max_attempts: u32,
    /// First backoff; doubles per attempt, up to `backoff_cap`.
    pub backoff_base: Duration,
    /// Longest backoff.
    pub backoff_cap: Duration,
}

impl ClientConfig {
    /// Defaults for `base_url` under `application_id` at `requests_per_second`.
    pub fn new(
        base_url: Url,
        application_id: impl Into<String>,
        requests_per_second: NonZeroU32,
    ) -> Self {
        Self {
            base_url,
            application_id: application_id.into(),
            requests_per_second,
            timeout: Duration::from_secs(10),
            max_attempts: 10,
            backoff_base: Duration::from_millis(100),
            backoff_cap: Duration::from_secs(10),
        }
    }
}

/// One batch's answer.
#[derive(Debug, Clone, Default)]
pub struct Fetched {
    /// Accounts that exist.
    pub players: Vec<Player>,
    /// Ids with no account.
    pub empty: Vec<i64>,
    /// Retries this batch needed, by cause.
    pub retries: BTreeMap<&'static str, u32>,
}

/// Why a batch could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// More ids than one request may carry.
    #[error("at most {MAX_IDS} ids per request, got {0}")]
    TooManyIds(usize),
    /// The API refused in a way retrying cannot fix (bad application id, blocked, …).
    #[error("the API refused: {message} ({code})")]
    Refused {
        /// The API's message, such as INVALID_APPLICATION_ID.
        message: String,
        /// The API's code.
        code: u16,
    },
    /// Every attempt failed with a retryable cause.
    #[error("gave up after {attempts} attempts; last: {last}")]
    Exhausted {
        /// Attempts made.
        attempts: u32,
        /// The last cause.
        last: String,
    },
}

/// A failed attempt: worth another try (with its cause), or final.
enum Attempt {
    Retry(&'static str, String),
    Final(FetchError),
}

/// A paced, retrying client for one application id.
pub struct WgClient {
    http: reqwest::Client,
    endpoint: Url,
    config: ClientConfig,
    limiter: RwLock<Arc<DefaultDirectRateLimiter>>,
}

/// Evenly spaced, no burst: at the full rate, jitter on the way cannot bunch requests into
/// more than the API's own bucket allows.
fn limiter(requests_per_second: NonZeroU32) -> Arc<DefaultDirectRateLimiter> {
    Arc::new(RateLimiter::direct(
        Quota::per_second(requests_per_second).allow_burst(NonZeroU32::MIN),
    ))
}

impl WgClient {
    /// A client for `config`.
    pub fn new(config: ClientConfig) -> Result<Self, anyhow::Error> {
        let mut base = config.base_url.clone();
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let endpoint = base.join("wotx/account/info/")?;
        let http = reqwest::Client::builder().timeout(config.timeout).build()?;
        let limiter = RwLock::new(limiter(config.requests_per_second));
        Ok(Self {
            http,
            endpoint,
            config,
            limiter,
        })
    }

    /// Paces every request from now on, also those already waiting, at `requests_per_second`
    /// (when workers sharing an application id come or go).
    pub fn set_rate(&self, requests_per_second: NonZeroU32) {
        if let Ok(mut current) = self.limiter.write() {
            *current = limiter(requests_per_second);
        }
    }

    fn current_limiter(&self) -> Arc<DefaultDirectRateLimiter> {
        match self.limiter.read() {
            Ok(current) => Arc::clone(&current),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Waits for the current rate; a request that waited under a rate that has since
    /// changed waits again under the new one.
    async fn paced(&self) {
        loop {
            let limiter = self.current_limiter();
            limiter.until_ready().await;
            if Arc::ptr_eq(&limiter, &self.current_limiter()) {
                return;
            }
        }
    }

    /// Fetches `ids`, waiting for the rate and retrying what can be retried.
    pub async fn account_info(&self, ids: &[i64]) -> Result<Fetched, FetchError> {
        if ids.len() > MAX_IDS {
            return Err(FetchError::TooManyIds(ids.len()));
        }
        let mut retries = BTreeMap::new();
        let mut last = String::new();
        for attempt in 1..=self.config.max_attempts {
            self.paced().await;
            match self.once(ids).await {
                Ok((players, empty)) => {
                    return Ok(Fetched {
                        players,
                        empty,
                        retries,
                    });
                }
                Err(Attempt::Final(err)) => return Err(err),
                Err(Attempt::Retry(kind, detail)) => {
                    *retries.entry(kind).or_insert(0) += 1;
                    last = detail;
                    if attempt < self.config.max_attempts {
                        tokio::time::sleep(self.backoff(attempt)).await;
                    }
                }
            }
        }
        Err(FetchError::Exhausted {
            attempts: self.config.max_attempts,
            last,
        })
    }

    /// Full jitter: uniformly up to `base * 2^(attempt-1)`, capped.
    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self
            .config
            .backoff_base
            .saturating_mul(1 << attempt.saturating_sub(1).min(16))
            .min(self.config.backoff_cap);
        let millis = u64::try_from(ceiling.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        Duration::from_millis(rand::rng().random_range(0..=millis))
    }

    async fn once(&self, ids: &[i64]) -> Result<(Vec<Player>, Vec<i64>), Attempt> {
        let joined: Vec<String> = ids.iter().map(i64::to_string).collect();
        let response = self
            .http
            .get(self.endpoint.clone())
            .query(&[
                ("application_id", self.config.application_id.as_str()),
                ("account_id", &joined.join(",")),
                ("language", "en"),
                ("fields", &FIELDS.join(",")),
            ])
            .send()
            .await
            .map_err(|err| {
                let kind = if err.is_timeout() {
                    "timeout"
                } else {
                    "connection"
                };
                Attempt::Retry(kind, err.to_string())
            })?;
        let status = response.status();
        if !status.is_success() {
            return Err(Attempt::Retry("http", format!("HTTP {status}")));
        }
        let body = response
            .bytes()
            .await
            .map_err(|err| Attempt::Retry("connection", err.to_string()))?;
        let envelope: Envelope = serde_json::from_slice(&body)
            .map_err(|err| Attempt::Retry("malformed", err.to_string()))?;
        match envelope {
            Envelope::Ok { data, .. } => {
                let mut players = Vec::with_capacity(data.len());
                let mut empty = Vec::new();
                for (id, player) in data {
                    match player {
                        Some(player) => players.push(player),
                        None => empty.push(
                            id.parse()
                                .map_err(|_| Attempt::Retry("malformed", format!("id {id:?}")))?,
                        ),
                    }
                }
                Ok((players, empty))
            }
            Envelope::Error { error } if wg::is_retryable(&error) => {
                let kind = if error.message == "REQUEST_LIMIT_EXCEEDED" {
                    "rate_limited"
                } else {
                    "source_unavailable"
                };
                Err(Attempt::Retry(kind, error.message))
            }
            Envelope::Error { error } => Err(Attempt::Final(FetchError::Refused {
                message: error.message,
                code: error.code,
            })),
        }
    }
}
