//! What nodes know of each other beside the lease: a heartbeat record per
//! node (for priority, `nodes`, `lock-status` and drift), the preferred-holder
//! marker `promote` sets, and control messages (`stop`, `step-down`,
//! `promote`, `released`) between nodes and operator commands.
//!
//! Redis keeps them beside the lease key; the local kind keeps them in files
//! beside the lock file and has no message channel (commands on the same
//! machine signal the node's pid instead, and the elector polls the marker).

pub mod local;
pub mod redis;

use super::lease::LeaseError;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// One node's heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeRecord {
    pub node: String,
    pub role: String,
    pub priority: u32,
    pub address: String,
    pub mode: String,
    pub leader: bool,
    pub ready: bool,
    /// Whether it would take a free lease by itself.
    pub candidate: bool,
    pub version: String,
    /// Hash of the settings every node of a cluster should share.
    pub config_hash: String,
    /// `running` or `stopped` (a graceful stop says so before it exits).
    pub state: String,
    pub pid: u32,
    pub host: String,
    pub state_dir: String,
    pub boot_id: String,
    /// How often it beats (see [`NodeRecord::live`]).
    pub interval_ms: u64,
    /// When the store last heard from it (the store's clock), milliseconds.
    #[serde(default)]
    pub last_seen: u64,
}

impl NodeRecord {
    /// Whether the node is running and beat recently, at store time `now_ms`:
    /// within two beats (and a little). With beats every renew interval, at
    /// most a third of the lease ttl by default, a crashed leader's record is
    /// stale before its lease expires, so nobody waits for it to take over.
    pub fn live(&self, now_ms: u64) -> bool {
        self.state == "running"
            && now_ms.saturating_sub(self.last_seen) <= 2 * self.interval_ms + 250
    }
}

/// A message between nodes and commands. `to: None` is for every node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Control {
    pub cmd: String,
    #[serde(default)]
    pub to: Option<String>,
    pub from: String,
}

/// Heartbeats, the preferred marker and control messages of one cluster.
#[async_trait]
pub trait Cluster: Send + Sync {
    /// Writes this node's record, stamped with the store's time.
    async fn beat(&self, record: &NodeRecord) -> Result<(), LeaseError>;

    /// Every record, and the store's time now.
    async fn nodes(&self) -> Result<(Vec<NodeRecord>, u64), LeaseError>;

    /// The node `promote` asked for, while the marker lasts.
    async fn preferred(&self) -> Result<Option<String>, LeaseError>;

    /// Sets the marker for `ttl`.
    async fn set_preferred(&self, node: &str, ttl: Duration) -> Result<(), LeaseError>;

    /// Removes the marker if it still names `node`.
    async fn clear_preferred(&self, node: &str) -> Result<(), LeaseError>;

    /// Sends a control message; how many nodes listened (`None`: no channel).
    async fn send(&self, message: &Control) -> Result<Option<usize>, LeaseError>;
}
