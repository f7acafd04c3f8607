//! `question.list` and `plugin.approval.list`: what waits on the operator.
//! The official gateway's agents can stop to ask the operator a question or
//! ask for a plugin's approval, and the TUI and the Control UI poll these
//! lists on connect to show the pending ones. This node's agents (commands
//! and the echo agent) run to the end without asking, and it has no plugins,
//! so nothing is ever pending: both lists are empty by construction.

use super::params::Params;
use crate::protocol::frames::ErrorShape;
use serde_json::{json, Value};

/// `question.list` (its official schema takes no params).
pub fn questions(params: &Value) -> Result<Value, ErrorShape> {
    Params::new("question.list", params)?;
    Ok(json!({"questions": []}))
}

/// `plugin.approval.list` takes any params, as the official gateway's does.
pub fn plugin_approvals(_params: &Value) -> Result<Value, ErrorShape> {
    Ok(json!([]))
}
