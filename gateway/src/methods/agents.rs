//! `agents.list`: the agents this node answers for, which the TUI lists in its
//! agent picker and names in its header. `main` always exists (the echo agent
//! unless `agents.list` gives it a command); each `agents.list` entry follows,
//! in config order. The official payload's thinking and runtime fields are
//! absent: these agents are commands, not models. `model.primary` names what
//! answers as `provider/model` (`builtin/echo`, `command/<program>`): the
//! Control UI refuses to send a message to an agent without one ("No AI
//! provider configured") and shows it next to its composer.

use super::params::Params;
use crate::node::Node;
use crate::protocol::frames::ErrorShape;
use serde_json::{json, Value};

/// The agent a bare session key belongs to, and whose `main` session is the
/// default one.
pub const DEFAULT_AGENT: &str = "main";

pub fn list(node: &Node, params: &Value) -> Result<Value, ErrorShape> {
    Params::new("agents.list", params)?;
    let settings = &node.settings;
    let configured = settings.agents.iter().map(|a| a.id.as_str());
    let ids = std::iter::once(DEFAULT_AGENT).chain(configured.filter(|id| *id != DEFAULT_AGENT));
    let agents: Vec<Value> = ids
        .map(|id| {
            let spec = settings.agent(id);
            // What answers: the configured program, or the built-in echo agent.
            let name = spec
                .command
                .as_ref()
                .map_or("echo".to_string(), |c| c[0].clone());
            let provider = if spec.command.is_some() {
                "command"
            } else {
                "builtin"
            };
            json!({
                "id": id,
                "kind": "agent",
                "workspace": settings.workspace.display().to_string(),
                "model": {"primary": format!("{provider}/{name}")},
                "name": name,
            })
        })
        .collect();
    Ok(json!({
        "defaultId": DEFAULT_AGENT,
        "mainKey": "main",
        "scope": "per-sender",
        "agents": agents,
    }))
}
