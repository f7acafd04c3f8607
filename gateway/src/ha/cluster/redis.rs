//! The cluster beside a Redis lease at `<key>`: `<key>:nodes` (hash: node ->
//! record JSON), `<key>:preferred` (the promote marker, with an expiry) and
//! the pub/sub channel `<key>:control`.

use super::{Cluster, Control, NodeRecord};
use crate::ha::lease::LeaseError;
use crate::redis_link::RedisLink;
use async_trait::async_trait;
use redis::Script;
use std::sync::Arc;
use std::time::Duration;

/// Stamps a record with Redis time and stores it.
const BEAT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local r = cjson.decode(ARGV[2])
r.lastSeen = now
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(r))
return now
"#;

/// Every record and Redis time.
const NODES: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return {now, redis.call('HVALS', KEYS[1])}
"#;

/// Compare-and-delete of the marker.
const CLEAR_PREFERRED: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"#;

/// The cluster of the lease at `key`.
pub struct RedisCluster {
    link: Arc<RedisLink>,
    key: String,
    timeout: Duration,
    beat: Script,
    nodes: Script,
    clear_preferred: Script,
}

/// The control channel of the lease at `key`.
pub fn control_channel(key: &str) -> String {
    format!("{key}:control")
}

impl RedisCluster {
    /// The cluster beside the lease `key`; each call bounded by `timeout`.
    pub fn new(link: Arc<RedisLink>, key: &str, timeout: Duration) -> Self {
        RedisCluster {
            link,
            key: key.to_string(),
            timeout,
            beat: Script::new(BEAT),
            nodes: Script::new(NODES),
            clear_preferred: Script::new(CLEAR_PREFERRED),
        }
    }

    async fn invoke<T: redis::FromRedisValue>(
        &self,
        op: &'static str,
        inv: redis::ScriptInvocation<'_>,
    ) -> Result<T, LeaseError> {
        self.link
            .script(op, self.timeout, inv)
            .await
            .map_err(LeaseError)
    }

    async fn cmd<T: redis::FromRedisValue>(
        &self,
        op: &'static str,
        cmd: redis::Cmd,
    ) -> Result<T, LeaseError> {
        self.link
            .command(op, self.timeout, cmd)
            .await
            .map_err(LeaseError)
    }
}

#[async_trait]
impl Cluster for RedisCluster {
    async fn beat(&self, record: &NodeRecord) -> Result<(), LeaseError> {
        let mut inv = self.beat.prepare_invoke();
        inv.key(format!("{}:nodes", self.key))
            .arg(&record.node)
            .arg(serde_json::to_string(record).expect("a record serialises"));
        self.invoke::<u64>("heartbeat", inv).await.map(|_| ())
    }

    async fn nodes(&self) -> Result<(Vec<NodeRecord>, u64), LeaseError> {
        let mut inv = self.nodes.prepare_invoke();
        inv.key(format!("{}:nodes", self.key));
        let (now, values): (u64, Vec<String>) = self.invoke("nodes_read", inv).await?;
        let mut nodes: Vec<NodeRecord> = values
            .iter()
            .filter_map(|v| serde_json::from_str(v).ok())
            .collect();
        nodes.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.node.cmp(&b.node)));
        Ok((nodes, now))
    }

    async fn preferred(&self) -> Result<Option<String>, LeaseError> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(format!("{}:preferred", self.key));
        self.cmd("preferred_read", cmd).await
    }

    async fn set_preferred(&self, node: &str, ttl: Duration) -> Result<(), LeaseError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(format!("{}:preferred", self.key))
            .arg(node)
            .arg("PX")
            .arg(ttl.as_millis() as u64);
        self.cmd("preferred_set", cmd).await
    }

    async fn clear_preferred(&self, node: &str) -> Result<(), LeaseError> {
        let mut inv = self.clear_preferred.prepare_invoke();
        inv.key(format!("{}:preferred", self.key)).arg(node);
        self.invoke::<i64>("preferred_clear", inv).await.map(|_| ())
    }

    async fn send(&self, message: &Control) -> Result<Option<usize>, LeaseError> {
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(control_channel(&self.key))
            .arg(serde_json::to_string(message).expect("a message serialises"));
        self.cmd("control_publish", cmd).await.map(Some)
    }
}
