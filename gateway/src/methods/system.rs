//! `health`, `status` and `system-presence`: what the node says about itself.

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

/// Takes any params, as the official gateway does (`probe` asks for channel
/// probes, which this node has none of).
pub async fn health(node: &Node, _params: &Value) -> Result<Value, ErrorShape> {
    Ok(health_snapshot(node).await)
}

/// `status` takes any params, as the official gateway does; it reads
/// `includeCliProjection` (`includeChannelSummary` asks for channels, which
/// this node has none of).
pub async fn status(node: &Node, params: &Value) -> Result<Value, ErrorShape> {
    let cli = params.get("includeCliProjection") == Some(&Value::Bool(true));
    Ok(super::status::payload(node, cli, ha(node)).await)
}

/// Takes any params, as the official gateway does.
pub fn presence(node: &Node, _params: &Value) -> Result<Value, ErrorShape> {
    Ok(Value::Array(node.presence.list()))
}
