//! HA clusters for tests: `openclaw` nodes sharing a private redis-server for
//! sessions and the leader lease at [`LOCK_KEY`], with what a test asks of
//! them: who holds the lease (read with `redis-cli GET`, as an operator
//! would), the recorded job runs, and the lease's epoch.

use crate::gateway::{Gateway, NodeConfig};
use crate::redis::Redis;
use crate::wait::until_some;
use serde_json::Value;
use std::time::Duration;

/// The lease key test clusters use.
pub const LOCK_KEY: &str = "test:lock";

/// How a test node takes part in HA.
#[derive(Debug, Clone)]
pub struct HaNode {
    pub name: String,
    /// `primary`, `secondary`, or `None` for no role.
    pub role: Option<&'static str>,
    pub priority: Option<u32>,
    /// `ha.lease.ttl` (the default 5s when `None`).
    pub ttl: Option<&'static str>,
    /// More `gateway.ha` keys, as JSON5 text.
    pub ha_keys: String,
}

impl HaNode {
    /// A node with a role and priority and a 2 s lease.
    pub fn new(name: &str, role: Option<&'static str>, priority: u32) -> HaNode {
        HaNode {
            name: name.to_string(),
            role,
            priority: Some(priority),
            ttl: Some("2s"),
            ha_keys: String::new(),
        }
    }

    /// Adds `gateway.ha` keys.
    pub fn ha_keys(mut self, keys: &str) -> HaNode {
        self.ha_keys.push_str(keys);
        self.ha_keys.push_str(", ");
        self
    }

    /// The node's config: Redis sessions and a Redis lock on `redis`.
    pub fn config(&self, redis: &Redis) -> NodeConfig {
        let role = self
            .role
            .map(|r| format!("role: \"{r}\", "))
            .unwrap_or_default();
        let priority = self
            .priority
            .map(|p| format!("priority: {p}, "))
            .unwrap_or_default();
        let ttl = self
            .ttl
            .map(|t| format!("lease: {{ ttl: \"{t}\" }}, "))
            .unwrap_or_default();
        NodeConfig::new(&self.name)
            .redis(&redis.url())
            .gateway_keys(&format!(
                "ha: {{ enabled: true, {role}{priority}{ttl}{} }}",
                self.ha_keys
            ))
            .gateway_keys(&format!(
                "lock: {{ type: \"redis\", redis: {{ url: \"{}\", key: \"{LOCK_KEY}\" }} }}",
                redis.url()
            ))
    }
}

/// A state dir with only a config naming the lease on `redis`: an
/// operator's machine that reaches Redis but runs no node (`promote`,
/// `stop --node`, `nodes`).
pub fn operator(redis: &Redis) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("openclaw.json"),
        format!("{{ gateway: {{ lock: {{ type: \"redis\", redis: {{ url: \"{}\", key: \"{LOCK_KEY}\" }} }} }} }}", redis.url()),
    )
    .unwrap();
    dir
}

/// The lease's value, parsed, or `None` when free.
pub fn holder(redis: &Redis) -> Option<Value> {
    let raw = redis.cli(&["GET", LOCK_KEY]);
    (!raw.is_empty())
        .then(|| serde_json::from_str(&raw).unwrap_or_else(|e| panic!("lease value {raw}: {e}")))
}

/// The name of the lease's holder, or `None`.
pub fn holder_name(redis: &Redis) -> Option<String> {
    holder(redis).map(|h| h["node"].as_str().expect("holder names a node").to_string())
}

/// Waits until `name` holds the lease; its record.
pub async fn wait_holder(redis: &Redis, name: &str, limit: Duration) -> Value {
    until_some(&format!("{name} to hold the lease"), limit, || async {
        holder(redis).filter(|h| h["node"] == name)
    })
    .await
}

/// Waits until some node holds the lease; its record.
pub async fn wait_any_holder(redis: &Redis, limit: Duration) -> Value {
    until_some("some node to hold the lease", limit, || async {
        holder(redis)
    })
    .await
}

/// Every recorded job run (`{job, tick, epoch, node, at}`), oldest first.
pub fn runs(redis: &Redis) -> Vec<Value> {
    redis
        .cli(&["LRANGE", &format!("{LOCK_KEY}:runs"), "0", "-1"])
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("run record {l}: {e}")))
        .collect()
}

/// Whether the node's `/ready` says 200.
pub async fn is_ready(g: &Gateway) -> bool {
    g.ready().await.0 == 200
}

/// The node's `openclaw_gateway_leader` gauge.
pub async fn leader_gauge(g: &Gateway) -> f64 {
    g.metrics()
        .await
        .get("openclaw_gateway_leader", &[])
        .unwrap_or(-1.0)
}
