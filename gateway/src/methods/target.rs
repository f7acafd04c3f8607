//! Which session a request names: its key (`sessionKey` or `key`) and the
//! optional `agentId` the official clients send beside it.
//!
//! As in the official gateway, a bare key (`main`, `work`) belongs to the
//! agent `agentId` names (default `main`), and `agentId` must name an agent
//! this node knows: `main` or one of `agents.list`.

use super::agents::DEFAULT_AGENT;
use super::params::Params;
use crate::node::Node;
use crate::protocol::frames::ErrorShape;
use crate::sessions::key::{self, SessionKey};

/// The canonical session named by `field` (and `agentId`) in `p`.
pub fn session(node: &Node, p: &Params, field: &str) -> Result<SessionKey, ErrorShape> {
    let raw = p.string(field)?;
    let Some(agent) = p.opt_string("agentId") else {
        return key::parse(raw).map_err(|e| p.error(&e));
    };
    let Some(agent) = known_agent(node, agent) else {
        return Err(ErrorShape::invalid(format!(
            "Unknown agent id: {}",
            agent.trim().to_lowercase()
        )));
    };
    key::parse_for_agent(raw, &agent).map_err(|e| p.error(&e))
}

/// `raw` as an agent id this node knows (`main` or one of `agents.list`),
/// normalised as the official gateway does (trimmed, lower case). Each method
/// words the refusal of an unknown one as the official gateway's does.
pub fn known_agent(node: &Node, raw: &str) -> Option<String> {
    let agent = raw.trim().to_lowercase();
    (agent == DEFAULT_AGENT || node.settings.agents.iter().any(|a| a.id == agent)).then_some(agent)
}
