//! `commands.list` and `models.list`: what a chat here can ask for besides a
//! message. The TUI offers the commands in its `/` autocompletion and the
//! models in its `/model` picker; the Control UI does the same.
//!
//! The official gateway interprets slash commands (`/help`, `/status`, ...)
//! in `chat.send` and runs models from providers. This node hands every
//! message to its agent as it is (the echo agent echoes `/help` back) and its
//! agents are commands, not models: both catalogues are empty, and a
//! `provider` names none of the (absent) providers. The params are checked
//! as officially: the official schema, an `agentId` this node knows, a
//! `sessionKey` that names a session.

use super::params::Params;
use super::{sessions, target};
use crate::node::Node;
use crate::protocol::frames::ErrorShape;
use serde_json::{json, Value};

pub async fn commands(node: &Node, params: &Value) -> Result<Value, ErrorShape> {
    let p = Params::new("commands.list", params)?;
    check_agent(node, &p)?;
    if p.opt_string("sessionKey").is_some() {
        // `agentId` was checked above, so a refusal here is a malformed key,
        // which names no session either.
        let found = match target::session(node, &p, "sessionKey") {
            Ok(k) => sessions::find(node, &k.key).await?.is_some(),
            Err(_) => false,
        };
        if !found {
            return Err(ErrorShape::invalid("Session not found."));
        }
    }
    Ok(json!({"commands": []}))
}

pub fn models(node: &Node, params: &Value) -> Result<Value, ErrorShape> {
    let p = Params::new("models.list", params)?;
    check_agent(node, &p)?;
    if p.opt_string("provider").is_some() {
        return Err(ErrorShape::unavailable(
            "Error: Unknown model catalog provider. Use a provider id from the installed plugins or configured providers.",
        ));
    }
    Ok(json!({"models": []}))
}

/// An `agentId` must name an agent this node knows (the official wording of
/// these two methods).
fn check_agent(node: &Node, p: &Params) -> Result<(), ErrorShape> {
    match p.opt_string("agentId") {
        Some(raw) if target::known_agent(node, raw).is_none() => Err(ErrorShape::invalid(format!(
            "unknown agent id \"{}\"",
            raw.trim()
        ))),
        _ => Ok(()),
    }
}
