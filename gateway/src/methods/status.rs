//! The `status` payload, shaped as the official gateway's (`openclaw status`
//! reads `sessions.byAgent`, `sessions.paths`, `sessions.defaults`, `heartbeat`,
//! `tasks` ...), with this node's own facts beside them (`node`, `ha`,
//! `ready`, `connections`).
//!
//! Parts the official payload carries for features this node does not have
//! (channels, tasks, heartbeat runs, queued system events) are present and
//! empty, so clients that read them find what an idle official gateway says.

use crate::clock::now_ms;
use crate::node::{Node, VERSION};
use crate::sessions::{ListQuery, SessionMeta};
use serde_json::{json, Value};

/// Recent sessions listed per agent and overall (the official number).
const RECENT: usize = 10;

/// One `recent` row as the official status lists it.
fn row(m: &SessionMeta, now: u64) -> Value {
    json!({
        "agentId": m.agent_id,
        "key": m.key,
        "kind": "direct",
        "sessionId": m.session_id,
        "updatedAt": m.updated_at,
        "age": now.saturating_sub(m.updated_at),
        "messageCount": m.message_count,
        "flags": [],
    })
}

/// The agents this node answers for: `main` first, then `agents.list`.
pub fn agent_ids(node: &Node) -> Vec<String> {
    let mut ids = vec!["main".to_string()];
    for a in &node.settings.agents {
        if !ids.contains(&a.id) {
            ids.push(a.id.clone());
        }
    }
    ids
}

/// `sessions` of the status payload: per agent and overall.
async fn sessions(node: &Node) -> Value {
    let now = now_ms();
    let location = node.store.location();
    let mut by_agent = Vec::new();
    let mut total = 0;
    for id in agent_ids(node) {
        let query = ListQuery {
            limit: RECENT,
            agent_id: Some(id.clone()),
            ..Default::default()
        };
        match node.timed("list", node.store.list(&query)).await {
            Ok((recent, count)) => {
                total += count;
                by_agent.push(json!({
                    "agentId": id, "path": location, "count": count,
                    "recent": recent.iter().map(|m| row(m, now)).collect::<Vec<_>>(),
                }));
            }
            Err(e) => {
                return json!({"paths": [location], "count": 0, "recent": [], "byAgent": [],
                              "defaults": defaults(), "storage": node.store.kind(), "error": e.0});
            }
        }
    }
    let recent_query = ListQuery {
        limit: RECENT,
        ..Default::default()
    };
    let (recent, count) = match node.timed("list", node.store.list(&recent_query)).await {
        Ok(r) => r,
        Err(_) => (Vec::new(), total),
    };
    json!({
        "paths": [location],
        "count": count,
        "defaults": defaults(),
        "recent": recent.iter().map(|m| row(m, now)).collect::<Vec<_>>(),
        "byAgent": by_agent,
        "storage": node.store.kind(),
    })
}

/// No model behind this node's agents: no model name, no context window.
fn defaults() -> Value {
    json!({"model": null, "contextTokens": null})
}

/// The whole payload; `cli_projection` adds what `openclaw status` asks for
/// with `includeCliProjection`.
pub async fn payload(node: &Node, cli_projection: bool, ha: Value) -> Value {
    let ids = agent_ids(node);
    let ready = node.readiness.check();
    let mut status = json!({
        "runtimeVersion": VERSION,
        "heartbeat": {
            "defaultAgentId": "main",
            "agents": ids.iter().map(|id| json!({"agentId": id, "enabled": false, "every": "disabled", "everyMs": null, "waitingForRoute": false})).collect::<Vec<_>>(),
        },
        "channelSummary": [],
        "queuedSystemEvents": [],
        "tasks": {"total": 0, "active": 0, "terminal": 0, "failures": 0,
                  "byStatus": {"queued": 0, "running": 0, "succeeded": 0, "failed": 0, "timed_out": 0, "cancelled": 0, "lost": 0},
                  "byRuntime": {"subagent": 0, "acp": 0, "cli": 0, "cron": 0}},
        "sessions": sessions(node).await,
        "pid": std::process::id(),
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
        "ha": ha,
    });
    if cli_projection {
        status["cliProjection"] = json!({
            "agents": {
                "defaultId": "main", "ownership": "sole", "selectionRequired": false,
                "rows": ids.iter().map(|id| json!({"id": id})).collect::<Vec<_>>(),
            },
            "updateChannel": null,
            "memoryPlugin": {"enabled": false},
        });
    }
    status
}
