//! bcrypt on a pool bounded to the cores, with a bounded queue: a burst of logins or
//! registrations runs at the machine's bcrypt rate, and what exceeds the queue is refused at
//! once with `RATE_LIMITED` and a retry hint, never by a timeout. Callers hash before any
//! transaction, so no connection or writer lock is held while a hash runs.

use std::sync::OnceLock;

use crate::{
    cpu::{Busy, CpuPool, Priority},
    error::{ApiError, ApiResult},
};

/// Hashes and checks passwords at one cost.
pub struct Passwords {
    pool: CpuPool,
    cost: u32,
    dummy: OnceLock<String>,
}

impl From<Busy> for ApiError {
    fn from(busy: Busy) -> Self {
        Self::RateLimited {
            retry_after_seconds: busy.retry_after_seconds,
        }
    }
}

impl Passwords {
    /// `threads` hashing threads, room for `queue` waiting hashes, new hashes at `cost`.
    pub fn new(threads: usize, queue: usize, cost: u32) -> std::io::Result<Self> {
        Ok(Self {
            pool: CpuPool::new("bcrypt", threads, queue, Priority::Background)?,
            cost,
            dummy: OnceLock::new(),
        })
    }

    /// The pool and cost the settings name.
    pub fn for_settings(settings: &crate::settings::Settings) -> std::io::Result<Self> {
        let threads = match settings.bcrypt_threads {
            0 => CpuPool::cores(),
            n => n,
        };
        Self::new(threads, settings.bcrypt_queue, settings.bcrypt_cost)
    }

    /// `RATE_LIMITED` at once when no hash could be queued now: sign-in and registration ask
    /// before they read the database.
    pub fn refuse_if_full(&self) -> ApiResult<()> {
        Ok(self.pool.refuse_if_full()?)
    }

    /// Hashes a new password.
    pub async fn hash(&self, password: String) -> ApiResult<String> {
        let cost = self.cost;
        self.pool
            .run(move || bcrypt::hash(password, cost))
            .await?
            .map_err(|err| ApiError::Internal(err.into()))
    }

    /// Whether `candidate` matches `stored`; with no stored hash, checks a dummy one of the
    /// same cost so an unknown account takes as long as a wrong password.
    pub async fn verify(&self, candidate: String, stored: Option<String>) -> ApiResult<bool> {
        let known = stored.is_some();
        let stored = match stored {
            Some(stored) => stored,
            None => self.dummy().await?,
        };
        let matched = self
            .pool
            .run(move || bcrypt::verify(candidate, &stored).unwrap_or(false))
            .await?;
        Ok(known && matched)
    }

    async fn dummy(&self) -> ApiResult<String> {
        if let Some(hash) = self.dummy.get() {
            return Ok(hash.clone());
        }
        let made = self.hash("not a password of anyone".into()).await?;
        Ok(self.dummy.get_or_init(|| made).clone())
    }
}
