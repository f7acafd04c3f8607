//! This node's heartbeat: its record in the cluster, written by the elector
//! every renew interval and marked `stopped` by a graceful stop. Other nodes read it for
//! priority; `nodes` and `lock-status` show it; `config_hash` flags drift.

use super::cluster::NodeRecord;
use crate::config::{SessionStorage, Settings};
use crate::node::{Node, VERSION};
use sha2::{Digest, Sha256};

/// A hash of the settings every node of one cluster should share: sessions,
/// lock, HA mode and lease timing, token, agents, limits and jobs. A node's
/// own port, bind, role, priority and primary check are left out, so the
/// seed's primary and secondary configs hash alike.
pub fn config_hash(s: &Settings) -> String {
    let sessions = match &s.sessions {
        SessionStorage::Local { .. } => "local".to_string(),
        redis => format!("{redis:?}"),
    };
    let shared = format!(
        "{sessions}|{:?}|{}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
        s.ha.lock,
        s.ha.mode_name(),
        s.ha.ttl,
        s.ha.renew,
        s.ha.enabled,
        s.token
            .value
            .as_deref()
            .map(|t| Sha256::digest(t.as_bytes())),
        s.agents,
        s.limits,
        s.jobs,
    );
    let digest = Sha256::digest(shared.as_bytes());
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
}

/// This node's record as it stands.
pub fn record(node: &Node, state: &str) -> NodeRecord {
    let ha = &node.ha;
    NodeRecord {
        node: node.settings.node.clone(),
        role: ha.settings.role.to_string(),
        priority: ha.settings.priority,
        address: ha.address.clone(),
        mode: ha.settings.mode_name().to_string(),
        leader: ha.leadership.is_leader(),
        ready: node.readiness.check().is_ok(),
        candidate: super::elector::candidate(&ha.settings),
        version: VERSION.to_string(),
        config_hash: ha.config_hash.clone(),
        state: state.to_string(),
        pid: std::process::id(),
        host: crate::config::resolve::hostname(),
        state_dir: node
            .settings
            .locations
            .state_dir
            .value
            .display()
            .to_string(),
        boot_id: node.boot_id.clone(),
        interval_ms: ha.settings.renew.as_millis() as u64,
        last_seen: 0,
    }
}
