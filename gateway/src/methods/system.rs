//! `health`, `status` and `system-presence`: what the node says about itself.

use super::params::Params;
use crate::clock::now_ms;
use crate::node::{Node, VERSION};
use crate::protocol::frames::ErrorShape;
use serde_json::{json, Value};
use std::time::Instant;

/// The HA facts this node knows: its role and priority, whether it leads
/// (and at which epoch), and the leader it last saw in the lease.
fn ha(node: &Node) -> Value {
    let ha = &node.ha;
    let s = &ha.settings;
    let held = ha.leadership.current();
    let known = ha.leadership.known_leader();
    json!({
        "enabled": s.enabled,
        "role": s.role,
        "priority": s.priority,
        "mode": s.mode_name(),
        "lock": ha.lease.kind(),
        "isLeader": held.is_some(),
        "epoch": held.as_ref().or(known.as_ref()).map(|r| r.epoch),
        "leader": known.map(|l| json!({"node": l.node, "address": l.address, "epoch": l.epoch, "since": l.since})),
    })
}

/// The health payload: liveness, readiness and the store's answer.
pub async fn health_snapshot(node: &Node) -> Value {
    let t = Instant::now();
    let count = node.timed("count", node.store.count()).await;
    let ready = node.readiness.check();
    json!({
        "ok": ready.is_ok(),
        "ts": now_ms(),
        "durationMs": t.elapsed().as_millis() as u64,
        "node": node.settings.node,
        "version": VERSION,
        "uptimeMs": node.started.elapsed().as_millis() as u64,
        "ready": ready.is_ok(),
        "reasons": ready.err().unwrap_or_default(),
        "sessions": match count {
            Ok(n) => json!({"storage": node.store.kind(), "count": n}),
            Err(e) => json!({"storage": node.store.kind(), "error": e.0}),
        },
        "connections": node.metrics.connections.get(),
        "ha": ha(node),
    })
}

pub async fn health(node: &Node, params: &Value) -> Result<Value, ErrorShape> {
    Params::new("health", params, &["probe"])?;
    Ok(health_snapshot(node).await)
}

pub async fn status(node: &Node, params: &Value) -> Result<Value, ErrorShape> {
    Params::new("status", params, &[])?;
    let query = crate::sessions::ListQuery {
        limit: 5,
        ..Default::default()
    };
    let sessions = match node.timed("list", node.store.list(&query)).await {
        Ok((recent, total)) => json!({
            "storage": node.store.kind(),
            "location": node.store.location(),
            "count": total,
            "recent": recent.iter().map(|m| json!({"key": m.key, "updatedAt": m.updated_at, "messageCount": m.message_count})).collect::<Vec<_>>(),
        }),
        Err(e) => {
            json!({"storage": node.store.kind(), "location": node.store.location(), "error": e.0})
        }
    };
    let ready = node.readiness.check();
    Ok(json!({
        "runtimeVersion": VERSION,
        "node": node.settings.node,
        "bootId": node.boot_id,
        "startedAt": node.started_ms,
        "uptimeMs": node.started.elapsed().as_millis() as u64,
        "port": node.settings.port.value,
        "stateDir": node.settings.locations.state_dir.value,
        "ready": ready.is_ok(),
        "reasons": ready.err().unwrap_or_default(),
        "connections": node.metrics.connections.get(),
        "runsActive": node.metrics.runs_active.get(),
        "sessions": sessions,
        "ha": ha(node),
    }))
}

pub fn presence(node: &Node, params: &Value) -> Result<Value, ErrorShape> {
    Params::new("system-presence", params, &[])?;
    Ok(Value::Array(node.presence.list()))
}
