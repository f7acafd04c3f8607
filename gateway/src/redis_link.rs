//! One lazily made, self-healing Redis connection per URL. A node starts even when
//! Redis is down: the first use connects, and redis-rs's connection manager
//! reconnects after that. Every call is bounded by a timeout.

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::time::Duration;
use tokio::sync::OnceCell;

/// How long one Redis command may take before the caller treats Redis as down.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// A Redis server the node talks to.
pub struct RedisLink {
    client: redis::Client,
    url: String,
    manager: OnceCell<ConnectionManager>,
}

impl RedisLink {
    /// Checks the URL; does not connect.
    pub fn new(url: &str) -> Result<Self, String> {
        let client = redis::Client::open(url)
            .map_err(|e| format!("`{url}` is not a Redis URL (redis://host:port/db): {e}"))?;
        Ok(RedisLink {
            client,
            url: url.to_string(),
            manager: OnceCell::new(),
        })
    }

    /// The URL, for messages.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The client, for connections of their own (pub/sub).
    pub fn client(&self) -> &redis::Client {
        &self.client
    }

    /// A handle on the shared connection, connecting first if needed.
    pub async fn conn(&self) -> Result<ConnectionManager, String> {
        self.manager
            .get_or_try_init(|| async {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(Duration::from_secs(1)))
                    .set_response_timeout(Some(CALL_TIMEOUT))
                    .set_number_of_retries(1)
                    .set_max_delay(Duration::from_millis(500));
                tokio::time::timeout(
                    CALL_TIMEOUT,
                    self.client.get_connection_manager_with_config(config),
                )
                .await
                .map_err(|_| "timed out connecting".to_string())?
                .map_err(|e| e.to_string())
            })
            .await
            .cloned()
            .map_err(|e| format!("redis {}: {e}", self.url))
    }

    /// Runs one command or script invocation with the call timeout.
    pub async fn call<T, F, Fut>(&self, f: F) -> Result<T, String>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let conn = self.conn().await?;
        match tokio::time::timeout(CALL_TIMEOUT, f(conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(format!("redis {}: {e}", self.url)),
            Err(_) => Err(format!(
                "redis {}: no answer within {CALL_TIMEOUT:?}",
                self.url
            )),
        }
    }
}
