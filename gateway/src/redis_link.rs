//! One lazily made, self-healing Redis connection per URL. A node starts even when
//! Redis is down: the first use connects, and redis-rs's connection manager
//! reconnects after that. Every call is bounded by a timeout, named by an
//! operation, and (on a node) timed in the metrics.

use crate::metrics::Metrics;
use futures_util::StreamExt;
use prometheus::{HistogramVec, IntGauge};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tokio::sync::{watch, OnceCell};

/// What a channel subscription reports, see [`RedisLink::follow`].
pub enum Delivery<'a> {
    /// Subscribed; `again` after a loss, when messages may have been missed.
    Subscribed { again: bool },
    /// A message on the channel.
    Message(&'a [u8]),
    /// Not subscribed (could not connect, or the connection was lost).
    Lost(String),
}

/// How long one Redis command may take before the caller treats Redis as down.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// A Redis server the node talks to.
pub struct RedisLink {
    client: redis::Client,
    url: String,
    manager: OnceCell<ConnectionManager>,
    reporting: OnceLock<Reporting>,
}

/// Where a link's calls are counted (see [`RedisLink::report_to`]).
struct Reporting {
    latency: HistogramVec,
    up: IntGauge,
}

impl RedisLink {
    /// Checks the URL; does not connect.
    pub fn new(url: &str) -> Result<Self, String> {
        let bad = |e: redis::RedisError| {
            format!("`{url}` is not a Redis URL (redis://host:port/db): {e}")
        };
        // TCP_NODELAY: a script's reply must not wait for a delayed ACK (40 ms).
        let info = redis::IntoConnectionInfo::into_connection_info(url)
            .map_err(bad)?
            .set_tcp_settings(redis::io::tcp::TcpSettings::default().set_nodelay(true));
        let client = redis::Client::open(info).map_err(bad)?;
        Ok(RedisLink {
            client,
            url: url.to_string(),
            manager: OnceCell::new(),
            reporting: OnceLock::new(),
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

    /// Reports this link's calls from now on: their latency in
    /// `openclaw_gateway_redis_seconds` and whether Redis answered in
    /// `openclaw_gateway_redis_up{link}`. Links made by the CLI report nowhere.
    pub fn report_to(&self, metrics: &Metrics, link: &str) {
        let _ = self.reporting.set(Reporting {
            latency: metrics.redis_seconds.clone(),
            up: metrics.redis_up.with_label_values(&[link]),
        });
    }

    /// Runs one command or script invocation with the call timeout; `op`
    /// names it in the latency metric (one of a fixed set, never data).
    pub async fn call<T, F, Fut>(&self, op: &'static str, f: F) -> Result<T, String>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        self.call_within(op, CALL_TIMEOUT, f).await
    }

    /// Like [`call`](Self::call), bounded by `limit` (connecting included):
    /// the lease needs answers well within its renew interval.
    pub async fn call_within<T, F, Fut>(
        &self,
        op: &'static str,
        limit: Duration,
        f: F,
    ) -> Result<T, String>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let start = Instant::now();
        let (result, answered) = self.attempt(limit, f).await;
        if let Some(r) = self.reporting.get() {
            r.latency
                .with_label_values(&[op])
                .observe(start.elapsed().as_secs_f64());
            r.up.set(answered as i64);
        }
        result
    }

    /// One call; also whether Redis answered it (an error reply is an
    /// answer; no connection, a lost one or no reply in time is not).
    async fn attempt<T, F, Fut>(&self, limit: Duration, f: F) -> (Result<T, String>, bool)
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let conn = match tokio::time::timeout(limit, self.conn()).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => return (Err(e), false),
            Err(_) => {
                let e = format!("redis {}: no connection within {limit:?}", self.url);
                return (Err(e), false);
            }
        };
        match tokio::time::timeout(limit, f(conn)).await {
            Ok(Ok(v)) => (Ok(v), true),
            Ok(Err(e)) => {
                let answered = !(e.is_io_error() || e.is_unrecoverable_error());
                (Err(format!("redis {}: {e}", self.url)), answered)
            }
            Err(_) => (
                Err(format!("redis {}: no answer within {limit:?}", self.url)),
                false,
            ),
        }
    }
}

impl RedisLink {
    /// Runs a prepared Lua script invocation within `limit` (`op` as in
    /// [`call`](Self::call)).
    pub async fn script<T: redis::FromRedisValue>(
        &self,
        op: &'static str,
        limit: Duration,
        inv: redis::ScriptInvocation<'_>,
    ) -> Result<T, String> {
        self.call_within(
            op,
            limit,
            |mut c| async move { inv.invoke_async(&mut c).await },
        )
        .await
    }

    /// Runs one command within `limit` (`op` as in [`call`](Self::call)).
    pub async fn command<T: redis::FromRedisValue>(
        &self,
        op: &'static str,
        limit: Duration,
        cmd: redis::Cmd,
    ) -> Result<T, String> {
        self.call_within(
            op,
            limit,
            |mut c| async move { cmd.query_async(&mut c).await },
        )
        .await
    }

    /// Follows a pub/sub channel until `stop` changes, reconnecting with
    /// backoff (100 ms doubling to 2 s) after any loss; redis-rs does not
    /// resubscribe by itself. Every state change and message goes to `on`.
    pub async fn follow(
        &self,
        channel: &str,
        mut stop: watch::Receiver<bool>,
        mut on: impl FnMut(Delivery<'_>),
    ) {
        let mut delay = Duration::from_millis(100);
        let mut again = false;
        loop {
            let attempt = async {
                let mut pubsub =
                    tokio::time::timeout(Duration::from_secs(2), self.client.get_async_pubsub())
                        .await
                        .map_err(|_| "timed out connecting".to_string())?
                        .map_err(|e| e.to_string())?;
                pubsub.subscribe(channel).await.map_err(|e| e.to_string())?;
                Ok::<_, String>(pubsub)
            };
            let pubsub = tokio::select! {
                r = attempt => r,
                _ = stop.changed() => return,
            };
            match pubsub {
                Ok(pubsub) => {
                    on(Delivery::Subscribed { again });
                    delay = Duration::from_millis(100);
                    again = true;
                    let mut messages = pubsub.into_on_message();
                    loop {
                        tokio::select! {
                            m = messages.next() => match m {
                                Some(m) => on(Delivery::Message(m.get_payload_bytes())),
                                None => break,
                            },
                            _ = stop.changed() => return,
                        }
                    }
                    on(Delivery::Lost(format!(
                        "redis {}: subscription lost, reconnecting",
                        self.url
                    )));
                }
                Err(e) => on(Delivery::Lost(format!("redis {}: {e}", self.url))),
            }
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = stop.changed() => return,
            }
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    }
}
