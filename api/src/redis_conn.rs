//! The optional Redis connection; Redis holds only what can be rebuilt from the database.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::settings::{Secret, redact_url};

/// A reconnecting Redis connection and the key prefix every key of this instance carries.
#[derive(Clone)]
pub struct Redis {
    client: redis::Client,
    conn: ConnectionManager,
    prefix: String,
}

/// Redis was configured but did not answer at start.
#[derive(Debug, thiserror::Error)]
#[error("REDIS_URL is set but Redis at {url} does not answer: {source}")]
pub struct RedisStartError {
    url: String,
    source: redis::RedisError,
}

impl Redis {
    /// Connects and pings once; Arena refuses to start on a configured but dead Redis.
    pub async fn connect(url: &Secret, prefix: &str) -> Result<Self, RedisStartError> {
        let fail = |source| RedisStartError {
            url: redact_url(url.expose()),
            source,
        };
        let client = redis::Client::open(url.expose()).map_err(fail)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(3)))
            .set_response_timeout(Some(Duration::from_secs(3)))
            .set_number_of_retries(2);
        let conn = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(fail)?;
        let redis = Self {
            client,
            conn,
            prefix: prefix.to_owned(),
        };
        redis.ping().await.map_err(fail)?;
        Ok(redis)
    }

    /// One round trip.
    pub async fn ping(&self) -> Result<(), redis::RedisError> {
        let mut conn = self.conn.clone();
        redis::cmd("PING").query_async::<()>(&mut conn).await
    }

    /// `key` with this instance's prefix.
    pub fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// The client, for connections of their own (pub/sub).
    pub fn client(&self) -> &redis::Client {
        &self.client
    }

    /// A connection handle; clones share one multiplexed connection.
    pub fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }
}
