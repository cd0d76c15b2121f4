//! bcrypt on the blocking pool, so a burst of logins never stalls other requests.

use std::sync::OnceLock;

use crate::error::{ApiError, ApiResult};

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| ApiError::Internal(err.into()))
}

/// Hashes a new password at `cost`.
pub async fn hash(password: String, cost: u32) -> ApiResult<String> {
    blocking(move || bcrypt::hash(password, cost))
        .await?
        .map_err(|err| ApiError::Internal(err.into()))
}

/// Whether `candidate` matches `stored`; with no stored hash, checks a dummy one of the same
/// cost so an unknown account takes as long as a wrong password.
pub async fn verify(candidate: String, stored: Option<String>, cost: u32) -> ApiResult<bool> {
    let known = stored.is_some();
    let stored = match stored {
        Some(stored) => stored,
        None => dummy_hash(cost).await?,
    };
    let matched = blocking(move || bcrypt::verify(candidate, &stored).unwrap_or(false)).await?;
    Ok(known && matched)
}

async fn dummy_hash(cost: u32) -> ApiResult<String> {
    static DUMMY: OnceLock<(u32, String)> = OnceLock::new();
    if let Some((dummy_cost, hash)) = DUMMY.get()
        && *dummy_cost == cost
    {
        return Ok(hash.clone());
    }
    let made = hash("not a password of anyone".into(), cost).await?;
    let _ = DUMMY.set((cost, made.clone()));
    Ok(made)
}
